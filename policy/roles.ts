/**
 * roles.sql as PostgreSQL will run it: which login role gains what. A secret file (it
 * carries password verifiers), so a reviewer never sees it; this policy does.
 */
import { migratorRoleOf, REPLICATION_ROLE, SUPERUSER } from "../facts/roles";
import { generatedFilePolicy } from "./resources";

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const ident = (raw: string) => (raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.toLowerCase());
const idents = (list: string) => [...list.matchAll(new RegExp(IDENT, "g"))].map((m) => ident(m[0]));

/** Attributes no login role but the superuser may hold. */
const POWERS = ["SUPERUSER", "BYPASSRLS", "CREATEROLE", "REPLICATION"];
/** Predefined roles that read or write the server's files, run programs or read every table. */
const POWERFUL_ROLES = ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "pg_read_all_data", "pg_write_all_data", "pg_signal_backend", "pg_create_subscription", "pg_checkpoint"];

/** Statements of a psql script: comments dropped, `;` and `\gexec` ending a statement, a meta-command line (`\connect`) one of its own. */
const statements = (sql: string) =>
    sql
        .split("\n")
        .filter((l) => !l.trimStart().startsWith("--"))
        .map((l) => (l.trimStart().startsWith("\\") ? `${l.trim()};` : l))
        .join("\n")
        .split(/;|\\gexec/)
        .map((s) => s.replace(/\s+/g, " ").trim())
        .filter(Boolean);

const I = IDENT;
const L = String.raw`'(?:[^']|'')*'`;
const LIST = String.raw`${I}(?:, ${I})*`;
/**
 * Every statement the generators write (configs/postgres.ts: roles.sql and the Cluster's bootstrap
 * SQL), as a shape: names and values vary, nothing else does. A statement of any other shape is
 * refused, whatever it would do: the pack judges only what it can read.
 */
const SHAPES: RegExp[] = [
    String.raw`\\set ON_ERROR_STOP on`,
    String.raw`\\connect ${I}`,
    String.raw`SET (log_statement|log_min_duration_statement|log_min_error_statement|pgaudit\.log|client_min_messages) = ('[a-z]*'|-?\d+|[a-z]+)`,
    String.raw`ALTER ROLE ${I} PASSWORD ${L}`,
    String.raw`SELECT format\('CREATE ROLE %I (NOLOGIN|LOGIN)', ${L}\) WHERE NOT EXISTS \(SELECT FROM pg_roles WHERE rolname = ${L}\)`,
    String.raw`CREATE ROLE ${I} NOLOGIN`,
    String.raw`ALTER ROLE ${I} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`,
    String.raw`ALTER ROLE ${I} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -?\d+ PASSWORD ${L}`,
    String.raw`ALTER ROLE ${I} WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD NULL`,
    String.raw`ALTER ROLE ${I} SET (statement_timeout|lock_timeout|idle_in_transaction_session_timeout|transaction_timeout|pgaudit\.log|role) = ${L}`,
    String.raw`GRANT ${I} TO ${I}`,
    String.raw`SELECT format\('CREATE DATABASE %I OWNER %I', ${L}, ${L}\) WHERE NOT EXISTS \(SELECT FROM pg_database WHERE datname = ${L}\)`,
    String.raw`ALTER DATABASE ${I} OWNER TO ${I}`,
    String.raw`REVOKE ALL ON DATABASE ${I} FROM PUBLIC`,
    String.raw`GRANT CONNECT(, TEMPORARY)? ON DATABASE ${I} TO ${LIST}`,
    String.raw`REASSIGN OWNED BY ${I} TO ${I}`,
    String.raw`ALTER SCHEMA public OWNER TO ${I}`,
    String.raw`REVOKE CREATE ON SCHEMA public FROM (PUBLIC|${I})`,
    String.raw`GRANT USAGE ON SCHEMA (public|flowviz_ops) TO ${LIST}`,
    String.raw`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${LIST}`,
    String.raw`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${LIST}`,
    String.raw`ALTER DEFAULT PRIVILEGES FOR ROLE ${I} IN SCHEMA public GRANT (SELECT, INSERT, UPDATE, DELETE ON TABLES|USAGE, SELECT ON SEQUENCES) TO ${LIST}`,
    String.raw`CREATE SCHEMA IF NOT EXISTS flowviz_ops AUTHORIZATION postgres`,
    String.raw`DROP TABLE IF EXISTS flowviz_ops\.backup_events`,
    String.raw`REVOKE ALL ON SCHEMA flowviz_ops FROM PUBLIC`,
    String.raw`CREATE TABLE IF NOT EXISTS flowviz_ops\.certificates \(name text PRIMARY KEY, not_after timestamptz NOT NULL, checked_at timestamptz NOT NULL DEFAULT now\(\)\)`,
    String.raw`GRANT SELECT ON flowviz_ops\.certificates TO ${I}`,
].map((shape) => new RegExp(`^${shape}$`));

