/**
 * The one catalog of metric names rules and dashboards may use: the app's own (from
 * the seeds' instrumentation) and what each pinned exporter version exposes. A test
 * fails when a rule or a panel names a metric that is not here; the integration test
 * checks that the real servers expose the entries marked for it.
 */
import { DRILL_METRICS } from "./drill";

export interface MetricSource {
    /** Prometheus job name */
    job: string;
    /** the alerts' `component` label for what this job watches (api, postgres, pgbouncer, node, monitoring) */
    component: string;
    /** where the names come from */
    origin: string;
    metrics: Record<string, { help: string; labels?: string[] }>;
}

/** prometheus-fastapi-instrumentator defaults plus the seeds' business metrics (no lot or run ids as labels). */
export const APP: MetricSource = {
    job: "api",
    component: "api",
    origin: "flowviz API: prometheus-fastapi-instrumentator 6.x + app/metrics.py",
    metrics: {
        http_requests_total: { help: "requests by handler, method and status class (2xx, 4xx, 5xx)", labels: ["handler", "method", "status"] },
        http_request_duration_seconds_bucket: { help: "request latency histogram", labels: ["handler", "method", "le"] },
        http_request_duration_seconds_count: { help: "request latency histogram (count)", labels: ["handler", "method"] },
        http_request_duration_seconds_sum: { help: "request latency histogram (sum)", labels: ["handler", "method"] },
        flowviz_lots_registered_total: { help: "lots registered", labels: ["lot_type"] },
        flowviz_qc_decisions_total: { help: "QC decisions", labels: ["decision", "gate_number"] },
        flowviz_active_operators: { help: "operators active in the last 15 minutes" },
        flowviz_production_runs_active: { help: "production runs in progress" },
        flowviz_traceability_query_duration_seconds_bucket: { help: "traceability query latency histogram", labels: ["le"] },
    },
};

/** Label names that would be unbounded: never on a metric, never in a rule or panel grouping. */
export const FORBIDDEN_LABELS = ["lot_code", "lot_id", "production_run", "production_run_id", "user_id", "operator_id"];

export const POSTGRES_EXPORTER: MetricSource = {
    job: "postgres",
    component: "postgres",
    origin: "postgres_exporter 0.11 (Debian) .. 0.15 (image): default collectors",
    metrics: {
        pg_up: { help: "1 when the exporter reached PostgreSQL" },
        pg_stat_activity_count: { help: "backends by database and state", labels: ["datname", "state"] },
        pg_stat_activity_max_tx_duration: { help: "oldest open transaction by database and state, seconds", labels: ["datname", "state"] },
        pg_settings_max_connections: { help: "max_connections" },
        pg_settings_superuser_reserved_connections: { help: "superuser_reserved_connections" },
        pg_stat_database_deadlocks: { help: "deadlocks per database (counter)", labels: ["datname"] },
        pg_stat_database_xact_commit: { help: "commits per database (counter)", labels: ["datname"] },
        pg_stat_database_xact_rollback: { help: "rollbacks per database (counter)", labels: ["datname"] },
        pg_stat_database_blks_hit: { help: "buffer hits (counter)", labels: ["datname"] },
        pg_stat_database_blks_read: { help: "blocks read (counter)", labels: ["datname"] },
        pg_database_size_bytes: { help: "database size", labels: ["datname"] },
        pg_wal_size_bytes: { help: "size of pg_wal" },
        // extra queries (configs/pgbackrest.ts exporterQueries)
        pg_data_checksums_enabled: { help: "1 when the cluster has data checksums" },
        pg_data_checksums_failures: { help: "pages read with a wrong checksum, all databases (counter)" },
        pg_archiver_archived_count: { help: "WAL files archived (counter)" },
        pg_archiver_failed_count: { help: "failed attempts to archive a WAL file (counter)" },
        pg_archiver_pending_wal_bytes: { help: "WAL written after the end of the last archived segment" },
        pg_archiver_last_archived_age_seconds: { help: "seconds since the last WAL file was archived (-1: never)" },
        flowviz_certificate_not_after_seconds: { help: "when the certificate a server presents expires (0: never read)", labels: ["name"] },
        flowviz_certificate_checked_timestamp_seconds: { help: "when the certificate watch beside PostgreSQL last read a server's certificate (0: never)", labels: ["name"] },
    },
};

