/**
 * PostgreSQL as a CloudNativePG Cluster (postgres.engine cloudnative-pg): the operator runs the
 * instances, fails over and manages the roles; the stack declares the Cluster, its secrets and
 * certificates from the stack CA, the Barman Cloud ObjectStore and ScheduledBackup, and the
 * NetworkPolicies and scrape target around the pods (workload `operated`). docs/CLOUDNATIVE-PG.md.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { BOOTSTRAP_KEYS, bootstrapSql, clusterSpec, objectStoreSpec, S3_SECRET_KEYS, scheduledBackupSpec } from "../configs/cloudnative-pg";
import type { RoleNames } from "../configs/postgres";
import { backupRepository, type MigrationStage } from "../stack/engine";
import { quoteLiteral } from "../configs/format";
import { POSTGRES_PORT } from "../stack/fixed";
import { CERTIFICATE_LIFETIME } from "../configs/certificates";
import type { StackConfig } from "../stack/schema";
import { backupCredentialEgress, backupWorkloadIdentity, objectStorageEgress } from "./egress";
import type { KubernetesPlatform } from "./platform/kubernetes";
import type { ExternalEgress, ServiceSpec } from "./service";
import type { Authorities } from "./tls";
import { guardrailsOf } from "../stack/guardrails";

/** The instance manager's status port: the operator reaches each instance there. */
export const CNPG_STATUS_PORT = 8000;
/** The instance manager's metrics exporter. */
export const CNPG_METRICS_PORT = 9187;
/** The first Cluster's name (its Services: postgres-rw, -ro, -r). */
const SERVICE = "postgres";
/**
 * The instances' identity to the platform (their pods' labels, NetworkPolicies): not the
 * StatefulSet engine's `postgres`, which runs beside the Cluster while a stack moves from it.
 */
export const CLUSTER_IDENTITY = "postgres-cluster";

export interface CloudNativePostgresArgs {
    readonly settings: StackConfig["postgres"];
    readonly platform: KubernetesPlatform;
    readonly storageClassName?: string;
    readonly roles: RoleNames;
    /** SCRAM verifiers of the login roles (the same PgBouncer's userlist holds) */
    readonly verifiers: { migrator: pulumi.Input<string>; app: pulumi.Input<string> };
    readonly ca: Authorities;
    /** services allowed to connect (PgBouncer) */
    readonly clients: string[];
    /** the API server's addresses (the instance manager watches its Cluster) */
    readonly apiServerCidrs: string[];
    readonly objectStorageCidrs?: string[];
    readonly s3Keys?: { key: pulumi.Input<string>; secret: pulumi.Input<string> };
    /** the operator and plugin this stack installs, which its custom resources wait for */
    readonly operators?: pulumi.Resource[];
    /** postgres.cloudnativePg.fromStatefulSet: the StatefulSet engine's server the Cluster is cloned from and follows until `switch`, which the Cluster waits for */
    readonly fromStatefulSet?: { stage: MigrationStage; host: string; server?: pulumi.Resource };
}

export class CloudNativePostgres extends pulumi.ComponentResource {
    /** the read-write Service: always the primary */
    readonly host: string;
    readonly port = POSTGRES_PORT;
    /** no certificate watch of ours reads other servers' certificates */
    readonly certificateReaders: string[] = [];
    /** the Cluster that serves (a restore's new one, or `postgres`) */
    readonly clusterName: string;

