/** Operator mode: what a cluster's kube-prometheus-stack needs, validated against the prometheus-operator CRD schemas. */
import { describe, expect, it, beforeAll } from "vitest";
import { PodMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { AlertmanagerConfig } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1";
import { maskSecrets } from "../../render/files";
import type { ProgramRun } from "../../render/program";
import { ruleGroups, type Thresholds } from "../../configs/rules";
import { loadStackConfig } from "../../stack/load";
import { readStackFile } from "../../render/stackfile";
import { join } from "node:path";
import { ROOT, ofType, only, runStack } from "../helpers";

const STACK = "test/fixtures/good/prod-operator.yaml";
let run: ProgramRun;
beforeAll(async () => {
    run = await runStack(STACK, { stack: "prod" });
});
const crs = (kind: string) => run.resources.filter((r) => r.type.startsWith("kubernetes:monitoring.coreos.com/") && r.inputs.kind === kind);
const plain = (v: unknown) => JSON.parse(JSON.stringify(maskSecrets(v, true)));

describe("operator mode", () => {
    it("runs no Prometheus, Alertmanager, Grafana or node-exporter of its own", () => {
        const workloads = run.resources.filter((r) => /apps\/v1:(Deployment|StatefulSet|DaemonSet)$/.test(r.type)).map((r) => r.name).sort();
        expect(workloads).toEqual(["api", "pgbackrest-exporter", "pgbouncer", "postgres", "postgres-exporter", "pushgateway", "valkey", "worker"]);
    });

    it("declares a PodMonitor per scraped service, valid against the CRD schema, keeping our job names", () => {
        const monitors = crs("PodMonitor");
        expect(monitors.map((m) => (m.inputs.metadata as { name: string }).name).sort()).toEqual(["api", "pgbackrest-exporter", "pgbouncer", "postgres-exporter", "pushgateway", "valkey"]);
        for (const m of monitors) {
            const body = plain(m.inputs);
            expect(() => new PodMonitor(body).validate()).not.toThrow();
            expect(body.metadata.labels).toMatchObject({ release: "kube-prometheus-stack" });
            expect(body.spec.namespaceSelector).toEqual({ matchNames: ["flowviz"] });
        }
        expect(() => new PodMonitor({ metadata: { name: "x" }, spec: { selector: {}, podMetricsEndpoints: [{ port: 9187 }] } } as never).validate()).toThrow();
        const pg = plain(crs("PodMonitor").find((m) => (m.inputs.metadata as { name: string }).name === "postgres-exporter")!.inputs);
        expect(pg.spec.podMetricsEndpoints[0]).toMatchObject({ port: "metrics", path: "/metrics", relabelings: [{ action: "replace", targetLabel: "job", replacement: "postgres" }] });
    });

    it("declares one PrometheusRule with the bundled groups (node left to the cluster), every alert labelled with our namespace", () => {
        const [rule] = crs("PrometheusRule");
        const body = plain(rule!.inputs);
        expect(() => new PrometheusRule(body).validate()).not.toThrow();
        const { config } = loadStackConfig("flowviz", "prod", readStackFile(join(ROOT, STACK)).config, () => false);
        const jobs = [{ job: "postgres", replicas: 1 }, { job: "pgbouncer", replicas: 1 }, { job: "api", replicas: 2 }];
        const bundled = ruleGroups(config.monitoring.alerts as Thresholds, config.monitoring.runbookBaseUrl, config.monitoring.evaluationInterval, jobs);
        expect(body.spec.groups.map((g: { name: string }) => g.name)).toEqual(bundled.map((g) => g.name).filter((n) => n !== "flowviz-node"));
        const alerts = body.spec.groups.flatMap((g: { rules: { alert?: string; labels?: Record<string, string> }[] }) => g.rules.filter((r) => r.alert));
        expect(alerts.length).toBeGreaterThan(20);
        for (const a of alerts) expect(a.labels?.namespace, a.alert).toBe("flowviz");
        expect(alerts.map((a: { alert: string }) => a.alert)).toContain("TargetAbsent");
    });

    it("declares an AlertmanagerConfig with the same routes and receivers, valid against the CRD schema", () => {
        const [amc] = crs("AlertmanagerConfig");
        const body = plain(amc!.inputs);
        expect(() => new AlertmanagerConfig(body).validate()).not.toThrow();
        expect(body.spec.route.receiver).toBe("warning");
        expect(body.spec.route.routes.map((r: { receiver: string }) => r.receiver)).toEqual(["watchdog", "critical", "warning", "info"]);
        expect(body.spec.route.routes[1].matchers).toEqual([{ name: "severity", value: "critical", matchType: "=" }]);
        const critical = body.spec.receivers.find((r: { name: string }) => r.name === "critical");
        expect(critical.webhookConfigs).toEqual([{ url: "https://incidents.example.com/hooks/flowviz", sendResolved: true }]);
        expect(body.spec.receivers.find((r: { name: string }) => r.name === "watchdog").webhookConfigs[0].url).toBe("https://watchdog.example.com/ping/flowviz");
    });

    it("ships the dashboards as ConfigMaps the Grafana sidecar loads, in the monitoring namespace", () => {
        const maps = ofType(run, "kubernetes:core/v1:ConfigMap").filter((r) => r.name.startsWith("dashboard-"));
        expect(maps.map((m) => m.name).sort()).toEqual(["dashboard-application", "dashboard-business", "dashboard-infrastructure"]);
        for (const m of maps) expect(m.inputs.metadata).toMatchObject({ namespace: "monitoring", labels: { grafana_dashboard: "1" } });
    });

    it("lets the monitoring namespace's Prometheus, and only it, into the metrics ports", () => {
        const np = only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "postgres-exporter-ingress").inputs.spec as { ingress: unknown[] };
        expect(np.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ port: 9187 }] }]);
    });
});
