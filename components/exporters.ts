import * as pulumi from "@pulumi/pulumi";
import { NODE_EXPORTER, POSTGRES_EXPORTER } from "../configs/metrics";
import { FIXED_PORTS, POSTGRES_EXPORTER_USER, SECRET_FILE, TLS_FILES } from "../stack/fixed";
import type { Platform } from "./service";

/** uid of `nobody`, which the Prometheus-ecosystem images run as */
export const NOBODY = 65534;
export const EXPORTER_RUN_AS = { user: NOBODY, group: NOBODY, readOnlyRootFilesystem: true };
/** an exporter's share of a node */
export const EXPORTER_RESOURCES = { cpu: "250m", memory: "128Mi" };
/** `--web.listen-address` of an exporter */
export const listenFlag = (address: string, port: number) => `--web.listen-address=${address}:${port}`;

export interface ExportersArgs {
    readonly platform: Platform;
    readonly images: { postgres: string; node: string };
    /** PostgreSQL as seen by the exporter */
    readonly postgres: { host: string; port: number; database: string };
    /** password of the `postgres_exporter` role (member of pg_monitor) */
    readonly postgresPassword: pulumi.Input<string>;
    /** the CA that signed PostgreSQL's certificate (PEM) */
    readonly caCertPem: pulumi.Input<string>;
    /** run node-exporter (not in operator mode: the cluster's kube-prometheus-stack has its own) */
    readonly nodeExporter: boolean;
}

/** postgres-exporter and node-exporter (PgBouncer's exporter runs beside each PgBouncer: components/pgbouncer.ts). */
export class Exporters extends pulumi.ComponentResource {
    constructor(name: string, args: ExportersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Exporters", name, {}, opts);
        const p = args.platform;
        const listen = (port: number) => listenFlag(p.listenAddress, port);
        const common = { runAs: EXPORTER_RUN_AS, replicas: 1, resources: EXPORTER_RESOURCES } as const;
        const configDir = (service: string) => `/etc/${service}`;
        const caPath = (service: string) => `${configDir(service)}/${TLS_FILES.ca}`;
        const caFile = { path: TLS_FILES.ca, content: args.caCertPem };

        p.deploy(
            {
                ...common,
                name: "postgres-exporter",
                component: "exporter",
                image: args.images.postgres,
                args: [listen(FIXED_PORTS["postgres-exporter"])],
                env: {
                    DATA_SOURCE_URI: `${args.postgres.host}:${args.postgres.port}/${args.postgres.database}?sslmode=verify-full&sslrootcert=${caPath("postgres-exporter")}`,
                    DATA_SOURCE_USER: POSTGRES_EXPORTER_USER,
                    DATA_SOURCE_PASS_FILE: `${configDir("postgres-exporter")}/${SECRET_FILE}`,
                },
                configDir: configDir("postgres-exporter"),
                files: [caFile, { path: SECRET_FILE, content: args.postgresPassword, secret: true }],
                ports: [{ name: "metrics", port: FIXED_PORTS["postgres-exporter"] }],
                health: { http: { path: "/metrics", port: FIXED_PORTS["postgres-exporter"] } },
                workload: "deployment",
                metrics: { job: POSTGRES_EXPORTER.job, port: FIXED_PORTS["postgres-exporter"], path: "/metrics" },
            },
            this,
        );
        if (args.nodeExporter) {
            p.deploy(
                {
                    ...common,
                    name: "node-exporter",
                    component: "exporter",
                    image: args.images.node,
                    args: ["--path.rootfs=/host", listen(FIXED_PORTS["node-exporter"])],
                    ports: [{ name: "metrics", port: FIXED_PORTS["node-exporter"] }],
                    hostRootfs: "/host",
                    hostAccessReason: "node metrics: host network and PID namespace, root filesystem read-only",
                    health: { http: { path: "/metrics", port: FIXED_PORTS["node-exporter"] } },
                    workload: "daemonset",
                    metrics: { job: NODE_EXPORTER.job, port: FIXED_PORTS["node-exporter"], path: "/metrics" },
                },
                this,
            );
        }
        this.registerOutputs({});
    }
}