    constructor(name: string, args: CloudNativePostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:database:CloudNativePostgres", name, {}, opts);
        const s = args.settings;
        const n = s.cloudnativePg;
        const platform = args.platform;
        const namespace = platform.namespace.metadata.name;
        const parent = { parent: this };
        /** a custom resource of the operator's: created after it, when this stack installs it */
        const afterOperators = { parent: this, dependsOn: args.operators };
        const labels = platform.selector(CLUSTER_IDENTITY);
        const restore = s.restore;
        const from = args.fromStatefulSet;
        this.clusterName = restore ? `${SERVICE}-${restore.id}` : SERVICE;
        const cluster = this.clusterName;
        const meta = (objectName: string, extra: Record<string, string> = {}) => ({ name: objectName, namespace, labels: { ...labels, ...extra } });
        // Secrets and ConfigMaps are auto-named, as our own services' are: a changed value is a new
        // object the Cluster is pointed at (then the old one goes), never a window without one; and
        // the instances reload what carries cnpg.io/reload
        const objectMeta = { namespace, labels: { ...labels, "cnpg.io/reload": "true" } };

        // Login roles: the verifier as the password (CloudNativePG passes a SCRAM verifier through unchanged).
        const roleSecret = (role: "migrator" | "app") =>
            new k8s.core.v1.Secret(
                `${SERVICE}-${role}-password`,
                { metadata: objectMeta, type: "kubernetes.io/basic-auth", stringData: { username: args.roles[role], password: args.verifiers[role] } },
                parent,
            ).metadata.name;
        const passwordSecrets = { migrator: roleSecret("migrator"), app: roleSecret("app") };

        // TLS from the stack CA, each Cluster its own (a restore's new Cluster never takes the old one's): every
        // client keeps verify-full against it (the -rw Service's names in the certificate).
        const caSecret = (name: string, pem: pulumi.Input<string>) => new k8s.core.v1.Secret(name, { metadata: objectMeta, stringData: { "ca.crt": pem } }, parent).metadata.name;
        const tlsOf = (clusterName: string) => {
            const names = [...["rw", "ro", "r"].map((kind) => `${clusterName}-${kind}`), clusterName];
            const server = args.ca.issue(clusterName, { dnsNames: names.flatMap((h) => platform.namesOf(h).dnsNames), ipAddresses: [] }, this);
            const replication = args.ca.issueClient(`${clusterName}-replication`, "streaming_replica", CERTIFICATE_LIFETIME.replicationClient, this);
            const tlsSecret = (suffix: string, cert: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> }) =>
                new k8s.core.v1.Secret(`${clusterName}-${suffix}`, { metadata: objectMeta, type: "kubernetes.io/tls", stringData: { "tls.crt": cert.certPem, "tls.key": cert.keyPem } }, parent).metadata.name;
            return {
                serverSecret: tlsSecret("server-tls", server),
                replicationSecret: tlsSecret("replication-tls", replication),
                serverCaSecret: caSecret(`${clusterName}-server-ca`, args.ca.certPem),
                clientCaSecret: caSecret(`${clusterName}-client-ca`, args.ca.clientCertPem),
            };
        };

        // the guardrails are in the bootstrap SQL, which runs once: a later change is an ALTER ROLE by hand (docs/CLOUDNATIVE-PG.md)
        const sql = bootstrapSql(args.roles, guardrailsOf(s));
        // read once, when the Cluster is created; named for good, so that a later change of the SQL never
        // touches the Cluster's bootstrap (which the operator refuses to change): it replaces the ConfigMap only
        const bootstrap = new k8s.core.v1.ConfigMap(
            `${SERVICE}-bootstrap`,
            { metadata: meta(`${SERVICE}-bootstrap`), data: { [BOOTSTRAP_KEYS.postInit]: sql.postInit, [BOOTSTRAP_KEYS.postInitApplication]: sql.postInitApplication } },
            { parent: this, deleteBeforeReplace: true },
        );

        const s3 = backupRepository({ platform: "kubernetes", postgres: s }) === "s3" ? s.backups.s3 : undefined;
        const objectStore = `${SERVICE}-backups`;
        if (s3) {
            const credentials =
                s3.keyType === "shared"
                    ? new k8s.core.v1.Secret(
                          `${SERVICE}-backup-credentials`,
                          { metadata: objectMeta, stringData: { [S3_SECRET_KEYS.accessKey]: args.s3Keys?.key ?? "", [S3_SECRET_KEYS.secretKey]: args.s3Keys?.secret ?? "", [S3_SECRET_KEYS.region]: s3.region } },
                          parent,
                      ).metadata.name
                    : undefined;
            // the store's CA is the ObjectStore's, which every Cluster shares: named after the service, never after a restore
            const ca = s3.caCert ? caSecret(`${SERVICE}-backup-endpoint-ca`, s3.caCert) : undefined;
            new k8s.apiextensions.CustomResource(
                objectStore,
                {
                    apiVersion: "barmancloud.cnpg.io/v1",
                    kind: "ObjectStore",
                    metadata: meta(objectStore),
                    spec: pulumi.all([credentials, ca]).apply(([credentialsSecret, caName]) => objectStoreSpec({ s3, recoveryWindowDays: s.backups.retention.recoveryWindowDays, credentialsSecret, caSecret: caName })),
                },
                // deleting it would not delete the bucket, but every Cluster that archives through it stops
                { ...afterOperators, protect: true },
            );
        }

