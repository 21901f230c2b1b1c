/**
 * An archive that cannot go quietly incomplete, on the real servers: the repository goes away
 * under writes, pgBackRest drops the queued WAL past archivePushQueueMax and reports it archived
 * (PostgreSQL's archiver moves on, `pgbackrest verify` stays clean); once the repository is back,
 * the rendered wal-check run finds the gap, marks the newest full backup (the WalArchiveGap
 * alert's metric, through the rendered pgbackrest_exporter) and takes a full backup; the mark
 * stays while that backup cannot run, and is gone once it completes; a point-in-time restore to a
 * time the gap may hold is refused before anything is restored.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownToServer, runServerBinary, serverCommand } from "../binaries";
import { ROOT } from "../root";
import { backupRun, metricValue, moveContainerPaths, pgbackrestArgs, startArchivingServer, startBackupServer, startRepositoryExporter, stopBackupServer } from "./pgbackrest";
import { psql, render, waitFor, type PostgresServer, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-wal-gap";
const VOLUME = `${BASE}/volume`;
const REPO = `${BASE}/repo`;
/** the confirmation pause of wal-check (a minute as deployed) */
const CONFIRM = { WAL_CHECK_CONFIRM_SECONDS: "2" };

let rendered: Rendered;
let pg: PostgresServer;
let exporter: Awaited<ReturnType<typeof startRepositoryExporter>>;
const sql = (q: string) => psql({ ...pg.superuser(), db: "flowviz", sql: q });
const marks = async () => metricValue(await exporter.metrics(), "pgbackrest_backup_last_annotations", { backup_type: "full" });

beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    mkdirSync(REPO, { recursive: true });
    // the local stack with a small WAL queue, so that an outage drops WAL within seconds
    const stack = parse(readFileSync(join(ROOT, "test/integration/Pulumi.local.yaml"), "utf8"));
    const postgres = stack.config["flowviz:postgres"] ?? {};
    stack.config["flowviz:postgres"] = { ...postgres, backups: { ...(postgres.backups ?? {}), archivePushQueueMax: "48Mi" } };
    writeFileSync(`${BASE}/Pulumi.gap.yaml`, stringify(stack));
    rendered = await render(`${BASE}/Pulumi.gap.yaml`, `${BASE}/render`);
    pg = await startArchivingServer(rendered, VOLUME, REPO, BASE);
    backupRun(rendered, "first");
    exporter = await startRepositoryExporter(rendered, REPO);
}, 300_000);

afterAll(() => {
    exporter?.stop();
    stopBackupServer();
    chmodSync(REPO, 0o750);
    pg?.stop("immediate");
});

