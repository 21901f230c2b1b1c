/**
 * The pack's reading of postgresql.conf held against PostgreSQL's own (`postgres -C`, Debian 13's
 * PostgreSQL 17) on a file written to mislead a line-by-line reader: names in capitals, settings
 * without `=`, quoted values holding `#` and quotes, a setting repeated further down.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresConf } from "../../policy/conf-files";
import { chownToServer, runServerBinary } from "../binaries";
import { asPostgres } from "./servers";

const BASE = "/tmp/flowviz-it-conf-reading";
const TRICKY = [
    "log_connections = on",
    "LOG_CONNECTIONS = off # capitals, later: PostgreSQL takes this one",
    "log_disconnections off",
    "application_name = 'a # not a comment'",
    "cluster_name = 'it''s'",
    "  Log_Min_Duration_Statement=250ms",
    "statement_timeout = 5s",
    "statement_timeout = 7s",
    "",
].join("\n");

beforeAll(() => {
    mkdirSync(BASE, { recursive: true });
    chownToServer(BASE);
    asPostgres("initdb", ["-D", `${BASE}/pgdata`, "-U", "postgres"]);
    writeFileSync(join(BASE, "tricky.conf"), TRICKY);
    chownToServer(BASE);
}, 120_000);
afterAll(() => runServerBinary("sh", ["-c", `rm -rf "$0"`, BASE]));

describe("postgresql.conf as the pack reads it and as PostgreSQL does", () => {
    const read = postgresConf(TRICKY).settings;
    const server = (name: string) => runServerBinary("postgres", ["-D", `${BASE}/pgdata`, "-c", `config_file=${BASE}/tricky.conf`, "-C", name], { asServerUser: true }).trim();

    it.each(["log_connections", "log_disconnections", "application_name", "cluster_name"])("%s: the same value", (name) => {
        expect(read[name], name).toBeDefined();
        expect(read[name]).toBe(server(name));
    });

    /** A duration in milliseconds; PostgreSQL prints these in their base unit, ms, without it. */
    const inMs = (v: string) => {
        const m = /^(\d+)\s*(ms|s|min)?$/.exec(v);
        if (!m) throw new Error(`not a duration: ${v}`);
        return Number(m[1]) * { ms: 1, s: 1000, min: 60_000 }[(m[2] ?? "ms") as "ms" | "s" | "min"];
    };
    it.each(["statement_timeout", "log_min_duration_statement"])("%s: the same duration", (name) => {
        expect(read[name], name).toBeDefined();
        expect(inMs(read[name]!)).toBe(inMs(server(name)));
    });
});