        const clusterOf = (clusterName: string, recovery?: { serverName: string; target: string }, hibernated = false) => {
            const tls = tlsOf(clusterName);
            return new k8s.apiextensions.CustomResource(
                clusterName,
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: { ...meta(clusterName), ...(hibernated ? { annotations: { "cnpg.io/hibernation": "on" } } : {}) },
                    spec: pulumi.all([passwordSecrets, tls, bootstrap.metadata.name]).apply(([secrets, tlsNames, bootstrapName]) =>
                        clusterSpec({
                            name: clusterName,
                            image: n.image,
                            instances: n.instances,
                            synchronous: n.synchronous,
                            zoneSpread: n.zoneSpread,
                            storage: { size: s.storageSize, walSize: s.cloudnativePg.walStorageSize, storageClass: args.storageClassName },
                            resources: s.resources,
                            // how often a WAL segment with any write in it is archived (the archive's RPO)
                            conf: { port: POSTGRES_PORT, ...s, archive: s3 ? { archive_timeout: quoteLiteral(s.backups.archiveTimeout) } : undefined },
                            roles: args.roles,
                            passwordSecrets: secrets,
                            bootstrapConfigMap: bootstrapName,
                            tls: tlsNames,
                            labels,
                            archive: s3 ? { objectStore, serverName: clusterName } : undefined,
                            recovery: recovery && { objectStore, ...recovery },
                            serviceAccountAnnotations: backupWorkloadIdentity(s3),
                            fromStatefulSet: from && clusterName === SERVICE ? { host: from.host, port: POSTGRES_PORT, streaming: from.stage === "stream" } : undefined,
                        }),
                    ),
                },
                // A Cluster is its data: deleting one deletes its volumes. A restore makes a new one beside it.
                // Moving from the StatefulSet: promoted only after that server has stopped (switch).
                { ...afterOperators, dependsOn: [...(args.operators ?? []), ...(from?.server ? [from.server] : [])], protect: true },
            );
        };
        if (restore) {
            // the Cluster restored from keeps its volumes, without pods (hibernated), until the restore is verified
            clusterOf(SERVICE, undefined, true);
            clusterOf(cluster, { serverName: SERVICE, target: restore.target });
        } else {
            clusterOf(cluster);
        }
        if (s3) {
            new k8s.apiextensions.CustomResource(
                `${cluster}-full`,
                { apiVersion: "postgresql.cnpg.io/v1", kind: "ScheduledBackup", metadata: meta(`${cluster}-full`), spec: scheduledBackupSpec(cluster, s.backups.schedule.full) },
                afterOperators,
            );
        }

        const egress: ExternalEgress[] = [{ cidrs: args.apiServerCidrs, ports: [443, 6443], reason: "the instance manager watches its Cluster (Kubernetes API)" }];
        if (s3) egress.push(objectStorageEgress(s3.endpoint, args.objectStorageCidrs), ...backupCredentialEgress(s3));
        const spec: ServiceSpec = {
            name: CLUSTER_IDENTITY,
            component: "database",
            image: n.image,
            workload: "operated",
            replicas: n.instances,
            // the instance manager's status port: the operator calls each instance there, instances each other
            ports: [
                { name: "postgres", port: POSTGRES_PORT },
                { name: "status", port: CNPG_STATUS_PORT, from: { services: [CLUSTER_IDENTITY], namespaces: [n.operatorNamespace] } },
            ],
            // standbys stream from the primary; a new one clones it (pg_basebackup)
            reachableFrom: [...args.clients, CLUSTER_IDENTITY],
            sidecars: [
                {
                    name: `${SERVICE}-metrics`,
                    component: "exporter",
                    image: n.image,
                    ports: [{ name: "metrics", port: CNPG_METRICS_PORT }],
                    metrics: { job: SERVICE, port: CNPG_METRICS_PORT, path: "/metrics" },
                },
            ],
            egress,
        };
        platform.deploy(spec, this);
        this.host = platform.hostOf(`${cluster}-rw`);
        this.registerOutputs({ host: this.host, cluster });
    }
}
