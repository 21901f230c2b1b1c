/**
 * The CloudNativePG engine's parts that run without the operator, on the real servers
 * (PostgreSQL 17, barman-cli-cloud 3.13, Ceph's radosgw): the rendered Cluster's parameters,
 * pg_hba and roles on an instance configured as the operator configures it; Barman Cloud WAL
 * archiving, a base backup and a point-in-time restore with the rendered ObjectStore's settings;
 * a streaming standby with the rendered synchronous settings (a commit waits while it is down;
 * nothing acknowledged is lost when the primary dies and it is promoted). The operator itself
 * (reconciling, failover decisions and their timing) does not run here: docs/CLOUDNATIVE-PG.md.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { serverCommand, runServerBinary, chownToServer } from "../binaries";
import { ROOT } from "../root";
import { testCaFor } from "./certs";
import { barmanCloudOptions, Instance, planned, postgresTime, RW, startCluster, startPgBouncer, type BarmanCloud, type ClusterSpec, type InstanceFiles } from "./cloudnative-pg";
import { CNPG_STACK } from "./alert-cases-cnpg";
import { initPgbench, psql, renderWithSecrets, secretOf, waitFor, type Rendered } from "./servers";
import { S3_ENDPOINT, startS3, type S3Server } from "./s3";

const BASE = "/tmp/flowviz-it-cnpg";
const KEYS = ["backupS3AccessKey", "backupS3SecretKey"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s3: S3Server | undefined;
let rendered: Rendered;
let spec: ClusterSpec;
/** the ObjectStore's options as rendered, and as run here: radosgw has no key manager for SSE-S3, so without the encryption header */
let encrypted: BarmanCloud;
let barman: BarmanCloud;
let primary: Instance;
let standby: Instance;
const instances: Instance[] = [];
const resource = (kind: string, name: string) => planned(rendered, kind, name);
/** the instances' TLS files (startCluster's) */
let files: () => InstanceFiles;

/** A login over TCP as a client of the -rw Service does it: TLS verified against the stack CA and the Service's name (libpq reaches it at the loopback address). */
const tcp = (port: number, user: string, password: string, sql: string) =>
    psql({ host: RW, port, user, password, db: "flowviz", sql, env: { PGHOSTADDR: "127.0.0.1", PGSSLMODE: "verify-full", PGSSLROOTCERT: testCaFor("ca-cert").cert } });
const app = (sql: string, port = 5432) => tcp(port, "flowviz", rendered.plan.outputs.appDbPassword, sql);
const migrator = (sql: string, port = 5432) => tcp(port, "flowviz_migrator", rendered.plan.outputs.migrationDbPassword, sql);
const refused = (f: () => unknown) => expect(f).toThrow(/no pg_hba.conf entry|password authentication failed|not permitted to log in|rejects connection|SSL/);

beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    const keys = { access: secretOf("cnpg", "backupS3AccessKey"), secret: secretOf("cnpg", "backupS3SecretKey") };
    s3 = await startS3(`${BASE}/rgw`, keys, "flowviz-backups");
    const stack = parse(readFileSync(join(ROOT, CNPG_STACK), "utf8")).config;
    const postgres = { ...stack["flowviz:postgres"], backups: { s3: { endpoint: S3_ENDPOINT, bucket: "flowviz-backups", region: "us-east-1", uriStyle: "path", keyType: "shared", caCert: readFileSync(s3.ca.cert, "utf8") } } };
    rendered = (await renderWithSecrets(BASE, "cnpg", KEYS, { stackFile: CNPG_STACK, stack: "prod", config: { postgres } })).rendered;
    const store = resource("ObjectStore", "postgres-backups").spec;
    writeFileSync(`${BASE}/s3-ca.crt`, readFileSync(s3.ca.cert));
    const credentials = { accessKey: keys.access, secretKey: keys.secret, region: "us-east-1", ca: `${BASE}/s3-ca.crt` };
    encrypted = barmanCloudOptions(store, credentials);
    const configuration = store.configuration;
    barman = barmanCloudOptions({ ...store, configuration: { ...configuration, wal: { ...configuration.wal, encryption: undefined }, data: { ...configuration.data, encryption: undefined } } }, credentials);
    chownToServer(BASE);

    const archiving = { archive_mode: "on", archive_command: `barman-cloud-wal-archive ${barman.walArchive.join(" ")} ${barman.destination} postgres %p` };
    const cluster = await startCluster(BASE, rendered, archiving, barman.env);
    ({ spec, primary, standby } = cluster);
    files = () => cluster.files;
    instances.push(primary, standby);
}, 300_000);

