import * as pulumi from "@pulumi/pulumi";
import { prometheusYml } from "../configs/prometheus";
import { rulesFile, type Thresholds } from "../configs/rules";
import { PROMETHEUS, ALERTMANAGER } from "../configs/metrics";
import type { StackConfig } from "../stack/schema";
import { ALERTMANAGER_PORT, PROMETHEUS_PORT, TLS_FILES } from "../stack/fixed";
import { caFile } from "./tls";
import { NOBODY } from "./exporters";
import { SCRAPER, type Platform, type ScrapeTarget } from "./service";

export const RULES_FILE = "rules/flowviz.rules.yml";

export interface PrometheusArgs {
    /** the stack's `monitoring` section */
    readonly settings: StackConfig["monitoring"];
    /** alert thresholds: the alerts section and what the backup settings imply (stack/backups.ts alertThresholds) */
    readonly thresholds: Thresholds;
    readonly platform: Platform;
    readonly stack: string;
    readonly hostPort?: number;
    /** the stack CA (PEM): authenticated targets' certificates chain to it */
    readonly caCertPem: pulumi.Input<string>;
}

/** Where Kubernetes mounts a pod's service account token. */
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const CONFIG_DIR = "/etc/prometheus";

/**
 * Prometheus scraping every `metrics` target the platform has deployed so far (create
 * it after the services it watches), with the generated rules and Alertmanager.
 */
export class Prometheus extends pulumi.ComponentResource {
    readonly url: string;

    constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Prometheus", name, {}, opts);
        const s = args.settings;
        const p = args.platform;
        const self: ScrapeTarget = { job: PROMETHEUS.job, port: PROMETHEUS_PORT, path: "/metrics" };
        const targets: Platform["scraped"] = [...p.scraped, { service: SCRAPER, target: self, replicas: 1 }, { service: "alertmanager", target: { job: ALERTMANAGER.job, port: ALERTMANAGER_PORT, path: "/metrics" }, replicas: 1 }];
        const config = prometheusYml({
            scrapeInterval: s.scrapeInterval,
            evaluationInterval: s.evaluationInterval,
            ruleFiles: [RULES_FILE],
            externalLabels: { stack: args.stack },
            alertmanagers: p.discovery("alertmanager", ALERTMANAGER_PORT),
            jobs: targets.map(({ service, target }) => ({
                job_name: target.job,
                metrics_path: target.path,
                scrape_interval: target.interval,
                honor_labels: target.honorLabels,
                discovery: p.discovery(service, target.port),
                auth: target.authenticated ? { caFile: `${CONFIG_DIR}/${TLS_FILES.ca}`, serverName: target.authenticated.serverName, tokenFile: SERVICE_ACCOUNT_TOKEN } : undefined,
            })),
        });
        p.deploy(
            {
                name: SCRAPER,
                component: "monitoring",
                image: s.prometheusImage,
                args: [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    `--storage.tsdb.retention.time=${s.retentionTime}`,
                    `--storage.tsdb.retention.size=${s.retentionSize}`,
                    `--web.listen-address=${p.listenAddress}:${PROMETHEUS_PORT}`,
                    ...(s.enableLifecycle ? ["--web.enable-lifecycle"] : []),
                ],
                ports: [{ name: "http", port: PROMETHEUS_PORT, hostPort: args.hostPort }],
                configDir: CONFIG_DIR,
                files: [
                    { path: "prometheus.yml", content: config },
                    caFile(args.caCertPem),
                    {
                        path: RULES_FILE,
                        content: rulesFile(args.thresholds, s.runbookBaseUrl, s.evaluationInterval, targets.map(({ target, replicas }) => ({ job: target.job, replicas }))),
                    },
                ],
                volumes: [{ name: "data", mountPath: "/prometheus", size: s.prometheusStorageSize }],
                // WAL replay after a restart grows with the head block (up to 2 hours of samples)
                health: { http: { path: "/-/ready", port: PROMETHEUS_PORT }, liveHttpPath: "/-/healthy", startSeconds: 15, maxStartSeconds: 1800 },
                resources: { cpu: "1", memory: "2Gi" },
                replicas: 1,
                workload: "statefulset",
                runAs: { user: NOBODY, group: NOBODY, readOnlyRootFilesystem: true },
                discoversPods: true,
                reachableFrom: ["grafana"],
                metrics: self,
            },
            this,
        );
        this.url = `http://${p.hostOf(SCRAPER)}:${PROMETHEUS_PORT}`;
        this.registerOutputs({ url: this.url });
    }
}
