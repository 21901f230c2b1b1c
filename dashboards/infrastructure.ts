/** Infrastructure: node, PostgreSQL, PgBouncer pools, the broker and its queues. */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { graph, newDashboard, row, single } from "./panels";

type Panel = cog.Builder<dashboard.Panel>;
export type DatabaseEngine = "statefulset" | "cloudnative-pg";

/** Panels added in order. */
const withPanels = (d: dashboard.DashboardBuilder, panels: Panel[]) => panels.reduce((acc, p) => acc.withPanel(p), d);

/** postgres.engine decides where PostgreSQL's and the backups' panels read from. */
export function infrastructureDashboard(engine: DatabaseEngine = "statefulset") {
    const node = newDashboard("flowviz-infrastructure", "flowviz / Infrastructure", ["infrastructure", "postgres", "pgbouncer", "broker"])
        .withRow(row("Node"))
        .withPanel(graph("CPU busy", "percentunit", [{ expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', legend: "{{instance}}" }], 8))
        .withPanel(graph("Memory available", "percentunit", [{ expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", legend: "{{instance}}" }], 8))
        .withPanel(
            graph("Filesystem free", "percentunit", [
            { expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes', legend: "{{instance}} {{mountpoint}}" },
        ], 8),
        )
        .withRow(row("PostgreSQL"));
    const cnpg = engine === "cloudnative-pg";
    const backups = withPanels(node, cnpg ? clusterPanels() : postgresPanels()).withRow(row("Backups"));
    return withPanels(backups, cnpg ? barmanCloudPanels() : pgbackrestPanels())
        .withRow(row("PgBouncer"))
        .withPanel(single("PgBouncer up", "none", { expr: "min(pgbouncer_up)" }, 4))
        .withPanel(graph("Waiting clients", "none", [{ expr: "sum by (database) (pgbouncer_pools_client_waiting_connections)", legend: "{{database}}" }], 10))
        .withPanel(graph("Oldest waiting client", "s", [{ expr: "max by (database) (pgbouncer_pools_client_maxwait_seconds)", legend: "{{database}}" }], 10))
        .withPanel(
            graph("Server connections against pool size", "none", [
            { expr: "sum by (database) (pgbouncer_pools_server_active_connections)", legend: "active {{database}}" },
            { expr: "sum by (database) (pgbouncer_pools_server_idle_connections)", legend: "idle {{database}}" },
                // the reserve is not plotted: PgBouncer 1.24 renamed its column and exporters before pgbouncer_exporter#271 drop it
            { expr: "sum by (name) (pgbouncer_databases_pool_size)", legend: "pool {{name}}" },
            ]),
        )
        .withPanel(
            graph("Client connections against max_client_conn", "none", [
            { expr: "sum by (instance) (pgbouncer_pools_client_active_connections + pgbouncer_pools_client_waiting_connections)", legend: "clients {{instance}}" },
            { expr: "max by (instance) (pgbouncer_config_max_client_connections)", legend: "max_client_conn {{instance}}" },
            ]),
        )
        .withPanel(
            graph("Pooled transactions per second", "ops", [{ expr: "sum by (database) (rate(pgbouncer_stats_sql_transactions_pooled_total[$__rate_interval]))", legend: "{{database}}" }]),
        )
        .withPanel(
            graph("Client wait time per second", "s", [{ expr: "sum by (database) (rate(pgbouncer_stats_client_wait_seconds_total[$__rate_interval]))", legend: "{{database}}" }]),
        )
        .withRow(row("Broker (Valkey) and Celery queues"))
        .withPanel(single("Broker up", "none", { expr: "min(redis_up)" }, 4))
        .withPanel(graph("Tasks waiting per queue", "none", [{ expr: "max by (key) (redis_key_size)", legend: "{{key}}" }], 10))
        .withPanel(
            graph("Memory against maxmemory", "bytes", [
                { expr: "max(redis_memory_used_bytes)", legend: "used" },
                { expr: "max(redis_memory_max_bytes)", legend: "maxmemory (new tasks refused past it)" },
            ], 10),
        )
        .withPanel(graph("Commands per second", "ops", [{ expr: "sum(rate(redis_commands_processed_total[$__rate_interval]))", legend: "commands" }]))
        .withPanel(graph("Client connections", "none", [{ expr: "max(redis_connected_clients)", legend: "clients" }]));
}

/** PostgreSQL as postgres_exporter sees the StatefulSet's one instance. */
function postgresPanels(): Panel[] {
    return [
        single("PostgreSQL up", "none", { expr: "min(pg_up)" }, 4),
        single("Database size", "bytes", { expr: 'sum(pg_database_size_bytes{datname!~"template0|template1"})' }, 4),
        graph("Connections against max_connections", "none", [
            { expr: "sum by (state) (pg_stat_activity_count)", legend: "{{state}}" },
            { expr: "max(pg_settings_max_connections)", legend: "max_connections" },
        ], 8),
        graph("Transactions per second", "ops", [
            { expr: 'sum(rate(pg_stat_database_xact_commit{datname!~"template0|template1"}[$__rate_interval]))', legend: "commits" },
            { expr: 'sum(rate(pg_stat_database_xact_rollback{datname!~"template0|template1"}[$__rate_interval]))', legend: "rollbacks" },
        ], 8),
        graph("Buffer cache hit ratio", "percentunit", [
            { expr: "sum(rate(pg_stat_database_blks_hit[$__rate_interval])) / (sum(rate(pg_stat_database_blks_hit[$__rate_interval])) + sum(rate(pg_stat_database_blks_read[$__rate_interval])))", legend: "hit ratio" },
        ], 8),
        graph("Oldest transaction", "s", [{ expr: "max by (datname) (pg_stat_activity_max_tx_duration)", legend: "{{datname}}" }], 8),
        graph("Deadlocks", "none", [{ expr: "sum by (datname) (increase(pg_stat_database_deadlocks[$__rate_interval]))", legend: "{{datname}}" }], 8),
    ];
}

/** pgBackRest's archive (postgres_exporter) and the repository as `pgbackrest info` reads it (pgbackrest_exporter). */
function pgbackrestPanels(): Panel[] {
    return [
        single("Last full backup", "s", { expr: 'min(pgbackrest_backup_since_last_completion_seconds{backup_type="full"})' }, 4),
        single("Last backup", "s", { expr: 'min(pgbackrest_backup_since_last_completion_seconds{backup_type=~"full|diff"})' }, 4),
        single("Repository size", "bytes", { expr: 'max(pgbackrest_backup_last_repo_size_bytes{backup_type="full"})' }, 4),
        graph("WAL not yet archived", "bytes", [
            { expr: "max by (instance) (pg_archiver_pending_wal_bytes)", legend: "pending {{instance}}" },
            { expr: "max by (instance) (pg_wal_size_bytes)", legend: "pg_wal {{instance}}" },
            ], 6),
        graph("Archive failures", "none", [{ expr: "sum by (instance) (increase(pg_archiver_failed_count[$__rate_interval]))", legend: "{{instance}}" }], 6),
        // what the restore drills measured (the Pushgateway keeps the last one of each repository)
        graph("Restore drill: restore and recovery time", "s", [
            { expr: "max by (repo) (flowviz_restore_drill_restore_seconds)", legend: "restore repo{{repo}}" },
            { expr: "max by (repo) (flowviz_restore_drill_recovery_seconds)", legend: "recovery repo{{repo}}" },
        ], 8),
        single("Last good restore drill", "s", { expr: "time() - max(flowviz_restore_drill_last_success_timestamp_seconds)" }, 4),
        single("Drilled backup's age", "s", { expr: "max(flowviz_restore_drill_backup_age_seconds)" }, 4),
    ];
}

/** CloudNativePG's instances (their own exporters): the same questions, plus the standbys. */
function clusterPanels(): Panel[] {
    return [
        single("Instances up", "none", { expr: "sum(cnpg_collector_up)" }, 4),
        single("Synchronous standbys", "none", { expr: 'max(cnpg_collector_sync_replicas{value="observed"})' }, 4),
        graph("Connections by state (primary)", "none", [{ expr: "sum by (state) (cnpg_backends_total and on (pod) (cnpg_pg_replication_in_recovery == 0))", legend: "{{state}}" }], 8),
        graph("Transactions per second", "ops", [
            { expr: 'sum(rate(cnpg_pg_stat_database_xact_commit{datname!~"template0|template1"}[$__rate_interval]) and on (pod) (cnpg_pg_replication_in_recovery == 0))', legend: "commits" },
            { expr: 'sum(rate(cnpg_pg_stat_database_xact_rollback{datname!~"template0|template1"}[$__rate_interval]) and on (pod) (cnpg_pg_replication_in_recovery == 0))', legend: "rollbacks" },
        ], 8),
        graph("Replication lag", "s", [{ expr: "max by (pod) (cnpg_pg_replication_lag)", legend: "{{pod}}" }], 8),
        graph("Oldest transaction", "s", [{ expr: "max by (pod, datname) (cnpg_backends_max_tx_duration_seconds)", legend: "{{pod}} {{datname}}" }], 8),
        graph("Deadlocks", "none", [{ expr: "sum by (datname) (increase(cnpg_pg_stat_database_deadlocks[$__rate_interval]))", legend: "{{datname}}" }], 8),
    ];
}

/** The Barman Cloud plugin's backups and the instances' WAL archiving. */
function barmanCloudPanels(): Panel[] {
    return [
        single("Last base backup", "s", { expr: "time() - max(barman_cloud_cloudnative_pg_io_last_available_backup_timestamp)" }, 4),
        single("Recovery window", "s", { expr: "time() - min(barman_cloud_cloudnative_pg_io_first_recoverability_point)" }, 4),
        graph("WAL waiting to be archived", "none", [{ expr: 'max by (pod) (cnpg_collector_pg_wal_archive_status{value="ready"})', legend: "{{pod}}" }], 8),
        graph("pg_wal", "bytes", [{ expr: 'max by (pod) (cnpg_collector_pg_wal{value="size"})', legend: "{{pod}}" }], 4),
        graph("Archive failures", "none", [{ expr: "sum by (pod) (increase(cnpg_pg_stat_archiver_failed_count[$__rate_interval]))", legend: "{{pod}}" }], 4),
    ];
}
