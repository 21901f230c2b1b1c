import * as pulumi from "@pulumi/pulumi";
import { dashboardProviderYml, datasourcesYml } from "../configs/grafana";
import { dashboardFiles, type DatabaseEngine } from "../dashboards";
import type { StackConfig } from "../stack/schema";
import { GRAFANA_PORT, SECRET_FILE } from "../stack/fixed";
import type { Platform } from "./service";

const PROVISIONING = "/etc/grafana/provisioning";
/** uid of `grafana` in the official image, also its group here (the image's default group is root) */
const GRAFANA_UID = 472;
/** Grafana's secret_key, next to the admin password */
const SECRET_KEY_FILE = "secrets/secret_key";
const DATA_DIR = "/var/lib/grafana";
/** the official image's entrypoint */
const IMAGE_ENTRYPOINT = "/run.sh";

/**
 * Grafana reads its admin password from the environment only when it creates its
 * database. On every later start (a new password rolls the pod or replaces the
 * container), the password file is applied with Grafana's own CLI first (from stdin, never
 * in argv); a failure stops the start, so an old password never silently stays valid.
 */
export function grafanaStartScript(passwordFile: string): string {
    return [
        "set -e",
        `if [ -f ${DATA_DIR}/grafana.db ]; then`,
        `  grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin < ${passwordFile} > /dev/null`,
        "  echo 'admin password applied from its file'",
        "fi",
        `exec ${IMAGE_ENTRYPOINT}`,
    ].join("\n");
}

export interface GrafanaArgs {
    /** postgres.engine: where the dashboards read PostgreSQL from */
    readonly engine: DatabaseEngine;
    /** the stack's `monitoring` section */
    readonly settings: StackConfig["monitoring"];
    readonly platform: Platform;
    readonly prometheusUrl: string;
    readonly adminPassword: pulumi.Input<string>;
    /** encrypts what Grafana stores in its database */
    readonly secretKey: pulumi.Input<string>;
    readonly hostPort?: number;
}

/** Grafana with the datasource and the three dashboards provisioned from code; no sign-up, no anonymous access. */
export class Grafana extends pulumi.ComponentResource {
    constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Grafana", name, {}, opts);
        const s = args.settings;
        const p = args.platform;
        const dashboards = Object.entries(dashboardFiles(args.engine)).map(([file, content]) => ({ path: `dashboards/json/${file}`, content }));
        p.deploy(
            {
                name: "grafana",
                component: "monitoring",
                image: s.grafanaImage,
                command: ["/bin/sh", "-c", grafanaStartScript(`${PROVISIONING}/${SECRET_FILE}`)],
                env: {
                    GF_PATHS_PROVISIONING: PROVISIONING,
                    GF_SERVER_HTTP_ADDR: p.listenAddress,
                    GF_SERVER_HTTP_PORT: String(GRAFANA_PORT),
                    GF_SECURITY_ADMIN_USER: "admin",
                    GF_USERS_ALLOW_SIGN_UP: "false",
                    GF_AUTH_ANONYMOUS_ENABLED: "false",
                    GF_AUTH_DISABLE_LOGIN_FORM: "false",
                    GF_ANALYTICS_REPORTING_ENABLED: "false",
                    GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
                    GF_SECURITY_COOKIE_SECURE: "true",
                    GF_SECURITY_ADMIN_PASSWORD__FILE: `${PROVISIONING}/${SECRET_FILE}`,
                    GF_SECURITY_SECRET_KEY__FILE: `${PROVISIONING}/${SECRET_KEY_FILE}`,
                    GF_SNAPSHOTS_EXTERNAL_ENABLED: "false",
                },
                ports: [{ name: "http", port: GRAFANA_PORT, hostPort: args.hostPort }],
                configDir: PROVISIONING,
                files: [
                    { path: "datasources/prometheus.yaml", content: datasourcesYml(args.prometheusUrl, s.scrapeInterval) },
                    { path: "dashboards/flowviz.yaml", content: dashboardProviderYml(`${PROVISIONING}/dashboards/json`) },
                    ...dashboards,
                    { path: SECRET_FILE, content: args.adminPassword, secret: true },
                    { path: SECRET_KEY_FILE, content: args.secretKey, secret: true },
                ],
                volumes: [{ name: "data", mountPath: DATA_DIR, size: s.grafanaStorageSize }],
                scratch: ["/tmp"],
                health: { http: { path: "/api/health", port: GRAFANA_PORT }, startSeconds: 20 },
                resources: { cpu: "500m", memory: "512Mi" },
                replicas: 1,
                workload: "statefulset",
                // the image's files are group 0 but world-readable, its data directory 777: its own group will do
                runAs: { user: GRAFANA_UID, group: GRAFANA_UID, readOnlyRootFilesystem: true },
                reachableFrom: [],
            },
            this,
        );
        this.registerOutputs({});
    }
}
