import { describe, expect, it } from "vitest";
import { scramVerifier } from "../../configs/scram";
import { pgbouncerHba, pgbouncerIni, userlist } from "../../configs/pgbouncer";
import { postgresqlConf, rolesSql } from "../../configs/postgres";
import { pgMemory } from "../../configs/format";
import { poolSizing } from "../../stack/capacity";
import { checkInvariants } from "../../stack/invariants";
import { loadStackConfig } from "../../stack/load";
import { grafanaStartScript } from "../../components/grafana";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Made by PostgreSQL 15 itself: CREATE ROLE ... PASSWORD 'pencil-and-paper-2026'; SELECT rolpassword. */
const POSTGRES_VERIFIER =
    "SCRAM-SHA-256$4096:15IjTFXEc3ZOqDkP7fs3Vw==$N2fUpme4Tycq8KAOUQNig41Pnf6vX/WMxhqvtjPZ5rI=:DbwPOQomlikRjdkc0fbq0H3Ie6KTgySLA2XWN4fB1Nc=";

describe("SCRAM verifier", () => {
    it("equals the verifier PostgreSQL computes for the same password and salt", () => {
        expect(scramVerifier("pencil-and-paper-2026", "15IjTFXEc3ZOqDkP7fs3Vw==")).toBe(POSTGRES_VERIFIER);
    });
    it("differs for another password", () => {
        expect(scramVerifier("pencil-and-paper-2027", "15IjTFXEc3ZOqDkP7fs3Vw==")).not.toBe(POSTGRES_VERIFIER);
    });
    it("refuses short salts and non-ASCII passwords", () => {
        expect(() => scramVerifier("pw", "c2FsdA==")).toThrow(/16 bytes/);
        expect(() => scramVerifier("pässwort", "15IjTFXEc3ZOqDkP7fs3Vw==")).toThrow(/ASCII/);
    });
});

const iniInput = {
    version: "1.25.1",
    listenAddress: "0.0.0.0",
    port: 6432,
    maxClientConn: 1000,
    poolSize: 16,
    reserveSize: 4,
    reservePoolTimeoutSeconds: 3,
    queryWaitTimeoutSeconds: 120,
    serverIdleTimeoutSeconds: 600,
    maxPreparedStatements: 200,
    logConnections: false,
    database: { name: "flowviz", host: "postgres", port: 5432 },
    adminUser: "admin",
    statsUser: "stats",
    tls: { certFile: "tls/server.crt", keyFile: "tls/server.key", caFile: "tls/ca.crt" },
};

function settings(ini: string): Map<string, string> {
    const section = ini.split("[pgbouncer]")[1] ?? "";
    return new Map(
        section
            .split("\n")
            .filter((l) => l.includes(" = ") || l.endsWith(" ="))
            .map((l) => [l.split(" =")[0]!.trim(), l.split("= ")[1] ?? ""] as [string, string]),
    );
}

describe("pgbouncer.ini", () => {
    it("pools transactions, ignores extra_float_digits, never sets a reset query it would ignore", () => {
        const s = settings(pgbouncerIni(iniInput));
        expect(s.get("pool_mode")).toBe("transaction");
        expect(s.get("ignore_startup_parameters")).toBe("extra_float_digits");
        expect(s.get("auth_type")).toBe("hba");
        expect(s.get("auth_hba_file")).toBe("pgbouncer_hba.conf");
        expect(s.get("max_db_connections")).toBe("20");
        expect(s.has("server_reset_query")).toBe(false);
    });
    it("sets max_prepared_statements only from PgBouncer 1.21 on", () => {
        expect(settings(pgbouncerIni(iniInput)).get("max_prepared_statements")).toBe("200");
        expect(settings(pgbouncerIni({ ...iniInput, version: "1.21.0" })).get("max_prepared_statements")).toBe("200");
        expect(settings(pgbouncerIni({ ...iniInput, version: "1.18.0" })).has("max_prepared_statements")).toBe(false);
    });
    it("is sorted, so equal input gives byte-equal output", () => {
        const keys = [...settings(pgbouncerIni(iniInput)).keys()];
        expect(keys).toEqual([...keys].sort());
        expect(pgbouncerIni(iniInput)).toBe(pgbouncerIni({ ...iniInput }));
    });
    it("opens the console on loopback only, the database to its login roles, always TLS and SCRAM", () => {
        const rules = pgbouncerHba({ database: "flowviz", databaseLogins: ["flowviz_migrator", "flowviz"], consoleUsers: ["pgbouncer_stats", "pgbouncer_admin"] })
            .split("\n")
            .filter((l) => l && !l.startsWith("#"))
            .map((l) => l.split(/\s+/));
        expect(rules.every((r) => r[0] === "hostssl" && r.at(-1) === "scram-sha-256")).toBe(true);
        const console = rules.filter((r) => r[1] === "pgbouncer");
        expect(console.map((r) => r[3])).toEqual(["127.0.0.1/32", "::1/128"]);
        expect(console.every((r) => r[2] === "pgbouncer_admin,pgbouncer_stats")).toBe(true);
        expect(rules.filter((r) => r[1] === "flowviz").map((r) => r[2])).toEqual(["flowviz,flowviz_migrator", "flowviz,flowviz_migrator"]);
        expect(rules.some((r) => r[1] === "all" || r[2] === "all")).toBe(false);
    });
    it("userlist holds SCRAM verifiers only, sorted", () => {
        expect(userlist({ b: POSTGRES_VERIFIER, a: POSTGRES_VERIFIER })).toBe(`"a" "${POSTGRES_VERIFIER}"\n"b" "${POSTGRES_VERIFIER}"\n`);
        expect(() => userlist({ app: "plaintext-password" })).toThrow(/SCRAM/);
    });
});

