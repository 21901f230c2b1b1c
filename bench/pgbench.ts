/**
 * One pgbench run against the data path, as the benches share it: closed loop (as fast as the
 * clients can) or open loop (`--rate`: transactions offered on a schedule, their latency counted
 * from when each was due, so a queue shows). Latency percentiles from `pgbench -l`; CPU per program.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { serverCommand } from "../test/binaries";
import { percentile } from "./results";

export interface Run {
    target: "direct" | "pgbouncer";
    mode: "tpcb" | "select";
    clients: number;
    /** TLS on every hop (the rendered files) or plaintext (the bench's variant) */
    tls: boolean;
    /** PgBouncer's default_pool_size for the run (the generated one unless sweeping) */
    pool: number;
    /** open loop: transactions per second offered in all (pgbench --rate); closed loop when unset */
    rate?: number;
}
export interface Result extends Run {
    /** null when no transaction completed within the run */
    tps: number | null;
    /** pgbench's average time to open its connections (SCRAM logins), excluded from tps */
    connect_ms: number;
    /** open loop: from when each transaction was due (schedule lag included) */
    p50_ms: number;
    p95_ms: number;
    p99_ms: number;
    errors: number;
    /** what the failed transactions said, each message once (numbers masked) */
    error_kinds: string[];
    transactions: number;
    cpu: { pgbouncer: number; postgres: number; pgbench: number };
}

/**
 * Seconds added to a run for opening its connections: every SCRAM login costs PBKDF2 on
 * both ends, and pgbench's -T includes the time its clients spend connecting (thousands
 * of clients need tens of seconds here), while its tps excludes it. Without this, a 5000
 * client run measured mostly its connection storm.
 */
export const LOGINS_PER_SECOND = 150;
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

/** libpq's TLS settings for a run: verify-full against the stack's CA, or none at all. */
export const sslEnv = (tls: boolean, caFile: string): Record<string, string> => (tls ? { PGSSLMODE: "verify-full", PGSSLROOTCERT: caFile } : { PGSSLMODE: "disable" });

export async function bench(run: Run, o: { password: string; seconds: number; caFile: string; logs: string; env?: Record<string, string> }): Promise<Result> {
    const logDir = join(o.logs, `${run.target}-${run.mode}-${run.clients}-${run.tls ? "tls" : "plain"}-${run.pool}-${run.rate ?? "closed"}-${Date.now()}`);
    mkdirSync(logDir, { recursive: true });
    const port = run.target === "direct" ? 5432 : 6432;
    // -n: the app role may not vacuum or truncate (it owns nothing); the migration role initialised and vacuumed the tables
    const args = [
        "-n", "-h", "127.0.0.1", "-p", String(port), "-U", "flowviz", "-c", String(run.clients), "-j", "2", "-T", String(o.seconds + connectAllowance(run.clients)),
        "-M", "simple", "-l", `--log-prefix=${logDir}/tx`, ...(run.rate ? [`--rate=${run.rate}`] : []), ...(run.mode === "select" ? ["-S"] : []), "flowviz",
    ];
    const names = ["pgbouncer", "postgres", "pgbench"] as const;
    const before = Object.fromEntries(names.map((n) => [n, ticks(n)]));
    const seen = Object.fromEntries(names.map((n) => [n, new Map(before[n])]));
    const started = Date.now();
    const report = await new Promise<string>((resolve) => {
        let out = "";
        const p = spawn(...serverCommand("pgbench", args, { fileLimit: 16384, cwd: logDir }), { env: { ...process.env, PGPASSWORD: o.password, ...sslEnv(run.tls, o.caFile), ...o.env } });
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
    // per transaction: client, number, time (us), script, epoch, epoch us, and with --rate the schedule lag (us)
    const latencies: number[] = [];
    for (const f of readdirSync(logDir)) {
        for (const line of readFileSync(join(logDir, f), "utf8").split("\n")) {
            const fields = line.split(" ");
            const us = Number(fields[2]) + (run.rate ? Number(fields[6] ?? 0) : 0);
            if (line && Number.isFinite(us)) latencies.push(us / 1000);
        }
    }
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
        p95_ms: +percentile(latencies, 95).toFixed(1),
        p99_ms: +percentile(latencies, 99).toFixed(1),
        errors,
        error_kinds: [...new Set([...report.matchAll(/(?:ERROR|FATAL): +(.*)/g)].map((m) => m[1]!.replace(/\d+/g, "N").trim()))],
        transactions,
        cpu: { pgbouncer: share("pgbouncer"), postgres: share("postgres"), pgbench: share("pgbench") },
    };
}
