import * as pulumi from "@pulumi/pulumi";
import { connectionUrl } from "../configs/format";
import { NODE_EXPORTER, PGBOUNCER_EXPORTER, POSTGRES_EXPORTER } from "../configs/metrics";
import { FIXED_PORTS, POSTGRES_EXPORTER_USER, SECRET_FILE, TLS_FILES } from "../stack/fixed";
import type { Platform } from "./service";

/** uid of `nobody`, which the Prometheus-ecosystem images run as */
export const NOBODY = 65534;
const runAs = { user: NOBODY, group: NOBODY, readOnlyRootFilesystem: true };

export interface ExportersArgs {
    readonly platform: Platform;
    readonly images: { postgres: string; pgbouncer: string; node: string };
    /** PostgreSQL as seen by the exporter */
    readonly postgres: { host: string; port: number; database: string };
    /** password of the `postgres_exporter` role (member of pg_monitor) */
    readonly postgresPassword: pulumi.Input<string>;
    /** PgBouncer's admin console as seen by the exporter */
    readonly pgbouncer: { host: string; port: number; statsUser: string };
    readonly pgbouncerStatsPassword: pulumi.Input<string>;
    /** the CA that signed PostgreSQL's and PgBouncer's certificates (PEM) */
    readonly caCertPem: pulumi.Input<string>;
    /** run node-exporter (not in operator mode: the cluster's kube-prometheus-stack has its own) */
    readonly nodeExporter: boolean;
}

/** postgres-exporter, the prometheus-community PgBouncer exporter and node-exporter. */
export class Exporters extends pulumi.ComponentResource {
    constructor(name: string, args: ExportersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Exporters", name, {}, opts);
        const p = args.platform;
        const listen = (port: number) => `--web.listen-address=${p.listenAddress}:${port}`;
        const common = { runAs, replicas: 1, resources: { cpu: "250m", memory: "128Mi" } } as const;
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
        p.deploy(
            {
                ...common,
                name: "pgbouncer-exporter",
                component: "exporter",
                image: args.images.pgbouncer,
                args: [listen(FIXED_PORTS["pgbouncer-exporter"])],
                secretEnv: {
                    PGBOUNCER_EXPORTER_CONNECTION_STRING: pulumi.output(args.pgbouncerStatsPassword).apply((password) =>
                        connectionUrl({ scheme: "postgres", user: args.pgbouncer.statsUser, password, ...args.pgbouncer, path: `pgbouncer?sslmode=verify-full&sslrootcert=${caPath("pgbouncer-exporter")}` }),
                    ),
                },
                configDir: configDir("pgbouncer-exporter"),
                files: [caFile],
                ports: [{ name: "metrics", port: FIXED_PORTS["pgbouncer-exporter"] }],
                health: { http: { path: "/metrics", port: FIXED_PORTS["pgbouncer-exporter"] } },
                workload: "deployment",
                metrics: { job: PGBOUNCER_EXPORTER.job, port: FIXED_PORTS["pgbouncer-exporter"], path: "/metrics" },
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