afterAll(() => {
    for (const i of instances) i.stop("immediate");
    s3?.stop();
});

describe("the rendered Cluster on PostgreSQL 17, configured as CloudNativePG configures an instance", () => {
    it("starts with every Cluster parameter taken from the configuration, none refused", () => {
        const names = Object.keys(spec.postgresql.parameters);
        expect(names.length).toBeGreaterThan(20);
        // a custom setting (flowviz.*) is a placeholder PostgreSQL keeps without listing it; the rest are its own or pgAudit's
        const custom = names.filter((n) => n.startsWith("flowviz."));
        const known = names.filter((n) => !custom.includes(n));
        const rows = primary.sql(`SELECT lower(name) || '=' || source FROM pg_settings WHERE lower(name) IN (${known.map((n) => `'${n}'`).join(",")}) ORDER BY 1`).split("\n");
        expect(rows).toEqual(known.sort().map((n) => `${n}=configuration file`));
        for (const n of custom) expect(primary.sql(`SELECT current_setting('${n}')`)).toBe(spec.postgresql.parameters[n]);
        expect(primary.sql("SHOW max_connections")).toBe(spec.postgresql.parameters.max_connections);
        expect(primary.sql("SHOW shared_preload_libraries")).toBe("pg_stat_statements,pgaudit");
        // the operator's TLS floor, stricter than the StatefulSet's TLSv1.2, stays
        expect(primary.sql("SHOW ssl_min_protocol_version")).toBe("TLSv1.3");
        expect(readFileSync(join(primary.dir, "startup.log"), "utf8")).not.toMatch(/unrecognized configuration parameter|invalid value/);
    });

    it("lets the app and the migrator in over TLS with the passwords whose verifiers the Secrets hold; nothing else over TCP", () => {
        expect(app("SELECT current_user")).toBe("flowviz");
        expect(migrator("SELECT current_user")).toBe("flowviz_owner");
        refused(() => tcp(5432, "flowviz", "wrong-password", "SELECT 1"));
        refused(() => tcp(5432, "flowviz_owner", rendered.plan.outputs.appDbPassword, "SELECT 1"));
        refused(() => tcp(5432, "postgres", rendered.plan.outputs.appDbPassword, "SELECT 1"));
        // plaintext is refused before a password is asked: CloudNativePG's default `host all all all scram-sha-256` is never reached
        expect(() => runServerBinary("psql", ["-X", "-At", "-d", `host=127.0.0.1 port=5432 dbname=flowviz user=flowviz sslmode=disable`, "-c", "SELECT 1"], { env: { PGPASSWORD: rendered.plan.outputs.appDbPassword } })).toThrow(/no encryption|pg_hba.conf rejects/);
    });

    it("keeps the roles' split: migrations create as the owner, the app writes rows and creates nothing, pgAudit records its writes", () => {
        migrator("CREATE TABLE lots (id int PRIMARY KEY, batch text NOT NULL)");
        app("INSERT INTO lots SELECT g, 'before-backup' FROM generate_series(1, 70) g");
        expect(app("SELECT count(*) FROM lots")).toBe("70");
        expect(() => app("CREATE TABLE mine (x int)")).toThrow(/permission denied/);
        const logs = runServerBinary("sh", ["-c", `cat ${primary.dir}/log/*.csv`]);
        expect(logs).toMatch(/AUDIT: SESSION,\d+,\d+,WRITE,INSERT,TABLE,public\.lots/);
    });
});

