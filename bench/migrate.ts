/**
 * `npm run migrate-bench`: moving a running StatefulSet-engine PostgreSQL to the CloudNativePG
 * engine as postgres.cloudnativePg.fromStatefulSet declares it, on the real servers
 * (test/integration/engine-move.ts): the stages' pg_hba.conf, replication role, Cluster and
 * certificates; writers inserting numbered rows through PgBouncer throughout. Both switches: the
 * `switch` stage's (fast shutdown, promotion at once, PgBouncer moved) and the runbook's (PAUSE,
 * caught up, promote, move, RESUME). Writes bench/results/migrate.json.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { versionLine } from "../test/binaries";
import { moveEngine } from "../test/integration/engine-move";
import { ROOT } from "../test/root";

const { values } = parseArgs({ options: { writers: { type: "string", default: "200" }, seconds: { type: "string", default: "10" }, rows: { type: "string", default: "1000000" } } });
const options = { writers: Number(values.writers), seconds: Number(values.seconds), rows: Number(values.rows) };

async function main(): Promise<void> {
    const runs = [];
    for (const switchBy of ["stage", "pause"] as const) {
        const result = await moveEngine({ base: `/tmp/flowviz-migrate-bench-${switchBy}`, ...options, switchBy });
        console.log(switchBy, result);
        runs.push({ switchBy, ...result });
    }
    const out = {
        when: new Date().toISOString(),
        command: `npm run migrate-bench -- --writers ${options.writers} --seconds ${options.seconds} --rows ${options.rows}`,
        servers: { postgres: versionLine("postgres"), pgbouncer: versionLine("pgbouncer") },
        writers: options.writers,
        runs,
    };
    writeFileSync(join(ROOT, "bench/results/migrate.json"), JSON.stringify(out, null, 2) + "\n");
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