/** postgres.engine cloudnative-pg: every instance's exporter (port 9187) and the Barman Cloud plugin's metrics on it. */
export const CLOUDNATIVE_PG: MetricSource = {
    job: "postgres",
    component: "postgres",
    origin: "CloudNativePG 1.30 instance manager: collector and default queries (docs/src/monitoring.md, config/manager/default-monitoring.yaml); plugin-barman-cloud 0.14",
    metrics: {
        cnpg_collector_up: { help: "1 when the instance manager reached PostgreSQL", labels: ["cluster"] },
        cnpg_collector_sync_replicas: { help: "synchronous standbys: expected, observed, min, max", labels: ["value"] },
        cnpg_collector_fencing_on: { help: "1 when the instance is fenced" },
        cnpg_collector_nodes_used: { help: "distinct nodes the instances run on (-1: unknown)" },
        cnpg_collector_manual_switchover_required: { help: "1 when an update waits for a switchover" },
        cnpg_collector_pg_wal: { help: "pg_wal: segment count, size and limits", labels: ["value"] },
        cnpg_collector_pg_wal_archive_status: { help: "WAL segments ready to archive and done", labels: ["value"] },
        cnpg_backends_total: { help: "backends by database, user, application and state", labels: ["datname", "usename", "application_name", "state"] },
        cnpg_backends_max_tx_duration_seconds: { help: "oldest transaction by database, user, application and state", labels: ["datname", "usename", "application_name", "state"] },
        cnpg_pg_database_size_bytes: { help: "database size", labels: ["datname"] },
        cnpg_pg_database_xid_age: { help: "transactions since the database's oldest unfrozen row, age(datfrozenxid) (default query pg_database)", labels: ["datname"] },
        cnpg_pg_postmaster_start_time: { help: "when PostgreSQL started (epoch)" },
        cnpg_pg_replication_lag: { help: "replay lag behind the primary, seconds" },
        cnpg_pg_replication_in_recovery: { help: "1 on a standby" },
        cnpg_pg_replication_streaming_replicas: { help: "standbys streaming from this instance" },
        cnpg_pg_stat_archiver_failed_count: { help: "failed WAL archive attempts (counter)" },
        cnpg_pg_stat_archiver_archived_count: { help: "WAL files archived (counter)" },
        cnpg_pg_stat_database_deadlocks: { help: "deadlocks per database (counter)", labels: ["datname"] },
        cnpg_pg_stat_database_xact_commit: { help: "commits per database (counter)", labels: ["datname"] },
        cnpg_pg_stat_database_xact_rollback: { help: "rollbacks per database (counter)", labels: ["datname"] },
        cnpg_pg_stat_database_blks_hit: { help: "buffer hits (counter)", labels: ["datname"] },
        cnpg_pg_stat_database_blks_read: { help: "blocks read (counter)", labels: ["datname"] },
        barman_cloud_cloudnative_pg_io_last_available_backup_timestamp: { help: "when the last base backup in the object store ended (epoch)" },
        barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp: { help: "when the last base backup failed (epoch)" },
        barman_cloud_cloudnative_pg_io_first_recoverability_point: { help: "the oldest point a restore can reach (epoch)" },
    },
};

