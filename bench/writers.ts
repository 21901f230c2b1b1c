/**
 * What the failover and migration benches share: writers inserting numbered rows through
 * PgBouncer, PgBouncer's server moved on its console, and the figures taken from them.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { psql, type Rendered } from "../test/integration/servers";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Writers {
    stop(): Promise<{ acked: number[]; failed: number; successTimes: number[] }>;
}

/** `count` clients through PgBouncer (TLS, verified as `servername`), each inserting its own numbered rows into acks one transaction at a time, never giving up. */
export function startWriters(rendered: Rendered, opts: { count: number; firstId: number; servername: string }): Writers {
    let running = true;
    const acked: number[] = [];
    const successTimes: number[] = [];
    let failed = 0;
    const ca = readFileSync(rendered.caFile, "utf8");
    const loops = Array.from({ length: opts.count }, async (_, w) => {
        let client: Client | undefined;
        let n = 0;
        while (running) {
            try {
                if (!client) {
                    client = new Client({ host: "127.0.0.1", port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, database: "flowviz", ssl: { ca, servername: opts.servername }, connectionTimeoutMillis: 5000, query_timeout: 5000 });
                    client.on("error", () => undefined);
                    await client.connect();
                }
                const id = opts.firstId + w * 10_000_000 + ++n;
                await client.query("insert into acks (id) values ($1)", [id]);
                acked.push(id);
                successTimes.push(Date.now());
            } catch {
                failed++;
                await client?.end().catch(() => undefined);
                client = undefined;
                await sleep(100);
            }
        }
        await client?.end().catch(() => undefined);
    });
    return {
        async stop() {
            running = false;
            await Promise.all(loops);
            return { acked, failed, successTimes };
        },
    };
}

/** A command on PgBouncer's console, as its admin user. */
export const pgbouncerAdmin = (rendered: Rendered, command: string) => psql({ port: 6432, user: "pgbouncer_admin", password: rendered.plan.outputs.pgbouncerAdminPassword as string, db: "pgbouncer", sql: command });

/** PgBouncer's server moved to another local PostgreSQL: the new port in pgbouncer.ini, then RELOAD. */
export function movePgBouncer(rendered: Rendered, port: number): void {
    const ini = join(rendered.files, "pgbouncer/pgbouncer.ini");
    writeFileSync(ini, readFileSync(ini, "utf8").replace(/^(flowviz = host=127\.0\.0\.1 port=)\d+/m, `$1${port}`));
    pgbouncerAdmin(rendered, "RELOAD");
}

/** The longest stretch without a successful write, from `from` on (ms). */
export function longestGap(times: number[], from: number): number {
    const after = times.filter((t) => t >= from).sort((a, b) => a - b);
    let gap = (after[0] ?? Date.now()) - from;
    for (let i = 1; i < after.length; i++) gap = Math.max(gap, after[i]! - after[i - 1]!);
    return gap;
}

/** How many acknowledged ids are not in `present` (the ids on the server that now serves). */
export const missing = (acked: number[], present: string) => {
    const ids = new Set(present.split("\n").filter(Boolean).map(Number));
    return acked.filter((id) => !ids.has(id)).length;
};
