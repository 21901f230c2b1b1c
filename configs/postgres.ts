/** postgresql.conf, pg_hba.conf and the idempotent roles script from typed input. */
import { durationSeconds, GENERATED, hbaNames, iniLines, pgMemory, quantityValue, quoteHba, quoteIdent, quoteLiteral } from "./format";

export interface PostgresConfInput {
    port: number;
    maxConnections: number;
    superuserReservedConnections: number;
    /** connections kept free outside PgBouncer (postgres.adminConnections), recorded for the deployed-capacity check */
    adminConnections: number;
    sharedBuffers: string;
    effectiveCacheSize: string;
    workMem: string;
    maintenanceWorkMem: string;
    /** absolute paths of the server certificate, its key, and the CA client certificates must chain to (unset where an operator places them) */
    tls?: { certFile: string; keyFile: string; caFile: string };
    /** continuous archiving (configs/pgbackrest.ts archiveSettings) */
    archive?: Record<string, string | number>;
}

/**
 * How long a session may sit idle inside a transaction before PostgreSQL ends it: a
 * forgotten transaction holds a whole pooled server connection, and bounds how long
 * PgBouncer's graceful shutdown can wait for its server connections.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60;

/** pgAudit's statement classes: for every role, and for the roles that change HACCP records (app, migrator). */
export const AUDIT_CLASSES = { everyone: "ddl, role", writers: "write, ddl, role" } as const;

/** postgresql.conf's settings, values as the file writes them (strings quoted). */
export function postgresSettings(i: PostgresConfInput): Record<string, string | number> {
    return {
        listen_addresses: quoteLiteral("*"),
        port: i.port,
        max_connections: i.maxConnections,
        superuser_reserved_connections: i.superuserReservedConnections,
        // a custom setting PostgreSQL keeps and ignores: the connections PgBouncer must leave free, so that
        // npm run diff and the policy pack count the same budget as npm run check
        "flowviz.admin_connections": i.adminConnections,
        shared_buffers: pgMemory(i.sharedBuffers),
        effective_cache_size: pgMemory(i.effectiveCacheSize),
        work_mem: pgMemory(i.workMem),
        maintenance_work_mem: pgMemory(i.maintenanceWorkMem),
        password_encryption: "scram-sha-256",
        idle_in_transaction_session_timeout: quoteLiteral(`${IDLE_IN_TRANSACTION_TIMEOUT_SECONDS}s`),
        log_min_duration_statement: quoteLiteral("1s"),
        log_lock_waits: "on",
        log_line_prefix: quoteLiteral("%m [%p] %q%u@%d "),
        log_timezone: quoteLiteral("UTC"),
        timezone: quoteLiteral("UTC"),
        shared_preload_libraries: quoteLiteral("pg_stat_statements,pgaudit"),
        // the audit trail of HACCP records: who connected, and (pgAudit) every DDL and role change;
        // writes too for the app and migration roles (roles.sql). Values never reach the log: no
        // bind parameters in statement or error lines, pgAudit logs statements without them.
        log_connections: "on",
        log_disconnections: "on",
        log_parameter_max_length: 0,
        log_parameter_max_length_on_error: 0,
        "pgaudit.log": quoteLiteral(AUDIT_CLASSES.everyone),
        "pgaudit.log_parameter": "off",
        "pgaudit.log_catalog": "off",
        "pgaudit.log_relation": "on",
        track_io_timing: "on",
        // OLTP behind a pooler (docs/BENCHMARKS.md, pgconf-bench): full-page images compressed, a quarter of the WAL to
        // write and archive for no TPS lost; no JIT compiling of a short query whose plan crosses jit_above_cost
        wal_compression: "lz4",
        jit: "off",
        // every TCP connection is TLS (pg_hba.conf refuses the rest); TLS 1.2 at least
        ssl: "on",
        ...(i.tls ? { ssl_cert_file: quoteLiteral(i.tls.certFile), ssl_key_file: quoteLiteral(i.tls.keyFile), ssl_ca_file: quoteLiteral(i.tls.caFile) } : {}),
        ssl_min_protocol_version: quoteLiteral("TLSv1.2"),
        ...i.archive,
    };
}

/** PostgreSQL's defaults the shared-memory size counts with (the generated postgresql.conf keeps them). */
export const MAX_PARALLEL_WORKERS = 8;
export const HASH_MEM_MULTIPLIER = 2;
/** what a container runtime gives /dev/shm unless told otherwise (Docker, and the 64 MB the size never goes below) */
const RUNTIME_SHM_BYTES = 64 * 1024 ** 2;

