/** docs/BENCHMARKS.md's TLS-suite section, from `npm run tls-bench`'s last results (none before its first run). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../test/root";

export const TLS_SUITES_RESULTS = join(ROOT, "bench/results/tls-suites.json");

export interface SuiteResult {
    /** "plain", or the TLS 1.3 suite forced on both hops */
    variant: string;
    runs: number;
    tps: number;
    p99_ms: number;
    /** PgBouncer's CPU over the run, in cores */
    pgbouncer_cores: number;
    /** PgBouncer's CPU per transaction, in microseconds */
    pgbouncer_us_per_tx: number;
    errors: number;
    /** the suite read back from both ends */
    in_use?: { client: string; server: string[] };
}
interface SuiteResults {
    when: string;
    command: string;
    machine: string;
    clients: number;
    seconds: number;
    results: SuiteResult[];
}

export function tlsSuitesSection(): string[] {
    if (!existsSync(TLS_SUITES_RESULTS)) return [];
    const r = JSON.parse(readFileSync(TLS_SUITES_RESULTS, "utf8")) as SuiteResults;
    const plain = r.results.find((x) => x.variant === "plain");
    const tls = r.results.filter((x) => x.variant !== "plain").sort((a, b) => a.pgbouncer_us_per_tx - b.pgbouncer_us_per_tx);
    const ratio = (x: SuiteResult, pick: (y: SuiteResult) => number) => (plain ? (pick(x) / pick(plain)).toFixed(2) : "n/a");
    return [
        "## TLS 1.3 cipher suites: PgBouncer's CPU per transaction",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/tls-suites.json\`, ${r.when.slice(0, 10)}; ${r.machine}). ${r.clients} clients, TPC-B,`,
        `closed loop, ${r.seconds} s per run, the variants interleaved, medians. Each suite forced on both hops at TLS 1.3 through an OpenSSL`,
        "configuration in PgBouncer's and pgbench's environment, and read back from both servers before its runs counted",
        "(`openssl s_client -starttls postgres` against PgBouncer; pg_stat_ssl for PgBouncer's connections to PostgreSQL).",
        "",
        "| variant | TPS | p99 ms | PgBouncer cores | PgBouncer µs / transaction | per transaction / plain | TPS / plain | errors |",
        "|---|---|---|---|---|---|---|---|",
        ...[...(plain ? [plain] : []), ...tls].map((x) => `| ${x.variant} | ${x.tps} | ${x.p99_ms} | ${x.pgbouncer_cores} | ${x.pgbouncer_us_per_tx} | ${ratio(x, (y) => y.pgbouncer_us_per_tx)} | ${ratio(x, (y) => y.tps)} | ${x.errors} |`),
        "",
    ];
}
