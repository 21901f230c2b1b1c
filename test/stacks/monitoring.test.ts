/** Rules and dashboards against the metric catalog and the grammar; the monitoring services as deployed. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { alertRules, recordingRules, SHORTEST_RATE_WINDOW } from "../../configs/rules";
import { durationSeconds } from "../../configs/format";
import { FORBIDDEN_LABELS, KNOWN_METRICS } from "../../configs/metrics";
import { DATASOURCE_UID } from "../../configs/grafana";
import { dashboardFiles } from "../../dashboards";
import { loadStackConfig } from "../../stack/load";
import { alertThresholds } from "../../stack/backups";
import { maskSecrets, renderedFiles } from "../../render/files";
import type { ProgramRun } from "../../render/program";
import { grafanaVariables, parsePromQL } from "../promql";
import { ROOT, ofType, only, runStack } from "../helpers";

const { config } = loadStackConfig("flowviz", "t", { "flowviz:platform": "docker" }, () => false);
/** both engines' alerts: the StatefulSet's (postgres_exporter) and CloudNativePG's (cnpg_*) */
const cnpgConfig = { ...config, platform: "kubernetes" as const, postgres: { ...config.postgres, engine: "cloudnative-pg" as const } };
const alerts = [...alertRules(alertThresholds(config)), ...alertRules(alertThresholds(cnpgConfig))];
const recorded = new Set(recordingRules().map((r) => r.record));

interface Panel {
    title: string;
    type: string;
    datasource?: { uid?: string };
    fieldConfig?: { defaults?: { unit?: string } };
    targets?: { expr: string; datasource?: { uid?: string } }[];
}
const dashboards = (["statefulset", "cloudnative-pg"] as const).flatMap((engine) =>
    Object.entries(dashboardFiles(engine)).map(([file, text]) => ({ file: `${engine}/${file}`, json: JSON.parse(text) as { uid: string; panels: Panel[] } })),
);
const panels = dashboards.flatMap((d) => d.json.panels.filter((p) => p.type !== "row").map((p) => ({ ...p, file: d.file })));

describe("metric integrity", () => {
    const queries = [
        ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr })),
        ...recordingRules().map((r) => ({ where: `record ${r.record}`, expr: r.expr })),
        ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.file} "${p.title}"`, expr: grafanaVariables(t.expr) }))),
    ];

    it("has queries to check", () => expect(queries.length).toBeGreaterThan(60));

    it.each(queries)("$where parses and names only catalogued metrics", ({ expr }) => {
        const facts = parsePromQL(expr);
        expect(facts.errors).toEqual([]);
        expect(facts.metrics.length).toBeGreaterThan(expr === "vector(1)" ? -1 : 0);
        for (const m of facts.metrics) expect(KNOWN_METRICS.has(m) || recorded.has(m), `${m} is not in configs/metrics.ts`).toBe(true);
        for (const l of facts.labels) expect(FORBIDDEN_LABELS).not.toContain(l);
    });

    it(`takes no rule's range shorter than ${SHORTEST_RATE_WINDOW}, the window the scrape-interval invariant protects`, () => {
        const ranges = [...alerts, ...recordingRules()].flatMap((r) => parsePromQL(r.expr).ranges).map((r) => durationSeconds(r)!);
        expect(ranges.length).toBeGreaterThan(10);
        expect(Math.min(...ranges)).toBe(durationSeconds(SHORTEST_RATE_WINDOW));
    });

    it("a misspelt metric would be caught", () => {
        const facts = parsePromQL("pgbouncer_pools_client_waiting > 10");
        expect(facts.metrics.filter((m) => !KNOWN_METRICS.has(m))).toEqual(["pgbouncer_pools_client_waiting"]);
    });
});

