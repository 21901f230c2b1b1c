/** docs/BENCHMARKS.md's TLS-suite section, from `npm run tls-bench`'s last results (none before its first run). */
import { join } from "node:path";
import { ROOT } from "../test/root";
import { lastResults } from "./results";

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
    const r = lastResults<SuiteResults>(TLS_SUITES_RESULTS);
    if (!r) return [];
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
        ...verdict(plain, tls),
        "| variant | TPS | p99 ms | PgBouncer cores | PgBouncer µs / transaction | per transaction / plain | TPS / plain | errors |",
        "|---|---|---|---|---|---|---|---|",
        ...[...(plain ? [plain] : []), ...tls].map((x) => `| ${x.variant} | ${x.tps} | ${x.p99_ms} | ${x.pgbouncer_cores} | ${x.pgbouncer_us_per_tx} | ${ratio(x, (y) => y.pgbouncer_us_per_tx)} | ${ratio(x, (y) => y.tps)} | ${x.errors} |`),
        "",
    ];
}

/**
 * Which suite to deploy, from the numbers: OpenSSL's default order puts TLS_AES_256_GCM_SHA384 first and libpq and
 * PgBouncer offer that order, so it is what runs unless a configuration says otherwise.
 */
function verdict(plain: SuiteResult | undefined, byCost: SuiteResult[]): string[] {
    const cheapest = byCost[0];
    const deployed = byCost.find((x) => x.variant === "TLS_AES_256_GCM_SHA384");
    if (!plain || !cheapest || !deployed) return [];
    const over = (x: SuiteResult) => Math.round((x.pgbouncer_us_per_tx / cheapest.pgbouncer_us_per_tx - 1) * 100);
    return [
        `TLS costs PgBouncer ${(cheapest.pgbouncer_us_per_tx / plain.pgbouncer_us_per_tx).toFixed(2)}-${(byCost[byCost.length - 1]!.pgbouncer_us_per_tx / plain.pgbouncer_us_per_tx).toFixed(2)}x plaintext's CPU per transaction`,
        `and keeps ${(Math.min(...byCost.map((x) => x.tps)) / plain.tps).toFixed(2)}-${(Math.max(...byCost.map((x) => x.tps)) / plain.tps).toFixed(2)}x its TPS. Cheapest here: ${cheapest.variant}; the others ${byCost.slice(1).map((x) => `${x.variant} +${over(x)}%`).join(", ")}.`,
        `What runs without any setting is OpenSSL's default order, TLS_AES_256_GCM_SHA384 (+${over(deployed)}%): the stack deploys no suite`,
        "configuration (it would be one more input that could lower the floor, for a saving within this bench's noise), and every TLS 1.3",
        "suite meets the policy's floor (TLS 1.2 at least; 1.3's suites are all AEADs with forward secrecy).",
        "",
    ];
}
