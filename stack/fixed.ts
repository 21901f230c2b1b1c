/**
 * Ports and role names the stack does not let a user configure. The components use
 * them and the invariants check the configurable ones against them: one home each.
 */

/** Port each service listens on, where it is not a stack setting. */
export const FIXED_PORTS = {
    postgres: 5432,
    valkey: 6379,
    prometheus: 9090,
    alertmanager: 9093,
    grafana: 3000,
    "postgres-exporter": 9187,
    "pgbouncer-exporter": 9127,
    "node-exporter": 9100,
    "pgbackrest-exporter": 9854,
    "valkey-exporter": 9121,
    pushgateway: 9091,
} as const;

export const POSTGRES_PORT = FIXED_PORTS.postgres;
export const VALKEY_PORT = FIXED_PORTS.valkey;
export const PROMETHEUS_PORT = FIXED_PORTS.prometheus;
export const ALERTMANAGER_PORT = FIXED_PORTS.alertmanager;
export const GRAFANA_PORT = FIXED_PORTS.grafana;

/** Where a service finds a credential it reads from a file, relative to its config folder. */
export const SECRET_FILE = "secrets/password";

/** Where a service keeps its TLS files, relative to its config folder (a client keeps its own certificate in `clientCert`/`clientKey`). */
export const TLS_FILES = { cert: "tls/server.crt", key: "tls/server.key", ca: "tls/ca.crt", clientCert: "tls/client.crt", clientKey: "tls/client.key" } as const;


import { SUPERUSER } from "../facts/roles";
export { migratorRoleOf, ownerRoleOf, SUPERUSER } from "../facts/roles";
/** Login role of postgres-exporter (member of pg_monitor). */
export const POSTGRES_EXPORTER_USER = "postgres_exporter";
/** PgBouncer's console users: admin (SHUTDOWN, PAUSE, ...) and stats (SHOW only, read by the exporter). */
export const PGBOUNCER_ADMIN_USER = "pgbouncer_admin";
export const PGBOUNCER_STATS_USER = "pgbouncer_stats";

/** Roles CloudNativePG creates in every Cluster: replication, its Pooler's auth query, its metrics exporter. */
export const CNPG_ROLES = ["streaming_replica", "cnpg_pooler_pgbouncer", "cnpg_metrics_exporter"] as const;
/** Roles the stack creates or relies on itself; the app's role must be none of them. */
export const INTERNAL_ROLES = [SUPERUSER, POSTGRES_EXPORTER_USER, PGBOUNCER_ADMIN_USER, PGBOUNCER_STATS_USER, ...CNPG_ROLES] as const;
/** Databases every cluster has; the app's data must not live in one of them. */
export const SYSTEM_DATABASES = ["postgres", "template0", "template1"] as const;