/** What roles.sql grants that it must not: powers to login roles, the database's ownership, membership of its owner. */
export function rolesViolations(sql: string): string[] {
    const out: string[] = [];
    const stmts = statements(sql);
    for (const s of stmts) if (!SHAPES.some((shape) => shape.test(s))) out.push(`roles.sql: "${s.length > 160 ? `${s.slice(0, 160)}...` : s}" is no statement the generator writes: the pack passes only the statements it knows`);
    const logins = new Set<string>();
    for (const s of stmts) {
        for (const m of s.matchAll(new RegExp(String.raw`CREATE ROLE %I LOGIN', '((?:[^']|'')+)'`, "gi"))) logins.add(m[1]!.replace(/''/g, "'"));
        const m = new RegExp(String.raw`^(?:CREATE|ALTER) (?:ROLE|USER) (${IDENT})(.*)$`, "i").exec(s);
        if (m && /\bLOGIN\b/i.test(m[2]!) && !/\bNOLOGIN\b/i.test(m[2]!)) logins.add(ident(m[1]!));
        if (m && /^CREATE USER/i.test(s)) logins.add(ident(m[1]!));
    }
    const owners = new Map<string, string>();
    for (const s of stmts) {
        const db = new RegExp(String.raw`^ALTER DATABASE (${IDENT}) OWNER TO (${IDENT})`, "i").exec(s);
        if (db) owners.set(ident(db[1]!), ident(db[2]!));
    }
    const ownerRoles = new Set(owners.values());
    for (const s of stmts) {
        const role = new RegExp(String.raw`^(?:CREATE|ALTER) (?:ROLE|USER) (${IDENT})(.*)$`, "i").exec(s);
        if (role && ident(role[1]!) !== SUPERUSER) {
            const attributes = role[2]!.replace(/'(?:[^']|'')*'/g, "''");
            const name = ident(role[1]!);
            // a migrating Cluster's replication role streams with its certificate: REPLICATION, never a password
            const allowed = name === REPLICATION_ROLE ? ["REPLICATION"] : [];
            for (const power of POWERS.filter((p) => !allowed.includes(p))) if (new RegExp(String.raw`\b${power}\b`, "i").test(attributes.replace(new RegExp(String.raw`\bNO${power}\b`, "gi"), ""))) out.push(`roles.sql: role ${name} is given ${power}`);
            if (name === REPLICATION_ROLE && /\bPASSWORD\b/i.test(role[2]!) && !/\bPASSWORD\s+NULL\b/i.test(role[2]!)) out.push(`roles.sql: ${REPLICATION_ROLE} is given a password; it logs in with its client certificate only (PASSWORD NULL)`);
        }
        const owned = new RegExp(String.raw`^ALTER (?:DATABASE|SCHEMA|TABLE|SEQUENCE|FUNCTION|VIEW) .* OWNER TO (${IDENT})$`, "i").exec(s);
        if (owned && logins.has(ident(owned[1]!))) out.push(`roles.sql: login role ${ident(owned[1]!)} is made an owner ("${s}")`);
        const grant = /^GRANT (.+) TO (.+?)( WITH .*)?$/i.exec(s);
        if (grant && !/ ON /i.test(` ${grant[1]} `)) {
            for (const member of idents(grant[2]!)) {
                for (const granted of idents(grant[1]!)) {
                    const database = [...owners].find(([, o]) => o === granted)?.[0];
                    if (ownerRoles.has(granted) && member !== migratorRoleOf(database ?? "")) out.push(`roles.sql: ${member} is made a member of ${granted}, the owner of database ${database}; only ${migratorRoleOf(database ?? "")} may be`);
                    if (granted === SUPERUSER || POWERFUL_ROLES.includes(granted)) out.push(`roles.sql: ${member} is made a member of ${granted}`);
                }
            }
        }
        const audit = /^ALTER (ROLE|USER|DATABASE) (\S+) .*SET pgaudit\.log\s*(=|TO)\s*'([^']*)'/i.exec(s);
        if (audit && !["write", "ddl", "role"].every((c) => new RegExp(`\\b(${c}|all)\\b`, "i").test(audit[4]!))) out.push(`roles.sql: ${audit[1]!.toLowerCase()} ${ident(audit[2]!)} audits only '${audit[4]}'; write, ddl and role at least`);
        if (/^ALTER SYSTEM\b/i.test(s) || /^ALTER (ROLE|USER|DATABASE) .* RESET (pgaudit\.|ALL)/i.test(s)) out.push(`roles.sql: "${s}" changes the server's settings behind postgresql.conf`);
        if (/^REASSIGN OWNED BY .* TO /i.test(s)) {
            const to = ident(s.replace(/^.* TO /i, ""));
            if (logins.has(to)) out.push(`roles.sql: everything is handed to login role ${to} ("${s}")`);
        }
    }
    return out;
}

export const databaseRoles = generatedFilePolicy({
    name: "database-roles",
    description:
        "roles.sql gives no login role but the superuser SUPERUSER, BYPASSRLS, CREATEROLE or REPLICATION (a migrating Cluster's `" + REPLICATION_ROLE + "` REPLICATION alone, with no password), makes no login role an owner, makes only the migrator a member of the database's owner, grants no predefined role that reaches the server's files, programs or every table, audits no role below write, ddl and role, and runs no ALTER SYSTEM; every statement is one of the shapes the generator writes (any other is refused, whatever it does).",
    file: "roles.sql",
    component: "database",
    checks: "the roles",
    violations: rolesViolations,
});