/**
 * /dev/shm for PostgreSQL's dynamic shared memory (`dynamic_shared_memory_type = posix`): a parallel query's workers and
 * leader share their hash tables there (each up to work_mem x hash_mem_multiplier), a parallel index build its sort
 * (maintenance_work_mem). Docker's 64 MB default ends such queries with "could not resize shared memory segment ... No
 * space left on device". A memory-backed mount of this size: a cap on what it may hold, not a reservation.
 */
export function sharedMemorySize(i: Pick<PostgresConfInput, "workMem" | "maintenanceWorkMem">): { quantity: string; arithmetic: string } {
    const bytes = (MAX_PARALLEL_WORKERS + 1) * quantityValue(i.workMem) * HASH_MEM_MULTIPLIER + quantityValue(i.maintenanceWorkMem);
    const mib = Math.ceil(Math.max(bytes, RUNTIME_SHM_BYTES) / 1024 ** 2);
    return {
        quantity: `${mib}Mi`,
        arithmetic: `(max_parallel_workers ${MAX_PARALLEL_WORKERS} + leader) x work_mem ${i.workMem} x hash_mem_multiplier ${HASH_MEM_MULTIPLIER} + maintenance_work_mem ${i.maintenanceWorkMem} = ${mib}Mi`,
    };
}

export function postgresqlConf(i: PostgresConfInput): string {
    return [`# ${GENERATED}`, ...iniLines(postgresSettings(i)), ""].join("\n");
}

/** Who may log in to what over TCP: always TLS, always SCRAM. */
export interface HbaInput {
    database: string;
    /** roles that log in to the application database (app, migration, exporter) */
    databaseLogins: string[];
    /** the superuser: over TCP only the roles job, with its client certificate (any database); none where no one logs in as it */
    superuser?: string;
    /** a CloudNativePG Cluster migrating from this server: its replication role, with its client certificate only (`replication` pseudo-database) */
    replication?: string;
}

/**
 * The TCP rules: plaintext refused before any password is asked, each login role reaching
 * only the database it needs with SCRAM, the superuser (where it logs in at all) only with a
 * client certificate from the stack's CA, anything else refused. CloudNativePG's Cluster takes
 * these as its user rules (configs/cloudnative-pg.ts).
 */
export function hbaRules(i: HbaInput): string[] {
    return [
        "hostnossl  all       all   all      reject",
        `hostssl    ${quoteHba(i.database)}  ${hbaNames(i.databaseLogins)}  all  scram-sha-256`,
        ...(i.superuser ? [`hostssl    all       ${quoteHba(i.superuser)}  all  cert`] : []),
        ...(i.replication ? [`hostssl    replication  ${quoteHba(i.replication)}  all  cert`] : []),
        "host       all       all   all      reject",
    ];
}

/**
 * pg_hba.conf: the TCP rules above (no password to guess for the superuser, and none that
 * rotating can break); on the local socket the superuser by peer (only a process of the pod's own
 * postgres user reaches it), everyone else by password. On Kubernetes, NetworkPolicies decide who
 * reaches the port at all.
 */
export function pgHbaConf(i: HbaInput): string {
    // the superuser on the socket by its process's own user (peer): the pod's pgBackRest TLS server and certificate watch, with no password to hand them
    const peer = i.superuser ? [`local      all       ${quoteHba(i.superuser)}       peer`] : [];
    return [`# ${GENERATED}`, "# TYPE     DATABASE  USER  ADDRESS  METHOD", ...peer, "local      all       all            scram-sha-256", ...hbaRules(i), ""].join("\n");
}

export interface LoginRole {
    name: string;
    /** SCRAM verifier set as the role's password (never a plaintext password) */
    verifier: string;
    /** per-role connection limit (-1: none) */
    connectionLimit?: number;
}

/** The roles of the application database, least privilege each. */
export interface RolesInput {
    /** the bootstrap superuser; its password is set on every run, so rotating it is a change of secret like any other */
    superuser: Pick<LoginRole, "name" | "verifier">;
    database: string;
    /** NOLOGIN owner of the database, its schema and every object in it */
    owner: string;
    /** runs migrations: DDL, as the owner (SET ROLE on login) */
    migrator: LoginRole;
    /** the app at run time: reads and writes rows, owns nothing, creates nothing */
    app: LoginRole;
    /** reads statistics only (pg_monitor) */
    monitor: LoginRole;
    /** a CloudNativePG Cluster migrating from this server clones and streams as this role: REPLICATION, no password (its certificate, pg_hba's `replication` line) */
    replication?: string;
}

