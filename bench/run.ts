/**
 * pgbench through the generated PgBouncer config against direct PostgreSQL, on this machine.
 *
 *   npm run bench [-- --seconds 30] [-- --phases direct,pooled,sweep,plain]
 *
 * Renders test/integration/Pulumi.local.yaml (generated pool sizes; max_client_conn raised
 * to 6000 so 5000 clients fit), runs the real PostgreSQL and PgBouncer with exactly the
 * rendered files (TLS on both hops, as deployed), then two measured departures from them:
 * the same stack in plaintext (TLS's cost) and other pool sizes at 1000 clients (the sweep).
 * Writes bench/results/latest.json and docs/BENCHMARKS.md.
 */
import { median } from "./results";
import { standbyCostSection } from "./standby-cost";
import { cpus } from "node:os";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { versionLine } from "../test/binaries";
import { bench as runPgbench, LOGINS_PER_SECOND, type Result, type Run } from "./pgbench";
import { curveSection } from "./curve-section";
import { lockStormSection } from "./lockstorm-section";
import { tlsSuitesSection } from "./tls-section";
import { reuseportSection } from "./reuseport-section";
import { postgresConfSection } from "./postgres-conf-section";
import { initPgbench, startDataPath } from "../test/integration/servers";
import { configure, originalsOf } from "./served";
import { ROOT } from "../test/root";

const BASE = "/tmp/flowviz-bench";
const PHASES = ["direct", "pooled", "sweep", "plain"] as const;
const { values } = parseArgs({
    options: { seconds: { type: "string", default: "30" }, "docs-only": { type: "boolean", default: false }, phases: { type: "string", default: PHASES.join(",") } },
});
const SECONDS = Number(values.seconds);

let caFile = "";
const bench = (run: Run, password: string) => runPgbench(run, { password, seconds: SECONDS, caFile, logs: join(BASE, "logs") });

/** Mean wait a closed loop of `clients` cannot go below at `tps` (Little's law), in ms. */
const floorMs = (clients: number, tps: number | null) => (tps ? Math.round((clients / tps) * 1000) : NaN);

type Completed = Result & { tps: number };
/** The median run (by TPS) of each configuration, with its count. */
function medians(results: Result[], pick: (r: Result) => boolean): Completed | undefined {
    const runs = results.filter((r): r is Completed => pick(r) && r.tps !== null);
    if (runs.length === 0) return undefined;
    const m = median(runs.map((r) => r.tps));
    return runs.find((r) => r.tps === m);
}

