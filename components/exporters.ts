import * as pulumi from "@pulumi/pulumi";
import { exporterQueries } from "../configs/exporter-queries";
import { NODE_EXPORTER, POSTGRES_EXPORTER } from "../configs/metrics";
import { FIXED_PORTS, POSTGRES_EXPORTER_USER, SECRET_FILE, TLS_FILES } from "../stack/fixed";
import type { Platform, ServiceSpec } from "./service";
import { caFile, certificateFiles, type Authorities } from "./tls";

/** uid of `nobody`, which the Prometheus-ecosystem images run as */
export const NOBODY = 65534;
export const EXPORTER_RUN_AS = { user: NOBODY, group: NOBODY, readOnlyRootFilesystem: true };
/** an exporter's share of a node */
export const EXPORTER_RESOURCES = { cpu: "250m", memory: "128Mi" };
/** `--web.listen-address` of an exporter */
export const listenFlag = (address: string, port: number) => `--web.listen-address=${address}:${port}`;

/** An exporter's `metrics` port: named, health-checked and scraped at /metrics under its job. */
export function metricsEndpoint(job: string, port: number): Required<Pick<ServiceSpec, "ports" | "health" | "metrics">> {
    return { ports: [{ name: "metrics", port }], health: { http: { path: "/metrics", port } }, metrics: { job, port, path: "/metrics" } };
}

const POSTGRES_EXPORTER_DIR = "/etc/postgres-exporter";

export interface ExportersArgs {
    readonly platform: Platform;
    readonly images: { postgres: string; node: string; kubeRbacProxy: string };
    /** PostgreSQL as seen by the exporter; none when the database exports its own metrics (CloudNativePG) */
    readonly postgres?: { host: string; port: number; database: string };
    /** password of the `postgres_exporter` role (member of pg_monitor) */
    readonly postgresPassword: pulumi.Input<string>;
    /** the stack CA: it signed PostgreSQL's certificate, and signs node-exporter's proxy's */
    readonly ca: Authorities;
    /** run node-exporter (not in operator mode: the cluster's kube-prometheus-stack has its own) */
    readonly nodeExporter: boolean;
}

/** postgres-exporter (unless the database exports its own) and node-exporter (PgBouncer's exporter runs beside each PgBouncer: components/pgbouncer.ts). */
export class Exporters extends pulumi.ComponentResource {
    constructor(name: string, args: ExportersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Exporters", name, {}, opts);
        const p = args.platform;
        const listen = (port: number) => listenFlag(p.listenAddress, port);
        const common = { runAs: EXPORTER_RUN_AS, replicas: 1, resources: EXPORTER_RESOURCES } as const;

        const pg = args.postgres;
        if (pg) p.deploy(
            {
                ...common,
                name: "postgres-exporter",
                component: "exporter",
                image: args.images.postgres,
                // the archiver's progress, data checksums and the certificates read beside PostgreSQL (configs/exporter-queries.ts)
                args: [listen(FIXED_PORTS["postgres-exporter"]), `--extend.query-path=${POSTGRES_EXPORTER_DIR}/queries.yaml`],
                env: {
                    DATA_SOURCE_URI: `${pg.host}:${pg.port}/${pg.database}?sslmode=verify-full&sslrootcert=${POSTGRES_EXPORTER_DIR}/${TLS_FILES.ca}`,
                    DATA_SOURCE_USER: POSTGRES_EXPORTER_USER,
                    DATA_SOURCE_PASS_FILE: `${POSTGRES_EXPORTER_DIR}/${SECRET_FILE}`,
                },
                configDir: POSTGRES_EXPORTER_DIR,
                files: [caFile(args.ca.certPem), { path: SECRET_FILE, content: args.postgresPassword, secret: true }, { path: "queries.yaml", content: exporterQueries() }],
                ...metricsEndpoint(POSTGRES_EXPORTER.job, FIXED_PORTS["postgres-exporter"]),
                workload: "deployment",
            },
            this,
        );
        if (args.nodeExporter) {
            const node: ServiceSpec = {
                ...common,
                name: "node-exporter",
                component: "exporter",
                image: args.images.node,
                args: ["--path.rootfs=/host", listen(FIXED_PORTS["node-exporter"])],
                ...metricsEndpoint(NODE_EXPORTER.job, FIXED_PORTS["node-exporter"]),
                hostRootfs: "/host",
                hostAccessReason: "node metrics: host network and PID namespace, root filesystem read-only",
                workload: "daemonset",
            };
            p.deploy(p.kind === "kubernetes" ? behindKubeRbacProxy(node, args.images.kubeRbacProxy, args.ca, this) : node, this);
        }
        this.registerOutputs({});
    }
}

/** Where node-exporter listens when a proxy stands in front of it: the node's loopback only. */
const NODE_EXPORTER_LOOPBACK = "127.0.0.1:9101";
const PROXY_DIR = "/etc/kube-rbac-proxy";
/** the name Prometheus verifies the proxy's certificate against (node addresses are not known in advance) */
const PROXY_SERVER_NAME = "node-exporter";

/**
 * node-exporter on the host network, as kube-prometheus runs it: the exporter on the node's
 * loopback, and on the node's port kube-rbac-proxy, which serves TLS (a certificate from the
 * stack CA) and lets through only callers whose service account token the API server vouches
 * for and whose role allows GET /metrics (Prometheus'). Nothing unauthenticated listens on the node.
 */
function behindKubeRbacProxy(node: ServiceSpec, image: string, ca: Authorities, parent: pulumi.Resource): ServiceSpec {
    const port = FIXED_PORTS["node-exporter"];
    const cert = ca.issue("kube-rbac-proxy", { dnsNames: [PROXY_SERVER_NAME], ipAddresses: [] }, parent);
    return {
        ...node,
        args: ["--path.rootfs=/host", `--web.listen-address=${NODE_EXPORTER_LOOPBACK}`],
        ports: [{ name: "https", port }],
        // the kubelet's probes reach the pod's address, not its loopback: checked from inside (busybox wget)
        health: { exec: ["wget", "-q", "-O", "/dev/null", `http://${NODE_EXPORTER_LOOPBACK}/metrics`] },
        metrics: undefined,
        reviewsTokens: true,
        sidecars: [
            {
                name: "kube-rbac-proxy",
                component: "exporter",
                image,
                args: [
                    `--secure-listen-address=:${port}`,
                    `--upstream=http://${NODE_EXPORTER_LOOPBACK}/`,
                    `--tls-cert-file=${PROXY_DIR}/${TLS_FILES.cert}`,
                    `--tls-private-key-file=${PROXY_DIR}/${TLS_FILES.key}`,
                    "--tls-min-version=VersionTLS12",
                    "--allow-paths=/metrics",
                ],
                configDir: PROXY_DIR,
                files: certificateFiles(cert, "server"),
                health: { tcpPort: port },
                resources: { cpu: "100m", memory: "64Mi" },
                // the image's nonroot user
                runAs: { user: 65532, group: 65532, readOnlyRootFilesystem: true },
                metrics: { job: NODE_EXPORTER.job, port, path: "/metrics", authenticated: { serverName: PROXY_SERVER_NAME } },
            },
        ],
    };
}
