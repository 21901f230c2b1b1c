/**
 * The rendered time limits (postgres.guardrails) on the real servers: each role's sessions start
 * with them, and a migration holding an ACCESS EXCLUSIVE lock ends the app's requests on that table
 * as lock timeouts after app.lockTimeout, releasing PgBouncer's server connections, while requests
 * on other tables go on. Without the limits (the roles reset) the same request waits out the lock.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { appClient, migratorClient, psql, startDataPath, waitFor, type DataPath } from "./servers";
import { durationSeconds } from "../../configs/format";
import { ROOT } from "../root";
import { join } from "node:path";

const BASE = "/tmp/flowviz-it-guardrails";
let path: DataPath;
const GUARDRAILS = parse(readFileSync(join(ROOT, "schema/stack.schema.json"), "utf8")).properties.config.properties["flowviz:postgres"].properties.guardrails.properties;

beforeAll(async () => {
    path = await startDataPath(BASE);
    psql({ ...path.migrator, sql: "create table hot (id int primary key, n int); create table cold (id int primary key, n int); insert into hot values (1, 0); insert into cold values (1, 0); grant select, update on hot, cold to flowviz" });
}, 120_000);
afterAll(async () => path?.stop());


/** A migration's transaction holding ACCESS EXCLUSIVE on `hot` until released. */
async function holdLock(): Promise<() => Promise<void>> {
    const m = migratorClient(path);
    await m.connect();
    await m.query("begin; lock table hot in access exclusive mode");
    return async () => {
        await m.query("rollback");
        await m.end();
    };
}

/** How an update of `hot` through PgBouncer ends while the lock is held, and after how many seconds. */
async function updateHot(): Promise<{ outcome: string; seconds: number }> {
    const c = appClient(path);
    await c.connect();
    const started = Date.now();
    const outcome = await c.query("update hot set n = n + 1 where id = 1").then(
        () => "done",
        (e: Error) => e.message,
    );
    await c.end();
    return { outcome, seconds: (Date.now() - started) / 1000 };
}

describe("the guardrails as rendered", () => {
    it("start the app's and the migrator's sessions with their limits", () => {
        const show = (login: { port: number; user: string; password: string; db: string }, setting: string) => psql({ ...login, sql: `show ${setting}` });
        expect(show(path.app, "lock_timeout")).toBe(GUARDRAILS.app.properties.lockTimeout.default);
        expect(show(path.app, "statement_timeout")).toBe(GUARDRAILS.app.properties.statementTimeout.default);
        expect(show(path.app, "transaction_timeout")).toBe(GUARDRAILS.app.properties.transactionTimeout.default);
        expect(show(path.migrator, "lock_timeout")).toBe(GUARDRAILS.migrator.properties.lockTimeout.default);
        expect(show(path.migrator, "statement_timeout")).toBe("30min");
    });

    it("end a request on a table a migration holds as a lock timeout after app.lockTimeout, while another table's requests go on", async () => {
        const release = await holdLock();
        try {
            const [hot, cold] = await Promise.all([updateHot(), psql({ ...path.app, sql: "update cold set n = n + 1 where id = 1 returning n" })]);
            expect(hot.outcome).toMatch(/canceling statement due to lock timeout/);
            const limit = durationSeconds(GUARDRAILS.app.properties.lockTimeout.default)!;
            expect(hot.seconds).toBeGreaterThanOrEqual(limit * 0.9);
            expect(hot.seconds).toBeLessThan(limit + 2);
            expect(cold.split("\n")[0]).toBe("1");
        } finally {
            await release();
        }
    }, 60_000);

    it("without them (the role's limits reset), the same request waits out the lock", async () => {
        // PgBouncer's server connections keep the settings they started with: new ones after RECONNECT
        const reconnect = () => psql({ port: 6432, user: "pgbouncer_admin", password: path.rendered.plan.outputs.pgbouncerAdminPassword as string, db: "pgbouncer", sql: "RECONNECT flowviz" });
        psql({ ...path.pg.superuser(), db: "flowviz", sql: "alter role flowviz reset lock_timeout" });
        reconnect();
        const release = await holdLock();
        const pending = updateHot();
        // the lock held 3 s from when the update waits on it (its login through PgBouncer comes first, slower on a loaded machine)
        await waitFor("the update to wait on the lock", () => psql({ ...path.pg.superuser(), db: "flowviz", sql: "select count(*) from pg_stat_activity where wait_event_type = 'Lock'" }) === "1");
        await new Promise((r) => setTimeout(r, 3000));
        await release();
        const hot = await pending;
        psql({ ...path.pg.superuser(), db: "flowviz", sql: `alter role flowviz set lock_timeout = '${GUARDRAILS.app.properties.lockTimeout.default}'` });
        reconnect();
        expect(hot.outcome).toBe("done");
        expect(hot.seconds).toBeGreaterThanOrEqual(2.9);
    }, 60_000);
});