async function main(): Promise<void> {
    if (values["docs-only"]) {
        // re-render docs/BENCHMARKS.md from the last run
        const last = JSON.parse(readFileSync(join(ROOT, "bench/results/latest.json"), "utf8"));
        writeFileSync(join(ROOT, "docs/BENCHMARKS.md"), markdown(last.runs, last.machine, last.pool, last.seconds, last.date));
        return;
    }
    const path = await startDataPath(BASE);
    const { rendered } = path;
    caFile = rendered.caFile;
    const password = path.app.password;
    initPgbench(path.migrator);
    const pool = rendered.plan.outputs.pgbouncerPool as { poolSize: number; reserveSize: number };
    const original = originalsOf(path);
    const derived = pool.poolSize;

    // Direct runs first: once PgBouncer has opened its server pool, those connections
    // (until server_idle_timeout) leave too few slots for 80 direct clients.
    const all: { name: (typeof PHASES)[number]; tls: boolean; pool: number; runs: Omit<Run, "tls" | "pool">[] }[] = [
        { name: "direct", tls: true, pool: derived, runs: (["tpcb", "select"] as const).flatMap((mode) => [25, 50, 80].map((clients) => ({ target: "direct" as const, mode, clients }))) },
        { name: "pooled", tls: true, pool: derived, runs: (["tpcb", "select"] as const).flatMap((mode) => [80, 1000, 1000, 1000, 2000, 5000].map((clients) => ({ target: "pgbouncer" as const, mode, clients }))) },
        // the sweep: the derived size ran above; half, double and triple, three times each
        ...[Math.max(1, Math.round(derived / 2)), derived * 2, derived * 3].map((size) => ({ name: "sweep" as const, tls: true, pool: size, runs: [1, 2, 3].map(() => ({ target: "pgbouncer" as const, mode: "tpcb" as const, clients: 1000 })) })),
        // TLS's cost: the same runs in plaintext on both hops
        { name: "plain", tls: false, pool: derived, runs: (["tpcb", "select"] as const).flatMap((mode) => [80, 1000, 1000, 1000].map((clients) => ({ target: "pgbouncer" as const, mode, clients }))) },
    ];
    const wanted = values.phases.split(",");
    const phases = all.filter((p) => wanted.includes(p.name));
    const results: Result[] = [];
    try {
        for (const phase of phases) {
            if (phase.runs[0]?.target === "pgbouncer") await configure(path, original, { tls: phase.tls, pool: phase.pool, reserve: pool.reserveSize });
            for (const run of phase.runs) {
                const r = await bench({ ...run, tls: phase.tls, pool: phase.pool }, password);
                results.push(r);
                console.log(JSON.stringify(r));
            }
        }
    } finally {
        await path.stop();
    }

    if (phases.length < all.length) return console.log("a subset of the phases ran: results printed above, files left as they were");
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${versionLine("pgbouncer")}; ${versionLine("postgres")}`;
    const date = new Date().toISOString();
    writeFileSync(join(ROOT, "bench/results/latest.json"), JSON.stringify({ date, machine, seconds: SECONDS, pool, runs: results }, null, 2) + "\n");
    writeFileSync(join(ROOT, "docs/BENCHMARKS.md"), markdown(results, machine, pool, SECONDS, date));
}

function markdown(results: Result[], machine: string, pool: { poolSize: number; reserveSize: number }, seconds: number, date: string): string {
    const derived = pool.poolSize;
    const served = (r: Result) => r.tls && r.pool === derived;
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    const p99 = (r: Result | undefined) => (r ? `${r.p99_ms} (${floorMs(r.clients, r.tps)})` : "n/a");

    const vsDirect = (["tpcb", "select"] as const).map((mode) => {
        const direct = Math.max(...results.filter((r) => r.target === "direct" && r.mode === mode && r.tps !== null).map((r) => r.tps!));
        const pooled = medians(results, (r) => r.target === "pgbouncer" && served(r) && r.mode === mode && r.clients === 1000);
        return { mode, direct, pooled };
    });
    const tlsCost = (["tpcb", "select"] as const).flatMap((mode) =>
        [80, 1000].map((clients) => {
            const at = (tls: boolean) => medians(results, (r) => r.target === "pgbouncer" && r.pool === derived && r.tls === tls && r.mode === mode && r.clients === clients);
            return { mode, clients, tls: at(true), plain: at(false) };
        }),
    );
    const sizes = [...new Set(results.filter((r) => r.target === "pgbouncer" && r.tls && r.mode === "tpcb" && r.clients === 1000).map((r) => r.pool))].sort((a, b) => a - b);
    const sweep = sizes.map((size) => ({ size, run: medians(results, (r) => r.target === "pgbouncer" && r.tls && r.pool === size && r.mode === "tpcb" && r.clients === 1000) }));
    const best = Math.max(...sweep.map((s) => s.run?.tps ?? 0));
    const bestSize = sweep.find((s) => s.run?.tps === best)?.size;
    const derivedTps = sweep.find((s) => s.size === derived)?.run?.tps ?? 0;
    const d80 = results.find((r) => r.target === "direct" && r.mode === "tpcb" && r.clients === 80);
    const p80 = results.find((r) => r.target === "pgbouncer" && served(r) && r.mode === "tpcb" && r.clients === 80);

    return [
        "# Benchmarks",
        "",
        "<!-- Written by `npm run bench`; the raw runs are in bench/results/latest.json. -->",
        "",
        `Command: \`npm run bench\` (pgbench, scale 10, -T ${seconds}, -j 2, simple protocol; latency percentiles from \`pgbench -l\`).`,
        `Machine: ${machine}. Date: ${date.slice(0, 10)}.`,
        `PgBouncer runs the rendered \`test/integration/Pulumi.local.yaml\`: generated pool ${pool.poolSize} + reserve ${pool.reserveSize} (2 cores x 8 round trips), max_client_conn 6000,`,
        "TLS on both hops as deployed (pgbench `sslmode=verify-full` to PgBouncer and, direct, to PostgreSQL; PgBouncer `verify-full` to PostgreSQL).",
        "Two departures, each labelled: **plain** (the same files with TLS off on both hops and `host` for `hostssl` in both hba files) and other pool sizes (`default_pool_size`, `max_db_connections` = pool + reserve).",
        `Each run lasts ${seconds} s plus 1 s per ${LOGINS_PER_SECOND} clients for opening the connections (SCRAM logins); TPS excludes the connection time pgbench reports (\`connect s\`).`,
        "CPU is the share of one core used by each program during the run (pgbench and the servers share the same 2 cores).",
        "**floor** is the queueing floor, clients / TPS: the mean latency a closed loop of that many clients cannot go below (Little's law). Read every p99 against it.",
        "",
        "## Pooled against direct",
        "",
        "| mode | direct best TPS | pooled, 1000 clients, median of 3 | ratio | p99 at 1000 (floor), ms |",
        "|---|---|---|---|---|",
        ...vsDirect.map((v) => `| ${v.mode} | ${v.direct} | ${v.pooled?.tps ?? "n/a"} | ${v.pooled ? (v.pooled.tps / v.direct).toFixed(2) : "n/a"} | ${p99(v.pooled)} |`),
        "",
        d80?.tps && p80?.tps ? `At equal concurrency (80 clients, TPC-B) pooled throughput is ${Math.abs(Math.round((p80.tps / d80.tps - 1) * 100))}% ${p80.tps >= d80.tps ? "above" : "below"} direct (${p80.tps} vs ${d80.tps}) and p99 goes from ${d80.p99_ms} to ${p80.p99_ms} ms: ${pool.poolSize + pool.reserveSize} server connections contend less than 80.` : "",
        "",
        "## What TLS costs (through PgBouncer)",
        "",
        "Median of 3 at 1000 clients, one run at 80.",
        "",
        "| mode | clients | TPS TLS | TPS plain | TLS / plain | p99 TLS (floor), ms | p99 plain (floor), ms | CPU PgBouncer TLS | CPU PgBouncer plain |",
        "|---|---|---|---|---|---|---|---|---|",
        ...tlsCost.map((c) => `| ${c.mode} | ${c.clients} | ${c.tls?.tps ?? "n/a"} | ${c.plain?.tps ?? "n/a"} | ${c.tls && c.plain ? (c.tls.tps / c.plain.tps).toFixed(2) : "n/a"} | ${p99(c.tls)} | ${p99(c.plain)} | ${c.tls?.cpu.pgbouncer ?? "n/a"} | ${c.plain?.cpu.pgbouncer ?? "n/a"} |`),
        "",
        ...tlsCost
            .filter((c) => c.clients === 1000 && c.tls && c.plain)
            .map((c) => `At 1000 clients (${c.mode}) TLS keeps ${pct(c.tls!.tps / c.plain!.tps)} of plaintext throughput; PgBouncer's CPU goes from ${c.plain!.cpu.pgbouncer} to ${c.tls!.cpu.pgbouncer} of a core and pgbench's from ${c.plain!.cpu.pgbench} to ${c.tls!.cpu.pgbench} (both ends pay for TLS on these same 2 cores).`),
        "",
        `## Pool size at 1000 clients (TPC-B, TLS)`,
        "",
        `Median of 3 per size; ${derived} is the size the stack derives (stack/capacity.ts).`,
        "",
        "| default_pool_size | TPS | share of best | p99 (floor), ms | CPU PostgreSQL |",
        "|---|---|---|---|---|",
        ...sweep.map((s) => `| ${s.size}${s.size === derived ? " (derived)" : ""} | ${s.run?.tps ?? "n/a"} | ${s.run ? pct(s.run.tps / best) : "n/a"} | ${p99(s.run)} | ${s.run?.cpu.postgres ?? "n/a"} |`),
        "",
        best > 0 ? `The derived size gives ${pct(derivedTps / best)} of the best throughput measured (${bestSize === derived ? "it is the best" : `best: ${bestSize}`}).` : "",
        "",
        ...curveSection(),
        ...lockStormSection(),
        ...tlsSuitesSection(),
        ...reuseportSection(),
        ...postgresConfSection(),
        ...standbyCostSection(),
        "## Every run",
        "",
        "| target | TLS | pool | mode | clients | TPS | p50 ms | p99 ms | floor ms | errors | connect s | CPU PgBouncer | CPU PostgreSQL | CPU pgbench |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ...results.map(
            (r) =>
                `| ${r.target} | ${r.tls ? "TLS" : "plain"} | ${r.target === "direct" ? "" : r.pool} | ${r.mode} | ${r.clients} | ${r.tps ?? "none completed"} | ${r.p50_ms} | ${r.p99_ms} | ${floorMs(r.clients, r.tps)} | ${r.errors} | ${(r.connect_ms / 1000).toFixed(1)} | ${r.cpu.pgbouncer} | ${r.cpu.postgres} | ${r.cpu.pgbench} |`,
        ),
        "",
        "## Reading the numbers",
        "",
        "- At 1000 clients the p99 sits near the floor: PgBouncer queues clients FIFO, so a p99 target at 1000 clients is a",
        "  throughput target in disguise.",
        "- At 1000+ clients much of the cost is the load generator's own sockets on the same two cores: compare the pgbench",
        "  CPU column with PgBouncer's. TLS adds work on both hops for PgBouncer (its CPU column), which is single-threaded.",
        "",
    ].join("\n");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
