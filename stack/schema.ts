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

const Quantity = (def: string, description: string) =>
    Type.String({ pattern: "^[0-9]+(\\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$", default: def, description });

const Duration = (def: string, description: string) =>
    Type.String({ pattern: "^([0-9]+(ms|s|m|h|d|w|y))+$", default: def, description });

const Port = (def: number, description: string) =>
    Type.Integer({ minimum: 1, maximum: 65535, default: def, description });

const Resources = (cpu: string, memory: string) =>
    Section("CPU and memory limit of each replica (requests are set to the same values)", {
        cpu: Quantity(cpu, "CPU limit, in cores or millicores (`500m`)"),
        memory: Quantity(memory, "memory limit (`512Mi`, `2Gi`)"),
    });

const HostPort = (description: string) =>
    Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description }));

export const PostgresSchema = Section("PostgreSQL server", {
    image: Image("postgres:17.2-bookworm", "PostgreSQL image"),
    database: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", default: "flowviz", description: "application database" }),
    appUser: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", default: "flowviz", description: "role the API and worker log in as (through PgBouncer)" }),
    maxConnections: Type.Integer({ minimum: 20, maximum: 10000, default: 100, description: "`max_connections`" }),
    superuserReservedConnections: Type.Integer({ minimum: 1, maximum: 20, default: 3, description: "`superuser_reserved_connections`" }),
    adminConnections: Type.Integer({ minimum: 0, maximum: 100, default: 5, description: "connections kept free for exporters, migrations and humans (outside PgBouncer)" }),
    cpuCores: Type.Integer({ minimum: 1, maximum: 256, default: 2, description: "CPU cores the database gets; sizes the PgBouncer server pool" }),
    sharedBuffers: Quantity("512Mi", "`shared_buffers` (about 25% of memory)"),
    effectiveCacheSize: Quantity("1536Mi", "`effective_cache_size` (about 75% of memory)"),
    workMem: Quantity("8Mi", "`work_mem` per sort/hash node"),
    maintenanceWorkMem: Quantity("128Mi", "`maintenance_work_mem`"),
    storageSize: Quantity("20Gi", "size of the data volume (PersistentVolumeClaim on Kubernetes)"),
    resources: Resources("2", "2Gi"),
});

export const PgBouncerSchema = Section("PgBouncer in transaction pooling mode", {
    image: Image("edoburu/pgbouncer:v1.24.1-p1", "PgBouncer image; its tag must contain `version`"),
    version: Type.String({ pattern: "^[0-9]+\\.[0-9]+\\.[0-9]+$", default: "1.24.1", description: "PgBouncer version of the image; gates version-specific settings such as `max_prepared_statements` (>= 1.21)" }),
    replicas: Type.Integer({ minimum: 1, maximum: 32, default: 1, description: "PgBouncer replicas (Kubernetes); the server pool is split between them" }),
    port: Port(6432, "port PgBouncer listens on"),
    maxClientConn: Type.Integer({ minimum: 100, maximum: 100000, default: 1000, description: "`max_client_conn` per replica" }),
    defaultPoolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "`default_pool_size` per replica; derived from `postgres.cpuCores` x `app.roundTripsPerTransaction` / replicas when unset" })),
    reservePoolSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: "`reserve_pool_size` per replica; a quarter of the pool when unset" })),
    reservePoolTimeoutSeconds: Type.Number({ minimum: 0, maximum: 60, default: 3, description: "`reserve_pool_timeout`" }),
    queryWaitTimeoutSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 120, description: "`query_wait_timeout`: a client queued longer than this gets an error" }),
    serverIdleTimeoutSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 600, description: "`server_idle_timeout`" }),
    maxPreparedStatements: Type.Integer({ minimum: 0, maximum: 10000, default: 200, description: "`max_prepared_statements` (PgBouncer >= 1.21 only); asyncpg needs it > 0 in transaction mode" }),
    fileDescriptorLimit: Type.Integer({ minimum: 1024, maximum: 1048576, default: 8192, description: "open-file limit of the PgBouncer process (Docker `ulimits`)" }),
    logConnections: Type.Boolean({ default: false, description: "`log_connections`/`log_disconnections` (noisy at 1000+ clients)" }),
    resources: Resources("1", "256Mi"),
});

const AppService = (image: string, replicas: number, pool: number, overflow: number, cpu: string, memory: string, what: string) =>
    Section(what, {
        image: Image(image, "image"),
        replicas: Type.Integer({ minimum: 0, maximum: 100, default: replicas, description: "replicas (Kubernetes; Docker runs one)" }),
        dbPoolSize: Type.Integer({ minimum: 1, maximum: 500, default: pool, description: "SQLAlchemy `pool_size` per replica" }),
        dbMaxOverflow: Type.Integer({ minimum: 0, maximum: 500, default: overflow, description: "SQLAlchemy `max_overflow` per replica" }),
        resources: Resources(cpu, memory),
    });

export const AppSchema = Section("The flowviz application", {
    api: AppService("ghcr.io/flowviz/api:0.6.0", 2, 25, 10, "1", "512Mi", "FastAPI API (port 8000, `/metrics`)"),
    worker: AppService("ghcr.io/flowviz/api:0.6.0", 1, 5, 0, "1", "512Mi", "Celery worker (same image as the API)"),
    apiPort: Port(8000, "port the API listens on"),
    valkeyImage: Image("valkey/valkey:8.0.2-alpine", "Valkey image (Celery broker, rate limiting)"),
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
    namespace: Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", default: "flowviz", description: "namespace every object goes into" }),
    storageClassName: Type.Optional(Type.String({ minLength: 1, description: "StorageClass of the PersistentVolumeClaims (cluster default when unset)" })),
});

export const StackConfigSchema = Type.Object(
    {
        platform: Type.Union([Type.Literal("docker"), Type.Literal("kubernetes")], { description: "where the stack runs: `docker` (dev) or `kubernetes` (prod)" }),
        docker: DockerSchema,
        kubernetes: KubernetesSchema,
        postgres: PostgresSchema,
        pgbouncer: PgBouncerSchema,
        app: AppSchema,
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
    pgbouncerStatsPassword: "password of PgBouncer's stats user (read by the PgBouncer exporter)",
    pgbouncerAdminPassword: "password of PgBouncer's admin user (admin console)",
    valkeyPassword: "Valkey password",
} as const;
export type SecretKey = keyof typeof SecretKeys;
