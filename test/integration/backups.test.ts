/**
 * Backups on the real servers (PostgreSQL 17, pgBackRest 2.55), from the rendered files: the
 * backup runs (another process, as their own CronJob or container runs them) reach PostgreSQL
 * only through pgBackRest's TLS server beside it, with their client certificate; their `first`
 * run creates the stanza and takes the first full backup; rows are written, backed up (full,
 * then differential), and restored to a point in time by the rendered start script of a stack
 * that asks for the restore; the rows counted are exactly those written before the target. The
 * repository is encrypted, and a dead repository loses nothing.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exporterQueries } from "../../configs/exporter-queries";
import { chownToServer, runServerBinary, serverCommand } from "../binaries";
import { backupRun, metricValue, moveContainerPaths, pgbackrestArgs, startArchivingServer, startBackupServer, startRepositoryExporter, stopBackupServer } from "./pgbackrest";
import { PGBACKREST_EXPORTER } from "../../configs/metrics";
import { LOCAL_FILE_LIMIT, PgBouncerServer, PostgresServer, psql, render, renderWithSecrets, secretOf, waitFor, type Rendered } from "./servers";
import { S3_ENDPOINT, startS3, type S3Server } from "./s3";
import { ROOT } from "../root";
import { parse, stringify } from "yaml";

const BASE = "/tmp/flowviz-it-backups";
const VOLUME = `${BASE}/volume`;
const REPO = `${BASE}/repo`;

let rendered: Rendered;
/** the render whose PostgreSQL runs now (the sidecar beside it is that render's) */
let current: Rendered;
let pg: PostgresServer;
const pgbackrest = (args: string[], r: Rendered = current) =>
    runServerBinary("pgbackrest", [...pgbackrestArgs(r), ...args], { asServerUser: true, timeout: 300_000 });
