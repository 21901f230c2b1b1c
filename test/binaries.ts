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
    pg_basebackup: `${PG}/pg_basebackup`,
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
    "pgbackrest-exporter": "/usr/bin/prometheus-pgbackrest-exporter",
    "redis-exporter": "/usr/bin/prometheus-redis-exporter",
    pushgateway: "/usr/bin/prometheus-pushgateway",
    python3: "/usr/bin/python3",
    openssl: "/usr/bin/openssl",
    sh: "/bin/sh",
    radosgw: "/usr/bin/radosgw",
    "radosgw-admin": "/usr/bin/radosgw-admin",
    "barman-cloud-wal-archive": "/usr/bin/barman-cloud-wal-archive",
    "barman-cloud-wal-restore": "/usr/bin/barman-cloud-wal-restore",
    "barman-cloud-backup": "/usr/bin/barman-cloud-backup",
    "barman-cloud-backup-list": "/usr/bin/barman-cloud-backup-list",
    "barman-cloud-restore": "/usr/bin/barman-cloud-restore",
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
    return ["/usr/sbin/chroot", [...user, serverRoot(), "/bin/sh", "-c", script, "sh", opts.cwd ?? "/", BINARIES[bin], ...args]];
}

/** A binary's run, its output returned; on failure it throws with what the binary printed (some print errors on stdout). */
export function runServerBinary(bin: Binary, args: readonly string[], opts: RunAs & { env?: Record<string, string>; timeout?: number } = {}): string {
    const [file, argv] = serverCommand(bin, args, opts);
    try {
        return execFileSync(file, argv, { env: { ...process.env, ...opts.env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeout, maxBuffer: 64 << 20 });
    } catch (e) {
        const err = e as Error & { stdout?: string; stderr?: string };
        throw Object.assign(new Error(`${bin} ${args.join(" ")} failed:\n${err.stderr ?? ""}${err.stdout ?? ""}`), { stdout: err.stdout, stderr: err.stderr });
    }
}

/** The servers whose versions the suite reports, with the argument that prints it. */
const VERSION_ARG: Partial<Record<Binary, string>> = {
    postgres: "--version",
    pgbouncer: "--version",
    pgbackrest: "version",
    "valkey-server": "--version",
    prometheus: "--version",
    promtool: "--version",
    alertmanager: "--version",
    amtool: "--version",
    "node-exporter": "--version",
    "postgres-exporter": "--version",
    "pgbouncer-exporter": "--version",
    "redis-exporter": "--version",
    "barman-cloud-backup": "--version",
    openssl: "version",
};

/** The first line a server prints for its version (`postgres (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)`). */
export function versionLine(bin: Binary): string {
    const arg = VERSION_ARG[bin] ?? "--version";
    const r = spawnSync(...serverCommand(bin, [arg]), { encoding: "utf8" });
    const line = `${r.stdout}${r.stderr}`.split("\n")[0]!.trim();
    if (r.status !== 0 || !line) throw new Error(`${BINARIES[bin]} ${arg} failed in ${serverRoot()}: ${r.stderr}`);
    return line;
}

/** The version number in a version line (`v=8.1.1` gives 8.1.1, `version 2.53.3+ds1` gives 2.53.3). */
export function versionNumber(line: string): string {
    const m = /(\d+\.\d+(?:\.\d+)?)/.exec(line);
    if (!m) throw new Error(`no version in "${line}"`);
    return m[1]!;
}

/** Every reported server's version line, by binary. */
export function serverVersions(): Record<string, string> {
    return Object.fromEntries(Object.keys(VERSION_ARG).map((bin) => [bin, versionLine(bin as Binary)]));
}
