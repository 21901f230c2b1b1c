/**
 * A running StatefulSet-engine PostgreSQL moved to the CloudNativePG engine the way
 * postgres.cloudnativePg.fromStatefulSet declares it, on the real servers: the old server runs
 * the local stack's files with the `stream` stage's pg_hba.conf and replication role; the new
 * instance is the stage's Cluster (its configuration as the operator writes it), cloned with
 * pg_basebackup from the Cluster's own externalClusters entry and replication certificate, then
 * streaming. The switch is the `switch` stage's (the old server's fast shutdown, the promotion
 * right after, PgBouncer moved to the Cluster) or the runbook's (PAUSE, caught up, promote, move,
 * RESUME). Writers insert numbered rows through PgBouncer throughout.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { chownToServer, runServerBinary } from "../binaries";
import { ROOT } from "../root";
import { longestGap, missing, movePgBouncer, pgbouncerAdmin, sleep, startWriters } from "../../bench/writers";
import { Instance, planned } from "./cloudnative-pg";
import { issueCertificate, testCaFor } from "./certs";
import { psql, renderWithSecrets, startDataPath, waitFor, type Rendered } from "./servers";

export const MOVING_STACK = "test/fixtures/good/prod-migrating.yaml";

export interface MoveOptions {
    base: string;
    writers: number;
    /** seconds of writes before the copy, while streaming and after the switch */
    seconds: number;
    /** rows in the old server before the copy */
    rows: number;
    /** `stage`: as fromStatefulSet switch does it; `pause`: the runbook's PAUSE, catch-up, promote, RESUME */
    switchBy: "stage" | "pause";
}

export interface MoveResult {
    rowsBeforeTheCopy: number;
    rowsBeforeTheCopyPresent: number;
    acknowledgedDuringTheMove: number;
    acknowledgedLost: number;
    failedStatements: number;
    copySeconds: number;
    switchSeconds: number;
    secondsWithoutWrite: number;
    newServerIsPrimary: boolean;
    /** PgBouncer's server in each stage's render */
    pgbouncerHost: { stream: string; switch: string };
}

/** The moving prod stack at one stage, rendered with its secrets. */
async function renderStage(base: string, stage: "stream" | "switch"): Promise<Rendered> {
    const postgres = parse(readFileSync(join(ROOT, MOVING_STACK), "utf8")).config["flowviz:postgres"];
    return (await renderWithSecrets(base, `move-${stage}`, [], { stackFile: MOVING_STACK, stack: "prod", config: { postgres: { ...postgres, cloudnativePg: { ...postgres.cloudnativePg, fromStatefulSet: stage } } } })).rendered;
}
const pgbouncerHostOf = (r: Rendered) => /host=(\S+)/.exec(readFileSync(join(r.files, "pgbouncer/pgbouncer.ini"), "utf8"))![1]!;