describe("a WAL gap", () => {
    it("is found after the repository returns, marked until a full backup completes, and that backup is taken", async () => {
        const pgbackrest = (args: string[]) => runServerBinary("pgbackrest", [...pgbackrestArgs(rendered), ...args], { asServerUser: true, timeout: 300_000 });
        sql("create table readings (id bigserial primary key, payload text)");
        expect(await marks()).toBe(0);

        // the repository goes away under writes: past 48 MiB of queued WAL, pgBackRest drops it and reports success
        chmodSync(REPO, 0o000);
        try {
            await waitFor("pgBackRest dropping queued WAL", () => {
                sql("insert into readings (payload) select repeat('x', 1000) from generate_series(1, 20000); select pg_switch_wal()");
                return /dropped WAL file/.test(readFileSync(join(VOLUME, "postgres.log"), "utf8"));
            }, 180);
        } finally {
            chmodSync(REPO, 0o750);
        }
        const back = Date.now();
        // a write, committed, then its segment closed (two statements: one psql -c is one transaction, whose commit
        // would land in the next segment and wait out archive_timeout); a segment made ready also wakes the archiver,
        // which sleeps up to a minute after failures
        const closeSegment = () => {
            sql("insert into readings (payload) values ('after')");
            sql("select pg_switch_wal()");
        };
        for (let i = 0; i < 3; i++) closeSegment();
        let nudged = Date.now();
        // caught up: the repository itself holds the newest closed segment (PostgreSQL's own view counts a dropped one as archived)
        await waitFor("the archive caught up", () => {
            if (Date.now() - nudged > 10_000) {
                closeSegment();
                nudged = Date.now();
            }
            const newest = psql({ ...pg.superuser(), sql: "select pg_walfile_name(pg_current_wal_lsn() - 1)" });
            const held = JSON.parse(pgbackrest(["info", "--output=json"]))[0].archive[0]?.max ?? "";
            return held >= newest;
        }, 120);
        // PostgreSQL's archiver is up to date and pgBackRest's verify finds nothing wrong: only a continuity check sees the gap
        expect(pgbackrest(["verify", "--output=text", "--verbose"])).toMatch(/status: ok/);

        // wal-check with PostgreSQL's TLS server down: the gap is marked, the full backup cannot run, the mark stays
        stopBackupServer();
        // (pgBackRest's own environment options: give up on the absent server in seconds, not minutes)
        const impatient = { ...CONFIRM, PGBACKREST_IO_TIMEOUT: "5", PGBACKREST_DB_TIMEOUT: "5", PGBACKREST_PROTOCOL_TIMEOUT: "10" };
        expect(() => backupRun(rendered, "wal-check", impatient)).toThrow(/WAL missing from the archive after full backup/);
        await waitFor("the exporter reading the mark", async () => (await marks()) === 1, 30);
        await new Promise((r) => setTimeout(r, 5000));
        expect(await marks()).toBe(1);

        // the server back, the next wal-check takes the full backup; the newest full backup carries no mark
        await startBackupServer(rendered);
        const run = backupRun(rendered, "wal-check", CONFIRM);
        expect(run).toMatch(/backup command end: completed successfully/);
        await waitFor("the exporter reading the new full backup", async () => (await marks()) === 0, 30);
        const seconds = (Date.now() - back) / 1000;
        console.log(`repository back -> a good full backup after the gap: ${seconds.toFixed(1)} s (with both wal-check runs at once; deployed, the next */10 run and a 60 s confirmation come first)`);
        const info = JSON.parse(pgbackrest(["info", "--output=json"]))[0].backup as { type: string; label: string; annotation?: Record<string, string> }[];
        expect(info.filter((b) => b.type === "full").map((b) => Object.keys(b.annotation ?? {}))).toEqual([["flowviz-wal-gap"], []]);
        // found again with the new full backup in place: the gap lies before it, nothing to do
        expect(backupRun(rendered, "wal-check", CONFIRM)).not.toMatch(/backup command/);

        // a point-in-time restore to a time after the marked backup and before the next full one is refused before anything is restored
        const target = new Date(back).toISOString();
        const stack = parse(readFileSync(`${BASE}/Pulumi.gap.yaml`, "utf8"));
        stack.config["flowviz:postgres"].restore = { id: "into-gap", target, replaceData: true };
        writeFileSync(`${BASE}/Pulumi.into-gap.yaml`, stringify(stack));
        const restore = await render(`${BASE}/Pulumi.into-gap.yaml`, `${BASE}/render-into-gap`);
        const volume = `${BASE}/volumes/into-gap`;
        moveContainerPaths(restore, volume, REPO);
        mkdirSync(volume, { recursive: true });
        chownToServer(BASE);
        const start = spawnSync(...serverCommand("sh", [join(restore.files, "postgres-restore", "restore.sh")], { asServerUser: true }), { encoding: "utf8" });
        expect(start.status).toBe(1);
        expect(start.stderr).toContain(`restore into-gap: refused, nothing changed: the archive has a WAL gap (segments ${info.find((b) => b.annotation)!.annotation!["flowviz-wal-gap"]}, dropped while the repository was unreachable)`);
        expect(start.stderr).toMatch(/Choose a target before .* UTC or after .* UTC/);
        expect(existsSync(`${volume}/pgdata/PG_VERSION`)).toBe(false);
    });
});
