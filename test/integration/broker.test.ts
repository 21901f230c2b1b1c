/**
 * The Celery broker's rendered valkey.conf, run by a real server (Debian 13's
 * valkey-server 8.1): TLS only, verified against the stack CA; only the app's ACL user
 * gets in, with the categories Celery and the rate limiter need and nothing @dangerous;
 * a real Celery worker and the `limits` rate limiter work through it; queued tasks survive a crash.
 * Watched: the rendered redis_exporter beside it (its own ACL user, no denied command, every
 * catalogued metric), the worker's probe failing a stuck worker, and the rendered backlog alert
 * firing in a real Prometheus while tasks wait with no worker.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parse, stringify } from "yaml";
import { VALKEY_METRICS } from "../../configs/metrics";
import { chownToServer, runServerBinary, serverCommand, type Binary } from "../binaries";
import { ROOT } from "../root";
import { makeCa } from "./certs";
import { LOCAL_STACK, renderWithSecrets, waitFor, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-broker";
const PORT = "6379";
/** a second user, in the test's copy only, that may read the ACL log */
const PROBE = ["probe", "probe-password"] as const;
let rendered: Rendered;
let conf: string;
let password: string;
let exporterPassword: string;
let server: ChildProcess | undefined;

/** valkey-cli's answer over TLS (errors are answers too: valkey-cli prints them and exits 0). */
function cli(args: string[], opts: { auth?: boolean; pass?: string; user?: string; tls?: boolean; ca?: string } = {}): string {
    const { auth = true, pass = password, user = "flowviz", tls = true, ca = rendered.caFile } = opts;
    const login = auth ? ["--user", user, "--pass", pass, "--no-auth-warning"] : [];
    const secure = tls ? ["--tls", "--cacert", ca] : [];
    try {
        return runServerBinary("valkey-cli", ["-h", "127.0.0.1", "-p", PORT, ...secure, ...login, ...args], { timeout: 10_000 }).trim();
    } catch (e) {
        return String((e as Error).message);
    }
}
const probe = (args: string[]) => cli(args, { user: PROBE[0], pass: PROBE[1] });

/** A rendered valkey.conf, as the server's: the container's /data and /etc/valkey moved to the test's folders, a probe user added. */
function serve(r: Rendered): void {
    const text = readFileSync(join(r.files, "valkey", "valkey.conf"), "utf8");
    expect(text).toMatch(/^dir \/data$/m);
    const moved = text.replace(/^dir \/data$/m, `dir ${join(BASE, "data")}`).split("/etc/valkey/").join(`${join(r.files, "valkey")}/`);
    writeFileSync(join(BASE, "valkey.conf"), `${moved}user ${PROBE[0]} on >${PROBE[1]} +acl|log +info\n`, { mode: 0o600 });
}

/** The server itself (no wrapper process), so that a SIGKILL is a crash of the broker. */
function start(): void {
    server = spawn(...serverCommand("valkey-server", [join(BASE, "valkey.conf")]), { stdio: "ignore" });
}

/** The app's broker URL as rendered, with the CA path the container sees moved to the test's. */
const appUrl = () => rendered.env("worker", "CELERY_BROKER_URL").replace("/etc/flowviz/", `${join(rendered.files, "worker")}/`);

beforeAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    mkdirSync(join(BASE, "data"), { recursive: true });
    // the broker's password set as a secure: value, so the test knows it
    // with a worker, whose broker URL the Celery and rate-limiter tests use as rendered
    // the backlog alert at 5 tasks held 10 s, evaluated every 2 s: the alert fires within the test
    const monitoring = { ...parse(readFileSync(join(ROOT, LOCAL_STACK), "utf8")).config["flowviz:monitoring"] };
    monitoring.alerts = { ...monitoring.alerts, brokerBacklogTasks: 5, brokerBacklogFor: "10s" };
    const r = await renderWithSecrets(BASE, "broker", ["valkeyPassword", "valkeyExporterPassword"], { config: { app: { api: { replicas: 0 }, worker: { replicas: 1 } }, monitoring } });
    rendered = r.rendered;
    password = r.secret("valkeyPassword");
    exporterPassword = r.secret("valkeyExporterPassword");
    conf = join(rendered.files, "valkey", "valkey.conf");
    serve(rendered);
    start();
    await waitFor("the broker", () => cli(["ping"]) === "PONG");
});

