import * as pulumi from "@pulumi/pulumi";
import { connectionUrl } from "../configs/format";
import { valkeyConf } from "../configs/valkey";
import { APP } from "../configs/metrics";
import type { StackConfig } from "../stack/schema";
import { TLS_FILES, VALKEY_PORT } from "../stack/fixed";
import { caFile, certificateFiles, type Authorities } from "./tls";
import type { Platform, ServiceSpec } from "./service";
import { appEgress } from "./egress";

/** the ACL user the API and worker log in to Valkey as */
const VALKEY_APP_USER = "flowviz";
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
                        content: pulumi.output(args.valkeyPassword).apply((password) => valkeyConf({ listenAddress: p.listenAddress, port: VALKEY_PORT, user: VALKEY_APP_USER, password, tls })),
                        secret: true,
                    },
                    ...certificateFiles(args.ca.issue("valkey", p.namesOf("valkey"), this), "server"),
                    caFile(args.ca.certPem),
                ],
                // the broker's queue: a protected volume, one instance, replaced by stopping the old one first
                volumes: [{ name: "data", mountPath: "/data", size: s.valkeyStorageSize }],
                health: { tcpPort: VALKEY_PORT, startSeconds: 5 },
                resources: { cpu: "500m", memory: "256Mi" },
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
                    args: ["-A", "app.worker", "worker", "--loglevel=INFO", `--concurrency=${worker.dbPoolSize}`],
                    env: appEnv(worker),
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
