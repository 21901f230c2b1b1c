/** postgresql.conf, pg_hba.conf and the idempotent roles script from typed input. */
import { GENERATED, hbaNames, iniLines, pgMemory, quoteHba, quoteIdent, quoteLiteral } from "./format";

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
    /** absolute paths of the server certificate, its key, and the CA client certificates must chain to */
    tls: { certFile: string; keyFile: string; caFile: string };
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

export function postgresqlConf(i: PostgresConfInput): string {
    const settings = {
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
        // every TCP connection is TLS (pg_hba.conf refuses the rest); TLS 1.2 at least
        ssl: "on",
        ssl_cert_file: quoteLiteral(i.tls.certFile),
        ssl_key_file: quoteLiteral(i.tls.keyFile),
        ssl_ca_file: quoteLiteral(i.tls.caFile),
        ssl_min_protocol_version: quoteLiteral("TLSv1.2"),
        ...i.archive,
    };
    return [`# ${GENERATED}`, ...iniLines(settings), ""].join("\n");
}

/** Who may log in to what over TCP: always TLS, always SCRAM. */
export interface HbaInput {
    database: string;
    /** roles that log in to the application database (app, migration, exporter) */
    databaseLogins: string[];
    /** the superuser: over TCP only the roles job, with its client certificate (any database) */
    superuser: string;
}

/**
 * TLS only: plaintext TCP is refused before any password is asked, each login role
 * reaches only the database it needs with SCRAM, and the superuser logs in over TCP
 * only with a client certificate from the stack's CA (no password to guess, and none
 * that rotating can break). Its password serves the local socket (`kubectl exec`).
 * Anything else is refused. On Kubernetes, NetworkPolicies decide who reaches the port at all.
 */
export function pgHbaConf(i: HbaInput): string {
    const logins = hbaNames(i.databaseLogins);
    return [
        `# ${GENERATED}`,
        "# TYPE     DATABASE  USER  ADDRESS  METHOD",
        "local      all       all            scram-sha-256",
        "hostnossl  all       all   all      reject",
        `hostssl    ${quoteHba(i.database)}  ${logins}  all  scram-sha-256`,
        `hostssl    all       ${quoteHba(i.superuser)}  all  cert`,
        "host       all       all   all      reject",
        "",
    ].join("\n");
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
}

const DML = "SELECT, INSERT, UPDATE, DELETE";

/**
 * A psql script that creates or updates every role, the database and the privileges
 * (PostgreSQL documentation, "Schemas: Usage Patterns": a secure schema usage pattern
 * revokes CREATE on public from PUBLIC). Idempotent: it runs on every change of a
 * credential, and takes an older database (owned by the app role) over to the owner.
 */
export function rolesSql(r: RolesInput): string {
    const db = quoteIdent(r.database);
    const owner = quoteIdent(r.owner);
    const app = quoteIdent(r.app.name);
    const migrator = quoteIdent(r.migrator.name);
    const monitor = quoteIdent(r.monitor.name);
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
        "SET log_statement = 'none';",
        "SET log_min_duration_statement = -1;",
        "SET log_min_error_statement = panic;",
        "-- pgAudit would log each ALTER ROLE ... PASSWORD whole: this reviewed job is the one session it skips",
        "SET pgaudit.log = 'none';",
        "-- Re-applying is normal: no notices for grants that already exist.",
        "SET client_min_messages = warning;",
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
        `GRANT ${owner} TO ${migrator};`,
        "-- the audit trail: every write of the roles that change records (pgAudit, postgresql.conf)",
        `ALTER ROLE ${app} SET pgaudit.log = ${quoteLiteral(AUDIT_CLASSES.writers)};`,
        `ALTER ROLE ${migrator} SET pgaudit.log = ${quoteLiteral(AUDIT_CLASSES.writers)};`,
        `-- migrations create objects as the owner, so the app never owns one`,
        `ALTER ROLE ${migrator} SET role = ${quoteLiteral(r.owner)};`,
        `GRANT pg_monitor TO ${monitor};`,
        `SELECT format('CREATE DATABASE %I OWNER %I', ${quoteLiteral(r.database)}, ${quoteLiteral(r.owner)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(r.database)})\\gexec`,
        `ALTER DATABASE ${db} OWNER TO ${owner};`,
        `REVOKE ALL ON DATABASE ${db} FROM PUBLIC;`,
        `GRANT CONNECT ON DATABASE ${db} TO ${app}, ${migrator}, ${monitor};`,
        `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${migrator};`,
        "",
        `\\connect ${quoteIdent(r.database)}`,
        "SET log_statement = 'none';",
        "SET pgaudit.log = 'none';",
        "SET client_min_messages = warning;",
        `-- an older stack let the app role own the tables: hand them to the owner`,
        `REASSIGN OWNED BY ${app} TO ${owner};`,
        `ALTER SCHEMA public OWNER TO ${owner};`,
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        `REVOKE CREATE ON SCHEMA public FROM ${app};`,
        `GRANT USAGE ON SCHEMA public TO ${app}, ${monitor};`,
        `GRANT ${DML} ON ALL TABLES IN SCHEMA public TO ${app};`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${app};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT ${DML} ON TABLES TO ${app};`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${app};`,
        "",
        "-- what the backup sidecar records (as the superuser) and the exporter reads; nobody else sees it",
        "CREATE SCHEMA IF NOT EXISTS flowviz_ops AUTHORIZATION postgres;",
        "CREATE TABLE IF NOT EXISTS flowviz_ops.backup_events (at timestamptz NOT NULL DEFAULT now(), kind text NOT NULL CHECK (kind IN ('full', 'diff', 'check')), ok boolean NOT NULL, repo_bytes bigint);",
        "REVOKE ALL ON SCHEMA flowviz_ops FROM PUBLIC;",
        `GRANT USAGE ON SCHEMA flowviz_ops TO ${monitor};`,
        `GRANT SELECT ON flowviz_ops.backup_events TO ${monitor};`,
        "CREATE TABLE IF NOT EXISTS flowviz_ops.certificates (name text PRIMARY KEY, not_after timestamptz NOT NULL, checked_at timestamptz NOT NULL DEFAULT now());",
        `GRANT SELECT ON flowviz_ops.certificates TO ${monitor};`,
        "",
    ].join("\n");
}