const DML = "SELECT, INSERT, UPDATE, DELETE";

/** The statements that keep a session's own values and verifiers out of the server log (a script's first lines, again after \\connect). */
const QUIET_SESSION = [
    "SET log_statement = 'none';",
    "SET log_min_duration_statement = -1;",
    "SET log_min_error_statement = panic;",
    "-- pgAudit would log each ALTER ROLE ... PASSWORD whole: this reviewed job is the one session it skips",
    "SET pgaudit.log = 'none';",
    "-- Re-applying is normal: no notices for grants that already exist.",
    "SET client_min_messages = warning;",
];

/** The application database and its roles, by name (both engines create them). */
export interface RoleNames {
    database: string;
    owner: string;
    migrator: string;
    app: string;
}

/** Time limits of a role's sessions (postgres.guardrails), as durations PostgreSQL reads. */
export interface RoleLimits {
    statementTimeout: string;
    lockTimeout: string;
    idleInTransactionTimeout: string;
    transactionTimeout?: string;
}
export interface Guardrails {
    app: RoleLimits;
    migrator: RoleLimits;
    /** PostgreSQL's major version: `transaction_timeout` exists from 17 */
    postgresMajor: number;
}

/** A duration as PostgreSQL takes it: 30m is 30min, 1h30m is 90min, 90s is 90s, 100ms is 100ms. */
const pgDuration = (d: string) => {
    const s = durationSeconds(d)!;
    if (!Number.isInteger(s)) return `${Math.round(s * 1000)}ms`;
    return s % 60 === 0 ? `${s / 60}min` : `${s}s`;
};

/** ALTER ROLE ... SET for each limit (transaction_timeout only where PostgreSQL has it). */
function limitsSql(role: string, l: RoleLimits, postgresMajor: number): string[] {
    const settings: [string, string | undefined][] = [
        ["statement_timeout", l.statementTimeout],
        ["lock_timeout", l.lockTimeout],
        ["idle_in_transaction_session_timeout", l.idleInTransactionTimeout],
        ["transaction_timeout", postgresMajor >= 17 ? l.transactionTimeout : undefined],
    ];
    return settings.filter(([, v]) => v !== undefined).map(([k, v]) => `ALTER ROLE ${role} SET ${k} = ${quoteLiteral(pgDuration(v!))};`);
}

/** What the login roles' sessions start with, and the owner's one member: the migrator. */
export function roleSettingsSql(r: RoleNames, guardrails?: Guardrails): string[] {
    const [app, migrator] = [quoteIdent(r.app), quoteIdent(r.migrator)];
    return [
        ...(guardrails
            ? ["-- time limits (postgres.guardrails): a lock storm ends in errors for what it holds up, not a queue", ...limitsSql(app, guardrails.app, guardrails.postgresMajor), ...limitsSql(migrator, guardrails.migrator, guardrails.postgresMajor)]
            : []),
        `GRANT ${quoteIdent(r.owner)} TO ${migrator};`,
        "-- the audit trail: every write of the roles that change records (pgAudit, postgresql.conf)",
        `ALTER ROLE ${app} SET pgaudit.log = ${quoteLiteral(AUDIT_CLASSES.writers)};`,
        `ALTER ROLE ${migrator} SET pgaudit.log = ${quoteLiteral(AUDIT_CLASSES.writers)};`,
        `-- migrations create objects as the owner, so the app never owns one`,
        `ALTER ROLE ${migrator} SET role = ${quoteLiteral(r.owner)};`,
    ];
}

/** Who may connect to the application database: the named roles, nobody else; the migrator may create temporary tables. */
export function databaseGrantsSql(r: RoleNames, connecting: string[]): string[] {
    const db = quoteIdent(r.database);
    return [
        `REVOKE ALL ON DATABASE ${db} FROM PUBLIC;`,
        `GRANT CONNECT ON DATABASE ${db} TO ${connecting.map(quoteIdent).join(", ")};`,
        `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${quoteIdent(r.migrator)};`,
    ];
}

