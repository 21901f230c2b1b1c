/**
 * `npm run backup-bench`: what backups cost and how fast a restore is, on the real servers
 * (PostgreSQL 17, pgBackRest 2.55, the local stack's rendered files, a posix repository):
 * a full backup of a pgbench database of stated size (throughput), a restore of it and the
 * recovery until PostgreSQL is promoted (the restore part of the RTO), TPC-B with archiving
 * against TPC-B without it, the WAL not yet archived during the load (the archive's lag), and
 * what a volume lost under load loses (acknowledged rows missing after a restore to `latest`).
 * Writes bench/results/backup.json (docs/BACKUPS.md quotes it).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chownToServer, runServerBinary, serverCommand, versionLine } from "../test/binaries";
import { localArgs, pgbackrestArgs, startArchivingServer, stopBackupServer } from "../test/integration/pgbackrest";
import { LOCAL_STACK, PostgresServer, psql, render, waitFor } from "../test/integration/servers";
import { exporterQueries } from "../configs/exporter-queries";
import { parse } from "yaml";
import { ROOT } from "../test/root";

const { values } = parseArgs({ options: { scale: { type: "string", default: "50" }, seconds: { type: "string", default: "30" } } });
const SCALE = Number(values.scale);
const SECONDS = Number(values.seconds);
const BASE = "/tmp/flowviz-backup-bench";

/**
 * The RPO of a lost volume: 12 writers insert one row per transaction through PostgreSQL for the
 * run's seconds (pgbench counts what was acknowledged); the instant they finish, the server dies
 * (SIGQUIT: no checkpoint, no last archiving) and its volume is never used again; a restore to
 * `latest` from the repository shows how many acknowledged rows, and how many seconds of writes,
 * the archive lacks. What it lacks is the WAL that had not reached the repository: the segment
 * still filling, and any waiting for the archiver.
 */
async function lostVolume(pg: PostgresServer, local: (args: string[]) => string, into: string): Promise<{ writers: number; acknowledged: number; lost: number; lostSeconds: number; rowsPerSecond: number; archiveTimeout: string }> {
    const su = pg.superuser();
    const env = { PGPASSWORD: pg.superuserPassword };
    psql({ ...su, db: "flowviz", sql: "create table acks (id bigserial primary key, at timestamptz not null default clock_timestamp())" });
    writeFileSync(`${BASE}/insert.sql`, "insert into acks default values;\n");
    chownToServer(BASE);
    const out = runServerBinary("pgbench", ["-n", "-c", "12", "-j", "2", "-T", String(SECONDS), "-f", `${BASE}/insert.sql`, "-h", su.host, "-p", "5432", "-U", "postgres", "flowviz"], { env, asServerUser: true, timeout: 3_600_000 });
    pg.stop("immediate");
    const acknowledged = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
    mkdirSync(`${into}/run`, { recursive: true });
    chownToServer(BASE);
    local(["restore", `--pg1-path=${into}/pgdata`, "--type=default"]);
    const r = new PostgresServer(into, pg.rendered, 5432, { socketDir: `${into}/run`, archive: false });
    r.start();
    await waitFor("the restore after the loss promoted", () => psql({ ...r.superuser(), sql: "select not pg_is_in_recovery()" }) === "t", 600);
    const [restored, first, last] = psql({ ...r.superuser(), db: "flowviz", sql: "select count(*), extract(epoch from min(at)), extract(epoch from max(at)) from acks" }).split("|").map(Number);
    r.stop("fast");
    const rowsPerSecond = acknowledged / SECONDS;
    // the writes ran from the first row to SECONDS later; the restore ends at its newest row
    const lostSeconds = +(first! + SECONDS - last!).toFixed(1);
    return { writers: 12, acknowledged, lost: acknowledged - restored!, lostSeconds, rowsPerSecond: Math.round(rowsPerSecond), archiveTimeout: String(parse(readFileSync(join(ROOT, LOCAL_STACK), "utf8")).config["flowviz:postgres"]?.backups?.archiveTimeout ?? "60s (default)") };
}

const time = async <T>(f: () => T | Promise<T>): Promise<[T, number]> => {
    const t = Date.now();
    const r = await f();
    return [r, (Date.now() - t) / 1000];
};

