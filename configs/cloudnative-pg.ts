/**
 * CloudNativePG's objects from typed input: the Cluster (parameters and pg_hba from the same
 * generators as the StatefulSet's files), the Barman Cloud plugin's ObjectStore and the
 * ScheduledBackup. Plain objects: components/cloudnative-pg.ts declares them, the tests
 * validate them against the CRDs of the pinned releases.
 */
import { BARMAN_CLOUD_PLUGIN, CNPG_FIXED_PARAMETERS } from "../facts/cloudnative-pg";
import { REPLICATION_ROLE } from "../facts/roles";
import { databaseGrantsSql, hbaRules, postgresSettings, roleSettingsSql, schemaGrantsSql, sharedMemorySize, type Guardrails, type PostgresConfInput, type RoleNames } from "./postgres";
import { GENERATED, quantityValue, quoteIdent } from "./format";

/** Settings the operator's default is stricter on: its TLS floor is TLSv1.3, the StatefulSet's TLSv1.2. */
const OPERATOR_STRICTER = ["ssl_min_protocol_version"];

/** postgresql.conf's settings as a Cluster's `postgresql.parameters`: strings unquoted, CloudNativePG's own (and its stricter defaults) left to it. */
export function clusterParameters(conf: PostgresConfInput, walVolumeBytes?: number): { parameters: Record<string, string>; sharedPreloadLibraries: string[] } {
    const unquote = (v: string | number) => (typeof v === "string" && /^'.*'$/s.test(v) ? v.slice(1, -1).replace(/''/g, "'") : String(v));
    const settings = postgresSettings(conf);
    const parameters = Object.fromEntries(
        Object.entries(settings)
            .filter(([k]) => !CNPG_FIXED_PARAMETERS.includes(k) && !OPERATOR_STRICTER.includes(k))
            .map(([k, v]) => [k, unquote(v)]),
    );
    // a replication slot left behind (a standby gone for good) keeps at most half the WAL volume
    if (walVolumeBytes) parameters.max_slot_wal_keep_size = `${Math.floor(walVolumeBytes / 2 / 1024 ** 2)}MB`;
    const preload = unquote(settings.shared_preload_libraries ?? "");
    return { parameters, sharedPreloadLibraries: preload ? preload.split(",") : [] };
}

/** A Cluster's parameters that CloudNativePG would refuse (its fixed ones), by name. */

/**
 * Run once, when the Cluster is created (bootstrap.initdb): what managed roles cannot say.
 * postInitSQL in the `postgres` database after the application database and its owner exist;
 * the login roles are created without a password (the operator's managed roles give them
 * login, membership and the verifier right after).
 */
export function bootstrapSql(r: RoleNames, guardrails?: Guardrails): { postInit: string; postInitApplication: string } {
    const create = (name: string) => `CREATE ROLE ${quoteIdent(name)} NOLOGIN;`;
    const header = [`-- ${GENERATED}`, "SET client_min_messages = warning;"];
    return {
        postInit: [
            ...header,
            `ALTER ROLE ${quoteIdent(r.owner)} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;`,
            create(r.migrator),
            create(r.app),
            ...roleSettingsSql(r, guardrails),
            ...databaseGrantsSql(r, [r.app, r.migrator]),
            "",
        ].join("\n"),
        postInitApplication: [...header, ...schemaGrantsSql(r, [r.app]), ""].join("\n"),
    };
}

export interface ClusterInput {
    name: string;
    image: string;
    instances: number;
    synchronous: { number: number; dataDurability: "required" | "preferred" };
    zoneSpread: boolean;
    storage: { size: string; walSize: string; storageClass?: string };
    resources: { cpu: string; memory: string };
    conf: PostgresConfInput;
    roles: RoleNames;
    /** Secrets (kubernetes.io/basic-auth) holding each login role's SCRAM verifier */
    passwordSecrets: { migrator: string; app: string };
    /** ConfigMap with the bootstrap SQL (keys `post-init.sql`, `post-init-application.sql`) */
    bootstrapConfigMap: string;
    /** the stack CA's server certificate, its CA and the client CA (certificates section) */
    tls: { serverSecret: string; serverCaSecret: string; clientCaSecret: string; replicationSecret: string };
    /** labels every object of the Cluster carries (its pods are selected by them) */
    labels: Record<string, string>;
    /** the ObjectStore WAL and backups go to; the archive's folder in it is `serverName` */
    archive?: { objectStore: string; serverName: string };
    /** recovery from another cluster's archive instead of initdb (postgres.restore) */
    recovery?: { objectStore: string; serverName: string; target: string };
    /** a Cluster cloned from the StatefulSet engine's server (postgres.cloudnativePg.fromStatefulSet): its address, and whether the Cluster still follows it */
    fromStatefulSet?: { host: string; port: number; streaming: boolean };
    /** annotations of the instances' ServiceAccount: the workload identity the Barman Cloud plugin's credentials come from (keyType web-id) */
    serviceAccountAnnotations?: Record<string, string>;
}

