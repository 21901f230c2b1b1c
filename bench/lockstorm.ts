/**
 * `npm run lockstorm-bench`: a migration holds ACCESS EXCLUSIVE on a hot table while many clients
 * run a mixed workload through this stack's PgBouncer (TLS) on the real servers, the local stack's
 * rendered files. Each client waits an exponentially distributed think time (mean --think ms), then
 * updates a row of `hot` (--hot share) or of `cold`. The lock is taken --after seconds in and held
 * --hold seconds. Reports, for the requests started while the lock is held: p50/p99 and errors of
 * those on `cold` (they never touch the lock) and the longest wait and errors of those on `hot`;
 * with the rendered guardrails, with the app's lock timeout at another value (--other-lock-timeout,
 * the earlier default), and without them (the app's lock and statement timeouts reset, PgBouncer's
 * queue wait 120 s, as before there were any); --rounds rounds of the three in turn, each figure
 * their median. Writes bench/results/lockstorm.json and docs/BENCHMARKS.md.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { appClient, migratorClient, psql, startDataPath, type DataPath } from "../test/integration/servers";
import { LOCKSTORM_RESULTS, medianFigures, type Figures, type LockStormResults, type StormVariant, type Variant } from "./lockstorm-section";
import { machineOf, percentile, saveResults } from "./results";
import { pgbouncerAdmin, sleep } from "./writers";

const { values } = parseArgs({
    options: {
        clients: { type: "string", default: "1000" },
        think: { type: "string", default: "1000" },
        hot: { type: "string", default: "0.1" },
        after: { type: "string", default: "10" },
        hold: { type: "string", default: "30" },
        "other-lock-timeout": { type: "string", default: "1s" },
        rounds: { type: "string", default: "3" },
    },
});
const CLIENTS = Number(values.clients);
const THINK_MS = Number(values.think);
const HOT = Number(values.hot);
const AFTER = Number(values.after);
const HOLD = Number(values.hold);
const BASE = "/tmp/flowviz-lockstorm-bench";
const ROWS = 1000;
const OTHER = values["other-lock-timeout"]!;
const ROUNDS = Number(values.rounds);

interface Sample {
    table: "hot" | "cold";
    start: number;
    ms: number;
    error?: string;
}

/** A percentile of the storm's latencies; 0 when none were measured (a JSON figure, not NaN). */
const quantile = (xs: number[], p: number) => (xs.length === 0 ? 0 : percentile(xs, p));

async function storm(path: DataPath): Promise<Figures> {
    const samples: Sample[] = [];
    let running = true;
    const t0 = Date.now();
    const loops = Array.from({ length: CLIENTS }, async () => {
        const c = appClient(path);
        c.on("error", () => undefined);
        await c.connect();
        while (running) {
            await sleep(-Math.log(1 - Math.random()) * THINK_MS);
            if (!running) break;
            const table = Math.random() < HOT ? "hot" : "cold";
            const start = Date.now();
            try {
                await c.query(`update ${table} set n = n + 1 where id = $1`, [1 + Math.floor(Math.random() * ROWS)]);
                samples.push({ table, start, ms: Date.now() - start });
            } catch (e) {
                samples.push({ table, start, ms: Date.now() - start, error: (e as Error).message });
            }
        }
        await c.end().catch(() => undefined);
    });
    await sleep(AFTER * 1000);
    const m = migratorClient(path);
    await m.connect();
    await m.query("begin");
    await m.query("lock table hot in access exclusive mode");
    const locked = Date.now();
    await sleep(HOLD * 1000);
    await m.query("rollback");
    const released = Date.now();
    await m.end();
    await sleep(5000);
    running = false;
    await Promise.all(loops);
    const during = samples.filter((s) => s.start >= locked && s.start < released);
    const cold = during.filter((s) => s.table === "cold");
    const hot = during.filter((s) => s.table === "hot");
    const ok = (xs: Sample[]) => xs.filter((s) => !s.error).map((s) => s.ms);
    const before = samples.filter((s) => s.start >= t0 + 3000 && s.start < locked && s.table === "cold" && !s.error).map((s) => s.ms);
    return {
        requestsPerSecond: Math.round(samples.filter((s) => s.start >= t0 + 3000 && s.start < locked).length / ((locked - t0 - 3000) / 1000)),
        coldP50msBefore: quantile(before, 50),
        coldP99msBefore: quantile(before, 99),
        coldRequestsDuringLock: cold.length,
        coldErrorsDuringLock: cold.filter((s) => s.error).length,
        coldP50msDuringLock: quantile(ok(cold), 50),
        coldP99msDuringLock: quantile(ok(cold), 99),
        coldP99msDuringLockAllOutcomes: quantile(cold.map((s) => s.ms), 99),
        hotRequestsDuringLock: hot.length,
        hotErrorsDuringLock: hot.filter((s) => s.error).length,
        hotLongestWaitMs: Math.max(0, ...hot.map((s) => s.ms)),
        errors: [...new Set(during.filter((s) => s.error).map((s) => s.error!.replace(/\d+/g, "N")))].join("; "),
    };
}

