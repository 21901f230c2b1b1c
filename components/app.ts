import * as pulumi from "@pulumi/pulumi";
import { connectionUrl, quantityValue } from "../configs/format";
import { valkeyConf } from "../configs/valkey";
import { APP, VALKEY_METRICS } from "../configs/metrics";
import { VALKEY_USERS } from "../facts/valkey";
import { EXPORTER_RESOURCES, EXPORTER_RUN_AS, listenFlag, metricsEndpoint } from "./exporters";
import type { StackConfig } from "../stack/schema";
import { FIXED_PORTS, TLS_FILES, VALKEY_PORT } from "../stack/fixed";
import { LOOPBACK } from "../facts/addresses";
import { caFile, certificateFiles, type Authorities } from "./tls";
import type { Platform, ServiceSpec } from "./service";
import { appEgress } from "./egress";

/** the ACL user the API and worker log in to Valkey as */
const VALKEY_APP_USER = VALKEY_USERS.app.name;
const VALKEY_EXPORTER = "valkey-exporter";
const VALKEY_EXPORTER_DIR = `/etc/${VALKEY_EXPORTER}`;
const VALKEY_EXPORTER_PORT = FIXED_PORTS[VALKEY_EXPORTER];
/** redis_exporter's password file: a JSON object of Valkey's address to the password */
const EXPORTER_PASSWORD_FILE = "secrets/passwords.json";
/** Valkey's maxmemory: three quarters of its container's memory (the rest: the AOF rewrite's copy-on-write pages, client buffers). */
export const valkeyMaxmemory = (memory: string) => Math.floor(quantityValue(memory) * 0.75);
/** uid the flowviz API image runs as */
const APP_UID = 10001;
/** uid/gid of `valkey` in the Alpine-based Valkey image */
const VALKEY_UID = 999;

export interface AppArgs {
    /** the stack's `app` section */
    readonly settings: StackConfig["app"];
    readonly platform: Platform;
    /** PgBouncer, which the app reaches instead of PostgreSQL */
    readonly pooler: { host: string; port: number };
    readonly database: string;
    readonly user: string;
    readonly dbPassword: pulumi.Input<string>;
    readonly valkeyPassword: pulumi.Input<string>;
    /** the broker's metrics exporter: its ACL user's password and its image */
    readonly valkeyExporterPassword: pulumi.Input<string>;
    readonly exporterImage: string;
    /** services allowed to reach the API port (besides nothing: scrapers add themselves) */
    readonly apiClients: string[];
    /** services that read Valkey's certificate (a TLS handshake, no login): the certificate watch in PostgreSQL's pod */
    readonly certificateReaders: string[];
    readonly apiHostPort?: number;
    /** how often Prometheus scrapes the API (the seeds: 10s) */
    readonly scrapeInterval: string;
    /** the CA that signed PgBouncer's certificate and signs Valkey's */
    readonly ca: Authorities;
}

/** The Celery application module the worker runs. */
const CELERY_APP = "app.worker";

/** Celery's ping of this worker alone (its default node name is celery@<hostname>), answered through the broker within 10 seconds. */
export const workerPing = (app: string) => ["sh", "-c", `exec celery -A ${app} inspect ping --destination "celery@$HOSTNAME" --timeout 10`];

/** Where the app finds the CA it verifies PgBouncer and Valkey against. */
const APP_CONFIG_DIR = "/etc/flowviz";
const VALKEY_CONFIG_DIR = "/etc/valkey";

/** The FastAPI API, the Celery worker and Valkey. */
export class App extends pulumi.ComponentResource {
    /** asyncpg DSN through PgBouncer (secret) */
    readonly databaseUrl: pulumi.Output<string>;

    constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:app:App", name, {}, opts);
        const s = args.settings;
        const p = args.platform;
        const valkeyHost = p.hostOf("valkey");
        this.databaseUrl = pulumi.secret(
            pulumi.output(args.dbPassword).apply((password) =>
                // asyncpg verifies PgBouncer's certificate and name against the CA in PGSSLROOTCERT
                connectionUrl({ scheme: "postgresql+asyncpg", user: args.user, password, ...args.pooler, path: `${args.database}?ssl=verify-full` }),
            ),
        );
        // kombu and redis-py verify the broker's certificate and name against the stack CA
        const brokerTls = `ssl_cert_reqs=required&ssl_ca_certs=${APP_CONFIG_DIR}/${TLS_FILES.ca}&ssl_check_hostname=true`;
        const brokerUrl = pulumi.secret(
            pulumi.output(args.valkeyPassword).apply((password) => connectionUrl({ scheme: "rediss", user: VALKEY_APP_USER, password, host: valkeyHost, port: VALKEY_PORT, path: `0?${brokerTls}` })),
        );
        const tls = { certFile: `${VALKEY_CONFIG_DIR}/${TLS_FILES.cert}`, keyFile: `${VALKEY_CONFIG_DIR}/${TLS_FILES.key}`, caFile: `${VALKEY_CONFIG_DIR}/${TLS_FILES.ca}` };
        const passwords = pulumi.all([args.valkeyPassword, args.valkeyExporterPassword]).apply(([app, exporter]) => ({ app, exporter }));
        // the exporter beside Valkey reaches it on the pod's loopback: the certificate names that too
        const names = p.namesOf("valkey");
        const certificate = args.ca.issue("valkey", { dnsNames: [...names.dnsNames, ...LOOPBACK.dnsNames], ipAddresses: [...new Set([...names.ipAddresses, ...LOOPBACK.ipAddresses])] }, this);
        const exporterAddress = `rediss://127.0.0.1:${VALKEY_PORT}`;