/** `postgres.restore.target` as a Cluster's recoveryTarget (none: every archived write). */
function recoveryTarget(target: string): Record<string, string> | undefined {
    if (target === "latest") return undefined;
    if (target.startsWith("lsn:")) return { targetLSN: target.slice(4) };
    return { targetTime: target };
}

const ROLE_FLAGS = { superuser: false, createdb: false, createrole: false, replication: false, bypassrls: false };
export const BOOTSTRAP_KEYS = { postInit: "post-init.sql", postInitApplication: "post-init-application.sql" } as const;

/** The StatefulSet engine's server, as a migrating Cluster names it. */
export const STATEFULSET_SOURCE = "statefulset";

/**
 * The StatefulSet engine's server as the Cluster's origin: cloned with pg_basebackup and followed
 * as a replica cluster until `streaming` ends (the operator then promotes it), logging in as
 * streaming_replica with the Cluster's own replication certificate and verifying the server's
 * certificate and name against the stack CA.
 */
function statefulSetSource(i: ClusterInput, from: NonNullable<ClusterInput["fromStatefulSet"]>): Record<string, unknown> {
    return {
        externalClusters: [
            {
                name: STATEFULSET_SOURCE,
                connectionParameters: { host: from.host, port: String(from.port), user: REPLICATION_ROLE, dbname: "postgres", sslmode: "verify-full" },
                sslCert: { name: i.tls.replicationSecret, key: "tls.crt" },
                sslKey: { name: i.tls.replicationSecret, key: "tls.key" },
                sslRootCert: { name: i.tls.serverCaSecret, key: "ca.crt" },
            },
        ],
        replica: { enabled: from.streaming, source: STATEFULSET_SOURCE },
    };
}

/** The Cluster's spec (postgresql.cnpg.io/v1). */
export function clusterSpec(i: ClusterInput): Record<string, unknown> {
    const { parameters, sharedPreloadLibraries } = clusterParameters(i.conf, quantityValue(i.storage.walSize));
    const source = "origin";
    const selector = { matchLabels: { "cnpg.io/cluster": i.name } };
    return {
        instances: i.instances,
        imageName: i.image,
        imagePullPolicy: "IfNotPresent",
        inheritedMetadata: { labels: i.labels },
        ...(i.serviceAccountAnnotations ? { serviceAccountTemplate: { metadata: { annotations: i.serviceAccountAnnotations } } } : {}),
        postgresql: {
            parameters,
            shared_preload_libraries: sharedPreloadLibraries,
            pg_hba: hbaRules({ database: i.roles.database, databaseLogins: [i.roles.app, i.roles.migrator] }).map((l) => l.replace(/\s+/g, " ")),
            // failoverQuorum: a standby is promoted only when enough instances agree it holds every acknowledged commit
            synchronous: { method: "any", number: i.synchronous.number, dataDurability: i.synchronous.dataDurability, failoverQuorum: true },
        },
        // no superuser login at all: the operator does the roles work
        enableSuperuserAccess: false,
        bootstrap: i.recovery
            ? { recovery: { source, recoveryTarget: recoveryTarget(i.recovery.target) } }
            : i.fromStatefulSet
              ? { pg_basebackup: { source: STATEFULSET_SOURCE, database: i.roles.database, owner: i.roles.owner } }
              : {
                  initdb: {
                      database: i.roles.database,
                      owner: i.roles.owner,
                      dataChecksums: true,
                      encoding: "UTF8",
                      localeProvider: "builtin",
                      builtinLocale: "C.UTF-8",
                      postInitSQLRefs: { configMapRefs: [{ name: i.bootstrapConfigMap, key: BOOTSTRAP_KEYS.postInit }] },
                      postInitApplicationSQLRefs: { configMapRefs: [{ name: i.bootstrapConfigMap, key: BOOTSTRAP_KEYS.postInitApplication }] },
                  },
              },
        ...(i.recovery
            ? { externalClusters: [{ name: source, plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: i.recovery.objectStore, serverName: i.recovery.serverName } } }] }
            : {}),
        ...(i.fromStatefulSet ? statefulSetSource(i, i.fromStatefulSet) : {}),
        managed: {
            roles: [
                { name: i.roles.owner, ensure: "present", login: false, inherit: false, ...ROLE_FLAGS, comment: "owns the database and every object in it" },
                { name: i.roles.migrator, ensure: "present", login: true, inherit: true, ...ROLE_FLAGS, connectionLimit: -1, inRoles: [i.roles.owner], passwordSecret: { name: i.passwordSecrets.migrator }, comment: "runs migrations as the owner" },
                { name: i.roles.app, ensure: "present", login: true, inherit: true, ...ROLE_FLAGS, connectionLimit: -1, passwordSecret: { name: i.passwordSecrets.app }, comment: "the API and worker, through PgBouncer" },
            ],
        },
        certificates: {
            serverTLSSecret: i.tls.serverSecret,
            serverCASecret: i.tls.serverCaSecret,
            clientCASecret: i.tls.clientCaSecret,
            replicationTLSSecret: i.tls.replicationSecret,
        },
        storage: { size: i.storage.size, ...(i.storage.storageClass ? { storageClass: i.storage.storageClass } : {}), resizeInUseVolumes: true },
        // WAL on its own volume: a burst or an archive outage fills it, never the data
        walStorage: { size: i.storage.walSize, ...(i.storage.storageClass ? { storageClass: i.storage.storageClass } : {}), resizeInUseVolumes: true },
        // the operator's PodDisruptionBudgets (the primary's and the standbys'): a drain never takes the primary without a switchover
        enablePDB: true,
        resources: { requests: i.resources, limits: i.resources },
        // the operator's memory-backed /dev/shm, sized as the StatefulSet engine's
        ephemeralVolumesSizeLimit: { shm: sharedMemorySize(i.conf).quantity },
        affinity: { enablePodAntiAffinity: true, podAntiAffinityType: "required", topologyKey: "kubernetes.io/hostname" },
        ...(i.zoneSpread ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: selector }] } : {}),
        // Pod Security `restricted` spelled out rather than left to the operator's defaults: the namespace enforces it
        podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        primaryUpdateStrategy: "unsupervised",
        primaryUpdateMethod: "switchover",
        ...(i.archive ? { plugins: [{ name: BARMAN_CLOUD_PLUGIN, enabled: true, isWALArchiver: true, parameters: { barmanObjectName: i.archive.objectStore, serverName: i.archive.serverName } }] } : {}),
    };
}

