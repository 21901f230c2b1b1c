/** The rendered Prometheus and Alertmanager files, checked and unit-tested by promtool and amtool themselves. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { alertRules, EXAMPLE_JOBS, type RuleGroup } from "../../configs/rules";
import { scopeSelectors } from "../../configs/promql";
import { loadStackConfig } from "../../stack/load";
import { alertThresholds } from "../../stack/backups";
import { renderedFiles } from "../../render/files";
import { ROOT, runStack } from "../helpers";
import { ALERT_CASES, type AlertCase } from "./alert-cases";
import { CNPG_CASES, CNPG_STACK } from "./alert-cases-cnpg";
import { readStackFile } from "../../render/stackfile";
import { runServerBinary, type Binary } from "../binaries";
import { render, type Rendered } from "./servers";

const BASE = "/tmp/flowviz-it-promtool";
const run = (bin: Binary, args: string[], cwd?: string) => {
    try {
        return { ok: true, out: runServerBinary(bin, args, { cwd }) };
    } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
};

let dev: Rendered;
let prod: Rendered;
beforeAll(async () => {
    dev = await render(join(ROOT, "Pulumi.dev.yaml"), `${BASE}/dev`, "dev");
    prod = await render(join(ROOT, "test/fixtures/good/prod-statefulset.yaml"), `${BASE}/prod`, "prod");
});

describe("promtool on the rendered files", () => {
    it("accepts the dev prometheus.yml and the rule file it references", () => {
        const r = run("promtool", ["check", "config", join(dev.files, "prometheus/prometheus.yml")]);
        expect(r.out).toContain("SUCCESS: 1 rule files found");
        expect(r.ok, r.out).toBe(true);
    });

    it("accepts the prod prometheus.yml with only its Kubernetes discovery swapped for static targets", () => {
        // Debian's promtool is built without Kubernetes service discovery; every other field
        // (relabelling, intervals, alerting, rule files) is checked as rendered.
        const config = parse(readFileSync(join(prod.files, "prometheus/prometheus.yml"), "utf8"));
        let swapped = 0;
        const staticSd = (section: Record<string, unknown>) => {
            if (!section.kubernetes_sd_configs) return;
            delete section.kubernetes_sd_configs;
            section.static_configs = [{ targets: ["pod.flowviz.svc:9090"] }];
            swapped++;
        };
        for (const job of config.scrape_configs) staticSd(job);
        for (const am of config.alerting.alertmanagers) staticSd(am);
        // node-exporter behind its proxy: TLS against the stack CA and the service account's token, as the pod mounts them
        const node = config.scrape_configs.find((j: { job_name: string }) => j.job_name === "node");
        expect(node).toMatchObject({ scheme: "https", authorization: { credentials_file: "/var/run/secrets/kubernetes.io/serviceaccount/token" }, tls_config: { ca_file: "/etc/prometheus/tls/ca.crt", server_name: "node-exporter" } });
        writeFileSync(join(prod.files, "prometheus/token"), "a-service-account-token");
        node.authorization.credentials_file = join(prod.files, "prometheus/token");
        node.tls_config.ca_file = join(prod.files, "prometheus/tls/ca.crt");
        expect(swapped).toBe(config.scrape_configs.length + config.alerting.alertmanagers.length);
        const file = join(prod.files, "prometheus/prometheus.static-sd.yml");
        writeFileSync(file, stringify(config));
        const r = run("promtool", ["check", "config", file]);
        expect(r.out).toContain("SUCCESS: 1 rule files found");
        expect(r.ok, r.out).toBe(true);
    });

    it("accepts a job scraped faster than the default scrape timeout", async () => {
        const fast = await render(join(ROOT, "test/fixtures/good/fast-api-scrape.yaml"), `${BASE}/fast`, "fast");
        const r = run("promtool", ["check", "config", join(fast.files, "prometheus/prometheus.yml")]);
        expect(r.ok, r.out).toBe(true);
        expect(readFileSync(join(fast.files, "prometheus/prometheus.yml"), "utf8")).toContain("scrape_interval: 5s");
    });

    it("accepts the prod rules", () => {
        const r = run("promtool", ["check", "rules", join(prod.files, "prometheus/rules/flowviz.rules.yml")]);
        expect(r.ok, r.out).toBe(true);
        expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    });

    it("rejects a broken rule file (the check can fail)", () => {
        mkdirSync(`${BASE}/broken`, { recursive: true });
        writeFileSync(`${BASE}/broken/rules.yml`, "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n");
        expect(run("promtool", ["check", "rules", `${BASE}/broken/rules.yml`]).ok).toBe(false);
    });

    it("every alert fires when it should, not before its `for`, and stays silent just under its threshold", () => {
        // dev runs one target per job (so no TargetsMissing rule; the prod rules test below has it)
        const r = alertCaseTest(join(dev.files, "prometheus"), "rules/flowviz.rules.yml", {});
        expect(r.out, r.out).toContain("SUCCESS");
        expect(r.ok, r.out).toBe(true);
    });

    it("operator mode: the PrometheusRule's groups pass promtool check rules and the same alert tests, on their own namespace's series and not another stack's", async () => {
        const operator = await render(join(ROOT, "test/fixtures/good/prod-operator.yaml"), `${BASE}/operator`, "prod");
        const rule = operator.plan.resources.find((x) => x.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule")!;
        const dir = join(operator.files, "prometheus-operator");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "flowviz.rules.yml"), stringify({ groups: rule.inputs.spec.groups }, { lineWidth: 0 }));
        const check = run("promtool", ["check", "rules", join(dir, "flowviz.rules.yml")]);
        expect(check.ok, check.out).toBe(true);
        const present = new Set<string>(rule.inputs.spec.groups.flatMap((g: { rules: { alert?: string }[] }) => g.rules.map((x) => x.alert)));
        // the series as the cluster's Prometheus scrapes them (with their namespace), beside another stack's
        const r = alertCaseTest(dir, "flowviz.rules.yml", { namespace: "flowviz" }, present, undefined, { name: "namespace", value: "flowviz" });
        expect(r.out, r.out).toContain("SUCCESS");
        expect(r.ok, r.out).toBe(true);
    });

    it("CloudNativePG engine: the rules pass promtool check rules, and every alert of that engine fires, waits and stays quiet as it should", async () => {
        const dir = `${BASE}/cnpg`;
        mkdirSync(join(dir, "rules"), { recursive: true });
        const file = renderedFiles((await runStack(CNPG_STACK, { stack: "prod" })).resources).find((f) => f.service === "prometheus" && f.path.endsWith("flowviz.rules.yml"))!;
        writeFileSync(join(dir, "rules/flowviz.rules.yml"), file.content);
        const check = run("promtool", ["check", "rules", join(dir, "rules/flowviz.rules.yml")]);
        expect(check.ok, check.out).toBe(true);
        const rules = readFileSync(join(dir, "rules/flowviz.rules.yml"), "utf8");
        expect(rules).toContain("cnpg_collector_up == 0");
        expect(rules).not.toContain("pg_up == 0");
        const r = alertCaseTest(dir, "rules/flowviz.rules.yml", {}, undefined, CNPG_STACK);
        expect(r.out, r.out).toContain("SUCCESS");
        expect(r.ok, r.out).toBe(true);
    });
});

/**
 * `promtool test rules` with every case of alert-cases.ts (those whose alert the file has),
 * against a rules file; `extraLabels` are what every alert of the file carries besides its own.
 */
