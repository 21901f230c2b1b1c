/**
 * Command-line handling the scripts share: `--help` (the usage line, exit 0), `-s` for `--stack` (Pulumi's own flag), a flag
 * mistake answered with the usage line instead of a stack trace, npm's swallowed flags
 * (`npm run check --stack prod` without `--`) named, and a closed pipe (`| head`) a quiet end.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit status of a usage mistake (the diff keeps 1: its 2 means "changes"). */
export const USAGE_EXIT = 2;

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
});

export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(options: T, usage: string, exitCode = USAGE_EXIT) {
    const withShort = { ...options, ...(options.stack ? { stack: { ...options.stack, short: "s" } } : {}) } as T;
    if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
        console.log(usage);
        process.exit(0);
    }
    const fail = (message: string): never => {
        console.error(`${message}\n${usage}`);
        process.exit(exitCode);
    };
    try {
        const { values } = parseArgs({ options: withShort, strict: true });
        // npm keeps `--stack prod` for itself when no `--` separates it, and hands it over as npm_config_stack
        if ((values as Record<string, unknown>).stack === undefined && process.env.npm_config_stack) {
            fail(`npm took --stack ${process.env.npm_config_stack} for itself: put -- before the script's flags (npm run <script> -- --stack ${process.env.npm_config_stack})`);
        }
        return values;
    } catch (e) {
        const err = e as { code?: string; message: string };
        if (err.code?.startsWith("ERR_PARSE_ARGS")) return fail(err.message.replace(/\. To specify a positional argument.*$/s, ""));
        throw e;
    }
}
