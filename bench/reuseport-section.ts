/** docs/BENCHMARKS.md's one-process-or-two section, from `npm run reuseport-bench`'s last results (none before its first run). */
import { join } from "node:path";
import { ROOT } from "../test/root";
import { lastResults } from "./results";

export const REUSEPORT_RESULTS = join(ROOT, "bench/results/reuseport.json");

export interface ProcessesResult {
    processes: number;
    runs: number;
    tps: number;
    p99_ms: number;
    /** every PgBouncer process's CPU over the run, in cores */
    pgbouncer_cores: number;
    postgres_cores: number;
    pgbouncer_us_per_tx: number;
    errors: number;
}
interface ProcessesResults {
    when: string;
    command: string;
    machine: string;
    clients: number;
    seconds: number;
    pool: number;
    results: ProcessesResult[];
}

export function reuseportSection(): string[] {
    const r = lastResults<ProcessesResults>(REUSEPORT_RESULTS);
    if (!r) return [];
    return [
        "## One PgBouncer process or two (`so_reuseport`)",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/reuseport.json\`, ${r.when.slice(0, 10)}; ${r.machine}). ${r.clients} clients over TLS,`,
        `TPC-B, closed loop, ${r.seconds} s per run, interleaved, medians. Two processes share the port with \`so_reuseport = 1\` and split the`,
        `pool of ${r.pool} (each \`ceil(${r.pool} / 2)\`), so PostgreSQL serves as many connections either way.`,
        "",
        ...verdict(r.results),
        "| processes | TPS | p99 ms | PgBouncer cores | PostgreSQL cores | PgBouncer µs / transaction | errors |",
        "|---|---|---|---|---|---|---|",
        ...r.results.map((x) => `| ${x.processes} | ${x.tps} | ${x.p99_ms} | ${x.pgbouncer_cores} | ${x.postgres_cores} | ${x.pgbouncer_us_per_tx} | ${x.errors} |`),
        "",
    ];
}

/** What the two runs say about a second process: PgBouncer's share of a core decides whether one is worth having. */
function verdict(results: ProcessesResult[]): string[] {
    const one = results.find((x) => x.processes === 1);
    const two = results.find((x) => x.processes === 2);
    if (!one || !two) return [];
    const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${Math.round((a / b - 1) * 100)}%`;
    return [
        `One process used ${one.pgbouncer_cores} of a core; two used ${two.pgbouncer_cores} in all, ${pct(two.pgbouncer_us_per_tx, one.pgbouncer_us_per_tx)} CPU per transaction, for ${pct(two.tps, one.tps)} TPS.`,
        `At ${one.pgbouncer_us_per_tx} µs per transaction one core serves about ${Math.round(1e6 / one.pgbouncer_us_per_tx / 100) * 100} TPS, ${(1e6 / one.pgbouncer_us_per_tx / one.tps).toFixed(1)}x what this`,
        "machine's PostgreSQL commits: a second process pays only where one PgBouncer saturates its core, which it does not here. So the stack gives PgBouncer one core (`pgbouncer.resources.cpu` above 1 is refused at check time) and grows by",
        "`pgbouncer.replicas`, which are peered and counted by the pool arithmetic.",
        "",
    ];
}
