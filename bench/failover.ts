/**
 * `npm run failover-bench`: what a failover and a planned switchover cost the CloudNativePG engine,
 * on the real servers: the prod-like Cluster's primary and synchronous standby run as the operator
 * configures them (test/integration/cloudnative-pg.ts), this stack's PgBouncer in front, writers
 * inserting numbered rows through it over TLS. Failover: the primary killed (SIGKILL), the standby
 * promoted and PgBouncer's server moved to it (what the operator and the `-rw` Service do; here a
 * RELOAD with the new address). Switchover: PAUSE, the primary stopped cleanly, the standby
 * promoted, PgBouncer moved, RESUME. Counts acknowledged rows lost, failed statements and the
 * seconds without a successful write. Writes bench/results/failover.json (docs/CLOUDNATIVE-PG.md).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runServerBinary, versionLine } from "../test/binaries";
import { Instance, startCluster, startPgBouncer, type RunningCluster } from "../test/integration/cloudnative-pg";
import { renderWithSecrets, type PgBouncerServer, type Rendered } from "../test/integration/servers";
import { longestGap, missing, movePgBouncer, pgbouncerAdmin as admin, sleep, startWriters } from "./writers";
import { CNPG_STACK } from "../test/integration/alert-cases-cnpg";
import { ROOT } from "../test/root";

const { values } = parseArgs({ options: { writers: { type: "string", default: "200" }, seconds: { type: "string", default: "10" } } });
const WRITERS = Number(values.writers);
const SECONDS = Number(values.seconds);
const BASE = "/tmp/flowviz-failover-bench";

let phases = 0;
async function phase(rendered: Rendered, instance: () => Instance, act: () => Promise<void>): Promise<{ writers: number; acknowledged: number; lostAcknowledged: number; failedStatements: number; secondsWithoutWrite: number }> {
    // each phase its own ids: rows of an earlier phase are already there
    const writers = startWriters(rendered, { count: WRITERS, firstId: ++phases * 10_000_000_000, servername: "pgbouncer" });
    await sleep(SECONDS * 1000);
    const at = Date.now();
    await act();
    await sleep(SECONDS * 1000);
    const { acked, failed, successTimes } = await writers.stop();
    return { writers: WRITERS, acknowledged: acked.length, lostAcknowledged: missing(acked, instance().sql("select id from acks", "flowviz")), failedStatements: failed, secondsWithoutWrite: +(longestGap(successTimes, at) / 1000).toFixed(2) };
}

/** A new standby of `primary` in `standby`'s place (pg_basebackup with the replication certificate, as the operator clones one). */
async function reclone(cluster: RunningCluster, primary: Instance, standby: Instance): Promise<void> {
    standby.stop("immediate");
    const conninfo = cluster.replication.replace(/port=\d+/, `port=${primary.port}`).replace(/application_name=\S+/, `application_name=${standby.name}`);
    runServerBinary("sh", ["-c", `rm -rf "$0"`, standby.data]);
    runServerBinary("pg_basebackup", ["-d", conninfo, "-D", standby.data, "-X", "stream", "-c", "fast"], { asServerUser: true, timeout: 180_000 });
    runServerBinary("sh", ["-c", `touch "$0/standby.signal"`, standby.data], { asServerUser: true });
    standby.writeConfig(cluster.spec, cluster.files, { primary_conninfo: conninfo, synchronous_standby_names: "" });
    standby.start();
    primary.writeConfig(cluster.spec, cluster.files, { synchronous_standby_names: `ANY 1 ("${standby.name}")` });
    primary.ctl(["reload"]);
    for (let i = 0; i < 120 && primary.sql(`SELECT sync_state FROM pg_stat_replication WHERE application_name = '${standby.name}'`) !== "quorum"; i++) await sleep(500);
}

async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    const rendered = (await renderWithSecrets(BASE, "cnpg", [], { stackFile: CNPG_STACK, stack: "prod" })).rendered;
    const cluster = await startCluster(BASE, rendered, { archive_mode: "off" });
    let pgb: PgBouncerServer | undefined;
    let { primary, standby } = cluster;
    try {
        pgb = await startPgBouncer(rendered);
        primary.sql("create table acks (id bigint primary key)", "flowviz");
        primary.sql("grant insert, select on acks to flowviz", "flowviz");

        // unplanned: the primary's process killed; the standby promoted, PgBouncer moved
        const failover = await phase(rendered, () => standby, async () => {
            const pid = readFileSync(join(primary.data, "postmaster.pid"), "utf8").split("\n")[0]!;
            runServerBinary("sh", ["-c", `kill -9 ${pid}`]);
            standby.ctl(["promote", "-w"]);
            movePgBouncer(rendered, standby.port);
        });
        console.log("failover", failover);

        // the old primary comes back as a standby of the new one, then a planned switchover back
        [primary, standby] = [standby, primary];
        // the killed postmaster's backends notice its death and exit on their own
        await sleep(2000);
        await reclone(cluster, primary, standby);
        const switchover = await phase(rendered, () => standby, async () => {
            admin(rendered, "PAUSE flowviz");
            primary.stop("fast");
            standby.ctl(["promote", "-w"]);
            movePgBouncer(rendered, standby.port);
            admin(rendered, "RESUME flowviz");
        });
        console.log("switchover", switchover);

        const result = {
            when: new Date().toISOString(),
            command: `npm run failover-bench -- --writers ${WRITERS} --seconds ${SECONDS}`,
            servers: { postgres: versionLine("postgres"), pgbouncer: versionLine("pgbouncer") },
            failover,
            switchover,
        };
        writeFileSync(join(ROOT, "bench/results/failover.json"), JSON.stringify(result, null, 2) + "\n");
    } finally {
        await pgb?.stop();
        primary.stop("immediate");
        standby.stop("immediate");
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
