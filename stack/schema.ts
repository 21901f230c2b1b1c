/**
 * The typed stack configuration: one TypeBox schema gives the TypeScript type
 * (`StackConfig`) and the JSON Schema that ajv validates `Pulumi.<stack>.yaml` against.
 * Every default lives here and nowhere else; docs/CONFIG.md is generated from this file.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** An object whose missing keys take their defaults and whose unknown keys are errors. */
function Section<T extends Record<string, TSchema>>(description: string, properties: T) {
    return Type.Object(properties, { description, default: {}, additionalProperties: false });
}

/** A container image pinned by tag and/or digest; `latest` and untagged images are rejected. */
const Image = (def: string, description: string) =>
    Type.String({ format: "pinned-image", default: def, description });

/** A whole amount of memory or storage in binary units, as Kubernetes and PostgreSQL both accept it. */
const Bytes = (def: string, description: string) =>
    Type.String({ pattern: "^[1-9][0-9]*(Ki|Mi|Gi|Ti)$", examples: ["512Mi", "2Gi"], default: def, description });

/** CPU in cores (`2`, `1.5`) or millicores (`500m`). */
const Cpu = (def: string, description: string) =>
    Type.String({ pattern: "^([0-9]+(\\.[0-9]+)?|[0-9]+m)$", examples: ["500m", "1.5", "2"], default: def, description });

/** A Prometheus duration above zero (`0s` would disable what it times). */
const Duration = (def: string, description: string) =>
    Type.String({ format: "positive-duration", examples: ["15s", "2m", "1h30m", "30d"], default: def, description });

const Port = (def: number, description: string) =>
    Type.Integer({ minimum: 1, maximum: 65535, default: def, description });

const Resources = (cpu: string, memory: string) =>
    Section("CPU and memory limit of each replica (requests are set to the same values)", {
        cpu: Cpu(cpu, "CPU limit, in cores or millicores (`500m`)"),
        memory: Bytes(memory, "memory limit (`512Mi`, `2Gi`)"),
    });

const HostPort = (description: string) =>
    Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description }));

/** CloudNativePG's default base-backup schedule: daily (stack/load.ts sets it where the stack does not). */
export const CNPG_FULL_SCHEDULE = "0 1 * * *";

/** A cron schedule (minute hour day-of-month month day-of-week, UTC). */
const Cron = (def: string, description: string) =>
    Type.String({ format: "cron", examples: ["0 1 * * 0", "30 2 * * 1-6"], default: def, description });

/** An S3-compatible object store over TLS and where its credentials come from; `keys` names the secrets that hold static keys. */
const S3Store = (keys: [string, string], description: string) =>
    Type.Object(
            {
                endpoint: Type.String({ pattern: "^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", examples: ["s3.eu-central-1.amazonaws.com", "minio.storage:9000"], description: "S3 endpoint host[:port] (TLS always)" }),
                bucket: Type.String({ pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description: "bucket (created beforehand)" }),
                region: Type.String({ minLength: 1, examples: ["eu-central-1", "us-east-1"], description: "region" }),
                uriStyle: Type.Union([Type.Literal("host"), Type.Literal("path")], { default: "host", description: "`host` (bucket.endpoint) or `path` (endpoint/bucket, most self-hosted stores)" }),
                path: Type.String({ pattern: "^/[A-Za-z0-9._/-]*$", default: "/flowviz", description: "prefix inside the bucket" }),
                keyType: Type.Union([Type.Literal("shared"), Type.Literal("web-id"), Type.Literal("auto")], {
                    default: "shared",
                    description:
                        `\`shared\`: the secrets \`${keys[0]}\` and \`${keys[1]}\`; \`web-id\`: workload identity (Kubernetes): the backup pods' ServiceAccount carries \`serviceAccountAnnotations\` (an IAM role), pgBackRest reads the projected token and asks STS over 443 (\`s3-key-type=web-id\`); \`auto\`: the node's IAM role from the instance metadata address, only with \`metadataEndpoint\` (the backup pods alone may reach it)`,
                }),
                serviceAccountAnnotations: Type.Optional(
                    Type.Record(Type.String({ pattern: "^([a-z0-9.-]+/)?[A-Za-z0-9._-]{1,63}$" }), Type.String({ minLength: 1 }), {
                        examples: [{ "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/flowviz-prod-backups" }],
                        description: "keyType web-id: annotations of the backup pods' ServiceAccount that bind it to a cloud role (EKS: `eks.amazonaws.com/role-arn`)",
                    }),
                ),
                metadataEndpoint: Type.Optional(
                    Type.String({
                        pattern: "^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}:[0-9]{1,5}$",
                        examples: ["169.254.169.254:80"],
                        description: "keyType auto: the instance metadata address and port the backup pods alone may reach (an egress rule of its own; on EKS the node's IMDSv2 hop limit must be 2 or more for pods)",
                    }),
                ),
                caCert: Type.Optional(Type.String({ pattern: "-----BEGIN CERTIFICATE-----", description: "PEM of the CA that signed the endpoint's certificate, when not a public one" })),
            },
            { additionalProperties: false, description },
        );

