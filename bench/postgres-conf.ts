/**
 * `npm run pgconf-bench`: postgresql.conf settings for OLTP behind a pooler, each measured on TPC-B with archiving on
 * (the local stack's rendered files, pgBackRest archive-push to a posix repository, as deployed). One server; each
 * variant set with ALTER SYSTEM and a reload over the rendered file (every setting here is reloadable), a checkpoint
 * before each run; the variants interleaved over `--rounds` rounds, medians. Per run: TPS, WAL written per transaction
 * (what the archive and max_wal_size must carry), checkpoints requested by WAL volume. Writes
 * bench/results/postgres-conf.json and docs/BENCHMARKS.md.
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runServerBinary, serverCommand } from "../test/binaries";
import { pgbackrestArgs, startArchivingServer, stopBackupServer } from "../test/integration/pgbackrest";
import { LOCAL_STACK, psql, render } from "../test/integration/servers";
import { ROOT } from "../test/root";
import { machineOf, median, saveResults } from "./results";
import { PG_CONF_RESULTS, PG_CONF_VARIANTS, type ConfResult } from "./postgres-conf-section";

const BASE = "/tmp/flowviz-pgconf-bench";
const { values } = parseArgs({ options: { seconds: { type: "string", default: "20" }, rounds: { type: "string", default: "3" }, scale: { type: "string", default: "20" }, clients: { type: "string", default: "16" } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const SCALE = Number(values.scale);
const CLIENTS = Number(values.clients);

async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    const repo = `${BASE}/repo`;
    mkdirSync(repo, { recursive: true });
    const rendered = await render(join(ROOT, LOCAL_STACK), `${BASE}/render`);
    const pg = await startArchivingServer(rendered, `${BASE}/volume`, repo, BASE);
    const env = { PGPASSWORD: pg.superuserPassword };
    const su = () => pg.superuser();
    const sql = (text: string, db = "flowviz") => psql({ ...su(), db, sql: text });
    runServerBinary("pgbackrest", [...pgbackrestArgs(rendered), "stanza-create"], { asServerUser: true, timeout: 600_000 });
    runServerBinary("pgbench", ["-i", "-q", "-s", String(SCALE), "-h", su().host, "-p", "5432", "-U", "postgres", "flowviz"], { env, asServerUser: true, timeout: 3_600_000 });
    const tpcb = async (): Promise<{ tps: number; transactions: number }> => {
        const p = spawn(...serverCommand("pgbench", ["-n", "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS), "-h", su().host, "-p", "5432", "-U", "postgres", "flowviz"], { asServerUser: true }), { env: { ...process.env, ...env } });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        await new Promise((r) => p.once("exit", r));
        return { tps: Number(/tps = ([\d.]+)/.exec(out)?.[1]), transactions: Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]) };
    };
    const runs: { variant: string; tps: number; walBytesPerTx: number; requestedCheckpoints: number }[] = [];
    try {
        for (let round = 1; round <= ROUNDS; round++) {
            for (const v of PG_CONF_VARIANTS) {
                sql("alter system reset all", "postgres");
                for (const [k, val] of Object.entries(v.settings)) sql(`alter system set ${k} = '${val}'`, "postgres");
                sql("select pg_reload_conf()", "postgres");
                for (const [k, val] of Object.entries(v.settings)) {
                    const now = sql(`select current_setting('${k}')`, "postgres");
                    if (now !== val) throw new Error(`${v.name}: ${k} is ${now} after the reload, not ${val}`);
                }
                sql("checkpoint", "postgres");
                const lsn0 = sql("select pg_current_wal_lsn()", "postgres");
                const ckpt0 = Number(sql("select num_requested from pg_stat_checkpointer", "postgres"));
                const r = await tpcb();
                const wal = Number(sql(`select pg_current_wal_lsn() - '${lsn0}'::pg_lsn`, "postgres"));
                const requested = Number(sql("select num_requested from pg_stat_checkpointer", "postgres")) - ckpt0;
                runs.push({ variant: v.name, tps: r.tps, walBytesPerTx: Math.round(wal / r.transactions), requestedCheckpoints: requested });
                console.log(JSON.stringify({ round, ...runs.at(-1) }));
            }
        }
    } finally {
        pg.stop("fast");
        stopBackupServer();
    }
    const results: ConfResult[] = PG_CONF_VARIANTS.map((v) => {
        const mine = runs.filter((r) => r.variant === v.name);
        return { variant: v.name, settings: v.settings, runs: mine.length, tps: median(mine.map((r) => r.tps)), wal_bytes_per_tx: median(mine.map((r) => r.walBytesPerTx)), requested_checkpoints: mine.reduce((s, r) => s + r.requestedCheckpoints, 0) };
    });
    saveResults(PG_CONF_RESULTS, {
        command: `npm run pgconf-bench -- --seconds ${SECONDS} --rounds ${ROUNDS} --scale ${SCALE} --clients ${CLIENTS}`,
        machine: machineOf("postgres", "pgbackrest"),
        seconds: SECONDS,
        clients: CLIENTS,
        scale: SCALE,
        results,
    });
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
