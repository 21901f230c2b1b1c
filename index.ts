/**
 * flowviz: the whole stack from typed configuration.
 * load + validate config -> pick the platform -> build the components -> export outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { alertThresholds } from "./stack/backups";
import { currentStackConfig, pgbouncerPeered, poolSizing } from "./stack";
import { queryWaitSeconds } from "./stack/guardrails";
import { Credentials } from "./components/credentials";
import { DockerPlatform } from "./components/platform/docker";
import { KubernetesPlatform } from "./components/platform/kubernetes";
import { Postgres } from "./components/postgres";
import { CloudNativePostgres, CLUSTER_IDENTITY } from "./components/cloudnative-pg";
import { migrationStage, servingEngine } from "./stack/engine";
import { Operators } from "./components/operators";
import { PgBouncer } from "./components/pgbouncer";
import { App } from "./components/app";
import { Exporters } from "./components/exporters";
import { migratorRoleOf, ownerRoleOf, POSTGRES_EXPORTER_USER, POSTGRES_PORT, SUPERUSER, VALKEY_PORT } from "./stack/fixed";
import { Authorities } from "./components/tls";
import { Prometheus } from "./components/prometheus";
import { Alertmanager } from "./components/alertmanager";
import { Grafana } from "./components/grafana";
import { OperatorMonitoring } from "./components/operator";
import type { Platform } from "./components/service";

const { config, secrets } = currentStackConfig();
const stack = pulumi.getStack();
/** kube-prometheus-stack monitors the stack; we declare what it needs instead of running our own */
const operatorMode = config.monitoring.mode === "operator";

const platform: Platform =
    config.platform === "docker"
        ? new DockerPlatform("docker", { prefix: `flowviz-${stack}`, ...config.docker })
        : new KubernetesPlatform("kubernetes", { ...config.kubernetes, scraperNamespace: operatorMode ? config.monitoring.operator.namespace : undefined });
const hostPorts = config.platform === "docker" ? config.docker.hostPorts : {};

const credentials = new Credentials("credentials", { provided: secrets });
const ca = new Authorities({ stack, generation: config.tls.caGeneration, trusted: config.tls.trustedCaGenerations ?? [config.tls.caGeneration] });
const appUser = config.postgres.appUser;
const database = config.postgres.database;
const migrator = migratorRoleOf(database);

/** An object store's static keys, when the stack set both secrets. */
const keysOf = (key: string | undefined, secret: string | undefined) => (key !== undefined && secret !== undefined ? { key: pulumi.secret(key), secret: pulumi.secret(secret) } : undefined);
const s3Keys = keysOf(secrets.backupS3AccessKey, secrets.backupS3SecretKey);
/** CloudNativePG's Cluster, or PostgreSQL as one pod of our own */
const cloudnativePg = config.postgres.engine === "cloudnative-pg" && platform instanceof KubernetesPlatform && config.platform === "kubernetes";
const operators = cloudnativePg && config.kubernetes.operators.install ? new Operators("operators", { namespace: config.postgres.cloudnativePg.operatorNamespace, apiServerCidrs: config.kubernetes.egress.apiServerCidrs }) : undefined;
/** postgres.cloudnativePg.fromStatefulSet: the StatefulSet engine's server stays (then stops, then only its volumes) while the Cluster is cloned from it */
const stage = migrationStage(config);
const statefulSet =
    !cloudnativePg || stage
        ? new Postgres("postgres", {
              settings: config.postgres,
              platform,
              superuserPassword: credentials.get("postgresPassword"),
              roles: {
                  superuser: { name: SUPERUSER, verifier: credentials.verifier("postgresPassword") },
                  database,
                  owner: ownerRoleOf(database),
                  migrator: { name: migrator, verifier: credentials.verifier("migrationDbPassword") },
                  app: { name: appUser, verifier: credentials.verifier("appDbPassword") },
                  // pg_monitor reads statistics, nothing else; counted in postgres.adminConnections
                  monitor: { name: POSTGRES_EXPORTER_USER, verifier: credentials.verifier("postgresExporterPassword"), connectionLimit: 3 },
              },
              ca,
              objectStorageCidrs: config.platform === "kubernetes" ? config.kubernetes.egress.objectStorageCidrs : undefined,
              certificateEndpoints: [
                  { name: "pgbouncer", host: platform.hostOf("pgbouncer"), port: config.pgbouncer.port, protocol: "postgres" },
                  { name: "valkey", host: platform.hostOf("valkey"), port: VALKEY_PORT, protocol: "tls" },
              ],
              clients: ["pgbouncer", "postgres-exporter"],
              hostPort: hostPorts.postgres,
              pushgatewayImage: config.monitoring.pushgatewayImage,
              backupCredentials: {
                  cipherPass: credentials.get("backupCipherPassphrase"),
                  s3Keys,
                  offsite: config.postgres.backups.offsite
                      ? {
                            cipherPass: credentials.get("backupOffsiteCipherPassphrase"),
                            s3Keys: keysOf(secrets.backupOffsiteS3AccessKey, secrets.backupOffsiteS3SecretKey),
                        }
                      : undefined,
              },
              migratingTo: stage && { service: CLUSTER_IDENTITY, stage },
          })
        : undefined;