describe("postgresql.conf and roles", () => {
    it("converts sizes and enforces SCRAM", () => {
        const conf = postgresqlConf({
            port: 5432,
            maxConnections: 100,
            superuserReservedConnections: 3,
            adminConnections: 5,
            sharedBuffers: "512Mi",
            effectiveCacheSize: "2Gi",
            workMem: "8Mi",
            maintenanceWorkMem: "128Mi",
            tls: { certFile: "/etc/postgresql/tls/server.crt", keyFile: "/etc/postgresql/tls/server.key", caFile: "/etc/postgresql/tls/ca.crt" },
        });
        expect(conf).toContain("shared_buffers = 512MB");
        expect(conf).toContain("ssl = on");
        expect(conf).toContain("ssl_min_protocol_version = 'TLSv1.2'");
        expect(conf).toContain("effective_cache_size = 2GB");
        expect(conf).toContain("password_encryption = scram-sha-256");
        expect(pgMemory("64Ki")).toBe("64kB");
    });
    it("quotes identifiers and literals in the roles script", () => {
        const login = (name: string) => ({ name, verifier: POSTGRES_VERIFIER });
        const sql = rolesSql({ superuser: login("postgres"), database: "flowviz", owner: "flowviz_owner", migrator: login("flowviz_migrator"), app: login("o'brien"), monitor: login("postgres_exporter") });
        expect(sql).toContain(`ALTER ROLE "o'brien"`);
        expect(sql).toContain(`rolname = 'o''brien'`);
        expect(sql).toContain(`GRANT pg_monitor TO "postgres_exporter";`);
    });
});

describe("pool sizing from first principles", () => {
    const config = (raw: Record<string, unknown>) =>
        loadStackConfig(
            "flowviz",
            "t",
            Object.fromEntries(
                Object.entries({ platform: "kubernetes", monitoring: { allowNoReceivers: true }, ...raw, postgres: { backups: { repository: "none", allowNone: true, image: "registry.example.com/flowviz/postgres-pgbackrest:17.12-1" }, ...(raw.postgres as object) } }).map(([k, v]) => [
                    `flowviz:${k}`,
                    typeof v === "string" ? v : JSON.stringify(v),
                ]),
            ),
            () => false,
        ).config;

    it("gives a 2-core database 2 x 8 round trips = 16 connections plus a reserve of 4", () => {
        expect(poolSizing(config({}))).toEqual({ poolSize: 16, reserveSize: 4, replicas: 1 });
    });
    it("splits the database's connections across PgBouncer replicas", () => {
        expect(poolSizing(config({ pgbouncer: { replicas: 3 } }))).toEqual({ poolSize: 6, reserveSize: 2, replicas: 3 });
    });
    it("scales with database cores", () => {
        expect(poolSizing(config({ postgres: { maxConnections: 200, resources: { cpu: "8", memory: "8Gi" } } })).poolSize).toBe(64);
    });
    it("honours explicit sizes", () => {
        expect(poolSizing(config({ pgbouncer: { defaultPoolSize: 25, reservePoolSize: 5 } }))).toEqual({ poolSize: 25, reserveSize: 5, replicas: 1 });
    });
    it("finds the default stack within every limit", () => {
        expect(checkInvariants(config({}), { project: "flowviz", stack: "t" })).toEqual([]);
    });
    it("counts one replica on Docker whatever the replica setting", () => {
        expect(poolSizing(config({ platform: "docker", pgbouncer: { replicas: 4 } })).replicas).toBe(1);
    });
});

describe("Grafana's start: the admin password from its file on every start", () => {
    /** runs the start script with stand-ins for the image's CLI and entrypoint, which are not on this machine */
    function start(opts: { databaseExists: boolean; cliFails?: boolean }): { log: string; status: number } {
        const dir = mkdtempSync(join(tmpdir(), "grafana-start-"));
        mkdirSync(join(dir, "data"));
        mkdirSync(join(dir, "bin"));
        if (opts.databaseExists) writeFileSync(join(dir, "data/grafana.db"), "");
        writeFileSync(join(dir, "password"), "new-admin-password");
        writeFileSync(join(dir, "bin/grafana"), `#!/bin/sh\necho "cli: $* stdin=$(cat)" >> ${dir}/log\nexit ${opts.cliFails ? 1 : 0}\n`, { mode: 0o755 });
        writeFileSync(join(dir, "run.sh"), `#!/bin/sh\necho "server started" >> ${dir}/log\n`, { mode: 0o755 });
        const script = grafanaStartScript(join(dir, "password")).replaceAll("/var/lib/grafana", join(dir, "data")).replace("exec /run.sh", `exec ${dir}/run.sh`);
        const r = spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}/bin:/usr/bin:/bin` }, encoding: "utf8" });
        const log = existsSync(join(dir, "log")) ? readFileSync(join(dir, "log"), "utf8") : "";
        rmSync(dir, { recursive: true, force: true });
        return { log, status: r.status ?? -1 };
    }

    it("leaves a new database to Grafana (it reads the file itself on creation)", () => {
        expect(start({ databaseExists: false })).toEqual({ log: "server started\n", status: 0 });
    });

    it("applies the file with the CLI, from stdin, before the server starts", () => {
        const { log, status } = start({ databaseExists: true });
        expect(status).toBe(0);
        expect(log).toBe("cli: cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin stdin=new-admin-password\nserver started\n");
    });

    it("does not start with a password it could not apply", () => {
        const { log, status } = start({ databaseExists: true, cliFails: true });
        expect(status).not.toBe(0);
        expect(log).not.toContain("server started");
    });
});
