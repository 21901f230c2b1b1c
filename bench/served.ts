/**
 * The served configuration of a bench run: the rendered files, or a measured departure from them (plaintext on both
 * hops, another pool size, an OpenSSL configuration for PgBouncer's process). PgBouncer restarts on every change,
 * PostgreSQL reloads.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { psql, waitFor, type DataPath } from "../test/integration/servers";
import { sslEnv } from "./pgbench";

export const SERVED_FILES = ["pgbouncer/pgbouncer.ini", "pgbouncer/pgbouncer_hba.conf", "postgres/pg_hba.conf"] as const;
export type Originals = Record<(typeof SERVED_FILES)[number], string>;

/** The rendered files as they were, before any departure. */
export const originalsOf = (path: DataPath): Originals =>
    Object.fromEntries(SERVED_FILES.map((f) => [f, readFileSync(join(path.rendered.files, f), "utf8")])) as Originals;

/** Rewrites `key = value` lines of an ini file. */
export const setIni = (text: string, values: Record<string, string | number>) =>
    text.split("\n").map((line) => {
        const key = /^(\w+)\s*=/.exec(line)?.[1];
        return key !== undefined && key in values ? `${key} = ${values[key]}` : line;
    }).join("\n");

export interface Departure {
    tls: boolean;
    pool: number;
    reserve: number;
    /** PgBouncer's process environment (OPENSSL_CONF, for one) and the check's client's */
    env?: Record<string, string>;
}

export async function configure(path: DataPath, original: Originals, want: Departure): Promise<void> {
    const files = path.rendered.files;
    // `cert` needs TLS (PostgreSQL refuses the whole file otherwise): the superuser's line goes; the bench never uses it
    const plain = (hba: string) =>
        hba.split("\n").filter((l) => !/^hostnossl\s/.test(l) && !/\scert\s*$/.test(l)).map((l) => l.replace(/^hostssl(\s)/, "host$1")).join("\n");
    const ini = setIni(original["pgbouncer/pgbouncer.ini"], {
        default_pool_size: want.pool,
        max_db_connections: want.pool + want.reserve,
        ...(want.tls ? {} : { client_tls_sslmode: "disable", server_tls_sslmode: "disable" }),
    });
    writeFileSync(join(files, "pgbouncer/pgbouncer.ini"), ini);
    writeFileSync(join(files, "pgbouncer/pgbouncer_hba.conf"), want.tls ? original["pgbouncer/pgbouncer_hba.conf"] : plain(original["pgbouncer/pgbouncer_hba.conf"]));
    writeFileSync(join(files, "postgres/pg_hba.conf"), want.tls ? original["postgres/pg_hba.conf"] : plain(original["postgres/pg_hba.conf"]));
    path.pg.reload();
    await path.pgb.stop();
    path.pgb.start(want.env);
    const caFile = path.rendered.caFile;
    await waitFor("PgBouncer", () => psql({ ...path.app, sql: "select 1", env: { ...sslEnv(want.tls, caFile), ...want.env } }) === "1");
}