const cluster = cloudnativePg
    ? new CloudNativePostgres("postgres", {
          settings: config.postgres,
          platform: platform as KubernetesPlatform,
          storageClassName: config.kubernetes.storageClassName,
          roles: { database, owner: ownerRoleOf(database), migrator, app: appUser },
          verifiers: { migrator: credentials.verifier("migrationDbPassword"), app: credentials.verifier("appDbPassword") },
          ca,
          clients: ["pgbouncer"],
          apiServerCidrs: config.kubernetes.egress.apiServerCidrs,
          objectStorageCidrs: config.kubernetes.egress.objectStorageCidrs,
          s3Keys,
          operators: operators?.ready,
          fromStatefulSet: stage && statefulSet && { stage, host: statefulSet.host, server: statefulSet },
      })
    : undefined;
/** the server PgBouncer sends queries to: the StatefulSet's until the move's switch, else the engine's */
const serving = stage === "stream" ? statefulSet! : (cluster ?? statefulSet!);
const certificateReaders = [...(statefulSet?.certificateReaders ?? []), ...(cluster?.certificateReaders ?? [])];

const sizing = poolSizing(config);
const pgbouncer = new PgBouncer("pgbouncer", {
    settings: { ...config.pgbouncer, queryWaitTimeoutSeconds: queryWaitSeconds(config) },
    sizing,
    peered: pgbouncerPeered(config),
    platform,
    database: { name: config.postgres.database, host: serving.host, port: POSTGRES_PORT },
    ca,
    databaseLogins: {
        [appUser]: credentials.verifier("appDbPassword"),
        [migrator]: credentials.verifier("migrationDbPassword"),
    },
    console: {
        admin: { password: credentials.get("pgbouncerAdminPassword"), verifier: credentials.verifier("pgbouncerAdminPassword") },
        stats: { password: credentials.get("pgbouncerStatsPassword"), verifier: credentials.verifier("pgbouncerStatsPassword") },
    },
    exporterImage: config.monitoring.pgbouncerExporterImage,
    clients: ["api", "worker", ...certificateReaders],
    hostPort: hostPorts.pgbouncer,
    // switch: PgBouncer moves once the StatefulSet has stopped and the Cluster's promotion is asked for
    startsAfter: stage === "switch" ? [cluster!] : undefined,
});

