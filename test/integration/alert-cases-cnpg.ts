/**
 * `promtool test rules` scenarios for the CloudNativePG engine (configs/rules/cloudnative-pg.ts),
 * at the thresholds of Pulumi.prod.yaml: max_connections 200, three
 * instances, archive_timeout 60 s, a daily base backup (the engine's default). Alerts both engines share by name
 * and meaning but read other metrics are here; the rest are alert-cases.ts'.
 */
import type { AlertCase } from "./alert-cases";

export const CNPG_STACK = "Pulumi.prod.yaml";
const at = { job: "postgres", instance: "10.0.0.1:9187", pod: "postgres-1" };
/** A series of the first instance's exporter. */
const cn = (metric: string, labels = "") => `${metric}{job="postgres",instance="10.0.0.1:9187",pod="postgres-1"${labels}}`;
/** A series of the second instance's exporter (a standby). */
const cn2 = (metric: string, labels = "") => `${metric}{job="postgres",instance="10.0.0.2:9187",pod="postgres-2"${labels}}`;
const backends = (state: string) => `,datname="flowviz",usename="flowviz",application_name="",state="${state}"`;
const PLUGIN = "barman_cloud_cloudnative_pg_io";

export const CNPG_CASES: AlertCase[] = [
    {
        alert: "DatabaseDown",
        firing: { [cn("cnpg_collector_up")]: "1 1 0 0 0 0 0" },
        firingAt: "4m",
        silentAt: "2m",
        labels: at,
        description: "The instance manager of postgres-1 cannot reach its PostgreSQL (cnpg_collector_up = 0); the operator fails over when it is the primary.",
        quiet: { [cn("cnpg_collector_up")]: "1x10" },
    },
    {
        alert: "PostgresTooManyConnections",
        firing: { [cn("cnpg_backends_total", backends("active"))]: "100x10", [cn("cnpg_backends_total", backends("idle"))]: "70x10" },
        firingAt: "8m",
        silentAt: "3m",
        labels: { pod: "postgres-1" },
        description: "postgres-1 has 170 backends, over 80% of max_connections 200.",
        quiet: { [cn("cnpg_backends_total", backends("active"))]: "100x10", [cn("cnpg_backends_total", backends("idle"))]: "60x10" },
    },
    {
        alert: "PostgresLongTransaction",
        firing: { [cn("cnpg_backends_max_tx_duration_seconds", backends("idle in transaction"))]: "400x10" },
        firingAt: "5m",
        silentAt: "1m",
        labels: { pod: "postgres-1", datname: "flowviz" },
        description: "The oldest transaction in flowviz on postgres-1 has been open 6m 40s.",
        quiet: { [cn("cnpg_backends_max_tx_duration_seconds", backends("active"))]: "299x10", [cn("cnpg_backends_max_tx_duration_seconds", backends("idle"))]: "5000x10" },
    },
    {
        alert: "PostgresDeadlocks",
        firing: { [cn("cnpg_pg_stat_database_deadlocks", ',datname="flowviz"')]: "0 0 0 2 2 2 2 2" },
        firingAt: "4m",
        silentAt: "2m",
        labels: { pod: "postgres-1", datname: "flowviz" },
        description: "2 deadlocks in flowviz over 5 minutes.",
        quiet: { [cn("cnpg_pg_stat_database_deadlocks", ',datname="flowviz"')]: "3x10" },
    },
    {
        alert: "PostgresRestarted",
        firing: { [cn("cnpg_pg_postmaster_start_time")]: "1000 1000 1000 1200 1200 1200" },
        firingAt: "5m",
        silentAt: "2m",
        labels: at,
        description: "PostgreSQL on postgres-1 started 1 times again within 10 minutes (a restart, a rolling update or a failover).",
        quiet: { [cn("cnpg_pg_postmaster_start_time")]: "1000x20" },
    },
    {
        alert: "PostgresFailover",
        firing: { [cn("cnpg_pg_replication_in_recovery")]: "1 1 1 0 0 0" },
        firingAt: "4m",
        silentAt: "2m",
        labels: at,
        description: "postgres-1 left recovery within 10 minutes (1 role changes): a failover or switchover promoted it. PgBouncer follows through the -rw Service.",
        // a standby that stays one, and a primary that stays one
        quiet: { [cn("cnpg_pg_replication_in_recovery")]: "1x10", 'cnpg_pg_replication_in_recovery{job="postgres",instance="10.0.0.2:9187",pod="postgres-2"}': "0x10" },
    },
    {
        alert: "PostgresSynchronousStandbyMissing",
        // default query pg_replication: streaming_replicas (count of pg_stat_replication) and in_recovery, on every instance
        firing: { [cn("cnpg_pg_replication_streaming_replicas")]: "2 2 0 0 0 0 0", [cn("cnpg_pg_replication_in_recovery")]: "0x10", [cn2("cnpg_pg_replication_streaming_replicas")]: "0x10", [cn2("cnpg_pg_replication_in_recovery")]: "1x10" },
        firingAt: "4m",
        silentAt: "2m",
        labels: at,
        description: "The primary postgres-1 has 0 standbys streaming; every commit needs 1 to confirm it (ANY 1): with dataDurability required, writes wait until one is back.",
        // one standby streaming is enough for ANY 1; a standby's own count (0) is never the primary's
        quiet: { [cn("cnpg_pg_replication_streaming_replicas")]: "2 2 1 1 1 1 1", [cn("cnpg_pg_replication_in_recovery")]: "0x10", [cn2("cnpg_pg_replication_streaming_replicas")]: "0x10", [cn2("cnpg_pg_replication_in_recovery")]: "1x10" },
    },
    {
        alert: "PostgresTransactionIdAge",
        // default query pg_database: xid_age per database
        firing: { [cn("cnpg_pg_database_xid_age", ',datname="flowviz"')]: "1200000000x30" },
        firingAt: "20m",
        silentAt: "10m",
        labels: { pod: "postgres-1", datname: "flowviz" },
        description: "flowviz on postgres-1 has 1.2e+09 transactions since its oldest unfrozen row: at 2^31 PostgreSQL stops taking writes until it is vacuumed.",
        quiet: { [cn("cnpg_pg_database_xid_age", ',datname="flowviz"')]: "200000000x30" },
    },
    {
        alert: "BackupMetricsMissing",
        // the plugin's sidecar metric gone (no series at all); quiet while one instance still exports it
        firing: { [cn("cnpg_collector_up")]: "1x100" },
        firingAt: "70m",
        silentAt: "30m",
        labels: { job: "postgres" },
        description: "No instance (job postgres) exports the plugin's backup metrics: BackupFailed and FullBackupTooOld cannot fire until one does.",
        quiet: { [cn(`${PLUGIN}_last_available_backup_timestamp`)]: "0x100" },
        quietAt: "70m",
    },
    {
        alert: "PostgresReplicationLag",
        firing: { [cn("cnpg_pg_replication_lag")]: "45x10" },
        firingAt: "6m",
        silentAt: "4m",
        labels: { pod: "postgres-1" },
        description: "postgres-1 replays WAL 45s behind the primary: a failover to it would have to catch up first.",
        quiet: { [cn("cnpg_pg_replication_lag")]: "30x10" },
    },
    {
        alert: "PostgresStandbysNotStreaming",
        firing: { [cn("cnpg_pg_replication_streaming_replicas")]: "2 2 1 1 1 1 1 1 1" },
        firingAt: "8m",
        silentAt: "5m",
        labels: {},
        description: "The primary has 1 of 2 standbys streaming: a failover has fewer candidates.",
        quiet: { [cn("cnpg_pg_replication_streaming_replicas")]: "2x10" },
    },
    {
        alert: "PostgresInstancesShareANode",
        firing: { [cn("cnpg_collector_nodes_used")]: "2x20" },
        firingAt: "16m",
        silentAt: "14m",
        labels: {},
        description: "The 3 instances run on 2 nodes: losing one node loses more than one instance.",
        // -1: the operator does not know
        quiet: { [cn("cnpg_collector_nodes_used")]: "-1x20" },
        quietAt: "16m",
    },
    {
        alert: "PostgresFenced",
        firing: { [cn("cnpg_collector_fencing_on")]: "1x5" },
        firingAt: "1m",
        labels: { pod: "postgres-1" },
        description: "postgres-1 is fenced (fencing_on = 1): PostgreSQL is stopped on it and it serves nothing.",
        quiet: { [cn("cnpg_collector_fencing_on")]: "0x5" },
    },
    {
        alert: "PostgresSwitchoverRequired",
        firing: { [cn("cnpg_collector_manual_switchover_required")]: "1x5" },
        firingAt: "1m",
        labels: {},
        description: "An update needs the primary restarted and waits for a person to switch over (manual_switchover_required = 1).",
        quiet: { [cn("cnpg_collector_manual_switchover_required")]: "0x5" },
    },
    {
        alert: "WalArchiveFailing",
        firing: { [cn("cnpg_pg_stat_archiver_failed_count")]: "0 0 1 2 3 4 5 6 7 8 9 10 11 12" },
        firingAt: "10m",
        silentAt: "6m",
        labels: at,
        description: "postgres-1 failed to archive WAL 5 times in 5 minutes; it keeps the WAL and retries.",
        quiet: { [cn("cnpg_pg_stat_archiver_failed_count")]: "3x15" },
    },
    {
        alert: "WalArchiveStalled",
        firing: { [cn("cnpg_collector_pg_wal_archive_status", ',value="ready"')]: "5x10" },
        firingAt: "4m",
        silentAt: "2m",
        labels: { ...at, value: "ready" },
        description: "5 WAL segments on postgres-1 wait to be archived after 3 x archive_timeout: a restore now would lose those writes (the synchronous standby still has them).",
        // one or two: the segment being archived right now
        quiet: { [cn("cnpg_collector_pg_wal_archive_status", ',value="ready"')]: "2x10", [cn("cnpg_collector_pg_wal_archive_status", ',value="done"')]: "500x10" },
    },
    {
        alert: "PgWalGrowing",
        firing: { [cn("cnpg_collector_pg_wal", ',value="size"')]: "3221225472x20" },
        firingAt: "12m",
        silentAt: "5m",
        labels: { ...at, value: "size" },
        description: "pg_wal on postgres-1 holds 3GiB.",
        quiet: { [cn("cnpg_collector_pg_wal", ',value="size"')]: "2147483000x20", [cn("cnpg_collector_pg_wal", ',value="volume_size"')]: "107374182400x20" },
    },
    {
        alert: "BackupFailed",
        firing: { [cn(`${PLUGIN}_last_failed_backup_timestamp`)]: "5000x5", [cn(`${PLUGIN}_last_available_backup_timestamp`)]: "4000x5" },
        firingAt: "1m",
        labels: {},
        description: "The last base backup attempt (at 1970-01-01 01:23:20 +0000 UTC) failed after the last one that succeeded; the ScheduledBackup tries again at its next time.",
        quiet: { [cn(`${PLUGIN}_last_failed_backup_timestamp`)]: "4000x5", [cn(`${PLUGIN}_last_available_backup_timestamp`)]: "5000x5" },
    },
    {
        // promtool's clock starts at 0: a timestamp 700000 s before it is a backup 8 days old
        alert: "FullBackupTooOld",
        // the engine's daily base backup: 24 h and a quarter's slack
        firing: { [cn(`${PLUGIN}_last_available_backup_timestamp`)]: "-120000x5" },
        firingAt: "1m",
        labels: {},
        description: "The last base backup ended 1d 9h 21m 0s ago; postgres.backups.schedule.full allows 30h.",
        quiet: { [cn(`${PLUGIN}_last_available_backup_timestamp`)]: "-100000x5" },
    },
];