export const BackupsSchema = Section("continuous WAL archiving and scheduled backups with pgBackRest (docs/BACKUPS.md)", {
    repository: Type.Optional(
        Type.Union([Type.Literal("posix"), Type.Literal("s3"), Type.Literal("none")], {
            description: "where WAL and backups go: `posix` (a protected volume of its own; the default on Docker), `s3` (an S3-compatible object store; the default on Kubernetes), `none` (nothing archived: needs `allowNone`)",
        }),
    ),
    allowNone: Type.Boolean({ default: false, description: "allow `repository: none`: no archive and no backup, the data is lost with its volume" }),
    image: Type.Optional(Type.String({ format: "pinned-image", description: "PostgreSQL image with pgBackRest (postgres.image plus images/postgres-pgbackrest/Dockerfile, pushed to your registry); required on Kubernetes, built from the Dockerfile on Docker when unset" })),
    archiveTimeout: Duration("60s", "`archive_timeout`: a WAL segment with any write in it is archived at least this often; a lost volume loses the segment still filling, up to this long or 16 MiB of writes, whichever comes first (docs/BACKUPS.md, RPO)"),
    archivePushQueueMax: Bytes("4Gi", "pgBackRest `archive-push-queue-max`: WAL kept for an unreachable repository; beyond it WAL is dropped from the queue (the archive gets a gap, PostgreSQL's disk never fills)"),
    schedule: Section("when backups run (cron, UTC), each outside PostgreSQL's pod (Kubernetes: a CronJob; Docker: the backup container's loop); changing one never restarts PostgreSQL", {
        full: Cron("0 1 * * 0", `full backup (with postgres.engine cloudnative-pg the default is daily, "${CNPG_FULL_SCHEDULE}": base backups are its only ones)`),
        diff: Cron("0 1 * * 1-6", "differential backup (changes since the last full); a minute due for both runs the full one first"),
        verify: Cron("30 3 * * *", "`pgbackrest verify`: every file of the repository read back and checked"),
        walCheck: Cron("*/10 * * * *", "the archive's WAL checked for gaps after the newest full backup (WAL dropped past archivePushQueueMax); a gap marks that backup and takes a new full one"),
        drill: Cron("0 5 * * 6", "restore drill: the newest backup of each repository restored into scratch storage, brought to consistency, checked with pg_amcheck and drillTables, its restore time and age pushed to the Pushgateway; an alert fires when one fails or none succeeded within twice this interval"),
    }),
    retention: Section("what the repository keeps", {
        full: Type.Integer({ minimum: 1, maximum: 100, default: 2, description: "`repo1-retention-full`: full backups kept (with their WAL)" }),
        diff: Type.Integer({ minimum: 1, maximum: 100, default: 6, description: "`repo1-retention-diff`: differential backups kept" }),
        recoveryWindowDays: Type.Integer({ minimum: 1, maximum: 3650, default: 7, description: "how far back a point-in-time restore must reach; the full backups kept must cover it" }),
        maxReplayHours: Type.Integer({ minimum: 1, maximum: 720, default: 24, description: "a restore replays at most this many hours of WAL: the longest gap between backups it can start from (full or differential; CloudNativePG: base backups) must not exceed it" }),
    }),
    repositorySize: Bytes("80Gi", "size of the posix repository's volume"),
    drillTables: Type.Array(Type.String({ pattern: "^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$", examples: ["public.haccp_checks"] }), {
        default: [],
        uniqueItems: true,
        examples: [["public.haccp_checks", "public.lots"]],
        description: "tables (schema.table) of postgres.database each restore drill must read back besides pg_amcheck's checks: the HACCP record",
    }),
    passphraseEscrow: Type.Optional(
        Type.String({
            minLength: 3,
            examples: ["vault:secret/flowviz/prod/pgbackrest", "aws-kms:alias/flowviz-escrow (s3://flowviz-escrow/prod.enc)"],
            description: "where a copy of the repositories' passphrases is kept outside this stack's state (docs/BACKUPS.md, \"Escrow\"); until it is set, `npm run check` says the state is their only copy",
        }),
    ),
    s3: Type.Optional(S3Store(["backupS3AccessKey", "backupS3SecretKey"], "the object store (always TLS); with keyType shared its keys are the secrets `backupS3AccessKey` and `backupS3SecretKey`")),
    offsite: Type.Optional(
        Type.Object(
            {
                s3: S3Store(
                    ["backupOffsiteS3AccessKey", "backupOffsiteS3SecretKey"],
                    "the off-site store: another bucket, in another region or account, with an identity of its own (keyType shared: the secrets `backupOffsiteS3AccessKey` and `backupOffsiteS3SecretKey`; web-id only when the first repository does not use it)",
                ),
                retentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 35, description: "`repo2-retention-full` by time: full backups kept this many days (at least retention.recoveryWindowDays)" }),
                schedule: Cron("0 3 * * 0", "full backup into the off-site repository (WAL goes to both repositories continuously)"),
            },
            {
                additionalProperties: false,
                description:
                    "a second pgBackRest repository (repo2), off-site, that its writer cannot erase: WAL archived to both, full backups on their own schedule, retention by time, encrypted with a passphrase of its own (`backupOffsiteCipherPassphrase`). Give its bucket versioning and object lock in compliance mode (docs/BACKUPS.md)",
            },
        ),
    ),
});