const app = new App("app", {
    settings: config.app,
    platform,
    pooler: pgbouncer,
    database: config.postgres.database,
    user: appUser,
    dbPassword: credentials.get("appDbPassword"),
    valkeyPassword: credentials.get("valkeyPassword"),
    valkeyExporterPassword: credentials.get("valkeyExporterPassword"),
    exporterImage: config.monitoring.valkeyExporterImage,
    apiClients: [],
    certificateReaders,
    apiHostPort: hostPorts.api,
    scrapeInterval: config.monitoring.apiScrapeInterval,
    ca,
});

const monitoring = config.monitoring;
const thresholds = alertThresholds(config);
new Exporters("exporters", {
    platform,
    images: { postgres: monitoring.postgresExporterImage, node: monitoring.nodeExporterImage, kubeRbacProxy: monitoring.kubeRbacProxyImage },
    // CloudNativePG's instances export their own metrics; the StatefulSet's server needs ours while it serves (a move's stream)
    postgres: servingEngine(config) === "statefulset" ? { host: serving.host, port: POSTGRES_PORT, database: config.postgres.database } : undefined,
    postgresPassword: credentials.get("postgresExporterPassword"),
    ca,
    nodeExporter: !operatorMode,
});
const smtpPassword = secrets.alertmanagerSmtpPassword === undefined ? undefined : pulumi.secret(secrets.alertmanagerSmtpPassword);
const slackWebhookUrl = secrets.alertmanagerSlackWebhookUrl === undefined ? undefined : pulumi.secret(secrets.alertmanagerSlackWebhookUrl);
let prometheusUrl: string | undefined;
if (operatorMode && platform instanceof KubernetesPlatform) {
    new OperatorMonitoring("operator", { settings: monitoring, engine: servingEngine(config), thresholds, platform, namespace: platform.namespace.metadata.name, namespaceName: config.kubernetes.namespace, smtpPassword, slackWebhookUrl });
} else {
    // After every scraped service: Prometheus' scrape config is built from what the platform deployed.
    const prometheus = new Prometheus("prometheus", { settings: monitoring, thresholds, platform, stack, hostPort: hostPorts.prometheus, caCertPem: ca.certPem });
    prometheusUrl = prometheus.url;
    new Alertmanager("alertmanager", { settings: monitoring, platform, smtpPassword, slackWebhookUrl, hostPort: hostPorts.alertmanager });
    new Grafana("grafana", { settings: monitoring, engine: servingEngine(config), platform, prometheusUrl: prometheus.url, adminPassword: credentials.get("grafanaAdminPassword"), secretKey: credentials.get("grafanaSecretKey"), hostPort: hostPorts.grafana });
}
platform.finish();

export const platformKind = platform.kind;
export const pgbouncerEndpoint = `${pgbouncer.host}:${pgbouncer.port}`;
export const pgbouncerPool = sizing;
export const databaseUrl = app.databaseUrl;
export const appDbPassword = credentials.get("appDbPassword");
/** the migration role's password (DDL as the database's owner): `pulumi stack output --show-secrets migrationDbPassword` */
export const migrationDbPassword = credentials.get("migrationDbPassword");
/** the server CAs clients verify PostgreSQL, PgBouncer and Valkey against (a bundle during a CA rotation) */
export const caCertificate = ca.certPem;
export { prometheusUrl };
/** Grafana's `admin` password: `pulumi stack output --show-secrets grafanaAdminPassword` */
export const grafanaAdminPassword = credentials.get("grafanaAdminPassword");
/** for the admin console: `pulumi stack output --show-secrets pgbouncerAdminPassword` */
export const pgbouncerAdminPassword = credentials.get("pgbouncerAdminPassword");
/** the repositories' passphrases, for escrow outside the state (docs/BACKUPS.md, "Escrow"): `pulumi stack output --show-secrets backupCipherPassphrase` */
export const backupCipherPassphrase = cloudnativePg ? undefined : credentials.get("backupCipherPassphrase");
export const backupOffsiteCipherPassphrase = config.postgres.backups.offsite ? credentials.get("backupOffsiteCipherPassphrase") : undefined;
