/** docs/BENCHMARKS.md's latency-throughput section, from `npm run curve-bench`'s last results (none before its first run). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../test/root";

export const CURVE_RESULTS = join(ROOT, "bench/results/curve.json");
/** The picture the bench draws, beside the table. */
export const CURVE_PICTURE = "docs/img/latency-curve.svg";

export interface CurvePoint {
    /** share of the saturated throughput offered */
    share: number;
    offered: number;
    achieved: number | null;
    p50_ms: number;
    p95_ms: number;
    p99_ms: number;
    errors: number;
    /** what the failed transactions said (absent in results from before it was recorded) */
    error_kinds?: string[];
}
export interface Curve {
    target: "pgbouncer" | "direct";
    clients: number;
    saturated_tps: number;
    points: CurvePoint[];
    /** the highest offered rate whose p99 stays within the SLO, and its share of saturation */
    capacity_at_slo: { tps: number; share: number } | null;
}
export interface CurveResults {
    when: string;
    command: string;
    machine: string;
    slo_ms: number;
    seconds: number;
    /** runs per point (absent before rounds were run): each figure their median, errors their most */
    rounds?: number;
    curves: Curve[];
}

/** The highest offered rate whose p99 is within `slo`, and every rate below it too (a curve that dips back under is not counted past its first breach). */
export function capacityAtSlo(points: CurvePoint[], saturated: number, slo: number): Curve["capacity_at_slo"] {
    let best: CurvePoint | undefined;
    for (const p of [...points].sort((a, b) => a.offered - b.offered)) {
        if (p.p99_ms > slo || p.errors > 0) break;
        best = p;
    }
    return best ? { tps: best.offered, share: +(best.offered / saturated).toFixed(2) } : null;
}

/** What the two curves say together: the rate each keeps within the SLO, and where the pooled one breaks. */
function comparison(r: CurveResults): string[] {
    const pooled = r.curves.find((c) => c.target === "pgbouncer");
    const direct = r.curves.find((c) => c.target === "direct");
    if (!pooled?.capacity_at_slo || !direct?.capacity_at_slo) return [];
    const breach = pooled.points.find((p) => p.p99_ms > r.slo_ms);
    return [
        `Within the SLO, ${pooled.clients} clients through PgBouncer are served ${pooled.capacity_at_slo.tps} TPS, ${(pooled.capacity_at_slo.tps / direct.capacity_at_slo.tps).toFixed(2)}x what ${direct.clients} direct`,
        `clients are (${direct.capacity_at_slo.tps} TPS): a pool of a few server connections queues requests in PgBouncer instead of contending in PostgreSQL.` +
            (breach ? ` Past its capacity the queue grows without bound: at ${breach.offered} TPS offered p99 is ${breach.p99_ms} ms.` : ""),
        "",
    ];
}

/** What each target's failed transactions said, when the results recorded it. */
function errorKinds(r: CurveResults, name: (c: Curve) => string): string[] {
    const lines = r.curves.flatMap((c) => {
        const kinds = [...new Set(c.points.flatMap((p) => p.error_kinds ?? []))];
        return kinds.length > 0 ? [`- ${name(c)}: ${kinds.map((k) => `"${k}"`).join(", ")}`] : [];
    });
    return lines.length > 0 ? ["What the failed transactions said:", "", ...lines, ""] : [];
}

export function curveSection(): string[] {
    if (!existsSync(CURVE_RESULTS)) return [];
    const r = JSON.parse(readFileSync(CURVE_RESULTS, "utf8")) as CurveResults;
    const name = (c: Curve) => (c.target === "pgbouncer" ? `through PgBouncer, ${c.clients} clients` : `direct, ${c.clients} clients`);
    return [
        "## Latency against offered load (open loop)",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/curve.json\`, ${r.when.slice(0, 10)}; ${r.machine}). pgbench TPC-B with \`--rate\`: the`,
        "transactions are offered on a schedule whatever the latency, and each one's latency counts from when it was due (pgbench's schedule",
        `lag included), so a queue shows as latency instead of as lower throughput. ${r.seconds} s per rate, TLS on both hops as deployed${r.rounds ? `; ${r.rounds} runs per rate and of the saturated loop, each figure their median (errors: the most of any run)` : ""}.`,
        `**Capacity at the SLO**: the highest offered rate whose p99 stays within ${r.slo_ms} ms (the database's share of the 500 ms end-to-end`,
        "budget), with no failed transaction, as a share of the saturated (closed-loop) throughput of the same clients. Rates go past",
        "100%: a closed loop of 1000 clients spends CPU on 1000 busy TLS sessions that an open loop at the same rate does not.",
        "",
        `![p50, p95 and p99 against the offered rate](${CURVE_PICTURE.replace(/^docs\//, "")})`,
        "",
        "| | saturated TPS | capacity at the SLO | share of saturation |",
        "|---|---|---|---|",
        ...r.curves.map((c) => `| ${name(c)} | ${c.saturated_tps} | ${c.capacity_at_slo ? `${c.capacity_at_slo.tps} TPS` : "none"} | ${c.capacity_at_slo ? `${Math.round(c.capacity_at_slo.share * 100)}%` : "n/a"} |`),
        "",
        ...comparison(r),
        "| | offered TPS (share) | achieved TPS | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
        ...r.curves.flatMap((c) => c.points.map((p) => `| ${name(c)} | ${p.offered} (${Math.round(p.share * 100)}%) | ${p.achieved ?? "none"} | ${p.p50_ms} | ${p.p95_ms} | ${p.p99_ms} | ${p.errors} |`)),
        "",
        ...errorKinds(r, name),
    ];
}
