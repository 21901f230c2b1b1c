/**
 * `npm run reuseport-bench`: one PgBouncer process against two sharing its port (`so_reuseport = 1`, the kernel spreading
 * new connections over both), on the real servers with the rendered local stack, TLS on both hops, 1000 clients, TPC-B,
 * closed loop. The two split the rendered pool (each `ceil(pool / 2)` server connections), so PostgreSQL sees the
 * same number of connections. The variants interleaved over `--rounds` rounds, medians: TPS, p99, PgBouncer's CPU
 * (every process) per transaction. Writes bench/results/reuseport.json and docs/BENCHMARKS.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serverCommand } from "../test/binaries";
import { initPgbench, LOCAL_FILE_LIMIT, psql, startDataPath, waitFor } from "../test/integration/servers";
import { bench, sslEnv, type Result } from "./pgbench";
import { originalsOf, setIni } from "./served";
import { machineOf, median, saveResults } from "./results";
import { REUSEPORT_RESULTS, type ProcessesResult } from "./reuseport-section";

const BASE = "/tmp/flowviz-reuseport-bench";
const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" }, rounds: { type: "string", default: "3" }, clients: { type: "string", default: "1000" } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);

async function main(): Promise<void> {
    const path = await startDataPath(BASE);
    const pool = path.rendered.plan.outputs.pgbouncerPool as { poolSize: number; reserveSize: number };
    const dir = join(path.rendered.files, "pgbouncer");
    const original = originalsOf(path)["pgbouncer/pgbouncer.ini"];
    initPgbench(path.migrator);
    await path.pgb.stop();
    const running: ChildProcess[] = [];
    /** `n` PgBouncer processes on the rendered files, the pool split between them; all of them listening before it returns */
    const startProcesses = async (n: number) => {
        for (let i = 1; i <= n; i++) {
            const ini = setIni(original, { default_pool_size: Math.ceil(pool.poolSize / n), max_db_connections: Math.ceil((pool.poolSize + pool.reserveSize) / n) }) + (n > 1 ? "so_reuseport = 1\n" : "");
            writeFileSync(join(dir, `pgbouncer-${i}.ini`), ini);
            const out = openSync(join(BASE, `pgbouncer-${n}-${i}.log`), "a");
            running.push(spawn(...serverCommand("pgbouncer", [`pgbouncer-${i}.ini`], { asServerUser: true, cwd: dir, fileLimit: LOCAL_FILE_LIMIT }), { stdio: ["ignore", out, out] }));
            closeSync(out);
            await waitFor(`PgBouncer ${i} of ${n}`, () => psql({ ...path.app, sql: "select 1", env: sslEnv(true, path.rendered.caFile) }) === "1");
        }
        // the kernel hands a new connection to any listener: each process answers only once all have bound the port
        await new Promise((r) => setTimeout(r, 500));
    };
    const stopProcesses = async () => {
        await Promise.all(running.splice(0).map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once("exit", r), p.kill("SIGINT"))))));
    };
    const runs: { processes: number; result: Result }[] = [];
    try {
        for (let round = 1; round <= ROUNDS; round++) {
            for (const processes of [1, 2]) {
                await startProcesses(processes);
                const result = await bench({ target: "pgbouncer", mode: "tpcb", clients: CLIENTS, tls: true, pool: Math.ceil(pool.poolSize / processes) }, { password: path.app.password, seconds: SECONDS, caFile: path.rendered.caFile, logs: join(BASE, "logs") });
                await stopProcesses();
                runs.push({ processes, result });
                console.log(JSON.stringify({ round, processes, tps: result.tps, p99_ms: result.p99_ms, pgbouncer_cores: result.cpu.pgbouncer, postgres_cores: result.cpu.postgres, errors: result.errors }));
            }
        }
    } finally {
        await stopProcesses();
        path.pg.stop("immediate");
    }
    const results: ProcessesResult[] = [1, 2].map((processes) => {
        const mine = runs.filter((r) => r.processes === processes && r.result.tps);
        return {
            processes,
            runs: mine.length,
            tps: median(mine.map((r) => r.result.tps!)),
            p99_ms: median(mine.map((r) => r.result.p99_ms)),
            pgbouncer_cores: median(mine.map((r) => r.result.cpu.pgbouncer)),
            postgres_cores: median(mine.map((r) => r.result.cpu.postgres)),
            pgbouncer_us_per_tx: Math.round(median(mine.map((r) => (r.result.cpu.pgbouncer / r.result.tps!) * 1e6))),
            errors: mine.reduce((s, r) => s + r.result.errors, 0),
        };
    });
    saveResults(REUSEPORT_RESULTS, {
        command: `npm run reuseport-bench -- --seconds ${SECONDS} --rounds ${ROUNDS} --clients ${CLIENTS}`,
        machine: machineOf("pgbouncer", "postgres"),
        clients: CLIENTS,
        seconds: SECONDS,
        pool: pool.poolSize,
        results,
    });
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