/**
 * `scope`: the rules select one stack's series (operator mode): every input series carries its
 * label, and each quiet case also holds the firing series of another stack, which must not fire ours.
 */
function alertCaseTest(dir: string, rulesFile: string, extraLabels: Record<string, string>, present?: Set<string>, stackFile?: string, scope?: { name: string; value: string }) {
    const file = stackFile ? readStackFile(join(ROOT, stackFile)) : undefined;
    const { config } = loadStackConfig("flowviz", "t", file?.config ?? { "flowviz:platform": "docker" }, () => false);
    const rules = Object.fromEntries(alertRules(alertThresholds(config), EXAMPLE_JOBS.map((j) => ({ ...j, replicas: 1 }))).map((a) => [a.alert, a]));
    // the CloudNativePG engine's own cases replace those of the alerts it defines differently; alerts it does not have are not tested against it
    const engineCases: AlertCase[] = config.postgres.engine === "cloudnative-pg" ? [...CNPG_CASES, ...ALERT_CASES.filter((c) => !CNPG_CASES.some((x) => x.alert === c.alert))] : ALERT_CASES;
    const cases = engineCases.filter((c) => (!present || present.has(c.alert)) && c.alert in rules);
    const covered = new Set(cases.map((c) => c.alert));
    expect([...Object.keys(rules)].filter((a) => (!present || present.has(a)) && !covered.has(a) && a !== "Watchdog")).toEqual([]);
    const series = (s: Record<string, string>, value = scope?.value) => Object.entries(s).map(([k, v]) => ({ series: scope ? scopeSelectors(k, { name: scope.name, value: value! }) : k, values: v }));
    const expected = (name: string, labels: Record<string, string>, description: string) => {
        const r = rules[name]!;
        return {
            exp_labels: { severity: r.severity, component: r.component, ...extraLabels, ...labels },
            exp_annotations: { summary: r.summary, description, runbook_url: `${config.monitoring.runbookBaseUrl}/${name}.md` },
        };
    };
    const tests = cases.flatMap((c) => [
        {
            interval: "1m",
            input_series: series(c.firing),
            alert_rule_test: [
                ...(c.silentAt ? [{ eval_time: c.silentAt, alertname: c.alert, exp_alerts: [] }] : []),
                { eval_time: c.firingAt, alertname: c.alert, exp_alerts: [expected(c.alert, c.labels ?? {}, c.description)] },
            ],
        },
        { interval: "1m", input_series: [...series(c.quiet), ...(scope ? series(c.firing, `${scope.value}-other`) : [])], alert_rule_test: [{ eval_time: c.quietAt ?? c.firingAt, alertname: c.alert, exp_alerts: [] }] },
    ]);
    tests.push({
        interval: "1m",
        input_series: [],
        alert_rule_test: [{ eval_time: "1m", alertname: "Watchdog", exp_alerts: [expected("Watchdog", {}, "Always firing (value 1). If the dead man's switch stops receiving it, Prometheus or Alertmanager is broken.")] }],
    });
    return promtoolByGroups(dir, rulesFile, tests);
}

