/** docs/BENCHMARKS.md's section on the synchronous standby, from `npm run cnpg-bench`'s last results (none before its first run). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../test/root";

export const STANDBY_RESULTS = join(ROOT, "bench/results/cloudnative-pg.json");

interface Summary {
    runs: { tps: number; latencyMs: number; failed: number }[];
    medianTps: number;
    medianLatencyMs: number;
    failed: number;
}

export function standbyCostSection(): string[] {
    if (!existsSync(STANDBY_RESULTS)) return [];
    const r = JSON.parse(readFileSync(STANDBY_RESULTS, "utf8")) as { when: string; command: string; servers: Record<string, string>; clients: number; seconds: number; synchronous: Summary; primaryAlone: Summary };
    const row = (what: string, s: Summary) => `| ${what} | ${Math.round(s.medianTps)} | ${s.runs.map((x) => Math.round(x.tps)).join(", ")} | ${Math.round(s.medianLatencyMs)} | ${s.failed} |`;
    const share = Math.round((r.synchronous.medianTps / r.primaryAlone.medianTps) * 100);
    return [
        "## What a synchronous standby costs (CloudNativePG engine)",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/cloudnative-pg.json\`, ${r.when.slice(0, 10)}). The prod-like CloudNativePG stack`,
        `(\`Pulumi.prod.yaml\`) rendered; its primary and one standby run as the operator configures them (${r.servers.postgres});`,
        `this stack's PgBouncer (${r.servers.pgbouncer}) from the engine's pgbouncer.ini in front; pgbench TPC-B with ${r.clients} clients over TLS, ${r.synchronous.runs.length} pairs of ${r.seconds} s runs`,
        "alternating the Cluster's synchronous settings (`ANY 1 (...)`: every commit waits for the standby) and none (the primary alone).",
        "",
        "| | TPS (median) | runs | mean latency, ms | failed |",
        "|---|---|---|---|---|",
        row("synchronous standby", r.synchronous),
        row("primary alone", r.primaryAlone),
        "",
        `With the standby's confirmation TPC-B runs at ${share}% of the primary alone. The standby shares the machine and its loopback, so this is`,
        "the cost of the confirmation itself, not of a network: across zones each commit adds one round trip (group commit spreads it over the",
        "commits in flight). At 1000 clients the mean latency is queueing in PgBouncer, as in the pooled runs above.",
        "",
    ];
}
