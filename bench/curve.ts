/**
 * `npm run curve-bench`: latency against offered load, on the real servers with the rendered
 * local stack (TLS on both hops). For each target (1000 clients through PgBouncer; as many
 * direct clients as PostgreSQL admits) it measures the saturated throughput (closed loop), then
 * offers 10% .. 150% of it on a schedule (pgbench --rate) and reads p50/p95/p99 from when each
 * transaction was due; every point is the median of --rounds runs. Writes bench/results/curve.json, the picture (vega-lite, rendered to SVG by
 * vega) and docs/BENCHMARKS.md (`-- --docs-only`: both again from the last results).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { initPgbench, startDataPath } from "../test/integration/servers";
import { ROOT } from "../test/root";
import { bench, type Run } from "./pgbench";
import { machineOf, median, regenerateDocs } from "./results";
import { capacityAtSlo, CURVE_PICTURE, CURVE_RESULTS, type Curve, type CurveResults } from "./curve-section";

const BASE = "/tmp/flowviz-curve-bench";
const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" }, slo: { type: "string", default: "50" }, steps: { type: "string", default: "10" }, max: { type: "string", default: "1.5" }, rounds: { type: "string", default: "3" }, "docs-only": { type: "boolean", default: false } } });
const SECONDS = Number(values.seconds);
const SLO_MS = Number(values.slo);
/** offered rates: `steps` per saturated throughput, up to `max` times it (an open loop can be offered more than a closed loop achieved) */
const STEPS = Number(values.steps);
const MAX = Number(values.max);
/** runs per point; a point is their median */
const ROUNDS = Number(values.rounds);
/** Direct clients: what PostgreSQL admits the app (max_connections 100 less the reserved and admin slots) with room left. */
const TARGETS: { target: Run["target"]; clients: number }[] = [
    { target: "direct", clients: 80 },
    { target: "pgbouncer", clients: 1000 },
];

async function main(): Promise<void> {
    if (values["docs-only"]) return writeDocs(JSON.parse(readFileSync(CURVE_RESULTS, "utf8")) as CurveResults);
    const path = await startDataPath(BASE);
    const caFile = path.rendered.caFile;
    const pool = (path.rendered.plan.outputs.pgbouncerPool as { poolSize: number }).poolSize;
    initPgbench(path.migrator);
    const opts = { password: path.app.password, seconds: SECONDS, caFile, logs: join(BASE, "logs") };
    const curves: Curve[] = [];
    try {
        // direct first: once PgBouncer has opened its server pool, too few slots are left for 80 direct clients
        for (const { target, clients } of TARGETS) {
            const run: Run = { target, mode: "tpcb", clients, tls: true, pool };
            const saturatedRuns: Awaited<ReturnType<typeof bench>>[] = [];
            for (let round = 0; round < ROUNDS; round++) saturatedRuns.push(await bench(run, opts));
            console.log(JSON.stringify(saturatedRuns));
            const tps = median(saturatedRuns.map((r) => r.tps ?? 0));
            const points = [];
            for (let i = 1; i <= Math.round(STEPS * MAX); i++) {
                const offered = Math.max(1, Math.round((tps * i) / STEPS));
                const runs: Awaited<ReturnType<typeof bench>>[] = [];
                for (let round = 0; round < ROUNDS; round++) runs.push(await bench({ ...run, rate: offered }, opts));
                console.log(JSON.stringify(runs));
                const mid = (f: (r: (typeof runs)[number]) => number | null) => median(runs.map((r) => f(r) ?? 0));
                points.push({ share: +(i / STEPS).toFixed(2), offered, achieved: mid((r) => r.tps), p50_ms: mid((r) => r.p50_ms), p95_ms: mid((r) => r.p95_ms), p99_ms: mid((r) => r.p99_ms), errors: Math.max(...runs.map((r) => r.errors)), error_kinds: [...new Set(runs.flatMap((r) => r.error_kinds))] });
            }
            curves.push({ target, clients, saturated_tps: tps, points, capacity_at_slo: capacityAtSlo(points, tps, SLO_MS) });
        }
    } finally {
        await path.stop();
    }
    const results: CurveResults = {
        when: new Date().toISOString(),
        command: `npm run curve-bench -- --seconds ${SECONDS} --slo ${SLO_MS} --steps ${STEPS} --max ${MAX} --rounds ${ROUNDS}`,
        rounds: ROUNDS,
        machine: machineOf("pgbouncer", "postgres"),
        slo_ms: SLO_MS,
        seconds: SECONDS,
        curves,
    };
    writeFileSync(CURVE_RESULTS, JSON.stringify(results, null, 2) + "\n");
    await writeDocs(results);
}

/** The picture, and docs/BENCHMARKS.md from every bench's last results. */
async function writeDocs(results: CurveResults): Promise<void> {
    const picture = join(ROOT, CURVE_PICTURE);
    mkdirSync(dirname(picture), { recursive: true });
    writeFileSync(picture, await draw(results));
    regenerateDocs();
}

/** The curve as Vega-Lite draws it: latency (log scale) against offered TPS, one line per percentile and target, the SLO as a rule. */
async function draw(r: CurveResults): Promise<string> {
    const vl = await import("vega-lite");
    const vega = await import("vega");
    const rows = r.curves.flatMap((c) =>
        c.points.flatMap((p) => (["p50", "p95", "p99"] as const).map((q) => ({ target: `${c.target === "pgbouncer" ? "PgBouncer" : "direct"} ${c.clients}`, offered: p.offered, percentile: q, ms: Math.max(0.1, p[`${q}_ms`]) }))),
    );
    const spec = vl.compile({
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: `TPC-B latency against offered load (SLO ${r.slo_ms} ms)`,
        width: 640,
        height: 360,
        layer: [
            {
                data: { values: rows },
                mark: { type: "line", point: true },
                encoding: {
                    x: { field: "offered", type: "quantitative", title: "offered transactions per second" },
                    y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "latency from when due, ms (log)" },
                    color: { field: "percentile", type: "nominal" },
                    strokeDash: { field: "target", type: "nominal", title: "clients" },
                },
            },
            { data: { values: [{ slo: r.slo_ms }] }, mark: { type: "rule", color: "red" }, encoding: { y: { field: "slo", type: "quantitative" } } },
        ],
    } as never).spec;
    return new vega.View(vega.parse(spec), { renderer: "none" }).toSVG();
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
