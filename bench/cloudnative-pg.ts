/**
 * `npm run cnpg-bench`: what synchronous replication costs the CloudNativePG engine, on the real
 * servers: the prod-like CloudNativePG stack rendered, its primary and one standby run as the
 * operator configures them (test/integration/cloudnative-pg.ts), this stack's PgBouncer in
 * front, pgbench TPC-B through it with 1000 clients, alternating the Cluster's synchronous
 * settings (every commit waits for the standby) with none (the primary alone), so that both see
 * the same machine load. Writes bench/results/cloudnative-pg.json (docs/BENCHMARKS.md quotes it).
 */
import { median } from "./results";
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runServerBinary, versionLine } from "../test/binaries";
import { startCluster, startPgBouncer, synchronousStandbyNames } from "../test/integration/cloudnative-pg";
import { initPgbench, renderWithSecrets } from "../test/integration/servers";
import { CNPG_STACK } from "../test/integration/alert-cases-cnpg";
import { ROOT } from "../test/root";
import { STANDBY_RESULTS } from "./standby-cost";

const { values } = parseArgs({ options: { pairs: { type: "string", default: "3" }, seconds: { type: "string", default: "20" }, clients: { type: "string", default: "1000" } } });
const BASE = "/tmp/flowviz-cnpg-bench";


async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    const rendered = (await renderWithSecrets(BASE, "cnpg", [], { stackFile: CNPG_STACK, stack: "prod" })).rendered;
    // no archive here: the cost measured is the standby's confirmation
    const { spec, primary, standby } = await startCluster(BASE, rendered, { archive_mode: "off" });
    const pgb = await startPgBouncer(rendered);
    try {
        initPgbench({ port: 5432, user: "flowviz_migrator", password: rendered.plan.outputs.migrationDbPassword, db: "flowviz" });
        const setSync = (names: string) => {
            primary.sql(`ALTER SYSTEM SET synchronous_standby_names = '${names.replace(/'/g, "''")}'`);
            primary.sql("SELECT pg_reload_conf()");
        };
        const run = () => {
            const report = runServerBinary("pgbench", ["-n", "-h", "127.0.0.1", "-p", "6432", "-U", "flowviz", "-c", values.clients!, "-j", "2", "-T", values.seconds!, "-r", "flowviz"], {
                fileLimit: 16384,
                env: { PGPASSWORD: rendered.plan.outputs.appDbPassword, PGSSLMODE: "require" },
                timeout: 600_000,
            });
            return { tps: Number(/tps = ([\d.]+)/.exec(report)![1]), latencyMs: Number(/latency average = ([\d.]+) ms/.exec(report)![1]), failed: Number(/number of failed transactions: (\d+)/.exec(report)?.[1] ?? "0") };
        };
        const synchronous: ReturnType<typeof run>[] = [];
        const alone: ReturnType<typeof run>[] = [];
        for (let i = 0; i < Number(values.pairs); i++) {
            setSync(synchronousStandbyNames("postgres", spec));
            synchronous.push(run());
            setSync("");
            alone.push(run());
            console.log(`pair ${i + 1}: synchronous ${synchronous.at(-1)!.tps.toFixed(0)} TPS, primary alone ${alone.at(-1)!.tps.toFixed(0)} TPS`);
        }
        const summary = (xs: ReturnType<typeof run>[]) => ({ runs: xs, medianTps: median(xs.map((x) => x.tps)), medianLatencyMs: median(xs.map((x) => x.latencyMs)), failed: xs.reduce((n, x) => n + x.failed, 0) });
        const result = {
            when: new Date().toISOString(),
            command: `npm run cnpg-bench -- --pairs ${values.pairs} --seconds ${values.seconds} --clients ${values.clients}`,
            servers: { postgres: versionLine("postgres"), pgbouncer: versionLine("pgbouncer") },
            clients: Number(values.clients),
            seconds: Number(values.seconds),
            synchronous: summary(synchronous),
            primaryAlone: summary(alone),
            standbyCaughtUp: standby.sql("SELECT pg_is_in_recovery()") === "t",
        };
        writeFileSync(STANDBY_RESULTS, JSON.stringify(result, null, 2) + "\n");
        // docs/BENCHMARKS.md is npm run bench's page: re-rendered from its last results with this section
        execFileSync("npx", ["tsx", "bench/run.ts", "--docs-only"], { cwd: ROOT, stdio: "inherit" });
        console.log(`median: synchronous ${result.synchronous.medianTps.toFixed(0)} TPS (${result.synchronous.medianLatencyMs} ms), primary alone ${result.primaryAlone.medianTps.toFixed(0)} TPS (${result.primaryAlone.medianLatencyMs} ms)`);
    } finally {
        await pgb.stop();
        standby.stop("immediate");
        primary.stop("immediate");
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
