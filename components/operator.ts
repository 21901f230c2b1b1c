/**
 * Operator mode: the cluster's kube-prometheus-stack monitors the stack. Instead of our own
 * Prometheus, Alertmanager and Grafana, it declares what they need: a PodMonitor per scraped
 * service, one PrometheusRule with the same groups the bundled Prometheus loads, one
 * AlertmanagerConfig with the same routes and receivers, and the dashboards as ConfigMaps
 * the Grafana sidecar picks up.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { alertmanagerConfigSpec } from "../configs/alertmanager";
import { ruleGroups, type Thresholds } from "../configs/rules";
import { dashboardFiles, type DatabaseEngine } from "../dashboards";
import type { StackConfig } from "../stack/schema";
import type { Platform } from "./service";

export interface OperatorMonitoringArgs {
    /** postgres.engine: where the dashboards read PostgreSQL from */
    readonly engine: DatabaseEngine;
    /** the stack's `monitoring` section */
    readonly settings: StackConfig["monitoring"];
    /** alert thresholds: the alerts section and what the backup settings imply (stack/backups.ts alertThresholds) */
    readonly thresholds: Thresholds;
    readonly platform: Platform;
    /** our namespace (where the monitors, rules and routing live) */
    readonly namespace: pulumi.Input<string>;
    readonly namespaceName: string;
    readonly smtpPassword?: pulumi.Input<string>;
    readonly slackWebhookUrl?: pulumi.Input<string>;
}

const SECRET_KEYS = { smtpPasswordKey: "smtp-password", slackUrlKey: "slack-webhook-url" };

export class OperatorMonitoring extends pulumi.ComponentResource {
    constructor(name: string, args: OperatorMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:OperatorMonitoring", name, {}, opts);
        const s = args.settings;
        const op = s.operator;
        const selected = { "app.kubernetes.io/part-of": "flowviz", ...op.selectorLabels };
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels: selected });
        const parent = { parent: this };

        for (const { service, target, portName } of args.platform.scraped) {
            if (!portName) throw new Error(`${service}: its metrics port has no name, which a PodMonitor needs`);
            new k8s.apiextensions.CustomResource(
                `${service}-podmonitor`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "PodMonitor",
                    metadata: meta(service),
                    spec: {
                        selector: { matchLabels: { "app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "flowviz" } },
                        namespaceSelector: { matchNames: [args.namespaceName] },
                        podMetricsEndpoints: [
                            {
                                port: portName,
                                path: target.path,
                                ...(target.interval ? { interval: target.interval } : {}),
                                ...(target.honorLabels ? { honorLabels: true } : {}),
                                // the job name the rules and dashboards select on
                                relabelings: [{ action: "replace", targetLabel: "job", replacement: target.job }],
                            },
                        ],
                    },
                },
                parent,
            );
        }

        // Node alerts stay with the cluster's own node-exporter rules; AlertmanagerConfig routes only
        // alerts labelled with its namespace, so every rule carries ours.
        const jobs = args.platform.scraped.map(({ target, replicas }) => ({ job: target.job, replicas }));
        // the cluster's Prometheus holds every stack's series: each selector names ours
        const scope = { name: "namespace", value: args.namespaceName };
        const groups = ruleGroups(args.thresholds, s.runbookBaseUrl, s.evaluationInterval, jobs, { without: ["node"], labels: { namespace: args.namespaceName }, scope });
        new k8s.apiextensions.CustomResource("flowviz-rules", { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: meta("flowviz"), spec: { groups } }, parent);

        const r = s.receivers;
        const credentials = new k8s.core.v1.Secret(
            `${name}-alertmanager-credentials`,
            {
                metadata: { namespace: args.namespace, labels: { "app.kubernetes.io/part-of": "flowviz" } },
                stringData: pulumi.secret({
                    [SECRET_KEYS.smtpPasswordKey]: pulumi.output(args.smtpPassword ?? ""),
                    [SECRET_KEYS.slackUrlKey]: pulumi.output(args.slackWebhookUrl ?? ""),
                }),
            },
            parent,
        );
        new k8s.apiextensions.CustomResource(
            "flowviz-alertmanager-config",
            {
                apiVersion: "monitoring.coreos.com/v1alpha1",
                kind: "AlertmanagerConfig",
                metadata: meta("flowviz"),
                spec: credentials.metadata.name.apply((secretName) =>
                    alertmanagerConfigSpec({ email: r.email, slack: r.slack, webhook: r.webhook, watchdogUrl: r.watchdogUrl }, { name: secretName, ...SECRET_KEYS }),
                ),
            },
            parent,
        );

        const [labelKey, labelValue] = op.dashboardLabel.split("=") as [string, string];
        for (const [file, json] of Object.entries(dashboardFiles(args.engine, scope))) {
            new k8s.core.v1.ConfigMap(
                `dashboard-${file.replace(/\.json$/, "")}`,
                { metadata: { namespace: op.namespace, labels: { [labelKey]: labelValue, "app.kubernetes.io/part-of": "flowviz" } }, data: { [file]: json } },
                parent,
            );
        }
        this.registerOutputs({});
    }
}
