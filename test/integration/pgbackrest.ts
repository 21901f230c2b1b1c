/**
 * A render's pgBackRest parts run outside containers: its paths moved onto test folders,
 * PostgreSQL archiving through its own pgbackrest.conf, pgBackRest's TLS server beside it (the
 * sidecar's server.sh), and the backup runs' invocation (their backup.sh), which reaches
 * PostgreSQL only through that server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chownToServer, runServerBinary, serverCommand } from "../binaries";
import { PostgresServer, waitFor, type Rendered } from "./servers";

/** The services whose rendered files name the data volume, the repository or their own folder. */
const PGBACKREST_SERVICES = ["postgres", "postgres-restore", "postgres-backup-server", "postgres-backup", "pgbackrest-exporter"];

/** Every container path of a render (or of some of its services) moved onto folders of the test: the data volume, the repository, each container's config folder. */
export function moveContainerPaths(r: Rendered, volume: string, repo: string, services = PGBACKREST_SERVICES): void {
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
    for (const service of services) {
        const folder = join(r.files, service);
        if (!existsSync(folder)) continue;
        const map: [string, string][] = [
            ["/var/lib/postgresql/data", volume],
            ["/var/lib/pgbackrest", repo],
            [r.configDir(service), folder],
        ];
        for (const file of walk(folder)) {
            const text = readFileSync(file, "utf8");
            const moved = map.reduce((t, [from, to]) => t.split(from).join(to), text);
            if (moved !== text) writeFileSync(file, moved);
        }
    }
}

/** The backup runs' pgBackRest invocation (backup.sh's `pgbr`), as arguments: the repository role, PostgreSQL over TLS. */
export function pgbackrestArgs(r: Rendered): string[] {
    const script = readFileSync(join(r.files, "postgres-backup", "backup.sh"), "utf8");
    const line = /^pgbr\(\) \{ pgbackrest (.*) "\$@"; \}$/m.exec(script);
    if (!line) throw new Error("backup.sh has no pgbr function");
    return line[1]!.split(" ");
}

/** PostgreSQL's own pgBackRest invocation (archive_command's, without its subcommand): local to the data directory, as a restore runs. */
export function localArgs(r: Rendered): string[] {
    const conf = readFileSync(join(r.files, "postgres", "postgresql.conf"), "utf8");
    const line = /^archive_command = '(pgbackrest .*) archive-push %p'$/m.exec(conf);
    if (!line) throw new Error("postgresql.conf has no pgBackRest archive_command");
    return line[1]!.split(" ").slice(1);
}

/** One of the backup runs (`first`, `full`, `diff`, `verify`, `wal-check`; `first <restore id>`) as its CronJob runs it. */
export function backupRun(r: Rendered, run: string | string[], env: Record<string, string> = {}, timeout = 600_000): string {
    return runServerBinary("sh", [join(r.files, "postgres-backup", "backup.sh"), ...[run].flat()], { asServerUser: true, timeout, env });
}

/**
 * The repository's exporter as its container runs it (the rendered command, its folder where the
 * render put it), collecting every `interval` seconds instead of the rendered minute; returns its
 * metrics as `name{labels}` -> value and a stop.
 */
export async function startRepositoryExporter(r: Rendered, repo: string, interval = 2): Promise<{ metrics: () => Promise<Map<string, number>>; stop: () => void }> {
    const dir = join(r.files, "pgbackrest-exporter");
    // the exporter mounts no data volume
    moveContainerPaths(r, "", repo, ["pgbackrest-exporter"]);
    const command = (r.container("pgbackrest-exporter").entrypoints as string[]).map((a) => a.split(r.configDir("pgbackrest-exporter")).join(dir).replace(/^--collect\.interval=\d+$/, `--collect.interval=${interval}`));
    const listen = command.find((a) => a.startsWith("--web.listen-address="))!.split("=")[1]!;
    const p = spawn(...serverCommand("pgbackrest-exporter", command.slice(1), { asServerUser: true }), { stdio: "ignore", detached: true });
    const url = `http://${listen.startsWith(":") ? `127.0.0.1${listen}` : listen}/metrics`;
    const metrics = async () => {
        const text = await (await fetch(url)).text();
        return new Map(text.split("\n").filter((l) => l.startsWith("pgbackrest_")).map((l) => [l.slice(0, l.lastIndexOf(" ")), Number(l.slice(l.lastIndexOf(" ") + 1))] as [string, number]));
    };
    await waitFor("the repository's exporter", async () => {
        try {
            return (await metrics()).size > 0;
        } catch {
            return false;
        }
    }, 60);
    return { metrics, stop: () => p.pid && process.kill(-p.pid, "SIGKILL") };
}

/** The value of the one series of a metric whose labels include all of `labels`. */
export function metricValue(all: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
    const hit = [...all].find(([k]) => k.startsWith(`${name}{`) && Object.entries(labels).every(([l, v]) => k.includes(`${l}="${v}"`)));
    return hit?.[1];
}

let tlsServer: ChildProcess | undefined;

/** pgBackRest's TLS server beside PostgreSQL, as the sidecar starts it (server.sh: the certificate watch, then the server), with no password: the superuser by peer on the socket; one at a time, on its port. */
export async function startBackupServer(r: Rendered): Promise<ChildProcess> {
    stopBackupServer();
    const server = spawn(...serverCommand("sh", [join(r.files, "postgres-backup-server", "server.sh")], { asServerUser: true }), {
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG"))),
        stdio: ["ignore", "inherit", "inherit"],
        detached: true,
    });
    tlsServer = server;
    const conf = join(r.files, "postgres-backup-server", "pgbackrest", "pgbackrest.conf");
    await waitFor("pgBackRest's TLS server", () => {
        try {
            runServerBinary("pgbackrest", [`--config=${conf}`, "--tls-server-address=127.0.0.1", "server-ping"], { asServerUser: true, timeout: 10_000 });
            return true;
        } catch {
            return false;
        }
    }, 60);
    return server;
}

export function stopBackupServer(): void {
    if (tlsServer?.pid) {
        try {
            process.kill(-tlsServer.pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
    tlsServer = undefined;
}

/**
 * A new cluster on a data volume of the test, as the container runs it: the render's paths moved
 * there, PostgreSQL archiving through pgBackRest, its socket and pgBackRest's spool and locks on
 * the volume, the roles applied, pgBackRest's TLS server beside it. `owner` is the folder handed to the server user.
 */
export async function startArchivingServer(r: Rendered, volume: string, repo: string, owner: string): Promise<PostgresServer> {
    moveContainerPaths(r, volume, repo);
    const pg = new PostgresServer(volume, r, 5432, { socketDir: `${volume}/run`, archive: true });
    pg.init();
    for (const d of ["run", "pgbackrest/spool", "pgbackrest/lock"]) mkdirSync(join(volume, d), { recursive: true });
    chownToServer(owner);
    pg.start();
    pg.applyRoles();
    await startBackupServer(r);
    return pg;
}
