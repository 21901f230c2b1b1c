/**
 * Rotating the stack's CAs on the real servers, in the two steps docs/SECURITY.md gives:
 * trust the next generation beside the current one (and sign with it), then drop the old.
 * Each step is a render of the local stack with the same credentials, applied the way a
 * deploy rolls it out: PostgreSQL, PgBouncer and the roles job restarted on the new files.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServerBinary } from "../binaries";
import { LOCAL_FILE_LIMIT, PgBouncerServer, PostgresServer, renderWithSecrets, waitFor, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-ca-rotation";
const KEYS = ["postgresPassword", "appDbPassword", "migrationDbPassword", "pgbouncerAdminPassword", "pgbouncerStatsPassword", "postgresExporterPassword"];
let appPassword = "";
let pg: PostgresServer;
let pgb: PgBouncerServer;

/** The local stack with one tls setting, every render with the same credentials (one stack, redeployed). */
async function step(name: string, tls: Record<string, unknown>): Promise<Rendered> {
    const r = await renderWithSecrets(BASE, name, KEYS, { config: { tls }, secretsOf: "gen1" });
    appPassword = r.secret("appDbPassword");
    return r.rendered;
}
/** What a client of that render verifies servers against (the roles job's CA file: every client gets the same bundle). */
const bundleOf = (r: Rendered) => join(r.files, "postgres-roles/tls/ca.crt");
const certificatesIn = (file: string) => readFileSync(file, "utf8").match(/BEGIN CERTIFICATE/g)?.length ?? 0;

/** The app's login through PgBouncer, verify-full against a CA file; the error text when refused. */
function appLogin(caFile: string): string {
    try {
        return runServerBinary("psql", ["-X", "-At", "-d", `host=127.0.0.1 port=6432 user=flowviz dbname=flowviz sslmode=verify-full sslrootcert=${caFile}`, "-c", "select current_user"], {
            env: { PGPASSWORD: appPassword, PGCONNECT_TIMEOUT: "10" },
        }).trim();
    } catch (e) {
        return String((e as Error).message);
    }
}

/** A deploy of a render: PostgreSQL and PgBouncer restarted on its files, its roles job run. */
async function deploy(r: Rendered): Promise<void> {
    await pgb?.stop();
    pg?.stop();
    pg = new PostgresServer(`${BASE}/pg`, r);
    pg.start();
    pg.applyRoles();
    pgb = new PgBouncerServer(r, LOCAL_FILE_LIMIT);
    pgb.start();
    await waitFor("PgBouncer", () => appLogin(bundleOf(r)) === "flowviz");
}

let gen1: Rendered;
beforeAll(async () => {
    gen1 = await step("gen1", { caGeneration: 1 });
    pg = new PostgresServer(`${BASE}/pg`, gen1);
    pg.init();
    await deploy(gen1);
});
afterAll(async () => {
    await pgb?.stop();
    pg?.stop("immediate");
});

describe("a CA rotation with an overlap", () => {
    let overlap: Rendered;

    it("step 1: the next generation is trusted beside the current one, then signs: clients of either moment verify the servers", async () => {
        const trusting = await step("trust-both", { caGeneration: 1, trustedCaGenerations: [1, 2] });
        expect(certificatesIn(bundleOf(trusting))).toBe(2);
        expect(certificatesIn(bundleOf(gen1))).toBe(1);
        // clients rolled with the bundle verify the servers still on generation 1
        expect(appLogin(bundleOf(trusting))).toBe("flowviz");
        await deploy(trusting);

        overlap = await step("sign-next", { caGeneration: 2, trustedCaGenerations: [1, 2] });
        await deploy(overlap);
        // servers now hold generation 2 certificates (PgBouncer verifies PostgreSQL's, the roles job's client certificate passed PostgreSQL)
        expect(appLogin(bundleOf(overlap))).toBe("flowviz");
        expect(appLogin(bundleOf(trusting))).toBe("flowviz");
        // a client that never got the bundle would have broken here: why trusting comes first
        expect(appLogin(bundleOf(gen1))).toMatch(/certificate verify failed/);
    });

    it("step 2: the old generation is dropped: only generation 2 is trusted, its certificates work, generation 1's are refused", async () => {
        const dropped = await step("drop-old", { caGeneration: 2, trustedCaGenerations: [2] });
        expect(certificatesIn(bundleOf(dropped))).toBe(1);
        await deploy(dropped);
        expect(appLogin(bundleOf(dropped))).toBe("flowviz");
        // the superuser's generation-1 client certificate no longer opens PostgreSQL
        expect(() => pg.applyRoles(gen1)).toThrow(/certificate|SSL|alert/i);
        expect(() => pg.applyRoles(overlap)).not.toThrow();
    });
});