describe("Barman Cloud (the plugin's tools) with the rendered ObjectStore's settings, through a real S3 server", () => {
    let target = "";

    it("asks the store for server-side encryption as the ObjectStore says (radosgw without a key manager refuses it)", () => {
        expect(encrypted.walArchive).toEqual(expect.arrayContaining(["--gzip", "-e", "AES256"]));
        expect(encrypted.backup).toEqual(expect.arrayContaining(["--gzip", "-e", "AES256"]));
        const segment = primary.sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
        expect(() => primary.barman("barman-cloud-wal-archive", [...encrypted.walArchive, barman.destination, "encryption-probe", join(primary.data, "pg_wal", segment)], barman.env)).toThrow(/InvalidArgument/);
    });

    it("archives WAL and takes a base backup into the bucket, compressed", () => {
        primary.barman("barman-cloud-backup", [...barman.backup, "-h", join(primary.dir, "run"), "-p", "5432", "-U", "postgres", barman.destination, "postgres"], barman.env);
        const list = JSON.parse(primary.barman("barman-cloud-backup-list", [...barman.restore, "--format", "json", barman.destination, "postgres"], barman.env));
        expect(list.backups_list.map((b: { status: string }) => b.status)).toEqual(["DONE"]);
        primary.sql("SELECT pg_switch_wal()");
    });

    it("restores into a new instance to a point in time: exactly the rows written before it", async () => {
        app("INSERT INTO lots SELECT g, 'after-backup' FROM generate_series(71, 100) g");
        await sleep(1100);
        target = primary.sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
        await sleep(1100);
        app("INSERT INTO lots SELECT g, 'after-target' FROM generate_series(101, 130) g");
        const last = primary.sql("SELECT pg_walfile_name(pg_switch_wal())");
        await waitFor("the WAL segment with the last writes in the archive", () => primary.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= last, 60);
        expect(primary.sql("SELECT failed_count FROM pg_stat_archiver")).toBe("0");

        const restored = new Instance(`${BASE}/postgres-restored-1`, "postgres-restored-1", 5434);
        instances.push(restored);
        mkdirSync(restored.dir, { recursive: true });
        chownToServer(restored.dir);
        const [backup] = JSON.parse(primary.barman("barman-cloud-backup-list", [...barman.restore, "--format", "json", barman.destination, "postgres"], barman.env)).backups_list;
        restored.barman("barman-cloud-restore", [...barman.restore, barman.destination, "postgres", backup.backup_id, restored.data], barman.env);
        runServerBinary("sh", ["-c", `chmod 700 "$0" && touch "$0/recovery.signal"`, restored.data], { asServerUser: true });
        restored.writeConfig(spec, files(), {
            restore_command: `barman-cloud-wal-restore ${barman.restore.join(" ")} ${barman.destination} postgres %f %p`,
            recovery_target_time: postgresTime(target),
            recovery_target_action: "promote",
            // one instance restored here; the new Cluster's standbys join it after the restore
            synchronous_standby_names: "",
        });
        restored.start(barman.env);
        await waitFor("the restore to reach its target and promote", () => restored.sql("SELECT NOT pg_is_in_recovery()") === "t", 180);
        expect(app("SELECT count(*) FROM lots", 5434)).toBe("100");
        expect(app("SELECT count(*) FROM lots WHERE batch = 'after-target'", 5434)).toBe("0");
        restored.stop();
    });
});