export const PGBOUNCER_EXPORTER: MetricSource = {
    job: "pgbouncer",
    component: "pgbouncer",
    origin: "prometheus-community pgbouncer_exporter 0.12",
    metrics: {
        pgbouncer_up: { help: "1 when the exporter reached PgBouncer" },
        pgbouncer_pools_client_active_connections: { help: "clients linked to a server connection", labels: ["database", "user"] },
        pgbouncer_pools_client_waiting_connections: { help: "clients waiting for a server connection", labels: ["database", "user"] },
        pgbouncer_pools_client_maxwait_seconds: { help: "age of the oldest waiting client", labels: ["database", "user"] },
        pgbouncer_pools_server_active_connections: { help: "server connections linked to a client", labels: ["database", "user"] },
        pgbouncer_pools_server_idle_connections: { help: "idle server connections", labels: ["database", "user"] },
        pgbouncer_databases_pool_size: { help: "pool_size of a database", labels: ["name"] },
        pgbouncer_config_max_client_connections: { help: "max_client_conn" },
        pgbouncer_stats_sql_transactions_pooled_total: { help: "transactions pooled (counter)", labels: ["database"] },
        pgbouncer_stats_queries_pooled_total: { help: "queries pooled (counter)", labels: ["database"] },
        pgbouncer_stats_client_wait_seconds_total: { help: "time clients waited for a server (counter)", labels: ["database"] },
    },
};

/** The Celery broker, read by redis_exporter beside Valkey (INFO, CONFIG GET maxmemory, and each queue's LLEN). */
export const VALKEY_METRICS: MetricSource = {
    job: "valkey",
    component: "broker",
    origin: "redis_exporter 1.69 against Valkey 8.1",
    metrics: {
        redis_up: { help: "1 when the exporter reached Valkey and logged in" },
        redis_memory_used_bytes: { help: "memory Valkey holds (INFO used_memory)" },
        redis_memory_max_bytes: { help: "maxmemory: past it a noeviction broker refuses writes" },
        redis_aof_enabled: { help: "1 while the append-only file is on" },
        redis_aof_last_write_status: { help: "1 when the last write to the append-only file succeeded" },
        redis_aof_last_bgrewrite_status: { help: "1 when the last rewrite of the append-only file succeeded" },
        redis_connected_clients: { help: "client connections (the app's pools, Celery's workers)" },
        redis_commands_processed_total: { help: "commands processed (counter)" },
        redis_key_size: { help: "a watched key's length: a Celery queue's waiting tasks", labels: ["db", "key"] },
    },
};

export const NODE_EXPORTER: MetricSource = {
    job: "node",
    component: "node",
    origin: "node_exporter 1.5 (Debian) .. 1.7 (image)",
    metrics: {
        node_cpu_seconds_total: { help: "CPU time by mode (counter)", labels: ["cpu", "mode"] },
        node_memory_MemAvailable_bytes: { help: "available memory" },
        node_memory_MemTotal_bytes: { help: "total memory" },
        node_filesystem_avail_bytes: { help: "free space for non-root users", labels: ["device", "fstype", "mountpoint"] },
        node_filesystem_size_bytes: { help: "filesystem size", labels: ["device", "fstype", "mountpoint"] },
        node_filesystem_readonly: { help: "1 when mounted read-only", labels: ["device", "fstype", "mountpoint"] },
        node_load1: { help: "1-minute load average" },
        node_network_receive_bytes_total: { help: "bytes received (counter)", labels: ["device"] },
        node_network_transmit_bytes_total: { help: "bytes sent (counter)", labels: ["device"] },
    },
};

export const PROMETHEUS: MetricSource = {
    job: "prometheus",
    component: "monitoring",
    origin: "Prometheus 2.42 (Debian) .. 2.50 (image)",
    metrics: {
        up: { help: "1 when the last scrape of a target succeeded", labels: ["job", "instance"] },
        prometheus_config_last_reload_successful: { help: "1 when the last config reload succeeded" },
        prometheus_rule_evaluation_failures_total: { help: "failed rule evaluations (counter)", labels: ["rule_group"] },
        prometheus_notifications_alertmanagers_discovered: { help: "Alertmanagers Prometheus sends to" },
        prometheus_notifications_errors_total: { help: "errors sending alerts (counter)", labels: ["alertmanager"] },
        prometheus_notifications_sent_total: { help: "alerts sent (counter)", labels: ["alertmanager"] },
        prometheus_tsdb_head_series: { help: "series in the head block" },
    },
};

