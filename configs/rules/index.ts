/**
 * Prometheus recording and alerting rules, from code, split by what they watch (as the
 * monitoring mixins do): api.ts, postgres.ts, pgbouncer.ts, broker.ts, node.ts, monitoring.ts. Both the
 * bundled Prometheus (a rules file) and operator mode (a PrometheusRule) read the groups here,
 * and the docs the runbooks.
 */
import { stringify } from "yaml";
import { GENERATED } from "../format";
import type { AlertRule, ScrapedJob, Thresholds } from "./model";
import { apiRules, recordingRules } from "./api";
import { postgresRules } from "./postgres";
import { pgbouncerRules } from "./pgbouncer";
import { brokerRules } from "./broker";
import { nodeRules } from "./node";
import { backupRules } from "./backups";
import { cnpgBackupRules, cnpgPostgresRules } from "./cloudnative-pg";
import { scopeSelectors } from "../promql";
import { EXAMPLE_JOBS, monitoringRules, targetRules } from "./monitoring";
import { NS } from "./steps";

export * from "./model";
export { BURN_RATES, BURN_WINDOWS, errorRatio, LATENCY_P99, recordingRules, SHORTEST_RATE_WINDOW } from "./api";
export { EXAMPLE_JOBS, targetRules } from "./monitoring";

export function alertRules(t: Thresholds, jobs: ScrapedJob[] = EXAMPLE_JOBS): AlertRule[] {
    const cnpg = t.cloudnativePg;
    const database = cnpg ? [...cnpgPostgresRules(t, cnpg), ...(t.backups ? cnpgBackupRules(t.backups) : [])] : [...postgresRules(t), ...(t.backups ? backupRules(t.backups) : [])];
    return [...apiRules(t), ...database, ...pgbouncerRules(t), ...brokerRules(t), ...nodeRules(), ...monitoringRules(t), ...targetRules(t, jobs)];
}

/** Jobs whose metrics each rule group reads; groups are split so one failing exporter is easy to see. */
const GROUPS: [string, string[]][] = [
    ["flowviz-api", ["api", "business"]],
    ["flowviz-postgres", ["postgres"]],
    ["flowviz-backup", ["backup"]],
    ["flowviz-pgbouncer", ["pgbouncer"]],
    ["flowviz-broker", ["broker"]],
    ["flowviz-node", ["node"]],
    ["flowviz-monitoring", ["monitoring"]],
];

export interface RuleGroup {
    name: string;
    interval: string;
    rules: object[];
}

/** What differs between the bundled Prometheus and operator mode. */
export interface RuleGroupOptions {
    /** components whose alerts are left out (operator mode: `node`, the cluster's node-exporter rules cover it) */
    without?: string[];
    /** labels every alert carries (operator mode: the namespace AlertmanagerConfig routes are scoped to) */
    labels?: Record<string, string>;
    /** a label every series selector matches, and every recorded series carries (operator mode: the stack's namespace, in a Prometheus other stacks share) */
    scope?: { name: string; value: string };
}

/**
 * The rule groups Prometheus evaluates, as data: the bundled Prometheus reads them from
 * its rules file, operator mode declares them in a PrometheusRule.
 */
export function ruleGroups(t: Thresholds, runbookBaseUrl: string, evaluationInterval: string, jobs: ScrapedJob[], options: RuleGroupOptions = {}): RuleGroup[] {
    const alerts = alertRules(t, jobs);
    const without = options.without ?? [];
    const scope = options.scope;
    const scoped = (expr: string) => (scope ? scopeSelectors(expr, scope) : expr);
    const recording = recordingRules().map((r) => (scope ? { ...r, expr: scoped(r.expr), labels: { [scope.name]: scope.value } } : r));
    return [
        { name: "flowviz-recording", interval: evaluationInterval, rules: recording },
        ...GROUPS.map(([name, of]) => [name, of.filter((c) => !without.includes(c))] as const).filter(([, of]) => of.length > 0).map(([name, of]) => ({
            name,
            interval: evaluationInterval,
            rules: alerts
                .filter((a) => of.includes(a.component))
                .map((a) => ({
                    alert: a.alert,
                    expr: scoped(a.expr),
                    for: a.for,
                    labels: { severity: a.severity, component: a.component, ...a.labels, ...options.labels },
                    annotations: { summary: a.summary, description: a.description, runbook_url: `${runbookBaseUrl}/${a.alert}.md` },
                })),
        })),
    ];
}

export function rulesFile(t: Thresholds, runbookBaseUrl: string, evaluationInterval: string, jobs: ScrapedJob[]): string {
    return `# ${GENERATED}\n` + stringify({ groups: ruleGroups(t, runbookBaseUrl, evaluationInterval, jobs) }, { lineWidth: 0 });
}

/** How on-call reaches the tools of a deployed stack (every runbook ends with it). */
const REACHING = [
    "## Reaching the tools",
    "",
    `Commands assume the namespace \`${NS}\` (\`kubernetes.namespace\`); on Docker the tools listen on the host ports of the stack file.`,
    "",
    `- Grafana: \`kubectl -n ${NS} port-forward svc/grafana 3000\`, http://127.0.0.1:3000, user \`admin\`, password \`pulumi stack output --show-secrets grafanaAdminPassword -s prod\`.`,
    `- Prometheus: \`kubectl -n ${NS} port-forward svc/prometheus 9090\`, Alertmanager: \`kubectl -n ${NS} port-forward svc/alertmanager 9093\` (operator mode: the monitoring namespace's).`,
    `- PgBouncer's admin console: per pod, \`kubectl -n ${NS} port-forward pod/<pgbouncer-pod> 6432\`, user \`pgbouncer_admin\`, password \`pulumi stack output --show-secrets pgbouncerAdminPassword -s prod\`.`,
    `- The thresholds are the stack's (\`monitoring.alerts\` in \`Pulumi.<stack>.yaml\`); the alert's description shows the live value and the threshold it crossed.`,
];

/** An alert as one engine defines it (postgres.engine; unset where the alert is the same in both). */
export interface EngineRule {
    engine?: string;
    rule: AlertRule;
}

/** docs/runbooks/<Alert>.md: one alert, with its expression and steps per engine where they differ. */
export function runbookMarkdown(variants: EngineRule[]): string {
    const [first] = variants;
    const a = first!.rule;
    const body = (v: EngineRule, level: string) => [
        ...(v.engine ? [`${level} With postgres.engine \`${v.engine}\``, ""] : []),
        `**Severity:** ${v.rule.severity} · **Component:** ${v.rule.component} · **For:** ${v.rule.for}`,
        "",
        `${v.rule.summary}. ${v.rule.description.replace(/\{\{[^}]*\}\}/g, "…")}`,
        "",
        "```promql",
        v.rule.expr,
        "```",
        "",
        `${level}${v.engine ? "#" : ""} Steps`,
        "",
        ...v.rule.runbook.map((s, i) => `${i + 1}. ${s}`),
        "",
    ];
    return [`# ${a.alert}`, "", `<!-- Generated from configs/rules/ by \`npm run docs\`. -->`, "", ...variants.flatMap((v) => body(v, "##")), ...REACHING, ""].join("\n");
}