export interface ObjectStoreInput {
    s3: { endpoint: string; bucket: string; region: string; path: string; keyType: "shared" | "web-id" | "auto" };
    recoveryWindowDays: number;
    /** Secret with the keys (shared keys) and the region */
    credentialsSecret?: string;
    /** Secret with the endpoint's CA (`ca.crt`), when it is not a public one */
    caSecret?: string;
}

/** The keys of the object store's credentials Secret, as the ObjectStore refers to them. */
export const S3_SECRET_KEYS = { accessKey: "ACCESS_KEY_ID", secretKey: "ACCESS_SECRET_KEY", region: "REGION" } as const;

/** The ObjectStore's spec (barmancloud.cnpg.io/v1): where WAL and base backups go, compressed and encrypted at rest, kept for the recovery window. */
export function objectStoreSpec(i: ObjectStoreInput): Record<string, unknown> {
    const ref = (key: string) => ({ name: i.credentialsSecret!, key });
    return {
        retentionPolicy: `${i.recoveryWindowDays}d`,
        configuration: {
            destinationPath: `s3://${i.s3.bucket}${i.s3.path === "/" ? "" : i.s3.path}`,
            endpointURL: `https://${i.s3.endpoint}`,
            ...(i.caSecret ? { endpointCA: { name: i.caSecret, key: "ca.crt" } } : {}),
            s3Credentials:
                i.s3.keyType !== "shared"
                    ? { inheritFromIAMRole: true }
                    : { accessKeyId: ref(S3_SECRET_KEYS.accessKey), secretAccessKey: ref(S3_SECRET_KEYS.secretKey), region: ref(S3_SECRET_KEYS.region) },
            wal: { compression: "gzip", encryption: "AES256", maxParallel: 2 },
            data: { compression: "gzip", encryption: "AES256", jobs: 2 },
        },
    };
}

/** A five-field cron (UTC) as the six-field one (seconds first) a ScheduledBackup takes. */
const withSeconds = (cron: string) => `0 ${cron}`;

/** The ScheduledBackup's spec: a base backup through the plugin, from a standby when one is in sync. */
export function scheduledBackupSpec(cluster: string, cron: string): Record<string, unknown> {
    return {
        schedule: withSeconds(cron),
        cluster: { name: cluster },
        method: "plugin",
        pluginConfiguration: { name: BARMAN_CLOUD_PLUGIN },
        target: "prefer-standby",
        backupOwnerReference: "self",
        immediate: true,
    };
}
