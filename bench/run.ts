/**
 * pgbench through the generated PgBouncer config against direct PostgreSQL, on this machine.
 *
 *   npm run bench [-- --seconds 30]
 *
 * Renders test/integration/Pulumi.local.yaml (generated pool sizes; max_client_conn raised
 * to 6000 so 5000 clients fit), runs the real PostgreSQL and PgBouncer with exactly the
 * rendered files, and writes bench/results/latest.json and the table in docs/BENCHMARKS.md.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpus } from "node:os";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { initPgbench, requireBinary, startDataPath } from "../test/integration/servers";
import { ROOT } from "../test/root";

const BASE = "/tmp/flowviz-bench";
const { values } = parseArgs({ options: { seconds: { type: "string", default: "30" }, "docs-only": { type: "boolean", default: false } } });
const SECONDS = Number(values.seconds);

interface Run {
    target: "direct" | "pgbouncer";
    mode: "tpcb" | "select";
    clients: number;
}
interface Result extends Run {
    /** null when no transaction completed within the run */
    tps: number | null;
    /** pgbench's average time to open its connections (SCRAM logins), excluded from tps */
    connect_ms: number;
    p50_ms: number;
    p99_ms: number;
    errors: number;
    transactions: number;
    cpu: { pgbouncer: number; postgres: number; pgbench: number };
}

/**
 * Seconds added to a run for opening its connections: every SCRAM login costs PBKDF2 on
 * both ends, and pgbench's -T includes the time its clients spend connecting (thousands
 * of clients need tens of seconds here), while its tps excludes it. Without this, a 5000
 * client run measured mostly its connection storm.
 */
const LOGINS_PER_SECOND = 150;
const connectAllowance = (clients: number) => Math.ceil(clients / LOGINS_PER_SECOND);

const TICKS = 100;
/** CPU ticks (utime + stime) of every process whose command name matches. */
function ticks(comm: string): Map<number, number> {
    const out = new Map<number, number>();
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
            if (name !== comm) continue;
            const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            out.set(Number(pid), Number(f[11]) + Number(f[12]));
        } catch {
            /* exited */
        }
    }
    return out;
}
const used = (before: Map<number, number>, after: Map<number, number>) => [...after].reduce((s, [pid, t]) => s + t - (before.get(pid) ?? 0), 0);
/** Keeps the highest tick count seen per process, so processes that exit before the end still count. */
function merge(into: Map<number, number>, sample: Map<number, number>): void {
    for (const [pid, t] of sample) into.set(pid, Math.max(t, into.get(pid) ?? 0));
}