const migrator = () => ({ port: 5432, user: "flowviz_migrator", password: rendered.plan.outputs.migrationDbPassword as string, db: "flowviz" });
const sql = (q: string) => psql({ ...migrator(), sql: q });
const count = (table = "lots") => Number(sql(`select count(*) from ${table}`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The server's time as a restore target (ISO, UTC), a second clear of the writes before and after it. */
async function noteTime(): Promise<string> {
    await sleep(1100);
    const now = psql({ ...pg.superuser(), sql: "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" });
    await sleep(1100);
    return now;
}

/** A stack asking for a restore: the local stack with postgres.restore set, rendered with the same secrets. */
async function renderRestore(id: string, target: string, restore: Record<string, unknown> = { replaceData: true }): Promise<Rendered> {
    const stack = parse(readFileSync(join(ROOT, "test/integration/Pulumi.local.yaml"), "utf8"));
    stack.config["flowviz:postgres"] = { ...stack.config["flowviz:postgres"], restore: { ...restore, id, target } };
    mkdirSync(`${BASE}/stacks`, { recursive: true });
    writeFileSync(stackFileOf(id), stringify(stack));
    return render(stackFileOf(id), `${BASE}/renders/${id}`, "local");
}
const stackFileOf = (id: string) => `${BASE}/stacks/Pulumi.${id}.yaml`;

/** A render's restore step (its own container, before PostgreSQL's) as the container runs it: its status and what it said. */
function runRestore(r: Rendered, volume: string): { status: number | null; stderr: string } {
    // the data volume, mounted (and empty) before the restore container starts
    mkdirSync(volume, { recursive: true });
    moveContainerPaths(r, volume, REPO);
    chownToServer(BASE);
    const step = spawnSync(...serverCommand("sh", [join(r.files, "postgres-restore", "restore.sh")], { asServerUser: true }), { encoding: "utf8", timeout: 600_000 });
    return { status: step.status, stderr: `${step.stderr}${step.stdout}` };
}

/**
 * Starts PostgreSQL from a render as its pod does: the restore step first (when the stack asks
 * for one), then the start script, whose entrypoint is a stand-in that starts PostgreSQL on the
 * data directory with the same arguments. Until PostgreSQL promotes, no client may read: every
 * connection that gets in before is recorded, and must be none.
 */
async function startWithScript(r: Rendered, volume: string): Promise<PostgresServer> {
    if (existsSync(join(r.files, "postgres-restore"))) {
        const step = runRestore(r, volume);
        if (step.status !== 0) throw new Error(`restore.sh exited with ${step.status}: ${step.stderr}`);
    }
    moveContainerPaths(r, volume, REPO);
    const bin = `${BASE}/bin`;
    mkdirSync(bin, { recursive: true });
    writeFileSync(`${bin}/docker-entrypoint.sh`, `#!/bin/sh\nshift\nexec /usr/lib/postgresql/17/bin/postgres -D "$PGDATA" -c unix_socket_directories=${volume}/run "$@" >>${volume}/postgres.log 2>&1\n`);
    chmodSync(`${bin}/docker-entrypoint.sh`, 0o755);
    chownToServer(BASE);
    const server = new PostgresServer(volume, r, 5432, { socketDir: `${volume}/run`, archive: true });
    const env = Object.fromEntries((r.container("postgres").envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    const start = spawn(...serverCommand("sh", [join(r.files, "postgres", "start.sh")], { asServerUser: true }), {
        env: { ...process.env, PGDATA: env.PGDATA!.replace("/var/lib/postgresql/data", volume), PATH: `${bin}:/usr/bin:/bin` },
        stdio: ["ignore", "inherit", "inherit"],
    });
    let exited: number | null = null;
    start.on("exit", (code) => (exited = code));
    // answering is not enough: recovery must have reached the target and promoted, and nobody read before
    await waitFor("PostgreSQL recovered and promoted", () => {
        if (exited !== null) return true;
        const inRecovery = psql({ ...migrator(), sql: "select pg_is_in_recovery()" });
        if (inRecovery === "t") readDuringRecovery++;
        return inRecovery === "f";
    }, 240);
    if (exited !== null) throw new Error(`start.sh exited with ${exited}`);
    current = r;
    await startBackupServer(r);
    return server;
}
/** connections that read while a restored PostgreSQL was still recovering (hot standby must be off) */
let readDuringRecovery = 0;

let first = "";
beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    mkdirSync(REPO, { recursive: true });
    rendered = await render(join(ROOT, "test/integration/Pulumi.local.yaml"), `${BASE}/render`);
    current = rendered;
    pg = await startArchivingServer(rendered, VOLUME, REPO, BASE);
    // the backup runs' first run, as its Job does at deploy
    first = backupRun(rendered, "first");
}, 300_000);

afterAll(() => {
    stopBackupServer();
    try {
        for (const v of readdirSync(`${BASE}/volumes`)) runServerBinary("pg_ctl", ["-D", `${BASE}/volumes/${v}/pgdata`, "-m", "immediate", "stop"], { asServerUser: true });
    } catch {
        /* not running */
    }
    pg?.stop("immediate");
});

describe("the backup runs, through pgBackRest's TLS server", () => {
    it("`first` created the stanza, found the archive working and took the first full backup, from another process over TLS", () => {
        expect(first).toMatch(/stanza-create command end: completed successfully/);
        expect(first).toMatch(/check command end: completed successfully/);
        expect(first).toMatch(/backup command end: completed successfully/);
        // the runs' configuration names PostgreSQL as a TLS host; their own folder holds no data directory
        const conf = readFileSync(join(rendered.files, "postgres-backup", "pgbackrest", "pgbackrest.conf"), "utf8");
        expect(conf).toMatch(/^pg1-host-type=tls$/m);
        expect(conf).toMatch(/^pg1-host=localhost$/m);
        const info = JSON.parse(pgbackrest(["info", "--output=json"]));
        expect(info[0].status.message).toBe("ok");
        expect(info[0].backup.map((b: { type: string }) => b.type)).toEqual(["full"]);
        expect(info[0].cipher).toBe("aes-256-cbc");
    });

    it("lets in only the runs' certificate: another certificate of the same client CA is refused", () => {
        const other = `${BASE}/other-client`;
        mkdirSync(other, { recursive: true });
        // the roles job's certificate: signed by the same client CA, common name postgres
        for (const f of ["client.crt", "client.key"]) writeFileSync(join(other, f), readFileSync(join(rendered.files, "postgres-roles", "tls", f)));
        chownToServer(other);
        const args = pgbackrestArgs(rendered);
        // the runs' own certificate reaches the database
        expect(pgbackrest(["check"])).toMatch(/check command end: completed successfully/);
        // pgBackRest's server drops an unauthorized client; the client sees no database behind pg1
        expect(() => runServerBinary("pgbackrest", [...args, `--pg1-host-cert-file=${other}/client.crt`, `--pg1-host-key-file=${other}/client.key`, "check"], { asServerUser: true, timeout: 60_000 })).toThrow(/ERROR: \[\d+\]/);
    });

    it("read PostgreSQL's certificate off the server (STARTTLS) and recorded when it expires, for the exporter", async () => {
        await waitFor("the certificate watch beside PostgreSQL", () => psql({ ...pg.superuser(), db: "flowviz", sql: "select count(*) from flowviz_ops.certificates where name = 'postgres'" }) === "1", 60);
        const recorded = psql({ ...pg.superuser(), db: "flowviz", sql: "select extract(epoch from not_after)::bigint from flowviz_ops.certificates where name = 'postgres'" });
        const end = runServerBinary("openssl", ["x509", "-noout", "-enddate", "-in", join(rendered.files, "postgres/tls/server.crt")]).trim().replace("notAfter=", "");
        expect(Number(recorded)).toBe(Date.parse(end) / 1000);
    });
});

describe("point-in-time recovery from the posix repository", () => {
    let target = "";
    it("restores to a time: exactly the rows written before it, on a new timeline, the later drop undone", async () => {
        sql("create table lots (id int primary key, batch text not null)");
        sql("insert into lots select g, 'before-full' from generate_series(1, 100) g");
        pgbackrest(["backup", "--type=full"]);
        sql("insert into lots select g, 'after-full' from generate_series(101, 150) g");
        target = await noteTime();
        sql("insert into lots select g, 'after-target' from generate_series(151, 180) g");
        sql("drop table lots");
        psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
        pgbackrest(["check"]);
        pg.stop("fast");

        const restore = await renderRestore("restored-1", target);
        const restored = await startWithScript(restore, `${BASE}/volumes/restored-1`);
        expect(count()).toBe(150);
        expect(sql("select count(*) from lots where batch = 'after-target'")).toBe("0");
        expect(psql({ ...restored.superuser(), sql: "select timeline_id from pg_control_checkpoint()" })).toBe("2");
        // recovery was closed to clients: no hot standby until promotion
        expect(readFileSync(`${BASE}/volumes/restored-1/pgdata/postgresql.auto.conf`, "utf8")).toMatch(/^hot_standby = 'off'$/m);
        expect(readDuringRecovery).toBe(0);
        pg = restored;
    });

    it("backs the new timeline up at once (the first run, given the restore), and expires nothing from before the incident while held", () => {
        const before = JSON.parse(pgbackrest(["info", "--output=json"]))[0].backup.map((b: { label: string }) => b.label);
        backupRun(current, ["first", "restored-1"], { FIRST_WAIT_SECONDS: "60" });
        const after = JSON.parse(pgbackrest(["info", "--output=json"]))[0].backup as { label: string; type: string; annotation?: Record<string, string> }[];
        expect(after.at(-1)).toMatchObject({ type: "full", annotation: { "flowviz-restore": "restored-1" } });
        // retention keeps two full backups; with expiry held, two more leave every earlier one in place
        pgbackrest(["backup", "--type=full"]);
        const held = JSON.parse(pgbackrest(["info", "--output=json"]))[0].backup.map((b: { label: string }) => b.label);
        for (const label of before) expect(held).toContain(label);
        expect(held.length).toBe(before.length + 2);
    });

    it("refuses, changing nothing, a target older than the oldest backup, naming what the repository reaches", async () => {
        const volume = `${BASE}/volumes/too-early`;
        mkdirSync(`${volume}/pgdata`, { recursive: true });
        const step = runRestore(await renderRestore("too-early", "2020-01-01T00:00:00Z"), volume);
        expect(step.status).toBe(1);
        expect(step.stderr).toMatch(/restore too-early: refused, nothing changed: the target 2020-01-01 00:00:00 UTC is outside what the repository can reach: from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(the end of its oldest backup, \d{8}-\d{6}F\) to now/);
        expect(readdirSync(volume)).toEqual(["pgdata"]);
        expect(readdirSync(`${volume}/pgdata`)).toEqual([]);
    });

    it("resumes a restore stopped midway: with files missing and no mark of completion, --delta makes the volume whole", async () => {
        pg.stop("fast");
        const volume = `${BASE}/volumes/resumed`;
        const r = await renderRestore("resumed", target);
        expect(runRestore(r, volume).status).toBe(0);
        // as a restore killed midway leaves it: begun, not done, part of the files never written
        rmSync(`${volume}/restored-resumed`);
        rmSync(`${volume}/pgdata/global/pg_control`);
        for (const db of readdirSync(`${volume}/pgdata/base`)) rmSync(`${volume}/pgdata/base/${db}`, { recursive: true });
        const resumed = runRestore(r, volume);
        expect(resumed.status, resumed.stderr).toBe(0);
        expect(resumed.stderr).toContain("restore resumed: an earlier attempt stopped midway; resuming it");
        // checked on the side, never archiving: a second primary promoted into the same repository would fork its timelines
        const socket = `${volume}/run`;
        mkdirSync(socket, { recursive: true });
        chownToServer(volume);
        runServerBinary("pg_ctl", ["-D", `${volume}/pgdata`, "-w", "-t", "120", "-l", `${volume}/check.log`, "-o", `-p 5439 -c archive_mode=off -c unix_socket_directories=${socket} -c listen_addresses=''`, "start"], { asServerUser: true });
        const side = { host: socket, port: 5439, user: "postgres", password: pg.superuserPassword, db: "flowviz" };
        await waitFor("the resumed restore promoted", () => psql({ ...side, sql: "select pg_is_in_recovery()" }) === "f", 120);
        expect(psql({ ...side, sql: "select count(*) from lots" })).toBe("150");
        runServerBinary("pg_ctl", ["-D", `${volume}/pgdata`, "-m", "fast", "stop"], { asServerUser: true });
        pg = await startWithScript(await renderRestore("restored-1", target), `${BASE}/volumes/restored-1`);
    });

    it("restores a volume once: started again by the same script, it restores nothing and the rows are as they were", async () => {
        expect(readdirSync(`${BASE}/volumes/restored-1`)).toContain("restored-restored-1");
        sql("insert into lots values (500, 'after-promotion')");
        pg.stop("fast");
        pg = await startWithScript(await renderRestore("restored-1", target), `${BASE}/volumes/restored-1`);
        expect(count()).toBe(151);
    });

    it("restores a differential on top of the full to a time on the new timeline", async () => {
        sql("insert into lots select g, 'after-restore' from generate_series(1001, 1040) g");
        pgbackrest(["backup", "--type=diff"]);
        sql("insert into lots select g, 'after-diff' from generate_series(1041, 1060) g");
        const second = await noteTime();
        sql("delete from lots");
        psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
        pgbackrest(["check"]);
        const info = JSON.parse(pgbackrest(["info", "--output=json"]));
        expect(info[0].backup.map((b: { type: string }) => b.type)).toEqual(["full", "full", "full", "full", "diff"]);
        pg.stop("fast");
        const restored = await startWithScript(await renderRestore("restored-2", second), `${BASE}/volumes/restored-2`);
        expect(count()).toBe(151 + 40 + 20);
        pg = restored;
    });

    it("passes pgbackrest verify, and keeps the repository unreadable without the passphrase", () => {
        sql("create table if not exists markers (note text); insert into markers values ('HACCP-lot-7731-released')");
        pgbackrest(["backup", "--type=full"]);
        expect(pgbackrest(["verify"])).not.toMatch(/ERROR|invalid/);
        const grep = spawnGrep("HACCP-lot-7731", REPO);
        expect(grep, "a plaintext row in the repository").toBe("");
        // the same repository without the credentials file (its passphrase)
        const withoutPass = pgbackrestArgs(rendered).filter((a) => !a.startsWith("--config-include-path"));
        expect(() => runServerBinary("pgbackrest", [...withoutPass, "info"], { asServerUser: true })).toThrow(/requires option: repo1-cipher-pass/);
        // and with a wrong one
        const wrong = `${BASE}/wrong-pass`;
        mkdirSync(wrong, { recursive: true });
        writeFileSync(`${wrong}/credentials.conf`, "[global]\nrepo1-cipher-pass=not-the-passphrase\n");
        chownToServer(wrong);
        // info reports the failure in its status (and exits 0)
        const info = runServerBinary("pgbackrest", [...withoutPass, `--config-include-path=${wrong}`, "info"], { asServerUser: true });
        expect(info).toMatch(/status: error/);
        expect(info).toMatch(/unable to load info file/);
    });

    it("is what the repository's exporter reports: every catalogued metric, the newest full backup minutes old, no errors", async () => {
        await expectCatalogue(REPO);
    });
});

/** pgbackrest_exporter on a real repository: every catalogued metric, and the newest backups as `pgbackrest info` lists them. */
async function expectCatalogue(repo: string): Promise<void> {
    const exporter = await startRepositoryExporter(current, repo);
    try {
        await waitFor("a collection with backups", async () => metricValue(await exporter.metrics(), "pgbackrest_backup_since_last_completion_seconds", { backup_type: "full" }) !== undefined, 60);
        const all = await exporter.metrics();
        const missing = Object.keys(PGBACKREST_EXPORTER.metrics).filter((m) => metricValue(all, m) === undefined);
        expect(missing).toEqual([]);
        expect(metricValue(all, "pgbackrest_exporter_status")).toBe(1);
        expect(metricValue(all, "pgbackrest_repo_status")).toBe(0);
        expect(metricValue(all, "pgbackrest_stanza_status")).toBe(0);
        expect(metricValue(all, "pgbackrest_backup_last_error_status", { backup_type: "full" })).toBe(0);
        expect(metricValue(all, "pgbackrest_backup_since_last_completion_seconds", { backup_type: "full" })).toBeLessThan(600);
    } finally {
        exporter.stop();
    }
}

/** The exporter's archiver query (queries.yaml), run as the exporter runs it: one row of numbers. */
function archiver(): { failed: number; pending: number } {
    const query = (parse(exporterQueries()) as Record<string, { query: string }>).pg_archiver!.query;
    const password = readFileSync(join(rendered.files, "postgres-exporter", "secrets", "password"), "utf8");
    const [, failed, pending] = psql({ port: 5432, user: "postgres_exporter", password, db: "flowviz", sql: query }).split("|").map(Number);
    return { failed: failed!, pending: pending! };
}

/** Clients writing numbered rows until told to stop; returns what was acknowledged. */
function writers(n: number): { stop: () => Promise<number[]> } {
    let running = true;
    const acked: number[] = [];
    const loops = Array.from({ length: n }, async (_, w) => {
        const client = new Client({ host: "127.0.0.1", port: 5432, user: migrator().user, password: migrator().password, database: "flowviz", ssl: { ca: readFileSync(rendered.caFile, "utf8") } });
        await client.connect();
        for (let i = 0; running; i++) {
            const id = 1_000_000 * (w + 1) + i;
            await client.query("insert into lots (id, batch) values ($1, repeat('x', 2000))", [id]);
            acked.push(id);
        }
        await client.end();
    });
    return {
        async stop() {
            running = false;
            await Promise.all(loops);
            return acked;
        },
    };
}

describe("a dead repository under load", () => {
    it("PostgreSQL keeps serving, the archive reports the failure, and once the repository is back every write is archived and restorable", async () => {
        sql("alter table lots alter column batch type text");
        const before = archiver();
        const load = writers(4);
        chmodSync(REPO, 0o000);
        try {
            await waitFor("archive_command failing (pg_stat_archiver.failed_count)", () => archiver().failed > before.failed, 120);
            await waitFor("WAL piling up beyond a segment (the WalArchiveStalled signal)", () => archiver().pending > 16 * 1024 * 1024, 120);
        } finally {
            chmodSync(REPO, 0o750);
        }
        const acked = await load.stop();
        expect(acked.length).toBeGreaterThan(1000);
        sql("insert into lots values (9999999, 'last write')");
        psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
        await waitFor("the archive caught up", () => archiver().pending < 16 * 1024 * 1024, 180);
        pgbackrest(["check"]);
        const stored = count();
        pg.stop("fast");
        pg = await startWithScript(await renderRestore("restored-3", "latest"), `${BASE}/volumes/restored-3`);
        const ids = new Set(sql("select id from lots where id >= 1000000").split("\n").map(Number));
        expect(acked.filter((id) => !ids.has(id))).toEqual([]);
        expect(count()).toBe(stored);
        expect(sql("select batch from lots where id = 9999999")).toBe("last write");
    });
});

describe("the restore runbook, as written: its Docker commands on the real servers", () => {
    const runbook = readFileSync(join(ROOT, "docs/runbooks/RestoreToPointInTime.md"), "utf8");
    /** the SQL of the runbook's one `psql ... -c "<sql>"` that matches */
    const sqlOf = (pattern: RegExp) => {
        const found = [...new Set([...runbook.matchAll(/-c "([^"]+)"/g)].map((m) => m[1]!))].filter((q) => pattern.test(q));
        expect(found, `the runbook's psql -c "${pattern.source}"`).toHaveLength(1);
        return found[0]!;
    };
    /** the keys step 3 sets, with the runbook's values */
    const keysSet = () => Object.fromEntries([...runbook.matchAll(/^pulumi config set --path flowviz:postgres\.restore\.(\w+) (\S+) -s prod$/gm)].map((m) => [m[1]!, m[2] === "true" ? true : m[2]!]));

    it("holds the app on PgBouncer, restores, verifies, lets the held query run on the restored rows, and backs the new timeline up", async () => {
        const pgb = new PgBouncerServer(current, LOCAL_FILE_LIMIT);
        pgb.start();
        const app = { port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, db: "flowviz" };
        const admin = (q: string) => psql({ port: 6432, user: "pgbouncer_admin", password: rendered.plan.outputs.pgbouncerAdminPassword as string, db: "pgbouncer", sql: q });
        try {
            await waitFor("PgBouncer", () => psql({ ...app, sql: "select 1" }) === "1");
            sql("create table recall (id int primary key, lot text not null)");
            psql({ ...app, sql: "insert into recall select g, 'released' from generate_series(1, 20) g" });
            const target = await noteTime();
            psql({ ...app, sql: "update recall set lot = 'destroyed'" });
            psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
            pgbackrest(["check"]);
            const timeline = Number(psql({ ...pg.superuser(), sql: "select timeline_id from pg_control_checkpoint()" }));

            // 1: the range, with the runbook's command (the exporter's configuration)
            const info = /docker exec flowviz-dev-pgbackrest-exporter pgbackrest (.* info)$/m.exec(runbook)![1]!.split(" ");
            const repositoryInfo = (...extra: string[]) => {
                moveContainerPaths(current, "", REPO, ["pgbackrest-exporter"]);
                return runServerBinary("pgbackrest", [...info.map((a) => a.replace(current.configDir("pgbackrest-exporter"), join(current.files, "pgbackrest-exporter"))), ...extra], { asServerUser: true });
            };
            const range = repositoryInfo();
            expect(range).toMatch(/full backup: \d{8}-\d{6}F/);

            // 2: hold; a query the app sends now waits, and is not lost
            admin(sqlOf(/^SET query_wait_timeout/));
            admin(sqlOf(/^PAUSE /));
            const held = promisify(execFile)(...serverCommand("psql", ["-X", "-At", "-h", "127.0.0.1", "-p", "6432", "-U", app.user, "-d", app.db, "-c", "select count(*) from recall where lot = 'released'"]), { env: { ...process.env, PGPASSWORD: app.password } });
            let answered = false;
            void held.then(() => (answered = true), () => (answered = true));

            // 3: the keys the runbook sets (its id, our target), then check accepts the stack and names the restore
            const keys = keysSet();
            expect(Object.keys(keys).sort()).toEqual(["id", "replaceData", "target"]);
            const id = keys.id as string;
            const r = await renderRestore(id, target, { replaceData: keys.replaceData });
            const check = spawnSync("node", ["--import", "tsx", "scripts/check.ts", "--stack", "walk", "--config-file", stackFileOf(id)], { cwd: ROOT, encoding: "utf8" });
            expect(check.status, check.stderr).toBe(0);
            expect(check.stdout).toContain(`RESTORE ${id}: PostgreSQL starts on a new volume postgres-data-${id}, restored to ${target}`);

            // 4: apply: PostgreSQL's pod restarts, the restore step first
            pg.stop("fast");
            pg = await startWithScript(r, `${BASE}/volumes/${id}`);
            expect(answered, "the held query ran before the restore").toBe(false);

            // 5: verify with the runbook's query, then resume: the held query runs on the restored rows
            const [inRecovery, newTimeline] = psql({ ...pg.superuser(), db: "flowviz", sql: sqlOf(/pg_is_in_recovery/) }).split("|");
            expect(inRecovery).toBe("f");
            expect(Number(newTimeline)).toBe(timeline + 1);
            admin(sqlOf(/^RESUME /));
            expect((await held).stdout.trim()).toBe("20");
            // the file's queue wait is back
            admin(sqlOf(/^RELOAD/));
            const fromFile = /^query_wait_timeout = (\d+)$/m.exec(readFileSync(join(rendered.files, "pgbouncer/pgbouncer.ini"), "utf8"))![1];
            expect(admin("SHOW CONFIG").split("\n").find((l) => l.startsWith("query_wait_timeout|"))!.split("|")[1]).toBe(fromFile);
            backupRun(current, ["first", id], { FIRST_WAIT_SECONDS: "60" });
            expect(repositoryInfo("--output=json")).toContain(`"flowviz-restore":"${id}"`);
        } finally {
            await pgb.stop();
        }
    });
});

describe("point-in-time recovery from a real S3 server (Ceph's radosgw on its standalone dbstore backend, TLS)", () => {
    const S3 = `${BASE}/rgw`;
    const KEYS = ["backupS3AccessKey", "backupS3SecretKey", "backupOffsiteS3AccessKey", "backupOffsiteS3SecretKey"];
    let rgw: S3Server | undefined;
    let ca: { cert: string; key: string };
    /** the stack: its repository in one bucket, an off-site one in another bucket (versioned) of another user */
    const s3Stack = (restore?: Record<string, unknown>) => {
        const store = { endpoint: S3_ENDPOINT, region: "us-east-1", uriStyle: "path", caCert: readFileSync(ca.cert, "utf8") };
        return {
            postgres: {
                backups: { repository: "s3", s3: { ...store, bucket: "flowviz-backups" }, offsite: { s3: { ...store, bucket: "flowviz-offsite" } } },
                ...(restore ? { restore: { ...restore, replaceData: true } } : {}),
            },
        };
    };
    const offsiteKeys = () => ({ access: secretOf("s3", "backupOffsiteS3AccessKey"), secret: secretOf("s3", "backupOffsiteS3SecretKey") });

    beforeAll(async () => {
        pg.stop("fast");
        // the keys the render will hold; the CA is the server's, so the render comes after it
        rgw = await startS3(S3, { access: secretOf("s3", "backupS3AccessKey"), secret: secretOf("s3", "backupS3SecretKey") }, "flowviz-backups", [{ uid: "offsite", keys: offsiteKeys(), bucket: "flowviz-offsite", versioned: true }]);
        ca = rgw.ca;
        rendered = (await renderWithSecrets(BASE, "s3", KEYS, { config: s3Stack() })).rendered;
        current = rendered;
        pg = await startArchivingServer(rendered, `${BASE}/volumes/s3`, REPO, BASE);
        // as the runs' Job does at deploy: the stanza in both repositories, and a first full backup in each
        backupRun(rendered, "first");
    }, 300_000);
    afterAll(() => rgw?.stop());

    it("archives and backs up into the bucket, and restores to a time from it", async () => {
        sql("create table lots (id int primary key, batch text not null)");
        sql("insert into lots select g, 'before-full' from generate_series(1, 70) g");
        pgbackrest(["backup", "--type=full"]);
        const info = JSON.parse(pgbackrest(["info", "--output=json"]));
        expect(info[0].repo[0].status.message).toBe("ok");
        sql("insert into lots select g, 'after-full' from generate_series(71, 100) g");
        const target = await noteTime();
        sql("insert into lots select g, 'after-target' from generate_series(101, 130) g");
        sql("drop table lots");
        psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
        pgbackrest(["check"]);
        pg.stop("fast");
        const restore = (await renderWithSecrets(BASE, "s3-restore", KEYS, { config: s3Stack({ id: "s3-restored", target }), secretsOf: "s3" })).rendered;
        pg = await startWithScript(restore, `${BASE}/volumes/s3-restored`);
        expect(count()).toBe(100);
        expect(psql({ ...pg.superuser(), sql: "select timeline_id from pg_control_checkpoint()" })).toBe("2");
        // nothing of the repository on the local disk: it is in the bucket
        expect(readdirSync(`${S3}/data`).length).toBeGreaterThan(0);
    });

    it("is what the repository's exporter reports from the bucket, through the same configuration", async () => {
        await expectCatalogue(REPO);
    });

    it("keeps an off-site copy: WAL and a full backup in a bucket of its own, restorable from it alone, and a versioned bucket keeps what its writer deletes", async () => {
        backupRun(current, "offsite");
        sql("create table offsite_lots (id int primary key)");
        sql("insert into offsite_lots select generate_series(1, 25)");
        const target = await noteTime();
        sql("insert into offsite_lots select generate_series(26, 40)");
        psql({ ...pg.superuser(), sql: "select pg_switch_wal()" });
        pgbackrest(["check"]);
        const offsite = JSON.parse(pgbackrest(["info", "--repo=2", "--output=json"]))[0];
        // the first run's, and the offsite run's
        expect(offsite.backup.map((b: { type: string }) => b.type)).toEqual(["full", "full"]);
        pg.stop("fast");
        // the first repository lost: the restore reads the off-site one (its backup, its WAL)
        const restore = (await renderWithSecrets(BASE, "s3-offsite-restore", KEYS, { config: s3Stack({ id: "from-offsite", target, from: "offsite" }), secretsOf: "s3" })).rendered;
        expect(readFileSync(join(restore.files, "postgres-restore", "restore.sh"), "utf8")).toContain("'--repo=2' '--type=time'");
        pg = await startWithScript(restore, `${BASE}/volumes/from-offsite`);
        expect(count("offsite_lots")).toBe(25);

        // its writer deletes every object it wrote (a leaked key, a mistaken lifecycle rule): pgBackRest sees nothing, the bucket keeps every version
        const s3 = (body: string) =>
            runServerBinary("python3", ["-c", ["import boto3, sys", `c = boto3.client("s3", endpoint_url="https://${S3_ENDPOINT}", aws_access_key_id=sys.argv[1], aws_secret_access_key=sys.argv[2], region_name="us-east-1", verify=sys.argv[3])`, body].join("\n"), offsiteKeys().access, offsiteKeys().secret, ca.cert]);
        const deleted = Number(s3("keys = [o['Key'] for p in c.get_paginator('list_objects_v2').paginate(Bucket='flowviz-offsite') for o in p.get('Contents', [])]\n[c.delete_object(Bucket='flowviz-offsite', Key=k) for k in keys]\nprint(len(keys))"));
        expect(deleted).toBeGreaterThan(5);
        expect(pgbackrest(["info", "--repo=2"])).toMatch(/missing stanza (path|data)/);
        const kept = Number(s3("print(sum(len(p.get('Versions', [])) for p in c.get_paginator('list_object_versions').paginate(Bucket='flowviz-offsite')))"));
        expect(kept).toBeGreaterThanOrEqual(deleted);
    });
});

/** Files under a folder that contain a text (grep -rl), as one string. */
function spawnGrep(text: string, dir: string): string {
    try {
        return runServerBinary("sh", ["-c", `grep -rl '${text}' '${dir}' || true`]).trim();
    } catch {
        return "";
    }
}
