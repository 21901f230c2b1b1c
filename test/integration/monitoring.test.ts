/** Prometheus, Alertmanager and the exporters running the rendered configs, and one alert end to end. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOG, CLOUDNATIVE_PG, RESTORE_DRILL } from "../../configs/metrics";
import { dashboardFiles } from "../../dashboards";
import { ROOT } from "../helpers";
import { grafanaVariables } from "../promql";
import { chownToServer, serverCommand, type Binary } from "../binaries";
import { startRepositoryExporter } from "./pgbackrest";
import { DRILL_JOB, DRILL_METRICS } from "../../configs/drill";
import { FIXED_PORTS } from "../../stack/fixed";
import { LOCAL_FILE_LIMIT, PgBouncerServer, PostgresServer, psql, render, waitFor, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-monitoring";
const PROM = "http://127.0.0.1:9090";
const procs = new Map<Binary, ChildProcess>();
const received: { alerts: { labels: Record<string, string>; status: string }[] }[] = [];
let rendered: Rendered;
let pg: PostgresServer;
let pgb: PgBouncerServer;
let webhook: Server;
let repositoryExporter: Awaited<ReturnType<typeof startRepositoryExporter>> | undefined;

function start(bin: Binary, args: string[], env: Record<string, string> = {}): void {
    procs.set(bin, spawn(...serverCommand(bin, args), { env: { ...process.env, ...env }, stdio: "ignore" }));
}

/** A container path (or a value holding one, such as a DSN) moved onto the rendered folder. */
function mapPath(value: string, map: Record<string, string>): string {
    return Object.entries(map).reduce((v, [from, to]) => v.replace(new RegExp(`(^|[=?&])${from}(?=/|$|&)`, "g"), `$1${to}`), value);
}

/** The container's arguments from the plan, with paths mapped onto the rendered folder. */
function argsOf(service: string, map: Record<string, string>): string[] {
    const c = rendered.plan.resources.find((r) => r.name === `${service}-container`)!;
    return (c.inputs.command as string[]).map((a) => mapPath(a, map));
}

async function query(q: string): Promise<{ status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string }> {
    const res = await fetch(`${PROM}/api/v1/query?query=${encodeURIComponent(q)}`);
    return (await res.json()) as never;
}