/** Point-in-time recovery into a new data volume (docs/runbooks/RestoreToPointInTime.md). */
export const RestoreSchema = Type.Object(
    {
        id: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$", examples: ["recall-2026-12-04"], description: "names the restore: the new data volume is `postgres-data-<id>`; the old one is kept" }),
        target: Type.String({
            pattern: "^(latest|[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)|lsn:[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})$",
            examples: ["latest", "2026-12-04T10:15:00Z", "lsn:0/3000060"],
            description: "`latest` (every archived write), a time with its zone (the last commit before it), or `lsn:<lsn>`",
        }),
        replaceData: Type.Boolean({ default: false, description: "must be `true`: PostgreSQL starts on the restored volume, writes after the target are not in it (they stay on the kept old volume)" }),
        previous: Type.Array(Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$" }), {
            default: [],
            uniqueItems: true,
            examples: [["recall-2026-12-04"]],
            description: "the ids of earlier restores of this stack, oldest first: their volumes (`postgres-data-<id>`, each holding that restore's database with its writes until the next) stay kept and protected",
        }),
        from: Type.Union([Type.Literal("primary"), Type.Literal("offsite")], { default: "primary", description: "the repository restored from: the stack's own, or the off-site one (postgres.backups.offsite) when the first is lost or cannot be trusted" }),
        repositoryAsOf: Type.Optional(
            Type.String({
                pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}(:?[0-9]{2})?)$",
                examples: ["2026-12-04T09:00:00Z"],
                description: "read the repository as it was at this time (pgBackRest `repo-target-time`; S3 with versioning): backups deleted or overwritten since are read back",
            }),
        ),
        holdExpiry: Type.Boolean({
            default: true,
            description: "while `true`, no backup or archived WAL expires (the runs' automatic expire is off): every point before the incident stays restorable. Set `false` once the incident is closed; the repository grows meanwhile",
        }),
    },
    { additionalProperties: false, description: "restore PostgreSQL from the backup repository to a point in time" },
);

/** CloudNativePG: the operator runs PostgreSQL as a replicated Cluster (docs/CLOUDNATIVE-PG.md). */
export const CloudNativePgSchema = Section("CloudNativePG (postgres.engine `cloudnative-pg`, Kubernetes): the operator runs a replicated Cluster; docs/CLOUDNATIVE-PG.md", {
    image: Image("ghcr.io/cloudnative-pg/postgresql:17.12-standard-trixie", "operand image (CloudNativePG's PostgreSQL image with pgAudit: its `standard` flavour); its PostgreSQL version must be postgres.image's"),
    instances: Type.Integer({ minimum: 2, maximum: 9, default: 3, description: "PostgreSQL instances: one primary, the rest streaming standbys on other nodes" }),
    synchronous: Section("synchronous replication (`postgresql.synchronous`, method `any`)", {
        number: Type.Integer({ minimum: 1, maximum: 8, default: 1, description: "standbys that must confirm a commit before it returns" }),
        dataDurability: Type.Union([Type.Literal("required"), Type.Literal("preferred")], {
            default: "required",
            description: "`required`: a commit waits until enough standbys confirm it, even when they are down (no acknowledged write is ever on one node only); `preferred`: commits go on without standbys (availability over durability)",
        }),
    }),
    zoneSpread: Type.Boolean({ default: false, description: "also spread the instances across zones (`topology.kubernetes.io/zone`), never two in one zone while another has none" }),
    walStorageSize: Bytes("20Gi", "each instance's WAL volume (`walStorage`), apart from its data: a WAL burst or an archive outage fills it, never the data volume; `max_slot_wal_keep_size` is half of it"),
    fromStatefulSet: Type.Optional(
        Type.Union([Type.Literal("stream"), Type.Literal("switch"), Type.Literal("retired")], {
            description:
                "a stack that ran the StatefulSet engine moves to the Cluster without losing a row, one `pulumi up` per stage: `stream` keeps the StatefulSet serving while the Cluster is cloned from it (bootstrap.pg_basebackup) and streams from it (a replica cluster); `switch` stops the StatefulSet (its fast shutdown sends its last WAL to the Cluster), then promotes the Cluster and moves PgBouncer to it; `retired` removes the StatefulSet's objects but its volumes. Keep `retired` set: the Cluster's bootstrap cannot change (docs/CLOUDNATIVE-PG.md)",
        }),
    ),
    operatorNamespace: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", default: "cnpg-system", description: "namespace of the CloudNativePG operator and its Barman Cloud plugin (our NetworkPolicies let them reach the instances)" }),
});

