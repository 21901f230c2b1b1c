/**
 * The Celery broker's rendered valkey.conf, run by a real server (Debian 13's
 * valkey-server 8.1): only the app's ACL user gets in,
 * without the @dangerous commands, and queued tasks survive a crash.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runServerBinary, serverCommand } from "../binaries";
import { renderWithSecrets, waitFor } from "./servers";

const BASE = "/tmp/flowviz-it-broker";
const PORT = "6379";
let conf: string;
let password: string;
let server: ChildProcess | undefined;

/** valkey-cli's answer (errors are answers too: valkey-cli prints them and exits 0). */
function cli(args: string[], auth = true, pass = password): string {
    const login = auth ? ["--user", "flowviz", "--pass", pass, "--no-auth-warning"] : [];
    return runServerBinary("valkey-cli", ["-h", "127.0.0.1", "-p", PORT, ...login, ...args], { timeout: 10_000 }).trim();
}

/** A rendered valkey.conf, as the server's: the container's /data (its volume) moved to a folder of the test's, nothing else changed. */
function serve(rendered: string): void {
    const text = readFileSync(rendered, "utf8");
    expect(text).toMatch(/^dir \/data$/m);
    writeFileSync(join(BASE, "valkey.conf"), text.replace(/^dir \/data$/m, `dir ${join(BASE, "data")}`), { mode: 0o600 });
}

/** The server itself (no wrapper process), so that a SIGKILL is a crash of the broker. */
function start(): void {
    server = spawn(...serverCommand("valkey-server", [join(BASE, "valkey.conf")]), { stdio: "ignore" });
}

beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    mkdirSync(join(BASE, "data"), { recursive: true });
    // the broker's password set as a secure: value, so the test knows it
    const { rendered, secret } = renderWithSecrets(BASE, "broker", ["valkeyPassword"]);
    password = secret("valkeyPassword");
    conf = join(rendered.files, "valkey", "valkey.conf");
    serve(conf);
    start();
    await waitFor("the broker", () => cli(["ping"]) === "PONG");
});

afterAll(() => {
    server?.kill("SIGKILL");
});

describe("the broker from the rendered valkey.conf", () => {
    it("keeps the password out of the file (a SHA-256 hash) and the default user off", () => {
        const text = readFileSync(conf, "utf8");
        expect(text).not.toContain(password);
        expect(text).toMatch(/^user default off$/m);
        expect(cli(["ping"], false)).toMatch(/NOAUTH|NOPERM/);
        expect(cli(["--user", "default", "--pass", "", "ping"], false)).toMatch(/WRONGPASS|NOAUTH/);
    });

    it("lets the app's ACL user queue and take tasks, not run @dangerous commands", () => {
        expect(cli(["lpush", "celery", "task-1"])).toMatch(/^\d+$/);
        expect(cli(["llen", "celery"])).not.toBe("0");
        for (const cmd of [["flushall"], ["config", "get", "dir"], ["keys", "*"], ["monitor"], ["shutdown"]]) {
            expect(cli(cmd), cmd.join(" ")).toMatch(/NOPERM/);
        }
    });

    it("keeps queued tasks through a crash (append-only file, fsync every second)", async () => {
        cli(["del", "durable"]);
        cli(["rpush", "durable", "a", "b", "c"]);
        await new Promise((r) => setTimeout(r, 1500));
        server!.kill("SIGKILL");
        await new Promise((r) => server!.once("exit", r));
        start();
        await waitFor("the broker back", () => cli(["ping"]) === "PONG");
        expect(cli(["lrange", "durable", "0", "-1"]).split("\n")).toEqual(["a", "b", "c"]);
    });
});

describe("rotating the broker's password", () => {
    it("renders a new valkey.conf; the restarted broker (its pod rolls with the new Secret) takes only the new password, its queue intact", async () => {
        cli(["del", "rotation"]);
        cli(["rpush", "rotation", "queued-before"]);
        const next = renderWithSecrets(BASE, "rotated", ["valkeyPassword"]);
        const fresh = next.secret("valkeyPassword");
        expect(fresh).not.toBe(password);
        // a clean stop, as the StatefulSet's rollout does
        server!.kill("SIGTERM");
        await new Promise((r) => server!.once("exit", r));
        serve(join(next.rendered.files, "valkey", "valkey.conf"));
        start();
        await waitFor("the broker with the new password", () => cli(["ping"], true, fresh) === "PONG");
        expect(cli(["ping"], true, password)).toMatch(/WRONGPASS|NOAUTH/);
        expect(cli(["lrange", "rotation", "0", "-1"], true, fresh)).toBe("queued-before");
    });
});