beforeAll(async () => {
    rendered = await render(join(ROOT, "test/integration/Pulumi.local.yaml"), `${BASE}/render`);
    rmSync(`${BASE}/data`, { recursive: true, force: true });
    mkdirSync(`${BASE}/data`, { recursive: true });
    pg = new PostgresServer(`${BASE}/pg`, rendered);
    pg.init();
    pg.start();
    pg.applyRoles();
    pgb = new PgBouncerServer(rendered, LOCAL_FILE_LIMIT);
    pgb.start();
    await waitFor("PgBouncer", () => psql({ port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword as string, db: "flowviz", sql: "select 1" }) === "1");
    webhook = createServer((req, res) => {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", () => {
            received.push(JSON.parse(body));
            res.end("ok");
        });
    }).listen(9977, "127.0.0.1");
    // the container's config folder (the CA it verifies PostgreSQL against) is where the render put it
    const env = Object.fromEntries(
        ["DATA_SOURCE_URI", "DATA_SOURCE_USER", "DATA_SOURCE_PASS_FILE"].map((k) => [k, mapPath(rendered.env("postgres-exporter", k), { "/etc/postgres-exporter": join(rendered.files, "postgres-exporter") })]),
    );
    start("postgres-exporter", argsOf("postgres-exporter", { "/etc/postgres-exporter": join(rendered.files, "postgres-exporter") }), env);
    // PgBouncer's sidecar, its CA where the render put it
    // and its password in the file PGPASSFILE names (its driver ignores one others may read: the container's is 0400)
    const exporterEnv = Object.fromEntries(["PGBOUNCER_EXPORTER_CONNECTION_STRING", "PGPASSFILE"].map((k) => [k, mapPath(rendered.env("pgbouncer-exporter", k), { "/etc/pgbouncer-exporter": join(rendered.files, "pgbouncer-exporter") })]));
    chmodSync(exporterEnv.PGPASSFILE!, 0o600);
    start("pgbouncer-exporter", argsOf("pgbouncer-exporter", {}), exporterEnv);
    start("node-exporter", argsOf("node-exporter", { "/host": "/" }));
    // the broker from its rendered valkey.conf (its data and files where the render put them), and the exporter beside it
    mkdirSync(`${BASE}/data/valkey`, { recursive: true });
    const valkeyConf = readFileSync(join(rendered.files, "valkey", "valkey.conf"), "utf8").replace(/^dir \/data$/m, `dir ${BASE}/data/valkey`).split("/etc/valkey/").join(`${join(rendered.files, "valkey")}/`);
    writeFileSync(`${BASE}/valkey.conf`, valkeyConf, { mode: 0o600 });
    start("valkey-server", [`${BASE}/valkey.conf`]);
    start("redis-exporter", argsOf("valkey-exporter", { "/etc/valkey-exporter": join(rendered.files, "valkey-exporter") }));
    // the repository's exporter, as its container runs it, on an empty repository: up as a target; the repository's
    // metrics are read on real repositories in backups.test.ts
    mkdirSync(`${BASE}/repo`, { recursive: true });
    chownToServer(`${BASE}/repo`);
    repositoryExporter = await startRepositoryExporter(rendered, `${BASE}/repo`);
    const files = rendered.files;
    // the Pushgateway the restore drills push to, its persistence file in the test's data
    mkdirSync(`${BASE}/data/pushgateway`, { recursive: true });
    chownToServer(`${BASE}/data/pushgateway`);
    start("pushgateway", argsOf("pushgateway", { "/data": `${BASE}/data/pushgateway` }));
    start("alertmanager", argsOf("alertmanager", { "/etc/alertmanager": join(files, "alertmanager"), "/alertmanager": `${BASE}/data/am` }));
    start("prometheus", argsOf("prometheus", { "/etc/prometheus": join(files, "prometheus"), "/prometheus": `${BASE}/data/prom` }));
    await waitFor("Prometheus ready", async () => (await fetch(`${PROM}/-/ready`)).ok, 60);
    await waitFor("every target scraped", async () => {
        const res = (await (await fetch(`${PROM}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
        return res.data.activeTargets.length === 8 && res.data.activeTargets.every((t) => t.health !== "unknown");
    }, 60);
    await new Promise((r) => setTimeout(r, 5000));
});

afterAll(async () => {
    for (const p of procs.values()) p.kill("SIGTERM");
    repositoryExporter?.stop();
    webhook?.close();
    await pgb?.stop();
    pg?.stop("immediate");
});

describe("Prometheus with the rendered config", () => {
    it("loads every rule group, all healthy", async () => {
        await waitFor("rules evaluated", async () => {
            const res = (await (await fetch(`${PROM}/api/v1/rules`)).json()) as { data: { groups: { rules: { health: string }[] }[] } };
            return res.data.groups.length === 8 && res.data.groups.every((g) => g.rules.every((r) => r.health === "ok"));
        }, 30);
    });

    it("has every target that can run here up", async () => {
        const res = (await (await fetch(`${PROM}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
        const health = Object.fromEntries(res.data.activeTargets.map((t) => [t.labels.job, t.health]));
        expect(health).toEqual({ postgres: "up", node: "up", prometheus: "up", alertmanager: "up", pgbouncer: "up", pgbackrest: "up", pushgateway: "up", valkey: "up" });
    });

    it("keeps a drill's pushed metrics as pushed (honor_labels): every catalogued drill metric, under the drill's job and repository", async () => {
        // what drill.sh pushes after a good drill of repository 1 (its metric lines, POSTed to the group)
        const lines = Object.keys(RESTORE_DRILL.metrics).filter((m) => m.startsWith("flowviz_")).map((m) => `${m} ${m.endsWith("timestamp_seconds") ? Math.floor(Date.now() / 1000) : 1}`);
        const push = await fetch(`http://127.0.0.1:${FIXED_PORTS.pushgateway}/metrics/job/${DRILL_JOB}/repo/1`, { method: "POST", body: lines.join("\n") + "\n" });
        expect(push.ok).toBe(true);
        await waitFor("the drill's metrics scraped", async () => (await query(`count(${DRILL_METRICS.success}{job="${DRILL_JOB}",repo="1"})`)).data.result.length > 0, 30);
        const missing: string[] = [];
        for (const metric of Object.keys(RESTORE_DRILL.metrics)) {
            const selector = metric.startsWith("flowviz_") ? `${metric}{job="${DRILL_JOB}",repo="1"}` : `${metric}{job="${RESTORE_DRILL.job}"}`;
            if ((await query(`count(${selector})`)).data.result.length === 0) missing.push(metric);
        }
        expect(missing).toEqual([]);
    });

    // CloudNativePG's exporter is its operator's instance manager, which does not run here (docs/CLOUDNATIVE-PG.md)
    for (const source of CATALOG.filter((s) => s !== CLOUDNATIVE_PG && ["postgres", "pgbouncer", "valkey", "node", "prometheus", "alertmanager"].includes(s.job))) {
        it(`finds every catalogued ${source.job} metric on the real target`, async () => {
            const missing: string[] = [];
            for (const metric of Object.keys(source.metrics)) {
                const selector = metric === "up" ? "up" : `${metric}{job="${source.job}"}`;
                if ((await query(`count(${selector})`)).data.result.length === 0) missing.push(metric);
            }
            expect(missing, `missing on ${source.job}`).toEqual([]);
        });
    }

    it("runs every dashboard query of both engines without error", async () => {
        const failures: string[] = [];
        let count = 0;
        const files = (["statefulset", "cloudnative-pg"] as const).flatMap((engine) => Object.entries(dashboardFiles(engine)).map(([file, text]) => [`${engine}/${file}`, text] as const));
        for (const [file, text] of files) {
            for (const panel of JSON.parse(text).panels as { title: string; targets?: { expr: string }[] }[]) {
                for (const t of panel.targets ?? []) {
                    count++;
                    const r = await query(grafanaVariables(t.expr));
                    if (r.status !== "success") failures.push(`${file} "${panel.title}": ${r.error}`);
                }
            }
        }
        expect(count).toBeGreaterThan(40);
        expect(failures).toEqual([]);
    });

    it("fires DatabaseDown when PostgreSQL stops and delivers it to the webhook through Alertmanager", async () => {
        expect((await query("pg_up")).data.result[0]?.value[1]).toBe("1");
        pg.stop("fast");
        await waitFor("DatabaseDown firing in Prometheus", async () => {
            const res = (await (await fetch(`${PROM}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
            return res.data.alerts.some((a) => a.labels.alertname === "DatabaseDown" && a.state === "firing");
        }, 90);
        await waitFor("DatabaseDown at the webhook", () => received.some((m) => m.alerts.some((a) => a.labels.alertname === "DatabaseDown" && a.status === "firing")), 60);
        const alert = received.flatMap((m) => m.alerts).find((a) => a.labels.alertname === "DatabaseDown")!;
        expect(alert.labels).toMatchObject({ severity: "critical", component: "postgres", job: "postgres" });
    });

    it("sees absence: with postgres-exporter gone, TargetAbsent for its job reaches the webhook", async () => {
        const exporter = procs.get("postgres-exporter")!;
        expect(exporter).toBeDefined();
        const absent = () => received.flatMap((m) => m.alerts).filter((a) => a.labels.alertname === "TargetAbsent" && a.status === "firing");
        // PostgreSQL was down a moment ago, its exporter never was
        expect(absent().filter((a) => a.labels.job === "postgres")).toEqual([]);
        exporter.kill("SIGTERM");
        await waitFor("TargetAbsent for postgres at the webhook", () => absent().some((a) => a.labels.job === "postgres"), 90);
        expect(absent().find((a) => a.labels.job === "postgres")!.labels).toMatchObject({ severity: "critical", component: "postgres", job: "postgres" });
        // only the job without a healthy target
        expect([...new Set(absent().map((a) => a.labels.job))]).toEqual(["postgres"]);
    });
});