/** A group of the rendered rules file, as promtool reads it. */
type RenderedGroup = Omit<RuleGroup, "rules"> & { rules: { alert?: string; record?: string; expr: string }[] };

/**
 * `promtool test rules` of the test groups, each against the rule groups its alert reads: those that define it and the
 * recording rules, cut whole from the rendered file. promtool steps every rule of its files for every test group, so
 * one run per set of rule groups does about a third of the work of one run over the whole file. That holds while no
 * rule reads another's alerts (ALERTS), which this asserts.
 */
function promtoolByGroups(dir: string, rulesFile: string, tests: { alert_rule_test: { alertname: string }[] }[]) {
    const groups = (parse(readFileSync(join(dir, rulesFile), "utf8")) as { groups: RenderedGroup[] }).groups;
    expect(groups.flatMap((g) => g.rules).filter((r) => /\bALERTS(_FOR_STATE)?\b/.test(r.expr))).toEqual([]);
    const recording = groups.filter((g) => g.rules.some((r) => r.record));
    const runs = new Map<string, { groups: RenderedGroup[]; tests: typeof tests }>();
    for (const t of tests) {
        const alerts = new Set(t.alert_rule_test.map((a) => a.alertname));
        const needed = [...recording, ...groups.filter((g) => g.rules.some((r) => r.alert !== undefined && alerts.has(r.alert)))];
        const key = needed.map((g) => g.name).join(",");
        if (!runs.has(key)) runs.set(key, { groups: needed, tests: [] });
        runs.get(key)!.tests.push(t);
    }
    const results = [...runs.values()].map((r, i) => {
        writeFileSync(join(dir, `alert-cases-${i}.rules.yml`), stringify({ groups: r.groups }, { lineWidth: 0 }));
        writeFileSync(join(dir, `alert-cases-${i}.test.yml`), stringify({ rule_files: [`alert-cases-${i}.rules.yml`], evaluation_interval: "1m", tests: r.tests }, { lineWidth: 0 }));
        return run("promtool", ["test", "rules", `alert-cases-${i}.test.yml`], dir);
    });
    return { ok: results.every((r) => r.ok), out: results.map((r) => r.out).join("\n") };
}

