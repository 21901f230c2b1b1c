/** What the monitoring itself alerts on: targets down or absent, Prometheus and Alertmanager failing, the dead man's switch. */
import { ALERTMANAGER, CATALOG, PROMETHEUS, APP } from "../metrics";
import type { AlertRule, ScrapedJob, Thresholds } from "./model";

/** Every catalogued job, one target each but two API replicas: what the docs and the rule tests show. */
export const EXAMPLE_JOBS: ScrapedJob[] = [...new Set(CATALOG.map((s) => s.job))].map((job) => ({ job, replicas: job === APP.job ? 2 : 1 }));

const componentOf = (job: string) => CATALOG.find((s) => s.job === job)?.component ?? "monitoring";

/**
 * Alerts that see absence: with pod discovery a job whose pods are all gone has no `up`
 * series at all, so `up == 0` stays silent exactly then. One rule per job fires when no
 * target is up (`absent(up{job} == 1)`), one when fewer are up than the platform runs.
 */
export function targetRules(t: Thresholds, jobs: ScrapedJob[]): AlertRule[] {
    const steps = [
        "Open Prometheus > Status > Targets: is the job listed at all (discovery), and with which error?",
        "Check the job's pods or containers: do they run, restart, or fail their probes? (`kubectl -n flowviz get pods -l app.kubernetes.io/name=<service>`, `docker ps -a`)",
        "On Kubernetes, check that Prometheus may still list the pods (its Role) and reach the port (the service's NetworkPolicy).",
    ];
    return [...jobs]
        .sort((a, b) => a.job.localeCompare(b.job))
        .flatMap((j) => {
            const perJob = { for: t.targetDownFor, component: componentOf(j.job), labels: { job: j.job }, runbook: steps };
            const absent: AlertRule = {
                ...perJob,
                alert: "TargetAbsent",
                expr: `absent(up{job="${j.job}"} == 1)`,
                severity: "critical",
                summary: "No target of a job is up",
                description: `Prometheus has no healthy ${j.job} target: every one is down or none is discovered. Its alerts cannot fire.`,
            };
            if (j.replicas === undefined || j.replicas <= 1) return [absent];
            return [
                absent,
                {
                    ...perJob,
                    alert: "TargetsMissing",
                    expr: `count(up{job="${j.job}"} == 1) < ${j.replicas}`,
                    severity: "warning",
                    summary: "Fewer targets of a job are up than run",
                    description: `Only {{ $value }} of ${j.replicas} ${j.job} targets are up.`,
                },
            ];
        });
}

/** The monitoring pipeline's own warnings: one component, one severity. */
const MONITORING_WARNING = { severity: "warning", component: "monitoring" } as const;

export function monitoringRules(t: Thresholds): AlertRule[] {
    return [
        {
            alert: "TargetDown",
            expr: "up == 0",
            for: t.targetDownFor,
            ...MONITORING_WARNING,
            summary: "A scrape target is down",
            description: "Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }} (up = {{ $value }}).",
            runbook: ["Open Prometheus > Status > Targets for the scrape error.", "Check that the exporter's container/pod runs and can reach what it exports."],
        },
        {
            alert: "PrometheusConfigReloadFailed",
            expr: `max by (instance) (prometheus_config_last_reload_successful{job="${PROMETHEUS.job}"}) == 0`,
            for: "10m",
            ...MONITORING_WARNING,
            summary: "Prometheus could not load its configuration",
            description: "The last configuration reload on {{ $labels.instance }} failed (last_reload_successful = {{ $value }}); Prometheus runs the previous one.",
            runbook: ["Run `promtool check config` on the rendered prometheus.yml (`npm run render`).", "Read the Prometheus log for the error."],
        },
        {
            alert: "PrometheusRuleFailures",
            expr: `sum by (instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{job="${PROMETHEUS.job}"}[5m])) > 0`,
            for: "5m",
            ...MONITORING_WARNING,
            summary: "Prometheus fails to evaluate rules",
            description: "{{ $value }} rule evaluations failed in {{ $labels.rule_group }} over 5 minutes: alerts in it may never fire.",
            runbook: ["Open Prometheus > Status > Rules for the failing rule and its error.", "Run `promtool test rules` (part of `npm test`)."],
        },
        {
            alert: "PrometheusAlertmanagerMissing",
            expr: `max by (instance) (prometheus_notifications_alertmanagers_discovered{job="${PROMETHEUS.job}"}) < 1`,
            for: "5m",
            ...MONITORING_WARNING,
            summary: "Prometheus has no Alertmanager to send to",
            description: "{{ $labels.instance }} discovers {{ $value }} Alertmanagers: alerts are not delivered.",
            runbook: ["Check the Alertmanager container/pod.", "Check the alerting section of prometheus.yml."],
        },
        {
            alert: "PrometheusNotificationErrors",
            expr: `sum by (instance) (rate(prometheus_notifications_errors_total{job="${PROMETHEUS.job}"}[5m])) / sum by (instance) (rate(prometheus_notifications_sent_total{job="${PROMETHEUS.job}"}[5m])) > 0.01`,
            for: "15m",
            ...MONITORING_WARNING,
            summary: "Prometheus fails to send alerts to Alertmanager",
            description: "{{ $value | humanizePercentage }} of alert notifications from {{ $labels.instance }} fail.",
            runbook: ["Check that Prometheus reaches Alertmanager (NetworkPolicy, container network).", "Read the Prometheus log."],
        },
        {
            alert: "AlertmanagerConfigReloadFailed",
            expr: `max by (instance) (alertmanager_config_last_reload_successful{job="${ALERTMANAGER.job}"}) == 0`,
            for: "10m",
            ...MONITORING_WARNING,
            summary: "Alertmanager could not load its configuration",
            description: "The last configuration reload on {{ $labels.instance }} failed (last_reload_successful = {{ $value }}).",
            runbook: ["Run `amtool check-config` on the rendered alertmanager.yml.", "Read the Alertmanager log."],
        },
        {
            alert: "AlertmanagerNotificationsFailing",
            expr: `sum by (instance, integration) (rate(alertmanager_notifications_failed_total{job="${ALERTMANAGER.job}"}[5m])) > 0`,
            for: "5m",
            ...MONITORING_WARNING,
            summary: "Alertmanager fails to deliver notifications",
            description: "{{ $labels.integration }} notifications fail at {{ $value }}/s.",
            runbook: ["Read the Alertmanager log for the receiver's error (credentials, URL, SMTP).", "Rotate the receiver's secret if it expired (`pulumi config set --secret ...`)."],
        },
        {
            alert: "Watchdog",
            expr: "vector(1)",
            for: "0m",
            severity: "info",
            component: "monitoring",
            summary: "Alerting pipeline heartbeat (always firing)",
            description: "Always firing (value {{ $value }}). If the dead man's switch stops receiving it, Prometheus or Alertmanager is broken.",
            runbook: ["This alert is meant to fire. If the dead man's switch reports it missing, check Prometheus, then Alertmanager, then the watchdog receiver."],
        },
    ];
}