describe("alert rules", () => {
    it("keeps the seeds' alert names", () => {
        const names = alerts.map((a) => a.alert);
        for (const n of ["HighErrorRate", "HighLatency", "DatabaseDown", "PgBouncerPoolExhausted", "HighQCFailureRate"]) expect(names).toContain(n);
    });
    it("fixes the seeds' bugs", () => {
        const by = Object.fromEntries(alertRules(alertThresholds(config)).map((a) => [a.alert, a]));
        expect(by.DatabaseDown!.expr).toBe("pg_up == 0");
        expect(by.PgBouncerPoolExhausted!.expr).toBe("pgbouncer_pools_client_waiting_connections > 10");
        expect(recordingRules().find((r) => r.record.includes("p99"))!.expr).toContain("sum by (le)");
    });
    it.each(alerts)("$alert has severity, summary, a description with the value, and a runbook", (a) => {
        expect(["info", "warning", "critical"]).toContain(a.severity);
        expect(a.summary.length).toBeGreaterThan(5);
        // absent() has no value to show: its description names the job instead
        if (a.expr.startsWith("absent(")) expect(a.description).toContain(String(a.labels?.job));
        else expect(a.description).toContain("{{ $value");
        expect(a.runbook.length).toBeGreaterThan(0);
        expect(existsSync(join(ROOT, "docs/runbooks", `${a.alert}.md`)), `docs/runbooks/${a.alert}.md`).toBe(true);
    });
    it("writes runbooks on-call can follow: namespaced commands, no query against a database that is down, PAUSE on every PgBouncer", () => {
        const down = alerts.find((a) => a.alert === "DatabaseDown")!.runbook.join("\n");
        expect(down).not.toMatch(/SELECT|psql -U postgres/);
        expect(down).toContain("PAUSE flowviz;");
        expect(down).toContain("on every PgBouncer replica");
        // kubectl plugins (cnpg) take their flags after the plugin's name; the operator's log is in its own namespace
        for (const a of alerts) for (const step of a.runbook) if (step.includes("kubectl ")) expect(step, a.alert).not.toMatch(/kubectl (?!-n (flowviz|cnpg-system) |cnpg [^`]* -n flowviz)/);
        expect(readFileSync(join(ROOT, "docs/runbooks/DatabaseDown.md"), "utf8")).toContain("## Reaching the tools");
    });

    it("has multi-window burn-rate alerts for the 99.5% SLO", () => {
        const fast = alerts.find((a) => a.alert === "ErrorBudgetBurnFast")!;
        expect(fast.expr).toContain("> 0.072");
        expect(fast.expr).toContain("ratio_rate1h");
        expect(fast.expr).toContain("ratio_rate5m");
    });
});

describe("dashboards", () => {
    it("are the three the seeds ask for", () => {
        expect([...new Set(dashboards.map((d) => d.json.uid))].sort()).toEqual(["flowviz-application", "flowviz-business", "flowviz-infrastructure"]);
    });
    it.each(panels)("$file \"$title\" uses the provisioned datasource, a unit and scrape-aligned rate windows", (p) => {
        expect(p.datasource?.uid).toBe(DATASOURCE_UID);
        expect(p.fieldConfig?.defaults?.unit, "unit").toBeTruthy();
        expect(p.targets?.length).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
            expect(t.datasource?.uid).toBe(DATASOURCE_UID);
            // per-hour business windows are deliberate; every other range follows the scrape interval
            for (const r of parsePromQL(t.expr.replace(/\$__rate_interval/g, "RATEINTERVAL")).ranges) expect(["RATEINTERVAL", "1h"]).toContain(r);
        }
    });
    it("show the panels the playbook refers to", () => {
        const titles = panels.map((p) => p.title);
        for (const t of ["Top erroring endpoints", "Error ratio", "Latency P50 / P95 / P99", "Waiting clients", "QC decisions per hour", "Lots registered per hour"]) expect(titles).toContain(t);
    });
});

describe("monitoring services as deployed", () => {
    let dev: ProgramRun;
    let prod: ProgramRun;
    beforeAll(async () => {
        dev = await runStack("Pulumi.dev.yaml", { stack: "dev" });
        prod = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
    });
    const file = (run: ProgramRun, service: string, path: string) => renderedFiles(run.resources).find((f) => f.service === service && f.path === path)!.content;

    it("scrapes on Docker every exporter, the API every 10s, Prometheus and Alertmanager", () => {
        const prom = parse(file(dev, "prometheus", "prometheus.yml"));
        expect(prom.global.scrape_interval).toBe("15s");
        const jobs = Object.fromEntries(prom.scrape_configs.map((j: any) => [j.job_name, j]));
        expect(Object.keys(jobs).sort()).toEqual(["alertmanager", "api", "node", "pgbackrest", "pgbouncer", "postgres", "prometheus", "pushgateway", "valkey"]);
        // the drills' results keep the labels they were pushed with
        expect(jobs.pushgateway.honor_labels).toBe(true);
        expect(jobs.api.scrape_interval).toBe("10s");
        // the exporter lives in PgBouncer's network namespace, so it is scraped at PgBouncer's address
        expect(jobs.pgbouncer.static_configs[0].targets).toEqual(["pgbouncer:9127"]);
        const exporter = only(dev, "docker:index/container:Container", "pgbouncer-exporter-container").inputs;
        expect(exporter.networkMode).toMatch(/^container:/);
        expect(exporter.networksAdvanced).toBeUndefined();
        expect(prom.rule_files).toEqual(["rules/flowviz.rules.yml"]);
    });

    it("discovers pods on Kubernetes, never a load-balanced Service, with the RBAC it needs", () => {
        const prom = parse(file(prod, "prometheus", "prometheus.yml"));
        for (const j of prom.scrape_configs) {
            const namespace = j.job_name === "node" ? "flowviz-host" : "flowviz";
            expect(j.kubernetes_sd_configs, j.job_name).toEqual([{ role: "pod", namespaces: { names: [namespace] } }]);
            expect(j.relabel_configs[0].action).toBe("keep");
        }
        for (const name of ["prometheus-discovery", "prometheus-discovery-host"]) {
            const role = only(prod, "kubernetes:rbac.authorization.k8s.io/v1:Role", name);
            expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
            const binding = only(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", name);
            expect((binding.inputs.metadata as any).namespace).toBe((role.inputs.metadata as any).namespace);
            expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "flowviz" }]);
        }
        const sts = (only(prod, "kubernetes:apps/v1:StatefulSet", "prometheus").inputs.spec as any).template.spec;
        expect(sts.serviceAccountName).toBe("prometheus");
    });

    it("lets Prometheus into every metrics port on Kubernetes", () => {
        // PgBouncer's exporter is a container in its pods: the pods let Prometheus into its port, nothing else
        const np = only(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "pgbouncer-ingress").inputs.spec as any;
        expect(np.ingress.at(-1)).toEqual({ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/part-of": "flowviz" } } }], ports: [{ port: 9127 }] });
        expect(np.ingress[0].ports).toEqual([{ port: 6432 }]);
        // the exporter cannot make PgBouncer's pods unready (a pod is ready only when all its containers are)
        const [pgbouncer, exporter] = (only(prod, "kubernetes:apps/v1:StatefulSet", "pgbouncer").inputs.spec as any).template.spec.containers;
        expect(pgbouncer.readinessProbe).toBeDefined();
        expect(exporter.name).toBe("pgbouncer-exporter");
        expect(exporter.readinessProbe).toBeUndefined();
        expect(exporter.livenessProbe.httpGet).toEqual({ path: "/metrics", port: 9127 });
    });

    it("keeps the lifecycle API off, retention from config, storage protected", () => {
        const args = only(dev, "docker:index/container:Container", "prometheus-container").inputs.command as string[];
        expect(args).toContain("--storage.tsdb.retention.time=30d");
        expect(args).toContain("--storage.tsdb.retention.size=40GB");
        expect(args.some((a) => a.includes("enable-lifecycle"))).toBe(false);
        for (const v of ["prometheus-data", "alertmanager-data", "grafana-data"]) expect(only(dev, "docker:index/volume:Volume", v).protect).toBe(true);
        for (const v of ["prometheus-data", "alertmanager-data", "grafana-data"]) expect(only(prod, "kubernetes:core/v1:PersistentVolumeClaim", v).retainOnDelete).toBe(true);
    });

    it("runs Grafana without sign-up or anonymous access, with a generated secret admin password", () => {
        const list = maskSecrets(only(dev, "docker:index/container:Container", "grafana-container").inputs.envs, true) as string[];
        expect(list).toContain("GF_USERS_ALLOW_SIGN_UP=false");
        expect(list).toContain("GF_AUTH_ANONYMOUS_ENABLED=false");
        expect(list).toContain("GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/provisioning/secrets/password");
        const password = renderedFiles(dev.resources).find((f) => f.service === "grafana" && f.path === "secrets/password")!;
        expect(password.secret).toBe(true);
        expect(password.content).not.toBe("admin");
        expect(dev.secretOutputs).toContain("grafanaAdminPassword");
        const ds = parse(file(dev, "grafana", "datasources/prometheus.yaml"));
        expect(ds.datasources[0]).toMatchObject({ uid: DATASOURCE_UID, url: "http://prometheus:9090" });
    });

    it("sees absence: every scraped job of dev and prod has TargetAbsent, replicated ones TargetsMissing with the replica count", () => {
        for (const run of [dev, prod]) {
            const prom = parse(file(run, "prometheus", "prometheus.yml"));
            const groups = parse(file(run, "prometheus", "rules/flowviz.rules.yml")).groups as { rules: { alert?: string; expr: string; labels?: Record<string, string> }[] }[];
            const rules = groups.flatMap((g) => g.rules);
            for (const job of prom.scrape_configs.map((j: { job_name: string }) => j.job_name)) {
                const absent = rules.filter((r) => r.alert === "TargetAbsent" && r.labels?.job === job);
                expect(absent.map((r) => r.expr), job).toEqual([`absent(up{job="${job}"} == 1)`]);
            }
        }
        const missing = parse(file(prod, "prometheus", "rules/flowviz.rules.yml")).groups.flatMap((g: { rules: { alert?: string; expr: string }[] }) => g.rules).filter((r: { alert?: string }) => r.alert === "TargetsMissing");
        const replicas = (name: string) => (prod.resources.find((r) => /^kubernetes:apps\/v1:(Deployment|StatefulSet)$/.test(r.type) && r.name === name)!.inputs.spec as { replicas: number }).replicas;
        // one PgBouncer exporter per PgBouncer replica, so each replica's pools are seen
        expect(missing.map((r: { expr: string }) => r.expr)).toEqual([`count(up{job="api"} == 1) < ${replicas("api")}`, `count(up{job="pgbouncer"} == 1) < ${replicas("pgbouncer")}`]);
    });

    it("gives postgres-exporter its own pg_monitor role, not a superuser", () => {
        const roles = renderedFiles(dev.resources).find((f) => f.path === "roles.sql")!.content;
        expect(roles).toContain('GRANT pg_monitor TO "postgres_exporter";');
        expect(roles).toMatch(/ALTER ROLE "postgres_exporter" WITH LOGIN NOSUPERUSER/);
        const env = maskSecrets(only(dev, "docker:index/container:Container", "postgres-exporter-container").inputs.envs, true) as string[];
        expect(env).toContain("DATA_SOURCE_USER=postgres_exporter");
    });

    it("runs the exporters as nobody, node-exporter as a host daemon", () => {
        for (const name of ["postgres-exporter", "pgbouncer-exporter", "node-exporter"]) expect(only(dev, "docker:index/container:Container", `${name}-container`).inputs.user).toBe("65534:65534");
        const ds = (only(prod, "kubernetes:apps/v1:DaemonSet", "node-exporter").inputs.spec as any).template.spec;
        expect(ds.hostPID).toBe(true);
        expect(ofType(dev, "docker:index/container:Container").find((c) => c.name === "node-exporter-container")!.inputs.pidMode).toBe("host");
    });
});
