/**
 * `npm run migrate-bench`: moving a running StatefulSet-engine PostgreSQL to the CloudNativePG
 * engine without losing a row, on the real servers. The old server runs the local stack's rendered
 * files (as the StatefulSet engine does), with writers inserting numbered rows through this stack's
 * PgBouncer. The new instance is the rendered Cluster's (its configuration as the operator writes
 * it): cloned from the old server with pg_basebackup and the Cluster's `streaming_replica`
 * certificate while the writers go on (CloudNativePG's `bootstrap.pg_basebackup` from an external
 * cluster), then streaming from it (a replica cluster). The switch: PAUSE on PgBouncer, the new
 * instance caught up to the old one's last LSN, promoted (the replica cluster's `replica.enabled:
 * false`), PgBouncer moved to it, RESUME. Counts every acknowledged row on the new server,
 * the failed statements and the seconds without a write. Writes bench/results/migrate.json.
 */
import { appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chownToServer, runServerBinary, versionLine } from "../test/binaries";
import { Instance, planned } from "../test/integration/cloudnative-pg";
import { CNPG_STACK } from "../test/integration/alert-cases-cnpg";
import { issueCertificate, testCaFor } from "../test/integration/certs";
import { psql, renderWithSecrets, startDataPath, waitFor } from "../test/integration/servers";
import { ROOT } from "../test/root";
import { longestGap, missing, movePgBouncer, pgbouncerAdmin, sleep, startWriters } from "./writers";

const { values } = parseArgs({ options: { writers: { type: "string", default: "200" }, seconds: { type: "string", default: "10" }, rows: { type: "string", default: "1000000" } } });
const WRITERS = Number(values.writers);
const SECONDS = Number(values.seconds);
const ROWS = Number(values.rows);
const BASE = "/tmp/flowviz-migrate-bench";

async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    // the old server: the StatefulSet engine's files, PgBouncer in front
    const path = await startDataPath(join(BASE, "statefulset"));
    const old = path.pg;
    const su = old.superuser();
    // what the migration stage adds to the old server: the replication role, logging in with its certificate only
    psql({ ...su, db: "flowviz", sql: `create table acks (id bigint primary key); grant insert, select on acks to flowviz; insert into acks select g from generate_series(1, ${ROWS}) g` });
    psql({ ...su, sql: "create role streaming_replica login replication" });
    appendFileSync(join(path.rendered.files, "postgres/pg_hba.conf"), "hostssl    replication  streaming_replica  all  cert\n");
    old.reload();

    // the new instance: the rendered Cluster's configuration and certificates
    const cnpg = renderWithSecrets(BASE, "cnpg", [], { stackFile: CNPG_STACK, stack: "prod" }).rendered;
    const spec = planned(cnpg, "Cluster", "postgres").spec;
    const request = cnpg.plan.resources.find((r) => r.type === "tls:index/certRequest:CertRequest" && r.name === "postgres-tls-request")!.inputs;
    issueCertificate(`${BASE}/server`, testCaFor("ca-cert"), { ...request, ipAddresses: ["127.0.0.1"] } as never, "serverAuth");
    const files = { serverCert: `${BASE}/server/cert.crt`, serverKey: `${BASE}/server/cert.key`, clientCa: testCaFor("client-ca-cert").cert };
    const next = new Instance(`${BASE}/postgres-1`, "postgres-1", 5433);
    const cert = join(cnpg.files, "postgres-replication/tls");
    runServerBinary("sh", ["-c", `rm -rf "$0" && mkdir -p "$0/tls" && cp "$1/client.crt" "$1/client.key" "$0/tls/" && chmod 600 "$0/tls/client.key"`, next.dir, cert]);
    // the external cluster: the old server's Service, verified against the stack CA
    const source = `host=127.0.0.1 port=5432 user=streaming_replica sslmode=verify-full sslrootcert=${path.rendered.caFile} sslcert=${next.dir}/tls/client.crt sslkey=${next.dir}/tls/client.key application_name=postgres-1`;
    chownToServer(next.dir);

    const writers = startWriters(path.rendered, { count: WRITERS, firstId: 10_000_000_000, servername: "localhost" });
    let stopped = false;
    try {
        await sleep(SECONDS * 1000);
        const copyStarted = Date.now();
        runServerBinary("pg_basebackup", ["-d", source, "-D", next.data, "-X", "stream", "-c", "fast"], { asServerUser: true, timeout: 900_000 });
        const copySeconds = (Date.now() - copyStarted) / 1000;
        runServerBinary("sh", ["-c", `touch "$0/standby.signal"`, next.data], { asServerUser: true });
        next.writeConfig(spec, files, { primary_conninfo: source, synchronous_standby_names: "" });
        next.start();
        await waitFor("the new instance streaming", () => psql({ ...su, sql: "select state from pg_stat_replication where application_name = 'postgres-1'" }) === "streaming", 120);
        await sleep(SECONDS * 1000);

        // the switch
        const at = Date.now();
        pgbouncerAdmin(path.rendered, "PAUSE flowviz");
        const last = psql({ ...su, sql: "select pg_current_wal_lsn()" });
        await waitFor("the new instance caught up", () => next.sql(`select pg_last_wal_replay_lsn() >= '${last}'::pg_lsn`) === "t", 120);
        next.ctl(["promote", "-w"]);
        movePgBouncer(path.rendered, next.port);
        pgbouncerAdmin(path.rendered, "RESUME flowviz");
        const switchSeconds = (Date.now() - at) / 1000;
        await sleep(SECONDS * 1000);
        const { acked, failed, successTimes } = await writers.stop();
        stopped = true;

        const rows = next.sql(`select id from acks where id > ${ROWS}`, "flowviz");
        const seeded = Number(next.sql(`select count(*) from acks where id <= ${ROWS}`, "flowviz"));
        const result = {
            when: new Date().toISOString(),
            command: `npm run migrate-bench -- --writers ${WRITERS} --seconds ${SECONDS} --rows ${ROWS}`,
            servers: { postgres: versionLine("postgres"), pgbouncer: versionLine("pgbouncer") },
            writers: WRITERS,
            rowsBeforeTheCopy: ROWS,
            rowsBeforeTheCopyPresent: seeded,
            acknowledgedDuringTheMigration: acked.length,
            acknowledgedLost: missing(acked, rows),
            failedStatements: failed,
            copySeconds,
            switchSeconds,
            secondsWithoutWrite: +(longestGap(successTimes, at) / 1000).toFixed(2),
            newServerIsPrimary: next.sql("select not pg_is_in_recovery()") === "t",
        };
        console.log(result);
        writeFileSync(join(ROOT, "bench/results/migrate.json"), JSON.stringify(result, null, 2) + "\n");
    } finally {
        if (!stopped) await writers.stop().catch(() => undefined);
        await path.stop();
        next.stop("immediate");
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
