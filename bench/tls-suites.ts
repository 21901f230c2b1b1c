/**
 * `npm run tls-bench`: what TLS costs PgBouncer per transaction, by TLS 1.3 cipher suite, on the real servers with the
 * rendered local stack. Each suite is forced on both hops at TLS 1.3 by an OpenSSL configuration (bench/openssl-conf.ts) in
 * PgBouncer's environment (its client side and its server side) and pgbench's; PostgreSQL keeps its defaults, so the
 * suite of the second hop is the one PgBouncer offers. Before each variant's runs the suite in use is read back: from
 * PgBouncer's side with `openssl s_client -starttls postgres`, and from PostgreSQL's pg_stat_ssl for PgBouncer's server
 * connections. Plaintext on both hops is the baseline. 1000 clients, TPC-B, closed loop; the variants interleaved over
 * `--rounds` rounds, medians. Writes bench/results/tls-suites.json and docs/BENCHMARKS.md.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serverCommand } from "../test/binaries";
import { initPgbench, psql, startDataPath } from "../test/integration/servers";
import { opensslConf, TLS13_SUITES, type Tls13Suite } from "./openssl-conf";
import { bench, type Result } from "./pgbench";
import { configure, originalsOf } from "./served";
import { machineOf, median, saveResults } from "./results";
import { TLS_SUITES_RESULTS, type SuiteResult } from "./tls-section";

const BASE = "/tmp/flowviz-tls-bench";
const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" }, rounds: { type: "string", default: "3" }, clients: { type: "string", default: "1000" } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);

type Variant = { name: "plain" } | { name: Tls13Suite };
const VARIANTS: Variant[] = [{ name: "plain" }, ...TLS13_SUITES.map((name) => ({ name }))];

/** The suite each end negotiates, read from both servers: PgBouncer's listener and PgBouncer's connections to PostgreSQL. */
function suitesInUse(path: Awaited<ReturnType<typeof startDataPath>>, env: Record<string, string>): { client: string; server: string[] } {
    // -brief prints the handshake's outcome on stderr
    const r = spawnSync(...serverCommand("openssl", ["s_client", "-connect", "127.0.0.1:6432", "-starttls", "postgres", "-brief"]), { env: { ...process.env, ...env }, input: "", encoding: "utf8", timeout: 10_000 });
    const handshake = `${r.stdout}${r.stderr}`;
    const client = /Ciphersuite: (\S+)/.exec(handshake)?.[1] ?? `none (${handshake.split("\n").slice(0, 2).join(" ")})`;
    const server = psql({ ...path.pg.superuser(), sql: "select distinct version || ' ' || cipher from pg_stat_ssl join pg_stat_activity using (pid) where usename = 'flowviz'" }).split("\n").filter(Boolean);
    return { client, server };
}

async function main(): Promise<void> {
    const path = await startDataPath(BASE);
    const pool = path.rendered.plan.outputs.pgbouncerPool as { poolSize: number; reserveSize: number };
    const original = originalsOf(path);
    initPgbench(path.migrator);
    const runs: { variant: string; result: Result; in_use?: { client: string; server: string[] } }[] = [];
    try {
        for (let round = 1; round <= ROUNDS; round++) {
            for (const v of VARIANTS) {
                const tls = v.name !== "plain";
                const env: Record<string, string> = {};
                if (tls) {
                    const conf = join(BASE, `openssl-${v.name}.cnf`);
                    writeFileSync(conf, opensslConf({ suites: [v.name as Tls13Suite], minProtocol: "TLSv1.3" }));
                    env.OPENSSL_CONF = conf;
                }
                await configure(path, original, { tls, pool: pool.poolSize, reserve: pool.reserveSize, env });
                const result = await bench({ target: "pgbouncer", mode: "tpcb", clients: CLIENTS, tls, pool: pool.poolSize }, { password: path.app.password, seconds: SECONDS, caFile: path.rendered.caFile, logs: join(BASE, "logs"), env });
                const in_use = tls ? suitesInUse(path, env) : undefined;
                if (in_use && (in_use.client !== v.name || in_use.server.some((s) => s !== `TLSv1.3 ${v.name}`))) throw new Error(`${v.name} forced, but in use: ${JSON.stringify(in_use)}`);
                runs.push({ variant: v.name, result, in_use });
                console.log(JSON.stringify({ round, variant: v.name, tps: result.tps, p99_ms: result.p99_ms, pgbouncer_cores: result.cpu.pgbouncer, in_use }));
            }
        }
    } finally {
        await path.stop();
    }
    const results: SuiteResult[] = VARIANTS.map((v) => {
        const mine = runs.filter((r) => r.variant === v.name && r.result.tps);
        const usPerTx = mine.map((r) => (r.result.cpu.pgbouncer / r.result.tps!) * 1e6);
        return {
            variant: v.name,
            runs: mine.length,
            tps: median(mine.map((r) => r.result.tps!)),
            p99_ms: median(mine.map((r) => r.result.p99_ms)),
            pgbouncer_cores: median(mine.map((r) => r.result.cpu.pgbouncer)),
            pgbouncer_us_per_tx: Math.round(median(usPerTx)),
            errors: mine.reduce((s, r) => s + r.result.errors, 0),
            in_use: mine[0]?.in_use,
        };
    });
    saveResults(TLS_SUITES_RESULTS, {
        command: `npm run tls-bench -- --seconds ${SECONDS} --rounds ${ROUNDS} --clients ${CLIENTS}`,
        machine: machineOf("pgbouncer", "openssl"),
        clients: CLIENTS,
        seconds: SECONDS,
        results,
    });
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