/** Inside the application database: the owner owns the schema, the app reads and writes rows of what the owner creates. */
export function schemaGrantsSql(r: RoleNames, usage: string[]): string[] {
    const [owner, app] = [quoteIdent(r.owner), quoteIdent(r.app)];
    return [
        `ALTER SCHEMA public OWNER TO ${owner};`,
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        `REVOKE CREATE ON SCHEMA public FROM ${app};`,
        `GRANT USAGE ON SCHEMA public TO ${usage.map(quoteIdent).join(", ")};`,
        `GRANT ${DML} ON ALL TABLES IN SCHEMA public TO ${app};`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${app};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT ${DML} ON TABLES TO ${app};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${app};`,
    ];
}

/**
 * A psql script that creates or updates every role, the database and the privileges
 * (PostgreSQL documentation, "Schemas: Usage Patterns": a secure schema usage pattern
 * revokes CREATE on public from PUBLIC). Idempotent: it runs on every change of a
 * credential, and takes an older database (owned by the app role) over to the owner.
 */
export function rolesSql(r: RolesInput, guardrails?: Guardrails): string {
    const db = quoteIdent(r.database);
    const owner = quoteIdent(r.owner);
    const app = quoteIdent(r.app.name);
    const monitor = quoteIdent(r.monitor.name);
    const names = { database: r.database, owner: r.owner, app: r.app.name, migrator: r.migrator.name };
    const ensureRole = (name: string, login: boolean) =>
        `SELECT format('CREATE ROLE %I ${login ? "LOGIN" : "NOLOGIN"}', ${quoteLiteral(name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(name)})\\gexec`;
    const login = (role: LoginRole) => [
        ensureRole(role.name, true),
        `ALTER ROLE ${quoteIdent(role.name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${role.connectionLimit ?? -1} PASSWORD ${quoteLiteral(role.verifier)};`,
    ];
    return [
        `-- ${GENERATED}`,
        "\\set ON_ERROR_STOP on",
        "-- The verifiers below must not reach the server log, whatever its settings.",
        ...QUIET_SESSION,
        "",
        "-- the superuser's password (local socket only; over TCP it needs its certificate)",
        `ALTER ROLE ${quoteIdent(r.superuser.name)} PASSWORD ${quoteLiteral(r.superuser.verifier)};`,
        "",
        "-- the owner: no login, owns the database and everything in it",
        ensureRole(r.owner, false),
        `ALTER ROLE ${owner} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;`,
        ...login(r.migrator),
        ...login(r.app),
        ...login(r.monitor),
        ...roleSettingsSql(names, guardrails),
        `GRANT pg_monitor TO ${monitor};`,
        ...(r.replication
            ? ["-- the migrating Cluster's replication role: no password (its client certificate), no database", ensureRole(r.replication, true), `ALTER ROLE ${quoteIdent(r.replication)} WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD NULL;`]
            : []),
        `SELECT format('CREATE DATABASE %I OWNER %I', ${quoteLiteral(r.database)}, ${quoteLiteral(r.owner)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(r.database)})\\gexec`,
        `ALTER DATABASE ${db} OWNER TO ${owner};`,
        ...databaseGrantsSql(names, [r.app.name, r.migrator.name, r.monitor.name]),
        "",
        `\\connect ${quoteIdent(r.database)}`,
        ...QUIET_SESSION.filter((l) => !/log_min_|^--/.test(l)),
        `-- an older stack let the app role own the tables: hand them to the owner`,
        `REASSIGN OWNED BY ${app} TO ${owner};`,
        ...schemaGrantsSql(names, [r.app.name, r.monitor.name]),
        "",
        "-- what the certificate watch beside PostgreSQL records (as the superuser) and the exporter reads; nobody else sees it",
        "CREATE SCHEMA IF NOT EXISTS flowviz_ops AUTHORIZATION postgres;",
        "-- backup results come from the repository now (pgbackrest_exporter), not from the database they protect",
        "DROP TABLE IF EXISTS flowviz_ops.backup_events;",
        "REVOKE ALL ON SCHEMA flowviz_ops FROM PUBLIC;",
        `GRANT USAGE ON SCHEMA flowviz_ops TO ${monitor};`,
        "CREATE TABLE IF NOT EXISTS flowviz_ops.certificates (name text PRIMARY KEY, not_after timestamptz NOT NULL, checked_at timestamptz NOT NULL DEFAULT now());",
        `GRANT SELECT ON flowviz_ops.certificates TO ${monitor};`,
        "",
    ].join("\n");
}