export const PostgresSchema = Section("PostgreSQL server", {
    image: Image("postgres:17.12-trixie", "PostgreSQL image"),
    engine: Type.Union([Type.Literal("statefulset"), Type.Literal("cloudnative-pg")], {
        default: "statefulset",
        description: "how PostgreSQL runs: `statefulset` (one pod, pgBackRest backups; Docker and Kubernetes) or `cloudnative-pg` (Kubernetes: a CloudNativePG Cluster with synchronous standbys and Barman Cloud backups; postgres.cloudnativePg)",
    }),
    cloudnativePg: CloudNativePgSchema,
    database: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", examples: ["flowviz", "flowviz_prod"], default: "flowviz", description: "application database" }),
    appUser: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", examples: ["flowviz", "flowviz_app"], default: "flowviz", description: "role the API and worker log in as (through PgBouncer)" }),
    maxConnections: Type.Integer({ minimum: 20, maximum: 10000, default: 100, description: "`max_connections`" }),
    superuserReservedConnections: Type.Integer({ minimum: 1, maximum: 20, default: 3, description: "`superuser_reserved_connections`" }),
    adminConnections: Type.Integer({ minimum: 0, maximum: 100, default: 5, description: "connections kept free for exporters, migrations and humans (outside PgBouncer)" }),
    cpuCores: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 256, description: "CPU cores the database gets; derived from `postgres.resources.cpu` (which sizes the PgBouncer server pool) and, when set, must equal it" })),
    sharedBuffers: Bytes("512Mi", "`shared_buffers` (about 25% of memory)"),
    effectiveCacheSize: Bytes("1536Mi", "`effective_cache_size` (about 75% of memory)"),
    guardrails: Section("time limits each login role's sessions start with (ALTER ROLE ... SET): a lock storm or a runaway query ends as an error for the requests it holds up, instead of holding PgBouncer's server connections; invariants relate them to each other and to the alerts (docs/GUARDRAILS.md)", {
        app: Section("the app's role (every request)", {
            statementTimeout: Duration("5s", "`statement_timeout`: a statement running longer is cancelled"),
            lockTimeout: Duration("100ms", "`lock_timeout`: a statement waiting longer for a lock fails, and its server connection goes back to PgBouncer's pool; at most alerts.latencyP99Seconds. Requests waiting on a table a migration holds occupy rate x this many server connections: at 100ms the other tables' requests kept their p99 within 50 ms through a 30 s ACCESS EXCLUSIVE lock, at 1s they queued for seconds (docs/GUARDRAILS.md). Rows every transaction updates under synchronous commit may need it longer"),
            idleInTransactionTimeout: Duration("10s", "`idle_in_transaction_session_timeout`: a transaction left idle longer ends its session"),
            transactionTimeout: Duration("10s", "`transaction_timeout` (PostgreSQL 17+; ignored before): a transaction running longer ends its session"),
        }),
        migrator: Section("the migration role (DDL)", {
            statementTimeout: Duration("30m", "`statement_timeout` of a migration's statements (an index build, a backfill)"),
            lockTimeout: Duration("2s", "`lock_timeout`: a migration waiting longer for a lock gives up (retry it), so the requests queued behind its lock request wait at most this"),
            idleInTransactionTimeout: Duration("60s", "`idle_in_transaction_session_timeout` of a migration session"),
        }),
    }),
    workMem: Bytes("8Mi", "`work_mem` per sort/hash node"),
    maintenanceWorkMem: Bytes("128Mi", "`maintenance_work_mem`"),
    storageSize: Bytes("20Gi", "size of the data volume (PersistentVolumeClaim on Kubernetes)"),
    workMemPerConnection: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: "`work_mem` allocations the memory check assumes each connection holds at once (raise it for queries with several sorts or hashes)" }),
    resources: Resources("2", "2Gi"),
    backups: BackupsSchema,
    restore: Type.Optional(RestoreSchema),
});

