/** pgbouncer.ini and userlist.txt from typed input. */
import { compareVersions, GENERATED, hbaNames, iniLines, quoteHba, shellScript } from "./format";
import { LOOPBACK } from "../facts/addresses";

export interface PgBouncerIniInput {
    /** PgBouncer version the file is for; gates settings older versions reject. */
    version: string;
    listenAddress: string;
    port: number;
    maxClientConn: number;
    poolSize: number;
    reserveSize: number;
    reservePoolTimeoutSeconds: number;
    queryWaitTimeoutSeconds: number;
    serverIdleTimeoutSeconds: number;
    maxPreparedStatements: number;
    logConnections: boolean;
    /** the one application database PgBouncer pools */
    database: { name: string; host: string; port: number };
    adminUser: string;
    statsUser: string;
    /** TLS files, relative to the working directory: PgBouncer's own certificate and key, and the CA that signed PostgreSQL's */
    tls: { certFile: string; keyFile: string; caFile: string };
    /** every replica's own address, ordinal 0 first: peer `i + 1` (each replica's peer_id is set at its start, pgbouncerStartScript) */
    peers?: { host: string; port: number }[];
}

/** The auth_file and auth_hba_file, next to pgbouncer.ini; PgBouncer runs with the config folder as its working directory. */
export const USERLIST_FILE = "userlist.txt";
export const HBA_FILE = "pgbouncer_hba.conf";

export function pgbouncerIni(i: PgBouncerIniInput): string {
    const preparedStatements = compareVersions(i.version, "1.21.0") >= 0;
    const settings = {
        listen_addr: i.listenAddress,
        listen_port: i.port,
        // No Unix socket: every client, the health check included, uses TCP, and the
        // container needs no writable /tmp.
        unix_socket_dir: "",
        // who may log in to what, from where (pgbouncer_hba.conf); passwords are SCRAM there
        auth_type: "hba",
        auth_hba_file: HBA_FILE,
        auth_file: USERLIST_FILE,
        admin_users: i.adminUser,
        stats_users: i.statsUser,
        pool_mode: "transaction",
        max_client_conn: i.maxClientConn,
        default_pool_size: i.poolSize,
        reserve_pool_size: i.reserveSize,
        reserve_pool_timeout: i.reservePoolTimeoutSeconds,
        // Caps pool + reserve per database, whatever users appear later.
        max_db_connections: i.poolSize + i.reserveSize,
        query_wait_timeout: i.queryWaitTimeoutSeconds,
        server_idle_timeout: i.serverIdleTimeoutSeconds,
        server_lifetime: 3600,
        // After PostgreSQL restarts, retry a failed server login after 2 s instead of 15 s.
        server_login_retry: 2,
        // server_reset_query is not set: transaction pooling never runs it
        // (unless server_reset_query_always), and transactions leave no session state.
        // Drivers (and the exporter) send extra_float_digits at startup; without this
        // PgBouncer refuses them.
        ignore_startup_parameters: "extra_float_digits",
        // asyncpg/SQLAlchemy use protocol-level prepared statements, which transaction
        // pooling breaks ("prepared statement ... does not exist") unless PgBouncer
        // tracks them (1.21+). Older versions reject the key, so it is left out there.
        max_prepared_statements: preparedStatements ? i.maxPreparedStatements : undefined,
        log_connections: i.logConnections,
        log_disconnections: i.logConnections,
        log_pooler_errors: true,
        stats_period: 60,
        // clients must use TLS; PgBouncer verifies PostgreSQL's certificate and host name
        client_tls_sslmode: "require",
        client_tls_cert_file: i.tls.certFile,
        client_tls_key_file: i.tls.keyFile,
        client_tls_protocols: "secure",
        server_tls_sslmode: "verify-full",
        server_tls_ca_file: i.tls.caFile,
        server_tls_protocols: "secure",
    };
    const db = i.database;
    const peers = i.peers ?? [];
    return [
        `; ${GENERATED}`,
        `; PgBouncer ${i.version}${preparedStatements ? "" : " (max_prepared_statements unavailable before 1.21)"}`,
        "[databases]",
        `${db.name} = host=${db.host} port=${db.port} dbname=${db.name}`,
        "",
        // a cancel request that lands on another replica is forwarded to the one holding the query
        ...(peers.length > 0 ? ["[peers]", ...peers.map((peer, n) => `${n + 1} = host=${peer.host} port=${peer.port}`), ""] : []),
        "[pgbouncer]",
        ...iniLines(settings),
        "",
    ].join("\n");
}

export interface PgBouncerHbaInput {
    /** the pooled database and the roles that log in to it (app, migration) */
    database: string;
    databaseLogins: string[];
    /** the console's users (admin, stats) */
    consoleUsers: string[];
}

/** Loopback of the PgBouncer container, in both address families, as hba addresses. */
const LOOPBACK_CIDRS = LOOPBACK.ipAddresses.map((ip) => (ip.includes(":") ? `${ip}/128` : `${ip}/32`));

/**
 * TLS and SCRAM for every login. The console (virtual database `pgbouncer`: SHOW,
 * PAUSE, KILL, SHUTDOWN) answers only on PgBouncer's own loopback, where only the exporter
 * beside it and an operator's `kubectl port-forward` (or `docker run --network
 * container:...`) arrive; the API and worker reach the pooled database only. The rest
 * matches no line and is refused.
 */
export function pgbouncerHba(i: PgBouncerHbaInput): string {
    const line = (db: string, users: string, address: string) => `hostssl  ${db}  ${users}  ${address}  scram-sha-256`;
    return [
        `# ${GENERATED}`,
        "# TYPE   DATABASE  USER  ADDRESS  METHOD",
        ...LOOPBACK_CIDRS.map((a) => line("pgbouncer", hbaNames(i.consoleUsers), a)),
        ...["0.0.0.0/0", "::/0"].map((a) => line(quoteHba(i.database), hbaNames(i.databaseLogins), a)),
        "",
    ].join("\n");
}

/** userlist.txt: one `"user" "SCRAM verifier"` line per user, sorted; never a plaintext password. */
export function userlist(verifiers: Record<string, string>): string {
    return Object.entries(verifiers)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([user, verifier]) => {
            if (!verifier.startsWith("SCRAM-SHA-256$")) throw new Error(`userlist: ${user} must have a SCRAM-SHA-256 verifier`);
            return `"${user.replace(/"/g, '""')}" "${verifier}"`;
        })
        .join("\n") + "\n";
}

/**
 * A peered replica's start: pgbouncer.ini with this replica's `peer_id` (its pod's ordinal + 1, the
 * [peers] key naming its own address) appended to the [pgbouncer] section it ends with, written to
 * a scratch folder; PgBouncer then runs in the config folder, where the file's relative paths point.
 */
export function pgbouncerStartScript(i: { configDir: string; scratch: string; binary: string }): string {
    return shellScript([
        "ordinal=${HOSTNAME##*-}",
        'case "$ordinal" in *[!0-9]* | "") echo "pgbouncer: no ordinal in the pod name $HOSTNAME" >&2; exit 1 ;; esac',
        `{ cat ${i.configDir}/pgbouncer.ini; echo "peer_id = $((ordinal + 1))"; } > ${i.scratch}/pgbouncer.ini`,
        `cd ${i.configDir}`,
        `exec ${i.binary} ${i.scratch}/pgbouncer.ini`,
    ]);
}
