/**
 * Generated files read the way their servers read them, so that what the pack judges is what runs:
 * PostgreSQL's postgresql.conf (names in any case, `=` optional, quoted values, the last setting
 * wins, include directives), PgBouncer's pgbouncer.ini (`%include`) and Valkey's valkey.conf
 * (`include`), and PostgreSQL's command line, whose `-c` overrides win over the file.
 */

/** postgresql.conf as PostgreSQL parses it (guc-file.l): settings by lower-case name, the last one winning, and the files it would include. */
export function postgresConf(text: string): { settings: Record<string, string>; includes: string[] } {
    const settings: Record<string, string> = {};
    const includes: string[] = [];
    for (const raw of text.split("\n")) {
        // name [=] value [# comment]: a quoted value may hold '#', doubled or backslashed quotes
        const m = /^\s*([A-Za-z_][A-Za-z0-9_.$-]*)\s*(?:=\s*)?('(?:[^'\\]|''|\\.)*'|[^\s#']*)\s*(?:#.*)?$/.exec(raw);
        if (!m || raw.trimStart().startsWith("#")) continue;
        const name = m[1]!.toLowerCase();
        const value = m[2]!.startsWith("'") ? m[2]!.slice(1, -1).replace(/''/g, "'").replace(/\\(.)/g, "$1") : m[2]!;
        if (["include", "include_if_exists", "include_dir"].includes(name)) includes.push(`${name} ${value}`);
        else settings[name] = value;
    }
    return { settings, includes };
}

/** `%include` lines of a pgbouncer.ini: PgBouncer reads the named file in their place. */
export const pgbouncerIncludes = (text: string) => text.split("\n").filter((l) => /^\s*%include\b/i.test(l)).map((l) => l.trim());

/** `include` directives of a valkey.conf (directives are case-insensitive). */
export const valkeyIncludes = (text: string) => text.split("\n").filter((l) => /^\s*include\s+\S/i.test(l)).map((l) => l.trim());

/** What PostgreSQL's command line may set: where its files are; anything else would win over the file the pack reads. */
const COMMAND_LINE_ALLOWED = ["config_file", "hba_file"];

/** The settings a `postgres` command line overrides besides its files' places (`-c name=value`, `--name=value`); other programs' `-c` (a shell's, psql's) are theirs. */
export function commandLineOverrides(argv: string[]): string[] {
    const server = argv.findIndex((a) => a === "postgres" || a.endsWith("/postgres"));
    if (server < 0) return [];
    const args = argv.slice(server + 1);
    const out: string[] = [];
    args.forEach((a, i) => {
        const setting = a === "-c" ? args[i + 1] : /^-c(.+)$/.exec(a)?.[1] ?? /^--([A-Za-z_][\w.-]*=.*)$/.exec(a)?.[1];
        if (setting === undefined) return;
        const name = setting.split("=")[0]!.toLowerCase().replace(/-/g, "_");
        if (!COMMAND_LINE_ALLOWED.includes(name)) out.push(setting);
    });
    return out;
}

/** The words of a start script's `exec` lines, as the shell splits them (single quotes, bare words). */
export function execLines(script: string): string[][] {
    return script
        .split("\n")
        .filter((l) => /^\s*exec\s/.test(l))
        .map((l) => [...l.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1));
}