describe("promtool on prod's rules", () => {
    it("fires TargetsMissing when fewer API pods are up than prod runs (4), not before its for, not at 4", () => {
        const up = (n: number) => Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`up{job="api",instance="10.0.0.${i}:8000"}`, i < n ? "1x10" : "0x10"]));
        const series = (s: Record<string, string>) => Object.entries(s).map(([k, v]) => ({ series: k, values: v }));
        const tests = [
            {
                interval: "1m",
                input_series: series(up(3)),
                alert_rule_test: [
                    { eval_time: "4m", alertname: "TargetsMissing", exp_alerts: [] },
                    {
                        eval_time: "6m",
                        alertname: "TargetsMissing",
                        exp_alerts: [
                            {
                                exp_labels: { severity: "warning", component: "api", job: "api" },
                                exp_annotations: { summary: "Fewer targets of a job are up than run", description: "Only 3 of 4 api targets are up.", runbook_url: "https://github.com/flowviz/flowviz-infra/blob/main/docs/runbooks/TargetsMissing.md" },
                            },
                        ],
                    },
                ],
            },
            { interval: "1m", input_series: series(up(4)), alert_rule_test: [{ eval_time: "6m", alertname: "TargetsMissing", exp_alerts: [] }] },
        ];
        writeFileSync(join(prod.files, "prometheus/missing.test.yml"), stringify({ rule_files: ["rules/flowviz.rules.yml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
        const r = run("promtool", ["test", "rules", "missing.test.yml"], join(prod.files, "prometheus"));
        expect(r.ok, r.out).toBe(true);
        expect(r.out).toContain("SUCCESS");
    });
});

describe("amtool on the rendered alertmanager.yml", () => {
    let dir: string;
    beforeAll(async () => {
        const withReceivers = await runStack("Pulumi.dev.yaml", {
            stack: "dev",
            override: {
                monitoring: {
                    receivers: {
                        email: { to: "oncall@flowviz.example", from: "alerts@flowviz.example", smarthost: "smtp.flowviz.example:587" },
                        slack: { channel: "#flowviz-alerts" },
                        webhook: "https://incidents.flowviz.example/hook",
                        watchdogUrl: "https://heartbeat.flowviz.example/ping",
                    },
                },
            },
            secrets: { alertmanagerSmtpPassword: "smtp-password-from-the-stack", alertmanagerSlackWebhookUrl: "https://hooks.slack.com/services/T000/B000/XXXXXXXX" },
        });
        const file = renderedFiles(withReceivers.resources).find((f) => f.service === "alertmanager")!;
        expect(file.secret).toBe(true);
        dir = `${BASE}/alertmanager`;
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "alertmanager.yml"), file.content);
        writeFileSync(join(dir, "plain.yml"), renderedFiles((await runStack("Pulumi.dev.yaml", { stack: "dev" })).resources).find((f) => f.service === "alertmanager")!.content);
    });

    it.each(["alertmanager.yml", "plain.yml"])("amtool check-config accepts %s", (f) => {
        const r = run("amtool", ["check-config", join(dir, f)]);
        expect(r.ok, r.out).toBe(true);
        expect(r.out).toContain("SUCCESS");
    });

    it("amtool check-config accepts the prod stack's rendered alertmanager.yml", () => {
        const r = run("amtool", ["check-config", join(prod.files, "alertmanager/alertmanager.yml")]);
        expect(r.ok, r.out).toBe(true);
        expect(r.out).toContain("SUCCESS");
    });

    it.each([
        [["alertname=DatabaseDown", "severity=critical", "component=postgres"], "critical"],
        [["alertname=PgBouncerPoolExhausted", "severity=warning", "component=pgbouncer"], "warning"],
        [["alertname=PostgresRestarted", "severity=info", "component=postgres"], "info"],
        [["alertname=Watchdog", "severity=info", "component=monitoring"], "watchdog"],
        [["alertname=SomethingNew"], "warning"],
    ])("routes %j to %s", (labels, receiver) => {
        const r = run("amtool", ["config", "routes", "test", "--config.file", join(dir, "alertmanager.yml"), ...labels]);
        expect(r.out.trim()).toBe(receiver);
    });
});