function percentile(sorted: number[], p: number): number {
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

async function bench(run: Run, password: string): Promise<Result> {
    const logDir = join(BASE, "logs", `${run.target}-${run.mode}-${run.clients}-${Date.now()}`);
    mkdirSync(logDir, { recursive: true });
    const port = run.target === "direct" ? 5432 : 6432;
    // -n: the app role may not vacuum or truncate (it owns nothing); the migration role initialised and vacuumed the tables
    const args = ["-n", "-h", "127.0.0.1", "-p", String(port), "-U", "flowviz", "-c", String(run.clients), "-j", "2", "-T", String(SECONDS + connectAllowance(run.clients)), "-M", "simple", "-l", `--log-prefix=${logDir}/tx`, ...(run.mode === "select" ? ["-S"] : []), "flowviz"];
    const names = ["pgbouncer", "postgres", "pgbench"] as const;
    const before = Object.fromEntries(names.map((n) => [n, ticks(n)]));
    const seen = Object.fromEntries(names.map((n) => [n, new Map(before[n])]));
    const started = Date.now();
    const report = await new Promise<string>((resolve) => {
        let out = "";
        const p = spawn("sh", ["-c", `ulimit -n 16384 && exec ${requireBinary("pgbench")} ${args.join(" ")}`], { env: { ...process.env, PGPASSWORD: password }, cwd: logDir });
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (out += d));
        const sampler = setInterval(() => names.forEach((n) => merge(seen[n]!, ticks(n))), 500);
        p.on("exit", (code) => {
            clearInterval(sampler);
            resolve(`${out}\nexit=${code}`);
        });
    });
    const elapsed = (Date.now() - started) / 1000;
    names.forEach((n) => merge(seen[n]!, ticks(n)));
    const latencies: number[] = [];
    for (const f of readdirSync(logDir)) {
        for (const line of readFileSync(join(logDir, f), "utf8").split("\n")) {
            const us = Number(line.split(" ")[2]);
            if (line && Number.isFinite(us)) latencies.push(us / 1000);
        }
    }
    latencies.sort((a, b) => a - b);
    rmSync(logDir, { recursive: true, force: true });
    const num = (re: RegExp) => Number(re.exec(report)?.[1] ?? NaN);
    const failed = num(/number of failed transactions: (\d+)/) || 0;
    const aborted = /exit=0/.test(report) ? 0 : Math.max(1, run.clients - (num(/number of clients: (\d+)/) || 0));
    const errors = failed + aborted + (report.match(/error|FATAL/gi)?.length ?? 0);
    const share = (n: (typeof names)[number]) => +(used(before[n]!, seen[n]!) / TICKS / elapsed).toFixed(2);
    const transactions = num(/number of transactions actually processed: (\d+)/);
    if (!(transactions > 0)) console.warn(`${run.target} ${run.mode} ${run.clients}: no transaction completed; raise --seconds`);
    return {
        ...run,
        tps: transactions > 0 ? Math.round(num(/tps = ([\d.]+) \(without initial connection time\)/)) : null,
        connect_ms: Math.round(num(/initial connection time = ([\d.]+) ms/)),
        p50_ms: +percentile(latencies, 50).toFixed(1),
        p99_ms: +percentile(latencies, 99).toFixed(1),
        errors,
        transactions,
        cpu: { pgbouncer: share("pgbouncer"), postgres: share("postgres"), pgbench: share("pgbench") },
    };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
    if (values["docs-only"]) {
        // re-render docs/BENCHMARKS.md from the last run
        const last = JSON.parse(readFileSync(join(ROOT, "bench/results/latest.json"), "utf8"));
        writeFileSync(join(ROOT, "docs/BENCHMARKS.md"), markdown(last.runs, last.summary, last.machine, last.pool, last.seconds, last.date));
        return;
    }
    const path = await startDataPath(BASE);
    const { rendered } = path;
    const password = path.app.password;
    initPgbench(path.migrator);
    const pool = rendered.plan.outputs.pgbouncerPool as { poolSize: number; reserveSize: number };

    // Direct runs first: once PgBouncer has opened its server pool, those connections
    // (until server_idle_timeout) leave too few slots for 80 direct clients.
    const plan: Run[] = [];
    for (const mode of ["tpcb", "select"] as const) for (const clients of [25, 50, 80]) plan.push({ target: "direct", mode, clients });
    for (const mode of ["tpcb", "select"] as const) for (const clients of [80, 100, 1000, 1000, 1000, 2000, 5000]) plan.push({ target: "pgbouncer", mode, clients });
    const results: Result[] = [];
    try {
        for (const run of plan) {
            const r = await bench(run, password);
            results.push(r);
            console.log(JSON.stringify(r));
        }
    } finally {
        await path.stop();
    }

    const completed = results.filter((r): r is Result & { tps: number } => r.tps !== null);
    const summary = (["tpcb", "select"] as const).map((mode) => {
        const direct = Math.max(...completed.filter((r) => r.mode === mode && r.target === "direct").map((r) => r.tps));
        const at1000 = completed.filter((r) => r.mode === mode && r.target === "pgbouncer" && r.clients === 1000);
        return { mode, directBestTps: direct, pooled1000MedianTps: median(at1000.map((r) => r.tps)), ratio: +(median(at1000.map((r) => r.tps)) / direct).toFixed(2), pooled1000MedianP99: median(at1000.map((r) => r.p99_ms)) };
    });
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${execFileSync("sh", ["-c", "pgbouncer --version | head -1; postgres --version 2>/dev/null || /usr/lib/postgresql/*/bin/postgres --version"]).toString().trim().replace(/\n/g, "; ")}`;
    writeFileSync(join(ROOT, "bench/results/latest.json"), JSON.stringify({ date: new Date().toISOString(), machine, seconds: SECONDS, pool, summary, runs: results }, null, 2) + "\n");
    writeFileSync(join(ROOT, "docs/BENCHMARKS.md"), markdown(results, summary, machine, pool, SECONDS, new Date().toISOString()));
    console.log(summary);
}

function markdown(
    results: Result[],
    summary: { mode: string; directBestTps: number; pooled1000MedianTps: number; ratio: number; pooled1000MedianP99: number }[],
    machine: string,
    pool: { poolSize: number; reserveSize: number },
    seconds: number,
    date: string,
): string {
    const at = (target: string, mode: string, clients: number) => results.find((r) => r.target === target && r.mode === mode && r.clients === clients);
    const d80 = at("direct", "tpcb", 80);
    const p80 = at("pgbouncer", "tpcb", 80);
    return [
        "# Benchmarks",
        "",
        "<!-- Written by `npm run bench`; the raw runs are in bench/results/latest.json. -->",
        "",
        `Command: \`npm run bench\` (pgbench, scale 10, -T ${seconds}, -j 2, simple protocol; latency percentiles from \`pgbench -l\`).`,
        `Machine: ${machine}. Date: ${date.slice(0, 10)}.`,
        `PgBouncer runs the rendered \`test/integration/Pulumi.local.yaml\`: generated pool ${pool.poolSize} + reserve ${pool.reserveSize} (2 cores x 8 round trips), max_client_conn 6000.`,
        `Each run lasts ${seconds} s plus 1 s per ${LOGINS_PER_SECOND} clients for opening the connections (SCRAM logins); TPS excludes the connection time pgbench reports (\`connect s\`).`,
        "CPU is the share of one core used by each program during the run (pgbench and the servers share the same 2 cores).",
        "",
        "| target | mode | clients | TPS | p50 ms | p99 ms | errors | connect s | CPU PgBouncer | CPU PostgreSQL | CPU pgbench |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        ...results.map(
            (r) =>
                `| ${r.target} | ${r.mode} | ${r.clients} | ${r.tps ?? "none completed"} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.connect_ms === undefined ? "" : (r.connect_ms / 1000).toFixed(1)} | ${r.cpu.pgbouncer} | ${r.cpu.postgres} | ${r.cpu.pgbench} |`,
        ),
        "",
        "| mode | direct best TPS | pooled, 1000 clients, median of 3 | ratio | p99 at 1000 (median) | queueing floor 1000 / TPS |",
        "|---|---|---|---|---|---|",
        ...summary.map((s) => `| ${s.mode} | ${s.directBestTps} | ${s.pooled1000MedianTps} | ${s.ratio} | ${s.pooled1000MedianP99} ms | ${Math.round(1e6 / s.pooled1000MedianTps)} ms |`),
        "",
        "## Reading the numbers",
        "",
        "- With 1000 clients each waiting for its previous transaction, mean latency cannot be below clients / TPS",
        "  (Little's law): the p99 column is to be read against the queueing floor next to it. PgBouncer's FIFO keeps",
        "  p99 close to that floor; a p99 target at 1000 clients is a throughput target in disguise.",
        d80?.tps && p80?.tps ? `- At equal concurrency (80 clients, TPC-B) the pooler costs ${Math.round((1 - p80.tps / d80.tps) * 100)}% of throughput (${p80.tps} pooled vs ${d80.tps} direct) and cuts p99 from ${d80.p99_ms} to ${p80.p99_ms} ms.` : "",
        "- At 1000+ clients most of the loss is the load generator's own sockets on the same two cores: compare the",
        "  pgbench CPU column with PgBouncer's.",
        "",
    ].join("\n");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