export const PgBouncerSchema = Section("PgBouncer in transaction pooling mode", {
    image: Image("edoburu/pgbouncer:v1.25.1-p0", "PgBouncer image; its tag must contain `version`"),
    version: Type.String({ pattern: "^[0-9]+\\.[0-9]+\\.[0-9]+$", examples: ["1.25.1"], default: "1.25.1", description: "PgBouncer version of the image; gates version-specific settings such as `max_prepared_statements` (>= 1.21)" }),
    replicas: Type.Integer({ minimum: 1, maximum: 32, default: 1, description: "PgBouncer replicas (Kubernetes); the server pool is split between them" }),
    port: Port(6432, "port PgBouncer listens on"),
    maxClientConn: Type.Integer({ minimum: 100, maximum: 100000, default: 1000, description: "`max_client_conn` per replica" }),
    defaultPoolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "`default_pool_size` per replica; derived from `postgres.cpuCores` x `app.roundTripsPerTransaction` / replicas when unset" })),
    reservePoolSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: "`reserve_pool_size` per replica; a quarter of the pool when unset" })),
    reservePoolTimeoutSeconds: Type.Number({ minimum: 0, maximum: 60, default: 3, description: "`reserve_pool_timeout`" }),
    queryWaitTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: "`query_wait_timeout`: a client queued longer than this gets an error; default: postgres.guardrails.app.statementTimeout (a request queued longer has lost its budget)" })),
    serverIdleTimeoutSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 600, description: "`server_idle_timeout`" }),
    maxPreparedStatements: Type.Integer({ minimum: 0, maximum: 10000, default: 200, description: "`max_prepared_statements` (PgBouncer >= 1.21 only); asyncpg needs it > 0 in transaction mode" }),
    fileDescriptorLimit: Type.Integer({ minimum: 1024, maximum: 1048576, default: 8192, description: "open-file limit of the PgBouncer process (Docker `ulimits`)" }),
    logConnections: Type.Boolean({ default: true, description: "`log_connections`/`log_disconnections`: the audit trail of who reached the database through PgBouncer (at 1000+ clients, one line per login and logout)" }),
    resources: Resources("1", "256Mi"),
});

const AppService = <I extends TSchema>(image: I, replicas: number, pool: number, overflow: number, cpu: string, memory: string, what: string) =>
    Section(what, {
        image,
        replicas: Type.Integer({ minimum: 0, maximum: 100, default: replicas, description: "replicas (Kubernetes; Docker runs one)" }),
        dbPoolSize: Type.Integer({ minimum: 1, maximum: 500, default: pool, description: "SQLAlchemy `pool_size` per replica" }),
        dbMaxOverflow: Type.Integer({ minimum: 0, maximum: 500, default: overflow, description: "SQLAlchemy `max_overflow` per replica" }),
        resources: Resources(cpu, memory),
    });

/** An IPv4 CIDR block (NetworkPolicy ipBlock). */
const Cidr = Type.String({ pattern: "^([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$", examples: ["10.0.0.0/8"], description: "IPv4 CIDR block" });
/** RFC 1918: where a cluster's API server and nodes are, unless the stack narrows it. */
export const PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

export const AppSchema = Section("The flowviz application", {
    api: AppService(Image("ghcr.io/flowviz/api:0.6.0", "image"), 2, 25, 10, "1", "512Mi", "FastAPI API (port 8000, `/metrics`)"),
    // one image runs both: a bump of app.api.image moves the worker too, unless it names its own
    worker: AppService(
        Type.Optional(Type.String({ format: "pinned-image", description: "image; `app.api.image` when unset (the worker runs the API's code)" })),
        1, 5, 0, "1", "512Mi", "Celery worker (same image as the API)",
    ),
    apiPort: Port(8000, "port the API listens on"),
    valkeyImage: Image("valkey/valkey:8.1.4-alpine", "Valkey image (Celery broker, rate limiting)"),
    valkeyStorageSize: Bytes("2Gi", "Valkey's volume (append-only file of the queued tasks)"),
    valkeyMemory: Bytes("256Mi", "Valkey's memory request and limit; its `maxmemory` is three quarters of it (the rest: the AOF rewrite's copy-on-write, buffers), past which it refuses new tasks"),
    queues: Type.Array(Type.String({ pattern: "^[A-Za-z0-9_.:-]{1,100}$" }), {
        default: ["celery"],
        minItems: 1,
        uniqueItems: true,
        examples: [["celery", "qc"]],
        description: "the Celery queues (broker lists) the worker consumes: the exporter reports each one's length, CeleryQueueBacklog alerts per queue",
    }),
    egress: Type.Array(
        Type.Object(
            { cidr: Cidr, ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { minItems: 1 }), reason: Type.String({ minLength: 3, description: "what the API calls there" }) },
            { additionalProperties: false },
        ),
        { default: [], description: "outside services the API calls (Kubernetes egress; nothing else leaves the namespace)" },
    ),
    roundTripsPerTransaction: Type.Integer({ minimum: 1, maximum: 100, default: 8, description: "client round trips in a typical transaction (BEGIN ... COMMIT); a server connection is held through each of them" }),
});