async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    const repo = `${BASE}/repo`;
    mkdirSync(repo, { recursive: true });
    const rendered = await render(join(ROOT, LOCAL_STACK), `${BASE}/render`);
    const volume = `${BASE}/volume`;
    const start = (dir: string, archive: boolean) => new PostgresServer(dir, rendered, 5432, { socketDir: `${dir}/run`, archive });
    let pg = await startArchivingServer(rendered, volume, repo, BASE);
    const env = { PGPASSWORD: pg.superuserPassword };
    // the backup runs' invocation (through pgBackRest's TLS server) and PostgreSQL's own (local: the data directory and socket at hand)
    const pgbackrest = (args: string[]) => runServerBinary("pgbackrest", [...pgbackrestArgs(rendered), ...args], { asServerUser: true, timeout: 3_600_000 });
    const local = (args: string[]) => runServerBinary("pgbackrest", [...localArgs(rendered), ...args], { asServerUser: true, env, timeout: 3_600_000 });
    const su = () => pg.superuser();
    pgbackrest(["stanza-create"]);
    runServerBinary("pgbench", ["-i", "-q", "-s", String(SCALE), "-h", su().host, "-p", "5432", "-U", "postgres", "flowviz"], { env, asServerUser: true, timeout: 3_600_000 });
    const bytes = Number(psql({ ...su(), sql: "select pg_database_size('flowviz')" }));

    const [, backupSeconds] = await time(() => pgbackrest(["backup", "--type=full"]));
    const info = JSON.parse(pgbackrest(["info", "--output=json"]))[0].backup.at(-1).info;
    // the same full backup taken beside PostgreSQL, in the same run: what the TLS hop costs
    const [, localSeconds] = await time(() => local(["backup", "--type=full", "--repo1-retention-full=4"]));

    const archiver = (parse(exporterQueries()) as Record<string, { query: string }>).pg_archiver!.query;
    const pgbench = async (): Promise<{ tps: number; maxPendingBytes: number }> => {
        let maxPending = 0;
        const p = spawn(...serverCommand("pgbench", ["-n", "-c", "16", "-j", "2", "-T", String(SECONDS), "-h", su().host, "-p", "5432", "-U", "postgres", "flowviz"], { asServerUser: true }), { env: { ...process.env, ...env } });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        const sampler = setInterval(() => {
            try {
                const pending = Number(psql({ ...su(), db: "flowviz", sql: archiver }).split("|")[2]);
                maxPending = Math.max(maxPending, pending);
            } catch {
                /* between samples */
            }
        }, 1000);
        await new Promise((r) => p.once("exit", r));
        clearInterval(sampler);
        return { tps: Number(/tps = ([\d.]+)/.exec(out)?.[1]), maxPendingBytes: maxPending };
    };
    const archived = await pgbench();
    const lost = await lostVolume(pg, local, `${BASE}/after-loss`);
    pg = start(volume, true);
    pg.start();
    pg.stop("fast");
    pg = start(volume, false);
    pg.start();
    const plain = await pgbench();
    pg.stop("fast");
    stopBackupServer();

    const restored = `${BASE}/restored`;
    mkdirSync(`${restored}/run`, { recursive: true });
    chownToServer(BASE);
    const [, restoreSeconds] = await time(() => local(["restore", `--pg1-path=${restored}/pgdata`, "--type=immediate", "--target-action=promote"]));
    const r = start(restored, false);
    const [, recoverySeconds] = await time(async () => {
        r.start();
        await waitFor("promoted", () => psql({ ...r.superuser(), sql: "select not pg_is_in_recovery()" }) === "t", 600);
    });
    r.stop("fast");

    const mb = (b: number) => +(b / 1024 ** 2).toFixed(1);
    const result = {
        date: new Date().toISOString(),
        machine: `${versionLine("postgres")}; ${versionLine("pgbackrest")}`,
        database: { scale: SCALE, mib: mb(bytes) },
        fullBackup: {
            seconds: backupSeconds,
            mibPerSecond: +(mb(bytes) / backupSeconds).toFixed(1),
            repositoryMib: mb(info.repository.delta),
            localSeconds,
            tlsToLocal: +(backupSeconds / localSeconds).toFixed(2),
        },
        restore: { restoreSeconds, recoveryToPromotedSeconds: +recoverySeconds.toFixed(1) },
        lostVolume: lost,
        tpcb: { clients: 16, seconds: SECONDS, archivingOn: archived.tps, archivingOff: plain.tps, costPercent: +((1 - archived.tps / plain.tps) * 100).toFixed(1), maxPendingWalMib: mb(archived.maxPendingBytes) },
    };
    console.log(JSON.stringify(result, null, 2));
    writeFileSync(join(ROOT, "bench/results/backup.json"), JSON.stringify(result, null, 2) + "\n");
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    // the TLS server beside PostgreSQL would keep the process alive
    stopBackupServer();
    process.exitCode = 1;
});
