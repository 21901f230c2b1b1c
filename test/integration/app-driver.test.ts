/**
 * The app's database connection as the app makes it: SQLAlchemy on asyncpg (Debian 13's
 * python3-sqlalchemy and python3-asyncpg) with exactly the DATABASE_URL and PGSSLROOTCERT
 * the stack gives the API and worker, through the real PgBouncer to the real PostgreSQL
 * (Debian's own python3: the packages install for it).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCa } from "./certs";
import { serverCommand } from "../binaries";
import { startDataPath, type DataPath } from "./servers";

const BASE = "/tmp/flowviz-it-app-driver";
let path: DataPath;

beforeAll(async () => {
    path = await startDataPath(BASE);
});
afterAll(async () => path?.stop());

/** Opens the app's engine with its pool settings, runs a query in a transaction, prints the first value. */
const APP_SESSION = `
import asyncio, os, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def main():
    engine = create_async_engine(os.environ["DATABASE_URL"], pool_size=2, max_overflow=0)
    try:
        async with engine.begin() as conn:
            print((await conn.execute(text(sys.argv[1]))).scalar())
    finally:
        await engine.dispose()

asyncio.run(main())
`;

function appQuery(sql: string, env: { DATABASE_URL: string; PGSSLROOTCERT: string }): { out: string; err: string; status: number | null } {
    const r = spawnSync(...serverCommand("python3", ["-c", APP_SESSION, sql]), { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 30_000 });
    return { out: r.stdout.trim(), err: r.stderr, status: r.status };
}

describe("the app's DSN with the app's driver", () => {
    const env = () => ({ DATABASE_URL: path.rendered.plan.outputs.databaseUrl as string, PGSSLROOTCERT: path.rendered.caFile });

    it("is a SQLAlchemy asyncpg URL that verifies PgBouncer's certificate", () => {
        expect(env().DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/flowviz:[^@]+@127\.0\.0\.1:6432\/flowviz\?ssl=verify-full$/);
    });

    it("logs in through PgBouncer over TLS and runs a transaction", () => {
        const r = appQuery("select current_user || '@' || current_database()", env());
        expect(r.err).toBe("");
        expect(r.out).toBe("flowviz@flowviz");
    });

    it("refuses a PgBouncer whose certificate another CA signed", () => {
        const other = makeCa(join(BASE, "other-ca"), "someone else's CA").cert;
        const r = appQuery("select 1", { ...env(), PGSSLROOTCERT: other });
        expect(r.status).not.toBe(0);
        expect(r.err).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
    });
});