export async function moveEngine(o: MoveOptions): Promise<MoveResult> {
    rmSync(o.base, { recursive: true, force: true });
    const path = await startDataPath(join(o.base, "statefulset"));
    const old = path.pg;
    const su = old.superuser();
    const stream = await renderStage(o.base, "stream");
    const switched = await renderStage(o.base, "switch");

    // what the stream stage declares on the old server: its pg_hba.conf (the replication line) and the replication role
    writeFileSync(join(path.rendered.files, "postgres/pg_hba.conf"), readFileSync(join(stream.files, "postgres/pg_hba.conf"), "utf8"));
    const spec = planned(stream, "Cluster", "postgres").spec;
    const source = spec.externalClusters.find((e: { name: string }) => e.name === spec.bootstrap.pg_basebackup.source);
    const role = source.connectionParameters.user as string;
    const roleSql = readFileSync(join(stream.files, "postgres-roles/roles.sql"), "utf8").split("\n").filter((l) => l.includes(role));
    if (roleSql.length < 2) throw new Error(`the stream stage's roles.sql does not create ${role}`);
    const roleFile = join(o.base, "replication-role.sql");
    writeFileSync(roleFile, ["\\set ON_ERROR_STOP on", ...roleSql, ""].join("\n"));
    chownToServer(roleFile);
    runServerBinary("psql", ["-X", "-q", "-h", su.host, "-p", String(su.port), "-U", su.user, "-d", "postgres", "-f", roleFile], { asServerUser: true });
    old.reload();
    psql({ ...su, db: "flowviz", sql: `create table acks (id bigint primary key); grant insert, select on acks to flowviz; insert into acks select g from generate_series(1, ${o.rows}) g` });

    // the new instance: the stage's Cluster, its server certificate, its replication certificate
    const request = stream.plan.resources.find((r) => r.type === "tls:index/certRequest:CertRequest" && (r.inputs.dnsNames as string[]).some((n) => n.startsWith("postgres-rw.")))!.inputs;
    issueCertificate(`${o.base}/server`, testCaFor("ca-cert"), { ...request, ipAddresses: ["127.0.0.1"] } as never, "serverAuth");
    const files = { serverCert: `${o.base}/server/cert.crt`, serverKey: `${o.base}/server/cert.key`, clientCa: testCaFor("client-ca-cert").cert };
    const next = new Instance(`${o.base}/postgres-1`, "postgres-1", 5433);
    runServerBinary("sh", ["-c", `rm -rf "$0" && mkdir -p "$0/tls" && cp "$1/client.crt" "$1/client.key" "$0/tls/" && chmod 600 "$0/tls/client.key"`, next.dir, join(stream.files, "postgres-replication/tls")]);
    // the external cluster's connection as the Cluster declares it; only the address is this machine's (the old server answers as localhost)
    const parameters = { ...source.connectionParameters, host: "127.0.0.1", port: "5432", sslrootcert: path.rendered.caFile, sslcert: `${next.dir}/tls/client.crt`, sslkey: `${next.dir}/tls/client.key`, application_name: "postgres-1" };
    const conninfo = Object.entries(parameters).map(([k, v]) => `${k}=${v}`).join(" ");
    chownToServer(next.dir);

    const writers = startWriters(path.rendered, { count: o.writers, firstId: 10_000_000_000, servername: "localhost" });
    let stopped = false;
    try {
        await sleep(o.seconds * 1000);
        const copyStarted = Date.now();
        runServerBinary("pg_basebackup", ["-d", conninfo, "-D", next.data, "-X", "stream", "-c", "fast"], { asServerUser: true, timeout: 900_000 });
        const copySeconds = (Date.now() - copyStarted) / 1000;
        runServerBinary("sh", ["-c", `touch "$0/standby.signal"`, next.data], { asServerUser: true });
        next.writeConfig(spec, files, { primary_conninfo: conninfo, synchronous_standby_names: "" });
        next.start();
        await waitFor("the new instance streaming", () => psql({ ...su, sql: "select state from pg_stat_replication where application_name = 'postgres-1'" }) === "streaming", 120);
        await sleep(o.seconds * 1000);

        const at = Date.now();
        if (o.switchBy === "stage") {
            // the StatefulSet at 0 replicas: its stop signal is a fast shutdown, which sends the last WAL to the streaming Cluster;
            // then the promotion the operator makes of replica.enabled false, without waiting for anything else; then PgBouncer moves
            old.stop("fast");
            next.ctl(["promote", "-w"]);
            movePgBouncer(path.rendered, next.port);
        } else {
            pgbouncerAdmin(path.rendered, "PAUSE flowviz");
            const last = psql({ ...su, sql: "select pg_current_wal_lsn()" });
            await waitFor("the new instance caught up", () => next.sql(`select pg_last_wal_replay_lsn() >= '${last}'::pg_lsn`) === "t", 120);
            next.ctl(["promote", "-w"]);
            movePgBouncer(path.rendered, next.port);
            pgbouncerAdmin(path.rendered, "RESUME flowviz");
        }
        const switchSeconds = (Date.now() - at) / 1000;
        await sleep(o.seconds * 1000);
        const { acked, failed, successTimes } = await writers.stop();
        stopped = true;
        const rows = next.sql(`select id from acks where id > ${o.rows}`, "flowviz");
        return {
            rowsBeforeTheCopy: o.rows,
            rowsBeforeTheCopyPresent: Number(next.sql(`select count(*) from acks where id <= ${o.rows}`, "flowviz")),
            acknowledgedDuringTheMove: acked.length,
            acknowledgedLost: missing(acked, rows),
            failedStatements: failed,
            copySeconds,
            switchSeconds,
            secondsWithoutWrite: +(longestGap(successTimes, at) / 1000).toFixed(2),
            newServerIsPrimary: next.sql("select not pg_is_in_recovery()") === "t",
            pgbouncerHost: { stream: pgbouncerHostOf(stream), switch: pgbouncerHostOf(switched) },
        };
    } finally {
        if (!stopped) await writers.stop().catch(() => undefined);
        await path.stop();
        next.stop("immediate");
    }
}
