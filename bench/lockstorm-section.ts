/** docs/BENCHMARKS.md's lock-storm section, from `npm run lockstorm-bench`'s last results (none before its first run). */
import { join } from "node:path";
import { ROOT } from "../test/root";
import { lastResults, median } from "./results";

export const LOCKSTORM_RESULTS = join(ROOT, "bench/results/lockstorm.json");

/** One storm's figures: the requests started while the lock was held, and the `cold` ones before it. */
export interface Figures {
    requestsPerSecond: number;
    coldP50msBefore: number;
    coldP99msBefore: number;
    coldRequestsDuringLock: number;
    coldErrorsDuringLock: number;
    coldP50msDuringLock: number;
    coldP99msDuringLock: number;
    coldP99msDuringLockAllOutcomes: number;
    hotRequestsDuringLock: number;
    hotErrorsDuringLock: number;
    hotLongestWaitMs: number;
    /** the distinct error messages, numbers masked */
    errors: string;
}
export type Variant = "guardrails" | "other" | "without";
export interface StormVariant {
    name: Variant;
    /** the app role's lock_timeout; null: none */
    lockTimeout: string | null;
    median: Figures;
    runs: Figures[];
}
export interface LockStormResults {
    when: string;
    command: string;
    machine: string;
    clients: number;
    thinkMs: number;
    hotShare: number;
    holdSeconds: number;
    rounds: number;
    pool: { defaultPoolSize: number; reservePoolSize: number; queryWaitTimeout: number };
    variants: StormVariant[];
}

/** Each number the median of the runs; the errors every run saw. */
export function medianFigures(runs: Figures[]): Figures {
    const numbers = Object.fromEntries(
        (Object.keys(runs[0]!) as (keyof Figures)[]).filter((k) => k !== "errors").map((k) => [k, median(runs.map((r) => r[k] as number))]),
    ) as Omit<Figures, "errors">;
    const errors = [...new Set(runs.flatMap((r) => r.errors.split("; ")).filter(Boolean))].join("; ");
    return { ...numbers, errors };
}

const LABEL: Record<Variant, (v: StormVariant) => string> = {
    guardrails: (v) => `**${v.lockTimeout} (the default)**`,
    other: (v) => `${v.lockTimeout} (the earlier default)`,
    without: () => "none (no limits, queue wait 120 s)",
};
const n = (x: number) => x.toLocaleString("en-US");

export function lockStormSection(): string[] {
    const r = lastResults<LockStormResults>(LOCKSTORM_RESULTS);
    if (!r?.variants) return [];
    const hotRate = (v: StormVariant) => (v.median.requestsPerSecond * r.hotShare).toFixed(0);
    const pool = r.pool.defaultPoolSize + r.pool.reservePoolSize;
    return [
        "## A lock storm: the app's `lock_timeout` (docs/GUARDRAILS.md)",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/lockstorm.json\`, ${r.when.slice(0, 10)}; ${r.machine}). ${n(r.clients)} clients through`,
        `PgBouncer (TLS, the local stack's rendered files: pool ${r.pool.defaultPoolSize} + reserve ${r.pool.reservePoolSize}, queue wait ${r.pool.queryWaitTimeout} s), each thinking ${r.thinkMs} ms on average between`,
        `requests; ${Math.round(r.hotShare * 100)}% update a row of \`hot\`, the rest a row of \`cold\`. A migration takes ACCESS EXCLUSIVE on \`hot\` and holds it ${r.holdSeconds} s.`,
        `Figures for the requests started while the lock is held, each the median of ${r.rounds} rounds (the three settings in turn per round).`,
        "",
        "| app `lock_timeout` | requests/s | `cold` requests | their p50 / p99 ms | their errors | `hot` requests | `hot` errors | longest `hot` wait |",
        "|---|---|---|---|---|---|---|---|",
        ...r.variants.map((v) => {
            const m = v.median;
            return `| ${LABEL[v.name](v)} | ${n(m.requestsPerSecond)} | ${n(m.coldRequestsDuringLock)} | ${m.coldP50msDuringLock} / ${m.coldP99msDuringLock} | ${n(m.coldErrorsDuringLock)} | ${n(m.hotRequestsDuringLock)} | ${n(m.hotErrorsDuringLock)} | ${(m.hotLongestWaitMs / 1000).toFixed(2)} s |`;
        }),
        "",
        `Requests on the locked table hold a server connection each while they wait: at about ${hotRate(r.variants[0]!)} of them a second they occupy`,
        `rate x \`lock_timeout\` of the pool's ${pool} connections, and once that exceeds the pool every other request queues behind them.`,
        `Errors seen: ${r.variants.map((v) => `${v.name === "without" ? "none" : v.lockTimeout}: ${v.median.errors || "none"}`).join("; ")}.`,
        "",
    ];
}
