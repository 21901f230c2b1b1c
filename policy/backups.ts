/**
 * The way backups reach PostgreSQL, as rendered: pgBackRest's TLS server beside it lets in one
 * client certificate's name for the one stanza, against a CA of the stack's; the backup runs
 * reach it over TLS only, verifying it against a CA of the stack's. Read from every rendered
 * pgbackrest.conf, whichever ConfigMap, Secret or upload holds it.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { postgresConf } from "./conf-files";
import { deploysComponent, findFiles, iniSections, K8S, labelOf, pgbackrestRepositories } from "./resources";

/** A CA file that trusts the public web: any public CA could vouch for a client or for PostgreSQL. */
const SYSTEM_BUNDLE = /^\/etc\/(ssl|pki)\/|ca-certificates|ca-bundle/;

/** What a rendered pgbackrest.conf lets through on the way between the backup runs and PostgreSQL. */
export function backupPathViolations(where: string, text: string): string[] {
    const out: string[] = [];
    const sections = iniSections(text);
    const g = sections.global ?? {};
    if (g["tls-server-address"] !== undefined || g["tls-server-auth"] !== undefined) {
        const auth = (g["tls-server-auth"] ?? "").split(/\s+/).filter(Boolean);
        if (auth.length === 0) out.push(`${where}: pgBackRest's TLS server names no client (tls-server-auth)`);
        for (const a of auth) {
            const [names, stanzas] = a.split("=");
            if (!names || !stanzas || names.split(",").some((n) => n === "*") || stanzas.split(",").some((s) => s === "*")) out.push(`${where}: tls-server-auth=${a} lets in any client or any stanza; one client certificate's name for the one stanza`);
        }
        const ca = g["tls-server-ca-file"];
        if (!ca || SYSTEM_BUNDLE.test(ca)) out.push(`${where}: tls-server-ca-file is ${ca ?? "unset"}; the TLS server must trust only the stack's client CA`);
    }
    // every repository the file names is encrypted, and an object store's certificate is verified
    for (const { repo } of pgbackrestRepositories(g)) {
        if (g[`${repo}-cipher-type`] !== "aes-256-cbc") out.push(`${where}: ${repo}-cipher-type is ${g[`${repo}-cipher-type`] ?? "unset (none)"}: the repository would hold the data in plaintext; aes-256-cbc`);
        if (g[`${repo}-type`] === "s3" && /^(n|no|false|0)$/i.test(g[`${repo}-storage-verify-tls`] ?? "")) out.push(`${where}: ${repo}-storage-verify-tls is off: anyone on the path can pose as the object store`);
    }
    for (const [stanza, o] of Object.entries(sections).filter(([name]) => name !== "" && name !== "global")) {
        if (!o["pg1-host"]) continue;
        if (o["pg1-host-type"] !== "tls") out.push(`${where}: [${stanza}] reaches PostgreSQL as pg1-host-type ${o["pg1-host-type"] ?? "ssh (the default)"}; only TLS with a client certificate`);
        const ca = o["pg1-host-ca-file"];
        if (!ca || SYSTEM_BUNDLE.test(ca)) out.push(`${where}: [${stanza}] pg1-host-ca-file is ${ca ?? "unset"}; the backup runs must verify PostgreSQL's server against the stack CA`);
        if (!o["pg1-host-cert-file"] || !o["pg1-host-key-file"]) out.push(`${where}: [${stanza}] presents no client certificate (pg1-host-cert-file, pg1-host-key-file)`);
    }
    return out;
}

const COMPONENT = "app.kubernetes.io/component";

/** postgresql.conf's archiving as PostgreSQL reads it: on, and through pgBackRest's archive-push (a `true` or `exit 0` would acknowledge WAL that reaches no repository). */
export function archiveViolations(where: string, settings: Record<string, string>): string[] {
    const out: string[] = [];
    const mode = (settings.archive_mode ?? "off").toLowerCase();
    if (mode !== "on" && mode !== "always") out.push(`${where}: archive_mode is ${mode}: no WAL reaches the repository, so nothing after the last base backup can be restored`);
    const command = settings.archive_command ?? "";
    if (!/^\S*pgbackrest\s.*\barchive-push\s+%p\s*$/.test(command)) out.push(`${where}: archive_command is "${command}", not pgBackRest's archive-push of %p: PostgreSQL would recycle WAL the repository never got`);
    if (settings.archive_library) out.push(`${where}: archive_library ${settings.archive_library} replaces archive_command`);
    return out;
}

export const backupPath: StackValidationPolicy = {
    name: "backup-path",
    description:
        "pgBackRest's TLS server beside PostgreSQL lets in one client certificate's name for the one stanza against the stack's client CA, and the backup runs reach it over TLS with a client certificate, verifying it against the stack CA; every repository is encrypted (aes-256-cbc) and an object store's certificate verified; as rendered, in every pgbackrest.conf. Where a repository is configured, postgresql.conf archives every WAL segment through pgBackRest's archive-push (archive_mode on) and no backup CronJob is suspended. Fails closed: backup runs without a TLS server to reach are refused.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const confs = findFiles(args.resources, "pgbackrest.conf");
        for (const { where, text } of confs) for (const v of backupPathViolations(where, text)) report(v);
        const server = confs.some(({ text }) => iniSections(text).global?.["tls-server-auth"] !== undefined);
        if (deploysComponent(args.resources, "backup") && !server) report("backup runs are deployed but no rendered pgbackrest.conf configures pgBackRest's TLS server beside PostgreSQL: the way they reach it cannot be checked");
        // a repository is only as good as what reaches it: every WAL segment archived, every scheduled run left on
        if (confs.some(({ text }) => pgbackrestRepositories(iniSections(text).global ?? {}).length > 0)) {
            for (const { where, text } of findFiles(args.resources, "postgresql.conf")) for (const v of archiveViolations(where, postgresConf(text).settings)) report(v);
        }
        for (const r of args.resources.filter((x) => x.type === K8S.cronJob && labelOf(x, COMPONENT) === "backup")) {
            if (r.props.spec?.suspend === true) report(`CronJob ${r.name} is suspended: its backups stop while the alerts on their age are the only sign`, r.urn);
        }
    },
};
