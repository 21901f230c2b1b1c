/**
 * Where each real server lives: Debian 13's packages, natively or in the Debian 13 root
 * scripts/servers.sh built (it sets FLOWVIZ_SERVER_ROOT and mounts /tmp into the root, so a
 * path under /tmp is the same inside and out). Tests and the bench reach binaries only here.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const PG = "/usr/lib/postgresql/17/bin";

/** Each binary's path inside the root. */
export const BINARIES = {
    initdb: `${PG}/initdb`,
    pg_ctl: `${PG}/pg_ctl`,
    postgres: `${PG}/postgres`,
    psql: `${PG}/psql`,
    pgbench: `${PG}/pgbench`,
    pgbouncer: "/usr/sbin/pgbouncer",
    pgbackrest: "/usr/bin/pgbackrest",
    "valkey-server": "/usr/bin/valkey-server",
    "valkey-cli": "/usr/bin/valkey-cli",
    prometheus: "/usr/bin/prometheus",
    promtool: "/usr/bin/promtool",
    alertmanager: "/usr/bin/prometheus-alertmanager",
    amtool: "/usr/bin/amtool",
    "node-exporter": "/usr/bin/prometheus-node-exporter",
    "postgres-exporter": "/usr/bin/prometheus-postgres-exporter",
    "pgbouncer-exporter": "/usr/bin/prometheus-pgbouncer-exporter",
    python3: "/usr/bin/python3",
    openssl: "/usr/bin/openssl",
} as const;
export type Binary = keyof typeof BINARIES;

/** The Debian 13 root ("/" on a Debian 13 machine); fails, never skips, outside scripts/servers.sh. */
export function serverRoot(): string {
    const root = process.env.FLOWVIZ_SERVER_ROOT;
    if (!root) throw new Error("the real servers are not set up: run the tests with `npm test`, or `scripts/servers.sh run npx vitest run --project integration` (root: it builds a Debian 13 root on other systems)");
    return root;
}

/** The unprivileged user PostgreSQL, PgBouncer and pgBackRest run as (they refuse root), by the root's own ids. */
export function serverUser(): { uid: number; gid: number } {
    const line = readFileSync(join(serverRoot(), "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith("postgres:"));
    if (!line) throw new Error(`no postgres user in ${serverRoot()}/etc/passwd`);
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
}

/** Gives the server user a folder (and everything under it). */
export function chownToServer(path: string): void {
    const { uid, gid } = serverUser();
    execFileSync("chown", ["-R", `${uid}:${gid}`, path]);
}

export interface RunAs {
    /** run as the server user instead of root */
    asServerUser?: boolean;
    /** working directory (a path the root shares: under /tmp) */
    cwd?: string;
    /** open-file limit of the process (`ulimit -n`) */
    fileLimit?: number;
}

/**
 * `[file, args]` for spawn/execFile: the binary run in the root, in `cwd`, as the chosen user.
 * Every step execs the next, so the spawned process is the server itself (signals reach it).
 */
export function serverCommand(bin: Binary, args: readonly string[], opts: RunAs = {}): [string, string[]] {
    const user = opts.asServerUser ? [`--userspec=${serverUser().uid}:${serverUser().gid}`] : [];
    const limit = opts.fileLimit ? `ulimit -n ${opts.fileLimit} && ` : "";
    const script = `cd "$1" && shift && ${limit}exec "$@"`;
    return ["chroot", [...user, serverRoot(), "/bin/sh", "-c", script, "sh", opts.cwd ?? "/", BINARIES[bin], ...args]];
}

/** A binary's run, its output returned (throws with its stderr on failure). */
export function runServerBinary(bin: Binary, args: readonly string[], opts: RunAs & { env?: Record<string, string>; timeout?: number } = {}): string {
    const [file, argv] = serverCommand(bin, args, opts);
    return execFileSync(file, argv, { env: { ...process.env, ...opts.env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeout });
}

/** What each server says its version is (the first line of its --version). */
export function serverVersions(): Record<string, string> {
    const asked: [string, Binary, string[]][] = [
        ["PostgreSQL", "postgres", ["--version"]],
        ["PgBouncer", "pgbouncer", ["--version"]],
        ["pgBackRest", "pgbackrest", ["version"]],
        ["Valkey", "valkey-server", ["--version"]],
        ["Prometheus", "prometheus", ["--version"]],
        ["promtool", "promtool", ["--version"]],
        ["Alertmanager", "alertmanager", ["--version"]],
        ["amtool", "amtool", ["--version"]],
        ["node-exporter", "node-exporter", ["--version"]],
        ["postgres-exporter", "postgres-exporter", ["--version"]],
        ["pgbouncer-exporter", "pgbouncer-exporter", ["--version"]],
    ];
    return Object.fromEntries(asked.map(([name, bin, args]) => {
        const r = spawnSync(...serverCommand(bin, args), { encoding: "utf8" });
        const line = `${r.stdout}${r.stderr}`.split("\n")[0]!.trim();
        if (r.status !== 0 || !line) throw new Error(`${BINARIES[bin]} ${args.join(" ")} failed in ${serverRoot()}: ${r.stderr}`);
        return [name, line];
    }));
}

/** The major.minor a version line names (`postgres (PostgreSQL) 17.12 (Debian ...)` gives 17.12; `v1.9.0` gives 1.9). */
export function majorMinor(versionLine: string): string {
    const m = /(\d+)\.(\d+)/.exec(versionLine);
    if (!m) throw new Error(`no version in "${versionLine}"`);
    return `${m[1]}.${m[2]}`;
}