describe("this stack's PgBouncer (the engine's pgbouncer.ini) in front of the primary", () => {
    it("carries 1000 concurrent clients with zero errors while every commit waits for the synchronous standby", async () => {
        const pgb = await startPgBouncer(rendered);
        try {
            const app = { port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, db: "flowviz" };
            initPgbench({ port: 5432, user: "flowviz_migrator", password: rendered.plan.outputs.migrationDbPassword, db: "flowviz" });
            expect(primary.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'postgres-2'")).toBe("quorum");
            // -N: TPC-B without the updates of its ten branch rows, which every transaction would queue for (pgbench's docs: a
            // scale below the clients measures update contention); the app's lock_timeout (100ms) ends such a wait by design.
            // Five transactions each once all 1000 are connected: a count, so a loaded machine's slower logins cannot use up
            // the run (throughput is npm run cnpg-bench's, docs/BENCHMARKS.md)
            const report = runServerBinary("pgbench", ["-n", "-N", "-h", "127.0.0.1", "-p", "6432", "-U", "flowviz", "-c", "1000", "-j", "2", "-t", "5", "flowviz"], { fileLimit: 16384, env: { PGPASSWORD: app.password, PGSSLMODE: "require" } });
            const processed = Number(/number of transactions actually processed: (\d+)/.exec(report)?.[1]);
            const failed = Number(/number of failed transactions: (\d+)/.exec(report)?.[1] ?? "0");
            console.log(`1000 clients through PgBouncer, synchronous standby: ${/tps = ([\d.]+)/.exec(report)?.[1]} TPS, ${processed} transactions`);
            expect(report).toMatch(/number of clients: 1000/);
            expect(processed, report).toBe(5000);
            expect(failed).toBe(0);
            // every commit confirmed: the standby has replayed what the primary wrote
            await waitFor("the standby caught up", () => standby.sql("SELECT count(*) FROM pgbench_history", "flowviz") === primary.sql("SELECT count(*) FROM pgbench_history", "flowviz"), 30);
        } finally {
            await pgb.stop();
        }
    });
});

describe("a streaming standby with the rendered synchronous settings (dataDurability required)", () => {
    it("requires a standby's confirmation for every commit: with it down a commit waits, and returns when it is back", async () => {
        expect(primary.sql("SHOW synchronous_standby_names")).toBe('ANY 1 ("postgres-1","postgres-2","postgres-3")');
        app("INSERT INTO lots VALUES (1000, 'standby up')");
        standby.stop("fast");
        const [file, args] = serverCommand("psql", ["-X", "-At", "-d", `host=${RW} hostaddr=127.0.0.1 port=5432 dbname=flowviz user=flowviz sslmode=verify-full sslrootcert=${testCaFor("ca-cert").cert}`, "-c", "INSERT INTO lots VALUES (1001, 'while the standby is down')"]);
        const waiting = spawn(file, args, { env: { ...process.env, PGPASSWORD: rendered.plan.outputs.appDbPassword }, stdio: "ignore" });
        let exited: number | null = null;
        waiting.on("exit", (code) => (exited = code ?? -1));
        await waitFor("the commit waiting for a synchronous standby", () => primary.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") === "1", 30);
        await sleep(3000);
        expect(exited).toBeNull();
        standby.start();
        await waitFor("the commit to return once the standby is back", () => exited !== null, 60);
        expect(exited).toBe(0);
        expect(app("SELECT batch FROM lots WHERE id = 1001")).toBe("while the standby is down");
    });

    it("loses nothing acknowledged when the primary dies and the standby is promoted", async () => {
        await waitFor("postgres-2 back in sync", () => primary.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'postgres-2'") === "quorum", 60);
        const acked: number[] = [];
        for (let id = 2000; id < 2040; id++) {
            app(`INSERT INTO lots VALUES (${id}, 'acknowledged')`);
            acked.push(id);
        }
        primary.stop("immediate");
        standby.ctl(["promote", "-w"]);
        await waitFor("postgres-2 promoted", () => standby.sql("SELECT NOT pg_is_in_recovery()") === "t", 60);
        const present = new Set(app("SELECT id FROM lots WHERE batch = 'acknowledged'", 5433).split("\n").map(Number));
        expect(acked.filter((id) => !present.has(id))).toEqual([]);
        expect(app("SELECT count(*) FROM lots", 5433)).toBe(String(130 + 2 + acked.length));
    });
});
