/**
 * The data path's security on the real servers, from the rendered files: TLS on every
 * hop (verify-full through PgBouncer, plaintext and foreign CAs refused) and least-privilege
 * roles (the app reads and writes, the migration role changes the schema).
 */
import { copyFileSync, readFileSync } from "node:fs";
import { Socket } from "node:net";
import { Client } from "pg";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, makeCa, testCaFor } from "./certs";
import { runServerBinary, serverCommand } from "../binaries";
import { spawnSync } from "node:child_process";
import { psql, renderWithSecrets, startDataPath, waitFor, type DataPath } from "./servers";

const BASE = "/tmp/flowviz-it-security";
let path: DataPath;
let otherCa: string;

beforeAll(async () => {
    path = await startDataPath(BASE);
    otherCa = makeCa(join(BASE, "other-ca"), "someone else's CA").cert;
});
afterAll(async () => path?.stop());

/** psql with a full conninfo; returns the output, or throws with psql's error text. */
function connect(conninfo: string, password: string, sql = "select 1"): string {
    try {
        return runServerBinary("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql], { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } }).trim();
    } catch (e) {
        throw new Error(String((e as { stderr?: string }).stderr));
    }
}
const app = () => path.app;
const superuser = () => path.pg.superuser();
const conninfo = (c: { port: number; user: string; db: string }, tls: string) => `host=127.0.0.1 port=${c.port} user=${c.user} dbname=${c.db} ${tls}`;

describe("TLS on every database hop", () => {
    it("carries the app through PgBouncer with verify-full, and PgBouncer to PostgreSQL over TLS", () => {
        const ca = path.rendered.caFile;
        expect(connect(conninfo(app(), `sslmode=verify-full sslrootcert=${ca}`), app().password, "select current_user")).toBe("flowviz");
        const serverSide = psql({ ...superuser(), sql: "select bool_and(s.ssl) || ' ' || min(s.version) from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'flowviz'" });
        expect(serverSide).toMatch(/^true TLSv1\.[23]$/);
        expect(connect(conninfo(path.migrator, `sslmode=verify-full sslrootcert=${ca}`), path.migrator.password, "select 1")).toBe("1");
    });

    it("refuses plaintext at PostgreSQL and at PgBouncer", () => {
        expect(() => connect(conninfo(path.migrator, "sslmode=disable"), path.migrator.password)).toThrow(/pg_hba\.conf rejects connection .*no encryption/);
        expect(() => connect(conninfo(app(), "sslmode=disable"), app().password)).toThrow(/SSL required/);
    });

    it("is refused by a client that trusts another CA", () => {
        expect(() => connect(conninfo(app(), `sslmode=verify-full sslrootcert=${otherCa}`), app().password)).toThrow(/certificate verify failed/);
        expect(() => connect(conninfo(path.migrator, `sslmode=verify-full sslrootcert=${otherCa}`), path.migrator.password)).toThrow(/certificate verify failed/);
    });

    // docs/BENCHMARKS.md's TLS 1.3 suites: what runs with no suite configured is OpenSSL's default order's first, measured as cheap as any
    it("negotiates TLS 1.3 with TLS_AES_256_GCM_SHA384 on both hops, with no suite configured", () => {
        connect(conninfo(app(), `sslmode=verify-full sslrootcert=${path.rendered.caFile}`), app().password);
        const hop2 = psql({ ...superuser(), sql: "select distinct s.version || ' ' || s.cipher from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'flowviz'" });
        expect(hop2).toBe("TLSv1.3 TLS_AES_256_GCM_SHA384");
        const hop1 = spawnSync(...serverCommand("openssl", ["s_client", "-connect", `127.0.0.1:${app().port}`, "-starttls", "postgres", "-brief"]), { input: "", encoding: "utf8", timeout: 10_000 });
        expect(`${hop1.stdout}${hop1.stderr}`).toMatch(/Protocol version: TLSv1\.3\nCiphersuite: TLS_AES_256_GCM_SHA384\n/);
    });

    it("refuses TLS older than 1.2 at both", () => {
        for (const c of [app(), path.migrator]) {
            expect(() => connect(conninfo(c, "sslmode=require ssl_max_protocol_version=TLSv1.1"), c.password)).toThrow(/protocol|version|SSL/i);
        }
    });
});

describe("the superuser on the socket", () => {
    it("gets in by peer as the server's own user, with no password, and not as another user with its password", () => {
        const socket = path.pg.socketDir;
        const asOther = (password: string) => runServerBinary("psql", ["-X", "-At", "-h", socket, "-p", "5432", "-U", "postgres", "-d", "postgres", "-c", "select current_user"], { env: { PGPASSWORD: password } });
        expect(runServerBinary("psql", ["-X", "-At", "-h", socket, "-p", "5432", "-U", "postgres", "-d", "postgres", "-c", "select current_user"], { asServerUser: true, env: { PGPASSWORD: "" } }).trim()).toBe("postgres");
        // root is not the pod's postgres user: the superuser's password does not stand in for it
        expect(() => asOther(path.pg.superuserPassword)).toThrow(/Peer authentication failed for user "postgres"/);
    });
});

describe("the superuser over TCP", () => {
    it("logs in with the roles job's client certificate and never with a password", () => {
        const job = path.rendered.files + "/postgres-roles/";
        const cert = `sslmode=verify-full sslrootcert=${path.rendered.caFile} sslcert=${job}tls/client.crt sslkey=${job}tls/client.key`;
        expect(connect(conninfo({ port: 5432, user: "postgres", db: "postgres" }, cert), "", "select current_user")).toBe("postgres");
        expect(() => connect(conninfo({ port: 5432, user: "postgres", db: "postgres" }, `sslmode=verify-full sslrootcert=${path.rendered.caFile}`), path.pg.superuserPassword)).toThrow(/connection requires a valid client certificate|certificate authentication failed/);
        // the job's certificate names the superuser: it is no key to another role
        expect(() => connect(conninfo(path.migrator, cert), "")).toThrow(/no password supplied|authentication failed/);
    });

    it("refuses a CN=postgres certificate from the server CA: only the client CA vouches for clients", () => {
        const dir = join(BASE, "forged-client");
        issueCertificate(dir, testCaFor("ca-cert"), { subject: { commonName: "postgres" } }, "clientAuth");
        const forged = `sslmode=verify-full sslrootcert=${path.rendered.caFile} sslcert=${dir}/cert.crt sslkey=${dir}/cert.key`;
        expect(() => connect(conninfo({ port: 5432, user: "postgres", db: "postgres" }, forged), "")).toThrow(/certificate|SSL|alert/i);
        // the server and client CAs differ, and PostgreSQL trusts only the client one
        const clientCa = readFileSync(join(path.rendered.files, "postgres/tls/ca.crt"), "utf8");
        expect(clientCa).toBe(readFileSync(testCaFor("client-ca-cert").cert, "utf8"));
        expect(clientCa).not.toBe(readFileSync(path.rendered.caFile, "utf8"));
    });
});

/** A TLS login through the node driver from a chosen local address: 127.0.0.2 is on this machine, but not PgBouncer's loopback address. */
async function loginFrom(from: string, c: { user: string; password: string; db: string }, sql: string): Promise<string> {
    class BoundSocket extends Socket {
        override connect(...args: unknown[]): this {
            const [port, host] = args as [number, string];
            return super.connect({ port, host, localAddress: from });
        }
    }
    const client = new Client({ host: "127.0.0.1", port: 6432, user: c.user, password: c.password, database: c.db, ssl: { ca: readFileSync(path.rendered.caFile, "utf8") }, stream: () => new BoundSocket() });
    try {
        await client.connect();
        const r = await client.query({ text: sql, rowMode: "array" });
        return String(r.rows[0]?.[0]);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** PgBouncer's refusal when no hba line matches (1.24 says so; older releases said "login rejected"). */
const NO_HBA_LINE = /no authentication method is found|login rejected/;

describe("PgBouncer's console", () => {
    const admin = () => ({ user: "pgbouncer_admin", password: path.rendered.plan.outputs.pgbouncerAdminPassword as string, db: "pgbouncer" });
    // the stats password, from the exporter's password file in the render
    const stats = () => ({ user: "pgbouncer_stats", password: readFileSync(join(path.rendered.files, "pgbouncer-exporter/secrets/pgpass"), "utf8").trim().split(":").at(-1)!, db: "pgbouncer" });

    it("answers on its loopback: the exporter beside it (stats) and an operator's port-forward (admin)", async () => {
        expect(await loginFrom("127.0.0.1", stats(), "SHOW VERSION")).toMatch(/PgBouncer/);
        expect(await loginFrom("127.0.0.1", admin(), "SHOW VERSION")).toMatch(/PgBouncer/);
        // the stats user reads, it does not command
        await expect(loginFrom("127.0.0.1", stats(), "PAUSE flowviz")).rejects.toThrow(/admin access needed/);
    });

    it("refuses both console users from any other address, where the app still gets in", async () => {
        await expect(loginFrom("127.0.0.2", admin(), "SHOW VERSION")).rejects.toThrow(NO_HBA_LINE);
        await expect(loginFrom("127.0.0.2", stats(), "SHOW VERSION")).rejects.toThrow(NO_HBA_LINE);
        expect(await loginFrom("127.0.0.2", app(), "select current_user")).toBe("flowviz");
    });

    it("keeps the console users out of the application database", async () => {
        await expect(loginFrom("127.0.0.1", { ...admin(), db: "flowviz" }, "select 1")).rejects.toThrow(NO_HBA_LINE);
    });
});

describe("least-privilege roles", () => {
    it("lets the migration role change the schema, as the database's owner", () => {
        connect(conninfo(path.migrator, "sslmode=require"), path.migrator.password, "drop table if exists sec_items; create table sec_items (id int primary key, name text)");
        expect(psql({ ...path.migrator, sql: "select tableowner from pg_tables where tablename = 'sec_items'" })).toBe("flowviz_owner");
    });

    it("lets the app read and write rows, nothing more", () => {
        psql({ ...app(), sql: "insert into sec_items values (1, 'a') on conflict do nothing" });
        psql({ ...app(), sql: "update sec_items set name = 'b' where id = 1" });
        expect(psql({ ...app(), sql: "select name from sec_items where id = 1" })).toBe("b");
        psql({ ...app(), sql: "delete from sec_items where id = 1" });
        expect(() => psql({ ...app(), sql: "create table app_made (i int)" })).toThrow(/permission denied for schema public/);
        expect(() => psql({ ...app(), sql: "drop table sec_items" })).toThrow(/must be owner of table sec_items/);
        expect(() => psql({ ...app(), sql: "alter table sec_items add column x int" })).toThrow(/must be owner of table sec_items/);
        expect(() => psql({ ...app(), sql: "truncate sec_items" })).toThrow(/permission denied for table sec_items/);
        expect(() => psql({ ...app(), sql: "create schema app_schema" })).toThrow(/permission denied for database flowviz/);
    });

    it("leaves PUBLIC no rights on the database or the public schema, and the app owns nothing", () => {
        const facts = psql({
            ...superuser(),
            sql:
                "select has_database_privilege('public', 'flowviz', 'CONNECT'), " +
                "(select datdba::regrole::text from pg_database where datname = 'flowviz'), " +
                "(select rolcanlogin from pg_roles where rolname = 'flowviz_owner')",
        });
        expect(facts).toBe("f|flowviz_owner|f");
        expect(psql({ ...path.migrator, sql: "select has_schema_privilege('public', 'public', 'CREATE'), count(*) from pg_class where relowner = 'flowviz'::regrole" })).toBe("f|0");
    });
});

describe("the audit trail (pgAudit on PostgreSQL 17, from the rendered postgresql.conf and roles.sql)", () => {
    const MARKER = "core-temp-71.3C-batch-0447";
    const log = () => readFileSync(join(path.pg.base, "postgres.log"), "utf8");

    it("records connections, DDL and the app's writes, and never a record's value", async () => {
        connect(conninfo(path.migrator, "sslmode=require"), path.migrator.password, "drop table if exists haccp_probe; create table haccp_probe (reading text)");
        const client = new Client({ host: "127.0.0.1", port: app().port, user: app().user, password: app().password, database: app().db, ssl: { ca: readFileSync(path.rendered.caFile, "utf8") } });
        await client.connect();
        try {
            // a bind parameter in a write, in a slow statement (log_min_duration_statement logs it) and in an error
            await client.query("insert into haccp_probe (reading) values ($1)", [MARKER]);
            await client.query("select pg_sleep(1.2), $1::text", [MARKER]);
            await expect(client.query("select 1 / 0 where $1::text is not null", [MARKER])).rejects.toThrow(/division by zero/);
        } finally {
            await client.end();
        }
        // the servers write the session's end once the client has gone: waited for, not slept on (a loaded machine is slower)
        await waitFor("the session's end in both logs", () => /disconnection: session time: .* user=flowviz_migrator/.test(log()) && /closing because: client close request/.test(path.pgb.log));
        const text = log();
        expect(text).toMatch(/connection authorized: user=flowviz database=flowviz SSL enabled/);
        expect(text).toMatch(/disconnection: session time: .* user=flowviz_migrator database=flowviz/);
        // the app's logins are PgBouncer's to record (its server connections stay pooled)
        expect(path.pgb.log).toMatch(/flowviz\/flowviz@127\.0\.0\.1:\d+ login attempt: db=flowviz user=flowviz tls=TLSv1\.3/);
        expect(path.pgb.log).toMatch(/flowviz\/flowviz@127\.0\.0\.1:\d+ closing because: client close request/);
        expect(text).toMatch(/flowviz_migrator@flowviz LOG: {2}AUDIT: SESSION,\d+,\d+,DDL,CREATE TABLE,,,"?create table haccp_probe/);
        expect(text).toMatch(/AUDIT: SESSION,\d+,\d+,WRITE,INSERT,TABLE,public\.haccp_probe,insert into haccp_probe \(reading\) values \(\$1\),<not logged>/);
        expect(text).toMatch(/duration: 1[2-9]\d\d\.\d+ ms .*select pg_sleep\(1\.2\), \$1::text/);
        expect(text).toMatch(/division by zero/);
        expect(text).not.toContain(MARKER);
    });

    it("records a role change made by hand, and keeps the roles job's password verifiers out", () => {
        psql({ ...superuser(), sql: "alter role flowviz connection limit 200" });
        const text = log();
        expect(text).toMatch(/AUDIT: SESSION,\d+,\d+,ROLE,ALTER ROLE,,,alter role flowviz connection limit 200/);
        expect(text).not.toMatch(/SCRAM-SHA-256\$/);
        psql({ ...superuser(), sql: "alter role flowviz connection limit -1" });
    });
});

describe("credential rotation", () => {
    const ROTATED = ["postgresPassword", "appDbPassword", "migrationDbPassword", "postgresExporterPassword", "pgbouncerAdminPassword", "pgbouncerStatsPassword"] as const;

    it("renders with new secrets, applies them to the running servers, and only the new ones log in", async () => {
        // the same stack with every login credential set anew (as `pulumi config set --secret` would)
        const { rendered: next, secret } = await renderWithSecrets(BASE, "rotated", ROTATED);
        const old = { superuser: path.pg.superuserPassword, app: app().password, migrator: path.migrator.password, admin: path.rendered.plan.outputs.pgbouncerAdminPassword as string };
        expect(secret("appDbPassword")).not.toBe(old.app);
        expect(secret("postgresPassword")).not.toBe(old.superuser);

        const superuserVerifier = psql({ ...superuser(), sql: "select rolpassword from pg_authid where rolname = 'postgres'" });
        // what the new roles job and the rolled PgBouncer do: the new roles script (the job
        // logs in with its certificate, the old superuser password still in place), the new userlist
        path.pg.applyRoles(next);
        copyFileSync(join(next.files, "pgbouncer/userlist.txt"), join(path.rendered.files, "pgbouncer/userlist.txt"));
        psql({ port: 6432, user: "pgbouncer_admin", password: old.admin, db: "pgbouncer", sql: "RELOAD" });

        const ca = path.rendered.caFile;
        // the superuser's password reached PostgreSQL (its SCRAM verifier changed), though no login takes it: peer on the socket, cert over TCP
        expect(psql({ ...superuser(), sql: "select rolpassword from pg_authid where rolname = 'postgres'" })).not.toBe(superuserVerifier);
        expect(connect(conninfo(app(), `sslmode=verify-full sslrootcert=${ca}`), secret("appDbPassword"), "select current_user")).toBe("flowviz");
        expect(() => connect(conninfo(app(), `sslmode=verify-full sslrootcert=${ca}`), old.app)).toThrow(/authentication failed/);
        expect(connect(conninfo(path.migrator, "sslmode=require"), secret("migrationDbPassword"))).toBe("1");
        expect(() => connect(conninfo(path.migrator, "sslmode=require"), old.migrator)).toThrow(/authentication failed/);
        expect(connect("host=127.0.0.1 port=5432 user=postgres_exporter dbname=flowviz sslmode=require", secret("postgresExporterPassword"))).toBe("1");
        expect(psql({ port: 6432, user: "pgbouncer_stats", password: secret("pgbouncerStatsPassword"), db: "pgbouncer", sql: "show version" })).toMatch(/PgBouncer/);
        expect(() => psql({ port: 6432, user: "pgbouncer_admin", password: old.admin, db: "pgbouncer", sql: "show version" })).toThrow(/authentication failed/);
    });
});