afterAll(() => {
    server?.kill("SIGKILL");
});

describe("the broker from the rendered valkey.conf", () => {
    it("serves TLS only: plaintext is refused, a client verifying against another CA is refused", () => {
        expect(readFileSync(conf, "utf8")).toMatch(/^port 0$/m);
        expect(cli(["ping"], { tls: false })).not.toBe("PONG");
        const other = makeCa(join(BASE, "other-ca"), "not the stack CA");
        expect(cli(["ping"], { ca: other.cert })).toMatch(/certificate verify failed|SSL|TLS/i);
        expect(cli(["ping"])).toBe("PONG");
    });

    it("keeps the password out of the file (a SHA-256 hash) and the default user off", () => {
        const text = readFileSync(conf, "utf8");
        expect(text).not.toContain(password);
        expect(text).toMatch(/^user default off$/m);
        expect(cli(["ping"], { auth: false })).toMatch(/NOAUTH|NOPERM/);
        expect(cli(["--user", "default", "--pass", "", "ping"], { auth: false })).toMatch(/WRONGPASS|NOAUTH/);
    });

    it("lets the app's ACL user queue and take tasks, not run @dangerous or admin commands", () => {
        expect(cli(["lpush", "queue-of-the-acl-test", "task-1"])).toMatch(/^\d+$/);
        expect(cli(["llen", "queue-of-the-acl-test"])).not.toBe("0");
        for (const cmd of [["flushall"], ["flushdb"], ["config", "get", "dir"], ["keys", "*"], ["monitor"], ["shutdown"], ["debug", "sleep", "0"], ["acl", "list"], ["script", "flush"], ["function", "flush"], ["function", "load", "#!lua name=x\nserver.register_function('x', function() return 1 end)"], ["module", "list"], ["save"], ["replicaof", "127.0.0.1", "1"]]) {
            expect(cli(cmd), cmd.join(" ")).toMatch(/NOPERM|DEBUG command not allowed/);
        }
        // a script runs with the user's permissions: it reaches no command the user lacks
        expect(cli(["eval", "return redis.call('flushall')", "0"])).toMatch(/NOPERM|permission/i);
    });

    it("carries a real Celery worker's round trip (kombu over TLS, verifying the broker's name) with no command denied", async () => {
        probe(["acl", "log", "reset"]);
        const dir = join(BASE, "celery");
        mkdirSync(dir, { recursive: true });
        writeFileSync(
            join(dir, "tasks.py"),
            ["import os", "from celery import Celery", "app = Celery('tasks', broker=os.environ['CELERY_BROKER_URL'], backend=os.environ['CELERY_BROKER_URL'])", "@app.task", "def add(x, y):", "    return x + y", ""].join("\n"),
        );
        const env = { CELERY_BROKER_URL: appUrl(), PYTHONPATH: dir, HOME: dir };
        const log = openSync(join(dir, "worker.log"), "w");
        const worker = spawn(...serverCommand("python3", ["-m", "celery", "-A", "tasks", "worker", "--pool=solo", "--concurrency=1", "--without-gossip", "--without-mingle", "-l", "WARNING"], { cwd: dir }), {
            env: { ...process.env, ...env },
            stdio: ["ignore", log, log],
        });
        try {
            const out = runServerBinary("python3", ["-c", "import tasks; print(tasks.add.delay(2, 3).get(timeout=30))"], { cwd: dir, env, timeout: 60_000 });
            expect(out.trim()).toBe("5");
        } catch (e) {
            throw new Error(`${(e as Error).message}\nworker:\n${readFileSync(join(dir, "worker.log"), "utf8").slice(-3000)}`);
        } finally {
            worker.kill("SIGTERM");
            closeSync(log);
        }
        expect(probe(["acl", "log"])).toBe("");
        // Celery used the broker (and how: the note in policy/services.ts says which categories, and why)
        expect(probe(["info", "commandstats"])).toMatch(/cmdstat_(brpop|lpush)/);
    });

    it("carries the rate limiter (limits over the same URL: fixed and moving windows) with no command denied", () => {
        probe(["acl", "log", "reset"]);
        const script = [
            "import os, limits",
            "storage = limits.storage.storage_from_string(os.environ['REDIS_URL'])",
            "item = limits.parse('3/minute')",
            "for strategy in (limits.strategies.FixedWindowRateLimiter, limits.strategies.MovingWindowRateLimiter, limits.strategies.SlidingWindowCounterRateLimiter):",
            "    s = strategy(storage)",
            "    print(strategy.__name__, [s.hit(item, 'api', strategy.__name__) for _ in range(4)])",
        ].join("\n");
        const out = runServerBinary("python3", ["-c", script], { env: { REDIS_URL: appUrl() }, timeout: 30_000 });
        for (const strategy of ["FixedWindowRateLimiter", "MovingWindowRateLimiter", "SlidingWindowCounterRateLimiter"]) expect(out).toContain(`${strategy} [True, True, True, False]`);
        expect(probe(["acl", "log"])).toBe("");
        // the windows are counted by Lua scripts: the reason @scripting is granted
        expect(probe(["info", "commandstats"])).toMatch(/cmdstat_evalsha/);
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

describe("the broker watched: the rendered exporter beside it, the worker's probe, the backlog alert", () => {
    const EXPORTER = "http://127.0.0.1:9121/metrics";
    let exporter: ChildProcess | undefined;
    let prometheus: ChildProcess | undefined;
    afterAll(() => {
        exporter?.kill("SIGTERM");
        prometheus?.kill("SIGTERM");
    });
    const metrics = async () => (await fetch(EXPORTER)).text();
    const sample = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"=.]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);

    it("the exporter logs in as its own ACL user, with its password from a file, and reports every catalogued metric with no command denied", async () => {
        probe(["acl", "log", "reset"]);
        const dir = join(rendered.files, "valkey-exporter");
        // the container's command as rendered, its folder moved to where the render put it
        const args = (rendered.container("valkey-exporter").command as string[]).map((a) => a.split("/etc/valkey-exporter/").join(`${dir}/`).replace(/^--web\.listen-address=.*$/, "--web.listen-address=127.0.0.1:9121"));
        expect(args.join(" ")).not.toContain(exporterPassword);
        const log = openSync(join(BASE, "exporter.log"), "w");
        exporter = spawn(...serverCommand("redis-exporter", args), { stdio: ["ignore", log, log] });
        await waitFor("the exporter", async () => sample(await metrics(), "redis_up") === 1, 30);
        const text = await metrics();
        expect(Object.keys(VALKEY_METRICS.metrics).filter((m) => !new RegExp(`^${m}[{ ]`, "m").test(text))).toEqual([]);
        expect(sample(text, "redis_memory_max_bytes")).toBeGreaterThan(0);
        expect(probe(["acl", "log"])).toBe("");
        // what the exporter's user may not do: write, read a task, touch another key
        const asExporter = (cmd: string[]) => cli(cmd, { user: "redis_exporter", pass: exporterPassword });
        expect(asExporter(["llen", "celery"])).toMatch(/^\d+$/);
        for (const cmd of [["set", "x", "1"], ["lrange", "celery", "0", "-1"], ["llen", "other"], ["config", "set", "maxmemory", "0"], ["flushall"], ["subscribe", "x"]]) expect(asExporter(cmd), cmd.join(" ")).toMatch(/NOPERM/);
    });

    it("the worker's probe passes while the worker answers and fails while it is stuck", async () => {
        const dir = join(BASE, "probe");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "tasks.py"), ["import os", "from celery import Celery", "app = Celery('tasks', broker=os.environ['CELERY_BROKER_URL'])", "@app.task", "def noop():", "    return 1", ""].join("\n"));
        const env = { CELERY_BROKER_URL: appUrl(), PYTHONPATH: dir, HOME: dir, HOSTNAME: "worker-probe-test" };
        const log = openSync(join(dir, "worker.log"), "w");
        const worker = spawn(...serverCommand("python3", ["-m", "celery", "-A", "tasks", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "-n", "celery@worker-probe-test", "-l", "WARNING"], { cwd: dir }), { env: { ...process.env, ...env }, stdio: ["ignore", log, log] });
        // the rendered probe, with the app module this test's worker runs (and Debian's celery, a module without the image's script)
        const health = rendered.container("worker").healthcheck as { tests: string[] };
        const command = health.tests.slice(1).map((a) => a.replace("-A app.worker", "-A tasks").replace("exec celery ", "exec python3 -m celery "));
        expect(command.join(" ")).toContain('inspect ping --destination "celery@$HOSTNAME"');
        const probeOnce = () => spawnSync(...serverCommand(command[0] as Binary, command.slice(1), { cwd: dir }), { env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 }).status;
        try {
            await waitFor("the worker answering its probe", () => probeOnce() === 0, 60);
            worker.kill("SIGSTOP");
            expect(probeOnce()).not.toBe(0);
            worker.kill("SIGCONT");
            await waitFor("the worker answering again", () => probeOnce() === 0, 60);
        } finally {
            worker.kill("SIGKILL");
            closeSync(log);
        }
    });

    it("tasks queued with no worker to take them: the exporter counts them and the rendered CeleryQueueBacklog fires in Prometheus", async () => {
        cli(["del", "celery"]);
        const dir = join(BASE, "celery");
        runServerBinary("python3", ["-c", "import tasks\nfor i in range(8): tasks.add.delay(i, i)"], { cwd: dir, env: { CELERY_BROKER_URL: appUrl(), PYTHONPATH: dir, HOME: dir }, timeout: 60_000 });
        await waitFor("the queue's length exported", async () => sample(await metrics(), 'redis_key_size{db="db0",key="celery"}') === 8, 30);
        // Prometheus with the rendered rules (threshold 5 tasks, 10 s: this render's), scraping the exporter
        const rules = join(rendered.files, "prometheus", "rules", "flowviz.rules.yml");
        writeFileSync(join(BASE, "prometheus.yml"), stringify({ global: { scrape_interval: "2s", evaluation_interval: "2s" }, rule_files: [rules], scrape_configs: [{ job_name: "valkey", static_configs: [{ targets: ["127.0.0.1:9121"] }] }] }));
        mkdirSync(join(BASE, "prom-data"), { recursive: true });
        chownToServer(BASE);
        prometheus = spawn(...serverCommand("prometheus", [`--config.file=${join(BASE, "prometheus.yml")}`, `--storage.tsdb.path=${join(BASE, "prom-data")}`, "--web.listen-address=127.0.0.1:9399"]), { stdio: "ignore" });
        const firing = async () => {
            const r = (await (await fetch("http://127.0.0.1:9399/api/v1/alerts")).json()) as { data: { alerts: { labels: Record<string, string>; state: string; value: string }[] } };
            return r.data.alerts.find((a) => a.labels.alertname === "CeleryQueueBacklog" && a.state === "firing");
        };
        await waitFor("CeleryQueueBacklog firing", async () => (await firing().catch(() => undefined)) !== undefined, 90);
        const alert = (await firing())!;
        expect(alert.labels).toMatchObject({ key: "celery", severity: "warning", component: "broker" });
        expect(Number(alert.value)).toBe(8);
    });
});

describe("rotating the broker's password", () => {
    it("renders a new valkey.conf; the restarted broker (its pod rolls with the new Secret) takes only the new password, its queue intact", async () => {
        cli(["del", "rotation"]);
        cli(["rpush", "rotation", "queued-before"]);
        const next = await renderWithSecrets(BASE, "rotated", ["valkeyPassword"]);
        const fresh = next.secret("valkeyPassword");
        expect(fresh).not.toBe(password);
        // a clean stop, as the StatefulSet's rollout does
        server!.kill("SIGTERM");
        await new Promise((r) => server!.once("exit", r));
        serve(next.rendered);
        start();
        await waitFor("the broker with the new password", () => cli(["ping"], { pass: fresh }) === "PONG");
        expect(cli(["ping"])).toMatch(/WRONGPASS|NOAUTH/);
        expect(cli(["lrange", "rotation", "0", "-1"], { pass: fresh })).toBe("queued-before");
    });
});