export const DockerSchema = Section("Docker target (dev)", {
    hostNetwork: Type.Boolean({ default: false, description: "run every container on the host network on 127.0.0.1 (single-machine tests); otherwise one bridge network" }),
    bindAddress: Type.String({ format: "ipv4", default: "127.0.0.1", description: "host address that published ports bind to" }),
    hostPorts: Section("host ports to publish; a service without one is reachable only inside the network", {
        postgres: HostPort("PostgreSQL (the seeds used 5433)"),
        pgbouncer: HostPort("PgBouncer"),
        api: HostPort("API"),
        prometheus: HostPort("Prometheus"),
        alertmanager: HostPort("Alertmanager"),
        grafana: HostPort("Grafana (the seeds used 3001)"),
    }),
});

export const KubernetesSchema = Section("Kubernetes target (prod)", {
    namespace: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", examples: ["flowviz", "flowviz-prod"], default: "flowviz", description: "namespace every object goes into" }),
    storageClassName: Type.Optional(Type.String({ minLength: 1, description: "StorageClass of the PersistentVolumeClaims (cluster default when unset); use one with `reclaimPolicy: Retain` (README)" })),
    operators: Section("cluster-wide operators the stack runs on (postgres.engine cloudnative-pg; docs/CLOUDNATIVE-PG.md, \"Operators\")", {
        install: Type.Boolean({ default: false, description: "declare CloudNativePG's operator and its Barman Cloud plugin, at the pinned releases stored in operators/, in postgres.cloudnativePg.operatorNamespace before the Cluster; false: they are installed already (one stack per cluster installs them; `npm run check` names the versions expected)" }),
    }),
    egress: Section("where pods may connect beyond the namespace (default deny; docs/SECURITY.md, \"Egress\")", {
        apiServerCidrs: Type.Array(Cidr, { default: PRIVATE_NETWORKS, minItems: 1, description: "the API server's addresses (Prometheus' pod discovery, on ports 443 and 6443); narrow to the control plane's" }),
        nodeCidrs: Type.Array(Cidr, { default: PRIVATE_NETWORKS, minItems: 1, description: "the nodes' addresses (node-exporter on the host network)" }),
        objectStorageCidrs: Type.Optional(Type.Array(Cidr, { minItems: 1, description: "the backup object store's addresses (postgres.backups.s3.endpoint); the public internet, cloud metadata excluded, when unset" })),
    }),
});

const Email = Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$", examples: ["oncall@example.com"], description: "e-mail address" });

export const AlertsSchema = Section("alert thresholds (defaults from the seeds)", {
    errorRatio: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.05, description: "HighErrorRate: share of 5xx responses" }),
    errorFor: Duration("2m", "HighErrorRate: for how long"),
    latencyP99Seconds: Type.Number({ exclusiveMinimum: 0, default: 0.5, description: "HighLatency: API P99 in seconds" }),
    latencyFor: Duration("5m", "HighLatency: for how long"),
    latencyCriticalSeconds: Type.Number({ exclusiveMinimum: 0, default: 1, description: "VeryHighLatency (critical): API P99 in seconds (the seeds' latency > 1s)" }),
    databaseDownFor: Duration("1m", "DatabaseDown: for how long pg_up is 0"),
    pgbouncerWaitingClients: Type.Integer({ minimum: 0, default: 10, description: "PgBouncerPoolExhausted: waiting clients in one pool" }),
    pgbouncerWaitingFor: Duration("2m", "PgBouncerPoolExhausted: for how long"),
    qcFailureRatio: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.1, description: "HighQCFailureRate: share of FAIL decisions" }),
    qcFailureFor: Duration("1h", "HighQCFailureRate: for how long"),
    availabilitySlo: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.995, description: "API availability SLO (share of non-5xx responses) for the burn-rate alerts" }),
    targetDownFor: Duration("5m", "TargetDown: for how long a scrape target is down"),
    brokerBacklogTasks: Type.Integer({ minimum: 1, default: 500, description: "CeleryQueueBacklog: tasks waiting in one queue" }),
    brokerBacklogFor: Duration("10m", "CeleryQueueBacklog: for how long"),
});

