/** docs/BENCHMARKS.md's postgresql.conf section, from `npm run pgconf-bench`'s last results (none before its first run). */
import { join } from "node:path";
import { ROOT } from "../test/root";
import { lastResults } from "./results";
import { CURVE_RESULTS, type CurveResults } from "./curve-section";

export const PG_CONF_RESULTS = join(ROOT, "bench/results/postgres-conf.json");

/** PostgreSQL's own defaults for the settings measured, what the stack rendered before this bench */
const BASELINE = "baseline";
/** Each departure from the baseline the bench measures, alone. */
export const PG_CONF_VARIANTS: { name: string; settings: Record<string, string> }[] = [
    { name: BASELINE, settings: { jit: "on", wal_compression: "off" } },
    { name: "jit off", settings: { jit: "off" } },
    { name: "wal_compression lz4", settings: { wal_compression: "lz4" } },
    { name: "wal_compression zstd", settings: { wal_compression: "zstd" } },
    { name: "checkpoints every 15 min", settings: { checkpoint_timeout: "15min", max_wal_size: "4GB" } },
];

export interface ConfResult {
    variant: string;
    settings: Record<string, string>;
    runs: number;
    tps: number;
    /** WAL written per transaction: what archiving ships and max_wal_size must hold between checkpoints */
    wal_bytes_per_tx: number;
    /** checkpoints forced by WAL volume (max_wal_size) over every run of the variant */
    requested_checkpoints: number;
}
interface ConfResults {
    when: string;
    command: string;
    machine: string;
    seconds: number;
    clients: number;
    scale: number;
    results: ConfResult[];
}

export function postgresConfSection(): string[] {
    const r = lastResults<ConfResults>(PG_CONF_RESULTS);
    if (!r) return [];
    const base = r.results.find((x) => x.variant === BASELINE);
    const vs = (x: ConfResult, pick: (y: ConfResult) => number) => (base ? `${pick(x) >= pick(base) ? "+" : ""}${Math.round((pick(x) / pick(base) - 1) * 100)}%` : "n/a");
    return [
        "## postgresql.conf for OLTP, with archiving on",
        "",
        `Command: \`${r.command}\` (results: \`bench/results/postgres-conf.json\`, ${r.when.slice(0, 10)}; ${r.machine}). TPC-B (scale ${r.scale}),`,
        `${r.clients} clients direct, ${r.seconds} s per run, archiving through pgBackRest as deployed; each variant alone, set with ALTER SYSTEM and`,
        "read back after the reload, a checkpoint before each run, the variants interleaved, medians.",
        "",
        ...verdict(r.results),
        "| variant | settings | TPS | vs baseline | WAL bytes / transaction | vs baseline | checkpoints forced by WAL volume |",
        "|---|---|---|---|---|---|---|",
        ...r.results.map((x) => `| ${x.variant} | ${Object.entries(x.settings).map(([k, v]) => `\`${k} = ${v}\``).join(", ") || "-"} | ${Math.round(x.tps)} | ${vs(x, (y) => y.tps)} | ${x.wal_bytes_per_tx} | ${vs(x, (y) => y.wal_bytes_per_tx)} | ${x.requested_checkpoints} |`),
        "",
    ];
}

/** What the stack sets from these numbers, and the checkpoint arithmetic at the pooled capacity at the SLO (curve-bench). */
function verdict(results: ConfResult[]): string[] {
    const lz4 = results.find((x) => x.settings.wal_compression === "lz4");
    const curve = lastResults<CurveResults>(CURVE_RESULTS);
    const tps = curve?.curves.find((c) => c.target === "pgbouncer")?.capacity_at_slo?.tps;
    if (!lz4 || !tps) return [];
    const perCheckpoint = (lz4.wal_bytes_per_tx * tps * 300) / 1024 ** 2;
    return [
        "The stack now renders `wal_compression = lz4` (a quarter of the WAL to write, archive and ship, for no TPS lost; zstd",
        "compresses a little more and costs TPS here) and `jit = off` (TPC-B never reaches jit_above_cost, so JIT changes nothing here;",
        "off, an OLTP query whose plan crosses the threshold is not stalled compiling). Checkpoints: at lz4's",
        `${lz4.wal_bytes_per_tx} bytes per transaction and the pooled capacity at the SLO (${tps} TPS, above), a 5-minute checkpoint_timeout`,
        `spans ${Math.round(perCheckpoint)} MB of WAL, within the default max_wal_size of 1 GB: checkpoints stay timed (none was forced`,
        "by WAL volume in any run), so both stay at their defaults. `huge_pages` stays `try`: this machine has no huge pages to measure,",
        "and `try` falls back to normal pages where a node has none. PostgreSQL's /dev/shm (parallel queries' shared hash tables,",
        "parallel index builds) is memory-backed and sized from work_mem and maintenance_work_mem on every engine: Docker's `shm_size`",
        "(its default 64 MB fails such queries), a `medium: Memory` emptyDir on the StatefulSet, the Cluster's",
        "`ephemeralVolumesSizeLimit.shm` (`sharedMemorySize` in configs/postgres.ts; not measured on TPC-B, which runs no parallel query).",
        "",
    ];
}