        p.deploy(
            {
                name: "valkey",
                component: "cache",
                image: s.valkeyImage,
                args: ["valkey-server", "/etc/valkey/valkey.conf"],
                ports: [{ name: "valkey", port: VALKEY_PORT }],
                configDir: VALKEY_CONFIG_DIR,
                files: [
                    {
                        path: "valkey.conf",
                        content: passwords.apply((pw) => valkeyConf({ listenAddress: p.listenAddress, port: VALKEY_PORT, passwords: pw, queues: s.queues, maxmemoryBytes: valkeyMaxmemory(s.valkeyMemory), tls })),
                        secret: true,
                    },
                    ...certificateFiles(certificate, "server"),
                    caFile(args.ca.certPem),
                ],
                // the broker's queue: a protected volume, one instance, replaced by stopping the old one first
                volumes: [{ name: "data", mountPath: "/data", size: s.valkeyStorageSize }],
                health: { tcpPort: VALKEY_PORT, startSeconds: 5 },
                resources: { cpu: "500m", memory: s.valkeyMemory },
                sidecars: [
                    {
                        name: VALKEY_EXPORTER,
                        component: "exporter",
                        image: args.exporterImage,
                        // its password from a file (a JSON map of address to password), its user the exporter's ACL user; each queue's length
                        args: [
                            listenFlag(p.listenAddress, VALKEY_EXPORTER_PORT),
                            `--redis.addr=${exporterAddress}`,
                            `--redis.user=${VALKEY_USERS.exporter.name}`,
                            `--redis.password-file=${VALKEY_EXPORTER_DIR}/${EXPORTER_PASSWORD_FILE}`,
                            `--tls-ca-cert-file=${VALKEY_EXPORTER_DIR}/${TLS_FILES.ca}`,
                            `--check-single-keys=${s.queues.map((q) => `db0=${q}`).join(",")}`,
                        ],
                        configDir: VALKEY_EXPORTER_DIR,
                        files: [
                            caFile(args.ca.certPem),
                            // keyed as the exporter looks it up: the address with its user in it
                            { path: EXPORTER_PASSWORD_FILE, content: passwords.apply((pw) => JSON.stringify({ [exporterAddress.replace("://", `://${VALKEY_USERS.exporter.name}@`)]: pw.exporter })), secret: true },
                        ],
                        ...metricsEndpoint(VALKEY_METRICS.job, VALKEY_EXPORTER_PORT),
                        resources: EXPORTER_RESOURCES,
                        runAs: EXPORTER_RUN_AS,
                    },
                ],
                replicas: 1,
                workload: "statefulset",
                runAs: { user: VALKEY_UID, group: VALKEY_UID, readOnlyRootFilesystem: true },
                reachableFrom: ["api", "worker", ...args.certificateReaders],
            },
            this,
        );

        const appEnv = (svc: Pick<StackConfig["app"]["api"], "dbPoolSize" | "dbMaxOverflow">) => ({
            DB_POOL_SIZE: String(svc.dbPoolSize),
            DB_MAX_OVERFLOW: String(svc.dbMaxOverflow),
            PGSSLROOTCERT: `${APP_CONFIG_DIR}/${TLS_FILES.ca}`,
        });
        const common: Pick<ServiceSpec, "secretEnv" | "scratch" | "runAs" | "dependsOn" | "configDir" | "files"> = {
            configDir: APP_CONFIG_DIR,
            files: [caFile(args.ca.certPem)],
            secretEnv: {
                reason: "the app image reads its database and broker URLs from its environment only",
                values: { DATABASE_URL: this.databaseUrl, CELERY_BROKER_URL: brokerUrl, REDIS_URL: brokerUrl },
            },
            scratch: ["/tmp"],
            runAs: { user: APP_UID, group: APP_UID, readOnlyRootFilesystem: true },
            dependsOn: ["pgbouncer", "valkey"],
        };
        const api = s.api;
        if (api.replicas > 0) {
            p.deploy(
                {
                    ...common,
                    name: "api",
                    component: "api",
                    image: api.image,
                    env: { ...appEnv(api), PORT: String(s.apiPort) },
                    ports: [{ name: "http", port: s.apiPort, hostPort: args.apiHostPort }],
                    health: {
                        http: { path: "/metrics", port: s.apiPort },
                        exec: ["python", "-c", `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${s.apiPort}/metrics', timeout=4)`],
                        startSeconds: 15,
                    },
                    resources: api.resources,
                    replicas: api.replicas,
                    workload: "deployment",
                    reachableFrom: args.apiClients,
                    egress: appEgress(s.egress),
                    metrics: { job: APP.job, port: s.apiPort, path: "/metrics", interval: args.scrapeInterval },
                },
                this,
            );
        }
        const worker = s.worker;
        if (worker.replicas > 0) {
            p.deploy(
                {
                    ...common,
                    name: "worker",
                    component: "worker",
                    image: worker.image ?? s.api.image,
                    command: ["celery"],
                    args: ["-A", CELERY_APP, "worker", "--loglevel=INFO", `--concurrency=${worker.dbPoolSize}`, `--queues=${s.queues.join(",")}`],
                    env: appEnv(worker),
                    // alive and ready while it answers a ping through the broker: a worker whose main loop is stuck answers none
                    health: { exec: workerPing(CELERY_APP), startSeconds: 30, periodSeconds: 30, timeoutSeconds: 20 },
                    resources: worker.resources,
                    replicas: worker.replicas,
                    workload: "deployment",
                },
                this,
            );
        }
        this.registerOutputs({ databaseUrl: this.databaseUrl });
    }
}