export const ALERTMANAGER: MetricSource = {
    job: "alertmanager",
    component: "monitoring",
    origin: "Alertmanager 0.25 (Debian) .. 0.27 (image)",
    metrics: {
        alertmanager_config_last_reload_successful: { help: "1 when the last config reload succeeded" },
        alertmanager_notifications_failed_total: { help: "failed notifications by integration (counter)", labels: ["integration"] },
        alertmanager_notifications_total: { help: "notifications by integration (counter)", labels: ["integration"] },
    },
};

/** The backup repository as `pgbackrest info` reads it (statefulset engine): what exists there, not what a run reported. */
export const PGBACKREST_EXPORTER: MetricSource = {
    job: "pgbackrest",
    component: "backup",
    origin: "pgbackrest_exporter 0.19 (Debian 13's prometheus-pgbackrest-exporter, in the backup image)",
    metrics: {
        pgbackrest_exporter_status: { help: "1 when the last `pgbackrest info` succeeded", labels: ["stanza"] },
        pgbackrest_stanza_status: { help: "the stanza's status code (0: ok)", labels: ["stanza"] },
        pgbackrest_repo_status: { help: "the repository's status code (0: ok)", labels: ["stanza", "repo_key"] },
        pgbackrest_backup_since_last_completion_seconds: { help: "seconds since the newest backup of a type completed", labels: ["stanza", "backup_type"] },
        pgbackrest_backup_last_error_status: { help: "1 when the newest backup of a type found errors (page checksums)", labels: ["stanza", "backup_type"] },
        pgbackrest_backup_last_annotations: { help: "annotations on the newest backup of a type (a WAL gap's mark)", labels: ["stanza", "backup_type"] },
        pgbackrest_backup_last_repo_size_bytes: { help: "the repository's size of the newest backup of a type, with what it references", labels: ["stanza", "backup_type"] },
        pgbackrest_backup_last_duration_seconds: { help: "how long the newest backup of a type took", labels: ["stanza", "backup_type"] },
    },
};

/** What the restore drills measured (configs/drill.ts), pushed to the Pushgateway and scraped from it with their own labels. */
export const RESTORE_DRILL: MetricSource = {
    job: "pushgateway",
    component: "backup",
    origin: "the restore drill (postgres-drill), pushed to Prometheus' Pushgateway 1.11 (Debian 13's prometheus-pushgateway)",
    metrics: {
        [DRILL_METRICS.success]: { help: "1 when the last drill of a repository restored, recovered and passed its checks", labels: ["repo"] },
        [DRILL_METRICS.lastRun]: { help: "when the last drill of a repository ended (epoch)", labels: ["repo"] },
        [DRILL_METRICS.lastSuccess]: { help: "when a drill of a repository last succeeded (epoch)", labels: ["repo"] },
        [DRILL_METRICS.restoreSeconds]: { help: "how long the last good drill's restore took", labels: ["repo"] },
        [DRILL_METRICS.recoverySeconds]: { help: "how long the last good drill took from restored files to a promoted, consistent database", labels: ["repo"] },
        [DRILL_METRICS.backupAge]: { help: "how old the backup the last good drill restored was when it began", labels: ["repo"] },
        process_start_time_seconds: { help: "when the Pushgateway started (epoch): it forgets what was pushed when its pod is replaced" },
    },
};

export const CATALOG: MetricSource[] = [APP, POSTGRES_EXPORTER, CLOUDNATIVE_PG, PGBOUNCER_EXPORTER, VALKEY_METRICS, NODE_EXPORTER, PROMETHEUS, ALERTMANAGER, PGBACKREST_EXPORTER, RESTORE_DRILL];

/** Every catalogued metric name. */
export const KNOWN_METRICS: ReadonlySet<string> = new Set(CATALOG.flatMap((s) => Object.keys(s.metrics)));
