/** The rendered PostgreSQL and PgBouncer configs, run by the real servers. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServerBinary } from "../binaries";
import { initPgbench, psql, startDataPath, type DataPath, type PostgresServer, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-pooler";
let rendered: Rendered;
let pg: PostgresServer;

const app = () => ({ port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, db: "flowviz" });

/** pgbench through PgBouncer; returns its report. */
function pgbench(args: string[]): string {
    return runServerBinary("pgbench", args, { fileLimit: 16384, env: { PGPASSWORD: app().password } });
}

let path: DataPath;
beforeAll(async () => {
    path = await startDataPath(BASE);
    ({ rendered, pg } = path);
});

afterAll(async () => path?.stop());

describe("PgBouncer in front of PostgreSQL, from the rendered files", () => {
    it("runs the rendered OLTP settings as the file states them: WAL full-page images compressed with lz4, no JIT", () => {
        const file = readFileSync(join(rendered.files, "postgres/postgresql.conf"), "utf8");
        const inFile = (name: string) => new RegExp(`^${name} = (\\S+)$`, "m").exec(file)?.[1];
        const running = psql({ ...pg.superuser(), sql: "select current_setting('wal_compression') || ' ' || current_setting('jit') || ' ' || (select source from pg_settings where name = 'wal_compression')" });
        expect(running).toBe(`${inFile("wal_compression")} ${inFile("jit")} configuration file`);
        expect(running).toMatch(/^lz4 off /);
    });

    it("logs the app role in through PgBouncer with SCRAM, end to end", () => {
        expect(psql({ ...app(), sql: "select current_user || ' ' || current_database()" })).toBe("flowviz flowviz");
        // PgBouncer reached PostgreSQL with the client's SCRAM keys: the server session is SCRAM-authenticated.
        expect(psql({ ...pg.superuser(), sql: "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'flowviz'" })).toBe("t");
    });

    it("re-applies the roles script idempotently, without writing a verifier to the server log even under log_statement = all", () => {
        const su = pg.superuser();
        psql({ ...su, sql: "alter system set log_statement = 'all'" });
        psql({ ...su, sql: "select pg_reload_conf()" });
        try {
            pg.applyRoles();
            psql({ ...su, sql: "select 'roles applied again'" });
        } finally {
            psql({ ...su, sql: "alter system reset log_statement" });
            psql({ ...su, sql: "select pg_reload_conf()" });
        }
        const log = readFileSync(join(pg.base, "postgres.log"), "utf8");
        expect(log).toContain("roles applied again");
        expect(log).not.toContain("SCRAM-SHA-256$");
        expect(psql({ ...app(), sql: "select 1" })).toBe("1");
    });

    it("refuses a wrong password", () => {
        expect(() => psql({ ...app(), password: "not-the-password-at-all", sql: "select 1" })).toThrow(/authentication failed/);
    });

    it("runs transactions in transaction pooling mode", () => {
        psql({ ...path.migrator, sql: "create table if not exists it_rows (id int primary key)" });
        psql({ ...app(), sql: "begin; insert into it_rows values (1); insert into it_rows values (2); commit;" });
        expect(psql({ ...app(), sql: "select count(*) from it_rows" })).toBe("2");
    });

    it("serves the admin console to the generated admin user", () => {
        const pools = psql({ port: 6432, user: "pgbouncer_admin", password: rendered.plan.outputs.pgbouncerAdminPassword, db: "pgbouncer", sql: "show config" });
        expect(pools).toMatch(/pool_mode\|transaction/);
        expect(pools).toMatch(/default_pool_size\|16/);
    });

    it("carries 1000 concurrent clients with zero connection or transaction errors", () => {
        initPgbench(path.migrator);
        // -N: TPC-B without the updates of its ten branch rows, which every transaction would queue for (pgbench's docs: a
        // scale below the clients measures update contention); the app's lock_timeout (100ms) ends such a wait by design.
        // Five transactions each once all 1000 are connected: a count, not a duration, so a loaded machine's slower SCRAM
        // logins cannot use up the run (throughput is npm run bench's, docs/BENCHMARKS.md)
        const report = pgbench(["-n", "-N", "-h", "127.0.0.1", "-p", "6432", "-U", "flowviz", "-c", "1000", "-j", "2", "-t", "5", "flowviz"]);
        const processed = Number(/number of transactions actually processed: (\d+)/.exec(report)?.[1]);
        const failed = Number(/number of failed transactions: (\d+)/.exec(report)?.[1] ?? "0");
        expect(report).toMatch(/number of clients: 1000/);
        expect(processed, report).toBe(5000);
        expect(failed).toBe(0);
        const stats = psql({ port: 6432, user: "pgbouncer_admin", password: rendered.plan.outputs.pgbouncerAdminPassword, db: "pgbouncer", sql: "show pools" });
        const row = stats.split("\n").find((l) => l.startsWith("flowviz|flowviz|"))!;
        const serverConns = row.split("|").slice(4, 8).map(Number).reduce((a, b) => a + b, 0);
        expect(serverConns).toBeLessThanOrEqual(20);
    });
});