export const ReceiversSchema = Section("where Alertmanager sends notifications; none configured = Alertmanager UI only", {
    email: Type.Optional(
        Type.Object(
            { to: Email, from: Email, smarthost: Type.String({ pattern: "^[^:\\s]+:[0-9]+$", examples: ["smtp.example.com:587"], description: "SMTP host:port" }), username: Type.Optional(Type.String({ minLength: 1 })) },
            { additionalProperties: false, description: "critical alerts by e-mail; the SMTP password is the secret `alertmanagerSmtpPassword`" },
        ),
    ),
    slack: Type.Optional(
        Type.Object({ channel: Type.String({ pattern: "^#[a-z0-9_-]+$", examples: ["#flowviz-alerts"] }) }, { additionalProperties: false, description: "warning and critical alerts to Slack; the webhook URL is the secret `alertmanagerSlackWebhookUrl`" }),
    ),
    webhook: Type.Optional(Type.String({ format: "uri", description: "generic webhook receiving every alert (incident tooling)" })),
    watchdogUrl: Type.Optional(Type.String({ format: "uri", description: "dead man's switch: receives the always-firing Watchdog alert every minute" })),
});

export const OperatorSchema = Section("operator mode: the cluster's kube-prometheus-stack does the monitoring", {
    namespace: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", examples: ["monitoring"], default: "monitoring", description: "namespace of the existing Prometheus and Grafana (our NetworkPolicies let its Prometheus in; the dashboards go there)" }),
    selectorLabels: Type.Record(Type.String({ pattern: "^[A-Za-z0-9./_-]{1,253}$" }), Type.String({ maxLength: 63 }), {
        default: { release: "kube-prometheus-stack" },
        description: "labels the existing Prometheus selects PodMonitors, PrometheusRules and AlertmanagerConfigs by (the chart's default: its release name)",
    }),
    dashboardLabel: Type.String({ pattern: "^[A-Za-z0-9./_-]{1,253}=[A-Za-z0-9._-]{0,63}$", examples: ["grafana_dashboard=1"], default: "grafana_dashboard=1", description: "label (`key=value`) the Grafana sidecar loads dashboard ConfigMaps by" }),
});

export const MonitoringSchema = Section("Prometheus, Alertmanager, Grafana and the exporters", {
    mode: Type.Union([Type.Literal("bundled"), Type.Literal("operator")], {
        default: "bundled",
        description: "`bundled`: the stack runs its own Prometheus, Alertmanager, Grafana and node-exporter; `operator` (Kubernetes): it declares PodMonitors, a PrometheusRule, an AlertmanagerConfig and dashboard ConfigMaps for an existing kube-prometheus-stack",
    }),
    operator: OperatorSchema,
    prometheusImage: Image("prom/prometheus:v2.53.5", "Prometheus image"),
    alertmanagerImage: Image("prom/alertmanager:v0.28.1", "Alertmanager image"),
    grafanaImage: Image("grafana/grafana:11.6.0", "Grafana image"),
    nodeExporterImage: Image("prom/node-exporter:v1.9.1", "node-exporter image"),
    pushgatewayImage: Image("prom/pushgateway:v1.11.0", "Pushgateway image: the restore drills push what they measured to it (statefulset engine with backups)"),
    kubeRbacProxyImage: Image("quay.io/brancz/kube-rbac-proxy:v0.19.1", "Kubernetes: the authenticating proxy in front of node-exporter (TLS, service account tokens)"),
    postgresExporterImage: Image("prometheuscommunity/postgres-exporter:v0.17.1", "postgres-exporter image"),
    pgbouncerExporterImage: Image("quay.io/prometheuscommunity/pgbouncer-exporter:v0.12.1", "PgBouncer exporter image (prometheus-community)"),
    valkeyExporterImage: Image("oliver006/redis_exporter:v1.69.0", "Valkey's metrics exporter (redis_exporter; it speaks to Valkey as to Redis)"),
    scrapeInterval: Duration("15s", "global scrape interval"),
    apiScrapeInterval: Duration("10s", "scrape interval of the API"),
    evaluationInterval: Duration("15s", "rule evaluation interval"),
    retentionTime: Duration("30d", "TSDB retention time"),
    retentionSize: Type.String({ pattern: "^[1-9][0-9]*(B|KB|MB|GB|TB)$", examples: ["500MB", "40GB"], default: "40GB", description: "TSDB retention size (powers of 2, as Prometheus reads it); must leave headroom on the volume" }),
    retentionHeadroomPercent: Type.Integer({ minimum: 0, maximum: 100, default: 10, description: "room the volume keeps above `retentionSize` for the block being compacted, besides the WAL" }),
    prometheusStorageSize: Bytes("50Gi", "Prometheus volume size"),
    alertmanagerStorageSize: Bytes("1Gi", "Alertmanager volume size (silences, notification log)"),
    grafanaStorageSize: Bytes("5Gi", "Grafana volume size"),
    enableLifecycle: Type.Boolean({ default: false, description: "`--web.enable-lifecycle`: lets anyone who reaches Prometheus reload or stop it" }),
    runbookBaseUrl: Type.String({ format: "uri", default: "https://github.com/flowviz/flowviz-infra/blob/main/docs/runbooks", description: "where docs/runbooks/ is published; each alert links `<base>/<Alert>.md`" }),
    alerts: AlertsSchema,
    receivers: ReceiversSchema,
    allowNoReceivers: Type.Boolean({ default: false, description: "Kubernetes only: allow a stack whose alerts reach no receiver and no dead man's switch (Alertmanager UI only)" }),
});

