/** prometheus.yml: scrape jobs for what the stack deploys, the rule files, Alertmanager. */
import { stringify } from "yaml";
import { GENERATED } from "./format";

export interface ScrapeJob {
    job_name: string;
    metrics_path: string;
    scrape_interval?: string;
    honor_labels?: boolean;
    /** TLS and a bearer token from a file (an authenticating proxy in front of the target) */
    auth?: { caFile: string; serverName: string; tokenFile: string };
    /** static_configs or kubernetes_sd_configs + relabel_configs, from the platform */
    discovery: Record<string, unknown>;
}

export interface PrometheusConfigInput {
    scrapeInterval: string;
    evaluationInterval: string;
    /** rule files, relative to prometheus.yml */
    ruleFiles: string[];
    jobs: ScrapeJob[];
    /** how Prometheus finds Alertmanager (same shapes as a job's discovery) */
    alertmanagers: Record<string, unknown>;
    externalLabels: Record<string, string>;
}

export function prometheusYml(i: PrometheusConfigInput): string {
    const config = {
        global: { scrape_interval: i.scrapeInterval, evaluation_interval: i.evaluationInterval, external_labels: i.externalLabels },
        rule_files: i.ruleFiles,
        alerting: { alertmanagers: [i.alertmanagers] },
        scrape_configs: [...i.jobs]
            .sort((a, b) => a.job_name.localeCompare(b.job_name))
            .map((j) => ({
                job_name: j.job_name,
                ...(j.scrape_interval ? { scrape_interval: j.scrape_interval } : {}),
                ...(j.honor_labels ? { honor_labels: true } : {}),
                metrics_path: j.metrics_path,
                ...(j.auth ? { scheme: "https", authorization: { credentials_file: j.auth.tokenFile }, tls_config: { ca_file: j.auth.caFile, server_name: j.auth.serverName } } : {}),
                ...j.discovery,
            })),
    };
    return `# ${GENERATED}\n` + stringify(config, { lineWidth: 0 });
}