/** The app role's limits as the render wrote them (roles.sql), put back before each round's first storm. */
function renderedLimits(path: DataPath): string {
    const roles = readFileSync(join(path.rendered.files, "postgres-roles/roles.sql"), "utf8");
    return roles.split("\n").filter((l) => /^ALTER ROLE "?flowviz"? SET (statement_timeout|lock_timeout|transaction_timeout|idle_in_transaction_session_timeout) /.test(l)).join("\n");
}

async function main(): Promise<void> {
    rmSync(BASE, { recursive: true, force: true });
    const path = await startDataPath(BASE);
    const runs: Record<Variant, Figures[]> = { guardrails: [], other: [], without: [] };
    try {
        psql({ ...path.migrator, sql: `create table hot (id int primary key, n int); create table cold (id int primary key, n int); insert into hot select g, 0 from generate_series(1, ${ROWS}) g; insert into cold select g, 0 from generate_series(1, ${ROWS}) g; grant select, update on hot, cold to flowviz` });
        const su = { ...path.pg.superuser(), db: "flowviz" };
        const limits = renderedLimits(path);
        const rendered = /lock_timeout = '([^']+)'/.exec(limits)?.[1];
        if (!rendered) throw new Error("roles.sql sets no lock_timeout for the app role");
        const reconnect = () => pgbouncerAdmin(path.rendered, "RECONNECT flowviz");
        for (let round = 1; round <= ROUNDS; round++) {
            // the rendered files as they are: the role's limits from roles.sql, PgBouncer's queue wait from pgbouncer.ini
            psql({ ...su, sql: limits });
            pgbouncerAdmin(path.rendered, "RELOAD");
            reconnect();
            runs.guardrails.push(await storm(path));
            console.log(`round ${round}, the rendered guardrails (lock_timeout ${rendered})`, runs.guardrails.at(-1));
            psql({ ...su, sql: `alter role flowviz set lock_timeout = '${OTHER}'` });
            reconnect();
            runs.other.push(await storm(path));
            console.log(`round ${round}, lock_timeout ${OTHER}`, runs.other.at(-1));
            psql({ ...su, sql: "alter role flowviz reset lock_timeout; alter role flowviz reset statement_timeout; alter role flowviz reset transaction_timeout" });
            pgbouncerAdmin(path.rendered, "SET query_wait_timeout = 120");
            reconnect();
            runs.without.push(await storm(path));
            console.log(`round ${round}, without them`, runs.without.at(-1));
        }
        const ini = readFileSync(join(path.rendered.files, "pgbouncer/pgbouncer.ini"), "utf8");
        const setting = (key: string) => Number(new RegExp(`^${key} = (\\d+)$`, "m").exec(ini)?.[1]);
        const variant = (name: Variant, lockTimeout: string | null): StormVariant => ({ name, lockTimeout, median: medianFigures(runs[name]), runs: runs[name] });
        saveResults(LOCKSTORM_RESULTS, {
            command: `npm run lockstorm-bench -- --clients ${CLIENTS} --think ${THINK_MS} --hot ${HOT} --after ${AFTER} --hold ${HOLD} --other-lock-timeout ${OTHER} --rounds ${ROUNDS}`,
            machine: machineOf("postgres", "pgbouncer"),
            clients: CLIENTS,
            thinkMs: THINK_MS,
            hotShare: HOT,
            holdSeconds: HOLD,
            rounds: ROUNDS,
            pool: { defaultPoolSize: setting("default_pool_size"), reservePoolSize: setting("reserve_pool_size"), queryWaitTimeout: setting("query_wait_timeout") },
            variants: [variant("guardrails", rendered), variant("other", OTHER), variant("without", null)],
        } satisfies Omit<LockStormResults, "when">);
    } finally {
        await path.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