export const TlsSchema = Section("the stack's certificate authorities (docs/SECURITY.md, \"Certificates\")", {
    caGeneration: Type.Integer({ minimum: 1, default: 1, description: "the CA generation that signs every certificate; raise it by one to rotate the CAs (after trusting the next generation)" }),
    trustedCaGenerations: Type.Optional(
        Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 2, uniqueItems: true, description: "generations every client and server trusts; during a rotation the old and the new (e.g. [1, 2]), otherwise the signing one alone (the default)" }),
    ),
});

export const StackConfigSchema = Type.Object(
    {
        platform: Type.Union([Type.Literal("docker"), Type.Literal("kubernetes")], { description: "where the stack runs: `docker` (dev) or `kubernetes` (prod)" }),
        docker: DockerSchema,
        kubernetes: KubernetesSchema,
        postgres: PostgresSchema,
        pgbouncer: PgBouncerSchema,
        app: AppSchema,
        monitoring: MonitoringSchema,
        tls: TlsSchema,
    },
    { additionalProperties: false },
);

export type StackConfig = Static<typeof StackConfigSchema>;

/**
 * Credentials a stack may set as `secure:` values; any left unset is generated
 * with @pulumi/random and kept in the (encrypted) state.
 */
export const SecretKeys = {
    postgresPassword: "PostgreSQL superuser (`postgres`) password",
    appDbPassword: "password of `postgres.appUser`",
    migrationDbPassword: "password of `<database>_migrator`, the role migrations run as (DDL, as the database's owner)",
    pgbouncerStatsPassword: "password of PgBouncer's stats user (read by the PgBouncer exporter)",
    pgbouncerAdminPassword: "password of PgBouncer's admin user (admin console)",
    valkeyPassword: "Valkey password of the app's ACL user (`flowviz`)",
    valkeyExporterPassword: "Valkey password of the metrics exporter's ACL user (`redis_exporter`: statistics and queue lengths only)",
    postgresExporterPassword: "password of the `postgres_exporter` role (member of pg_monitor)",
    grafanaAdminPassword: "Grafana `admin` password",
    grafanaSecretKey: "key Grafana encrypts its stored secrets (datasource passwords, tokens) with; without one it uses the key published in its source",
    backupCipherPassphrase: "passphrase the backup repository is encrypted with (`repo1-cipher-pass`); losing it loses every backup",
    backupOffsiteCipherPassphrase: "passphrase the off-site repository is encrypted with (`repo2-cipher-pass`, postgres.backups.offsite)",
} as const;
export type SecretKey = keyof typeof SecretKeys;

/** Secrets that come from outside and are never generated; required when the receiver using them is configured. */
export const ExternalSecretKeys = {
    alertmanagerSmtpPassword: "SMTP password of monitoring.receivers.email",
    alertmanagerSlackWebhookUrl: "Slack incoming-webhook URL of monitoring.receivers.slack",
    backupS3AccessKey: "access key of postgres.backups.s3",
    backupS3SecretKey: "secret key of postgres.backups.s3",
    backupOffsiteS3AccessKey: "access key of postgres.backups.offsite.s3",
    backupOffsiteS3SecretKey: "secret key of postgres.backups.offsite.s3",
} as const;
export type ExternalSecretKey = keyof typeof ExternalSecretKeys;
