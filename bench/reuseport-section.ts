/** docs/BENCHMARKS.md's one-process-or-two section, from `npm run reuseport-bench`'s last results (none before its first run). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../test/root";

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
    if (!existsSync(REUSEPORT_RESULTS)) return [];
    const r = JSON.parse(readFileSync(REUSEPORT_RESULTS, "utf8")) as ProcessesResults;
    return [
        "## One PgBouncer process or two (`so_reuseport`)",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/reuseport.json\`, ${r.when.slice(0, 10)}; ${r.machine}). ${r.clients} clients over TLS,`,
        `TPC-B, closed loop, ${r.seconds} s per run, interleaved, medians. Two processes share the port with \`so_reuseport = 1\` and split the`,
        `pool of ${r.pool} (each \`ceil(${r.pool} / 2)\`), so PostgreSQL serves as many connections either way.`,
        "",
        "| processes | TPS | p99 ms | PgBouncer cores | PostgreSQL cores | PgBouncer µs / transaction | errors |",
        "|---|---|---|---|---|---|---|",
        ...r.results.map((x) => `| ${x.processes} | ${x.tps} | ${x.p99_ms} | ${x.pgbouncer_cores} | ${x.postgres_cores} | ${x.pgbouncer_us_per_tx} | ${x.errors} |`),
        "",
    ];
}
