/**
 * Two PgBouncers peered as prod renders them ([peers] and start.sh from a Kubernetes render with
 * two replicas), in front of the local stack's PostgreSQL: a client-side timeout's cancel request
 * that lands on the other replica stops the query on the one holding it. Without the peering, the
 * same cancel reaches nothing and the query runs on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderedFiles } from "../../render/files";
import { BINARIES, chownToServer, serverRoot, serverUser } from "../binaries";
import { runStack } from "../helpers";
import { appClient, startDataPath, waitFor, type DataPath } from "./servers";

const BASE = "/tmp/flowviz-it-peering";
const PORTS = [6441, 6442];
let path: DataPath;
/** prod's PgBouncer files: its pgbouncer.ini ([peers]) and start.sh (peer_id from the pod's ordinal) */
let prod: { ini: string; start: string };
const running: ChildProcess[] = [];

beforeAll(async () => {
    path = await startDataPath(BASE);
    const files = renderedFiles((await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" })).resources);
    const file = (name: string) => files.find((f) => f.service === "pgbouncer" && f.path === name)!.content;
    prod = { ini: file("pgbouncer.ini"), start: file("start.sh") };
}, 180_000);

afterAll(async () => {
    for (const p of running) p.kill("SIGINT");
    await path?.stop();
});

/** The [peers] section of prod's pgbouncer.ini, each pod's own name mapped to a local port (ordinal order). */
function localPeers(): string {
    const section = /^\[peers\]\n((?:.+\n)+)/m.exec(prod.ini)?.[1];
    if (!section) throw new Error("prod's pgbouncer.ini has no [peers] section");
    return section.replace(/host=pgbouncer-(\d+)\.\S+ port=\d+/g, (_, i: string) => `host=127.0.0.1 port=${PORTS[Number(i)]}`);
}

/**
 * Replica `ordinal`: the local stack's PgBouncer folder (its TLS, users, pool) on its own port, with
 * prod's [peers] when `peered`, started by prod's start.sh as pod pgbouncer-<ordinal>.
 */
async function startReplica(name: string, ordinal: number, peered: boolean): Promise<void> {
    const dir = join(BASE, name, `pgbouncer-${ordinal}`);
    rmSync(dir, { recursive: true, force: true });
    cpSync(join(path.rendered.files, "pgbouncer"), dir, { recursive: true });
    const local = readFileSync(join(dir, "pgbouncer.ini"), "utf8").replace(/^listen_port = \d+$/m, `listen_port = ${PORTS[ordinal]}`);
    writeFileSync(join(dir, "pgbouncer.ini"), peered ? local.replace("[pgbouncer]\n", `[peers]\n${localPeers()}\n[pgbouncer]\n`) : local);
    const scratch = join(dir, "run");
    mkdirSync(scratch);
    // prod's start script with prod's paths moved to this folder
    writeFileSync(join(dir, "start.sh"), prod.start.replaceAll("/tmp/pgbouncer.ini", `${scratch}/pgbouncer.ini`).replaceAll("/etc/pgbouncer", dir).replace("/usr/bin/pgbouncer", BINARIES.pgbouncer));
    chownToServer(join(BASE, name));
    const out = openSync(join(dir, "pgbouncer.out"), "a");
    const { uid, gid } = serverUser();
    const proc = spawn("/usr/sbin/chroot", [`--userspec=${uid}:${gid}`, serverRoot(), "/bin/sh", join(dir, "start.sh")], { stdio: ["ignore", out, out], env: { ...process.env, HOSTNAME: `pgbouncer-${ordinal}` } });
    closeSync(out);
    running.push(proc);
    await waitFor(`PgBouncer ${name} ${ordinal}`, async () => {
        const c = appClient(path, PORTS[ordinal]!);
        try {
            await c.connect();
            return true;
        } catch {
            return false;
        } finally {
            await c.end().catch(() => undefined);
        }
    });
}

async function stopReplicas(): Promise<void> {
    const procs = running.splice(0);
    const exits = procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r))));
    // the processes are the PgBouncers themselves (start.sh execs them): SIGINT is their safe shutdown
    for (const p of procs) p.kill("SIGINT");
    await Promise.all(exits);
}


/** A CancelRequest (protocol 3.0) for a backend key, sent over TLS after an SSLRequest, as libpq 17 sends it with sslmode=require. */
function sendCancel(port: number, pid: number, key: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const raw: Socket = tcpConnect(port, "127.0.0.1", () => {
            const ssl = Buffer.alloc(8);
            ssl.writeInt32BE(8, 0);
            ssl.writeInt32BE(80877103, 4);
            raw.write(ssl);
        });
        raw.once("error", reject);
        raw.once("data", (b) => {
            if (b.toString() !== "S") return reject(new Error(`PgBouncer refused TLS for the cancel request (${b.toString()})`));
            const secure = tlsConnect({ socket: raw, ca: readFileSync(path.rendered.caFile, "utf8"), servername: "localhost" }, () => {
                const msg = Buffer.alloc(16);
                msg.writeInt32BE(16, 0);
                msg.writeInt32BE(80877102, 4);
                msg.writeInt32BE(pid, 8);
                msg.writeInt32BE(key, 12);
                secure.end(msg);
            });
            secure.once("close", () => resolve());
            secure.once("error", reject);
        });
    });
}

/** A 4 s query (inside the app's 5 s statement timeout) through replica 0, cancelled through replica 1 after a second: how it ended by 3 s, and when. */
async function cancelThroughTheOtherReplica(): Promise<{ outcome: string; seconds: number }> {
    const client = appClient(path, PORTS[0]!);
    await client.connect();
    const started = Date.now();
    const query = client.query("select pg_sleep(4)").then(
        () => "completed",
        (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    await sendCancel(PORTS[1]!, processID, secretKey);
    const outcome = await Promise.race([query, new Promise<string>((r) => setTimeout(() => r("still running"), 2000))]);
    const seconds = (Date.now() - started) / 1000;
    await query;
    await client.end().catch(() => undefined);
    return { outcome, seconds };
}

describe("peered PgBouncers (prod's [peers] and start.sh, two replicas)", () => {
    it("renders peers for every replica and a peer_id from the pod's ordinal", () => {
        expect(localPeers().trim().split("\n")).toEqual([`1 = host=127.0.0.1 port=${PORTS[0]}`, `2 = host=127.0.0.1 port=${PORTS[1]}`]);
        expect(prod.start).toContain('peer_id = $((ordinal + 1))');
    });

    it("without peering, a cancel that lands on the other replica stops nothing", async () => {
        await startReplica("alone", 0, false);
        await startReplica("alone", 1, false);
        const r = await cancelThroughTheOtherReplica();
        await stopReplicas();
        expect(r.outcome).toBe("still running");
    }, 60_000);

    it("peered, the cancel is forwarded to the replica holding the query, which stops it", async () => {
        await startReplica("peered", 0, true);
        await startReplica("peered", 1, true);
        const r = await cancelThroughTheOtherReplica();
        await stopReplicas();
        expect(r.outcome).toMatch(/canceling statement due to user request/);
        expect(r.seconds).toBeLessThan(3);
        // each replica found its own peer_id in its pod name
        for (const i of [0, 1]) expect(readFileSync(join(BASE, "peered", `pgbouncer-${i}`, "run", "pgbouncer.ini"), "utf8")).toMatch(new RegExp(`^peer_id = ${i + 1}$`, "m"));
    }, 60_000);
});
