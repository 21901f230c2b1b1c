/** postgresql.conf, pg_hba.conf and the idempotent roles script from typed input. */
import { GENERATED, iniLines, pgMemory, quoteIdent, quoteLiteral } from "./format";

export interface PostgresConfInput {
    port: number;
    maxConnections: number;
    superuserReservedConnections: number;
    sharedBuffers: string;
    effectiveCacheSize: string;
    workMem: string;
    maintenanceWorkMem: string;
}

/**
 * How long a session may sit idle inside a transaction before PostgreSQL ends it: a
 * forgotten transaction holds a whole pooled server connection, and bounds how long
 * PgBouncer's graceful shutdown can wait for its server connections.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60;

export function postgresqlConf(i: PostgresConfInput): string {
    const settings = {
        listen_addresses: quoteLiteral("*"),
        port: i.port,
        max_connections: i.maxConnections,
        superuser_reserved_connections: i.superuserReservedConnections,
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
        shared_preload_libraries: quoteLiteral("pg_stat_statements"),
        track_io_timing: "on",
    };
    return [`# ${GENERATED}`, ...iniLines(settings), ""].join("\n");
}

/** Password logins only, SCRAM only; on Kubernetes NetworkPolicies decide who reaches the port. */
export function pgHbaConf(): string {
    return [
        `# ${GENERATED}`,
        "# TYPE  DATABASE  USER  ADDRESS       METHOD",
        "local   all       all                 scram-sha-256",
        "host    all       all   127.0.0.1/32  scram-sha-256",
        "host    all       all   ::1/128       scram-sha-256",
        "host    all       all   0.0.0.0/0     scram-sha-256",
        "host    all       all   ::/0          scram-sha-256",
        "",
    ].join("\n");
}

export interface RoleSpec {
    name: string;
    /** SCRAM verifier set as the role's password (never a plaintext password) */
    verifier: string;
    /** roles granted to this one, e.g. pg_monitor */
    memberOf?: string[];
    /** makes the role the owner of this database, creating it when missing */
    ownsDatabase?: string;
    /** per-role connection limit */
    connectionLimit?: number;
}

/**
 * A psql script that creates or updates every role (login, password verifier,
 * memberships) and the databases they own. Idempotent: it runs on every change
 * of a credential, not only on the first boot of an empty data directory.
 */
export function rolesSql(roles: RoleSpec[]): string {
    const lines = [
        `-- ${GENERATED}`,
        "\\set ON_ERROR_STOP on",
        "-- The verifiers below must not reach the server log, whatever its settings.",
        "SET log_statement = 'none';",
        "SET log_min_duration_statement = -1;",
        "SET log_min_error_statement = panic;",
        "-- Re-applying is normal: no notices for grants that already exist.",
        "SET client_min_messages = warning;",
        "",
    ];
    for (const r of [...roles].sort((a, b) => a.name.localeCompare(b.name))) {
        const ident = quoteIdent(r.name);
        lines.push(
            `SELECT format('CREATE ROLE %I LOGIN', ${quoteLiteral(r.name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(r.name)})\\gexec`,
            `ALTER ROLE ${ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT ${r.connectionLimit ?? -1} PASSWORD ${quoteLiteral(r.verifier)};`,
        );
        for (const group of r.memberOf ?? []) lines.push(`GRANT ${quoteIdent(group)} TO ${ident};`);
        if (r.ownsDatabase) {
            const db = r.ownsDatabase;
            lines.push(
                `SELECT format('CREATE DATABASE %I OWNER %I', ${quoteLiteral(db)}, ${quoteLiteral(r.name)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${quoteLiteral(db)})\\gexec`,
                `ALTER DATABASE ${quoteIdent(db)} OWNER TO ${ident};`,
            );
        }
        lines.push("");
    }
    return lines.join("\n");
}
