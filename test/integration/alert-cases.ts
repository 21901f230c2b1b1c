/**
 * Hand-written scenarios for `promtool test rules`: for every alert, series that make it
 * fire (checked at a time after its `for`, with the description Prometheus renders), a
 * time before `for` elapses when it must still be silent, and healthy series just under
 * the threshold that must never fire. Default thresholds (the seeds').
 */

import { CATALOG } from "../../configs/metrics";

export interface AlertCase {
    alert: string;
    /** series that should fire */
    firing: Record<string, string>;
    /** when it is firing; `silentAt` is before its `for` has elapsed */
    firingAt: string;
    silentAt?: string;
    /** labels of the firing alert besides alertname, severity, component */
    labels?: Record<string, string>;
    description: string;
    /** healthy series, just under the threshold */
    quiet: Record<string, string>;
    quietAt?: string;
}

const api = (fivexx: number, ok: number, n = 40) => ({
    'http_requests_total{job="api",handler="/lots",method="POST",status="5xx"}': `0+${fivexx}x${n}`,
    'http_requests_total{job="api",handler="/lots",method="POST",status="2xx"}': `0+${ok}x${n}`,
});
const buckets = (counts: Record<string, number>) =>
    Object.fromEntries(Object.entries(counts).map(([le, c]) => [`http_request_duration_seconds_bucket{job="api",handler="/lots",method="POST",le="${le}"}`, `0+${c}x30`]));
const fs = (avail: number) => ({
    'node_filesystem_avail_bytes{job="node",instance="node-exporter:9100",device="/dev/sda1",fstype="ext4",mountpoint="/"}': `${avail}x40`,
    'node_filesystem_size_bytes{job="node",instance="node-exporter:9100",device="/dev/sda1",fstype="ext4",mountpoint="/"}': "100x40",
    'node_filesystem_readonly{job="node",instance="node-exporter:9100",device="/dev/sda1",fstype="ext4",mountpoint="/"}': "0x40",
    'node_filesystem_avail_bytes{job="node",instance="node-exporter:9100",device="tmpfs",fstype="tmpfs",mountpoint="/run"}': "1x40",
    'node_filesystem_size_bytes{job="node",instance="node-exporter:9100",device="tmpfs",fstype="tmpfs",mountpoint="/run"}': "100x40",
    'node_filesystem_readonly{job="node",instance="node-exporter:9100",device="tmpfs",fstype="tmpfs",mountpoint="/run"}': "0x40",
});
const pool = { database: "flowviz", user: "flowviz", instance: "pgbouncer:9127", job: "pgbouncer" };
const pgb = (metric: string, v: string) => ({ [`${metric}{job="pgbouncer",instance="pgbouncer:9127",database="flowviz",user="flowviz"}`]: v });
const pgExp = { instance: "postgres-exporter:9187", job: "postgres" };
/** A series of the exporter beside Valkey. */
const vk = (metric: string, labels = "") => `${metric}{job="valkey",instance="valkey:9121"${labels}}`;
const vkExp = { instance: "valkey:9121", job: "valkey" };
const fsLabels = { device: "/dev/sda1", fstype: "ext4", mountpoint: "/", instance: "node-exporter:9100", job: "node" };

const brExp = { instance: "pgbackrest-exporter:9854" };
const brx = (metric: string, labels: string) => `${metric}{job="pgbackrest",instance="pgbackrest-exporter:9854",stanza="flowviz"${labels}}`;
const pgx = (metric: string, labels = "") => `${metric}{job="postgres",instance="postgres-exporter:9187"${labels}}`;

/** Backups at the default settings: archive_timeout 60 s, weekly full (7 d + 6 h = 174 h allowed), daily differential (1 d + 6 h), a 4 GiB WAL queue. */
const BACKUP_CASES: AlertCase[] = [
    {
        alert: "WalArchiveFailing",
        firing: { [pgx("pg_archiver_failed_count")]: "0 0 1 2 3 4 5 6 7 8 9 10 11 12" },
        firingAt: "10m",
        silentAt: "6m",
        labels: pgExp,
        description: "PostgreSQL on postgres-exporter:9187 failed to archive WAL 5 times in 5 minutes; it keeps the WAL and retries.",
        quiet: { [pgx("pg_archiver_failed_count")]: "3x15" },
    },
    {
        alert: "WalArchiveStalled",
        firing: { [pgx("pg_archiver_pending_wal_bytes")]: "20000000x10" },
        firingAt: "4m",
        silentAt: "2m",
        labels: pgExp,
        description: "19.07MiB of WAL on postgres-exporter:9187 is not archived after 3 x archive_timeout: a restore now would lose those writes.",
        // less than a segment: the one being written
        quiet: { [pgx("pg_archiver_pending_wal_bytes")]: "16000000x10" },
    },
    {
        alert: "PgWalGrowing",
        firing: { [pgx("pg_wal_size_bytes")]: "3221225472x20" },
        firingAt: "12m",
        silentAt: "5m",
        labels: pgExp,
        description: "pg_wal on postgres-exporter:9187 holds 3GiB, half of what the archive queue may keep.",
        quiet: { [pgx("pg_wal_size_bytes")]: "2147483000x20" },
    },
    {
        alert: "BackupRepositoryUnreachable",
        firing: { [brx("pgbackrest_repo_status", ',repo_key="1"')]: "0 0 3x20" },
        firingAt: "13m",
        silentAt: "8m",
        labels: brExp,
        description: "pgBackRest on pgbackrest-exporter:9854 cannot read the repository (status 3; 0 for the exporter means `pgbackrest info` failed): neither WAL nor backups reach it.",
        quiet: { [brx("pgbackrest_repo_status", ',repo_key="1"')]: "0x20", [brx("pgbackrest_exporter_status", "")]: "1x20" },
    },
    {
        alert: "WalArchiveGap",
        // the wal-check run marks the newest full backup at 2m; the full backup it takes completes at 6m
        firing: { [brx("pgbackrest_backup_last_annotations", ',backup_type="full"')]: "0 0 1 1 1 1 0 0" },
        firingAt: "3m",
        labels: brExp,
        description: "The newest full backup on pgbackrest-exporter:9854 carries 1 mark(s) of a WAL gap after it: a restore to a time after the gap's start cannot replay past it until a new full backup completes.",
        quiet: { [brx("pgbackrest_backup_last_annotations", ',backup_type="full"')]: "0 0 1 1 1 1 0 0", [brx("pgbackrest_backup_last_annotations", ',backup_type="diff"')]: "1x8" },
        quietAt: "7m",
    },
    {
        alert: "BackupHasErrors",
        firing: { [brx("pgbackrest_backup_last_error_status", ',backup_type="diff"')]: "1x5" },
        firingAt: "1m",
        labels: { ...brExp, backup_type: "diff" },
        description: "The newest diff backup on pgbackrest-exporter:9854 completed with errors (error status 1): pgBackRest found pages whose checksum is wrong.",
        quiet: { [brx("pgbackrest_backup_last_error_status", ',backup_type="diff"')]: "0x5", [brx("pgbackrest_backup_last_error_status", ',backup_type="incr"')]: "1x5" },
    },
    {
        alert: "RestoreDrillFailed",
        // pushed by the drill, kept as pushed (honor_labels): the job is the drill's
        firing: { 'flowviz_restore_drill_success{job="restore-drill",repo="2"}': "1 1 0 0 0", 'flowviz_restore_drill_success{job="restore-drill",repo="1"}': "1x5" },
        firingAt: "3m",
        labels: { repo: "2" },
        description: "The newest backup of repository 2 did not restore, recover or pass its checks in the last drill (success 0): a restore now may fail the same way.",
        quiet: { 'flowviz_restore_drill_success{job="restore-drill",repo="1"}': "1x5", 'flowviz_restore_drill_success{job="restore-drill",repo="2"}': "1x5" },
    },
    {
        alert: "RestoreDrillMissing",
        // the last success long before promtool's clock starts: more than twice the weekly drill ago
        firing: { 'flowviz_restore_drill_last_success_timestamp_seconds{job="restore-drill",repo="1"}': "-1300000x100" },
        firingAt: "70m",
        silentAt: "30m",
        labels: { repo: "1" },
        description: "No drill has succeeded for 15d 2h 16m 40s (twice postgres.backups.schedule.drill allows 14 days): whether the backups restore is not known.",
        quiet: { 'flowviz_restore_drill_last_success_timestamp_seconds{job="restore-drill",repo="1"}': "0x100", 'process_start_time_seconds{job="pushgateway"}': "-2000000x100" },
        quietAt: "70m",
    },
    {
        alert: "RestoreDrillMissing",
        // no drill ever succeeded, and the Pushgateway has been up longer than twice the interval
        firing: { 'process_start_time_seconds{job="pushgateway",instance="pushgateway:9091"}': "-1300000x100" },
        firingAt: "70m",
        silentAt: "30m",
        labels: {},
        description: "No drill has succeeded for 15d 2h 16m 40s (twice postgres.backups.schedule.drill allows 14 days): whether the backups restore is not known.",
        quiet: { 'process_start_time_seconds{job="pushgateway",instance="pushgateway:9091"}': "-100000x100" },
        quietAt: "70m",
    },
    {
        alert: "FullBackupTooOld",
        firing: { [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="full"')]: "700000x5" },
        firingAt: "1m",
        labels: brExp,
        description: "The last full backup in the repository of pgbackrest-exporter:9854 completed 8d 2h 26m 40s ago; postgres.backups.schedule.full allows 174h.",
        quiet: { [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="full"')]: "600000x5" },
    },
    {
        // promtool's clock starts at 0: a certificate that expires 20 days from then
        alert: "CertificateExpiresSoon",
        firing: { [pgx("flowviz_certificate_not_after_seconds", ',name="pgbouncer"')]: "1728000x90" },
        firingAt: "61m",
        silentAt: "30m",
        labels: { ...pgExp, name: "pgbouncer" },
        description: "The certificate pgbouncer presents expires in 19d 22h 59m 0s; any `pulumi up` in its last 30 days renews it.",
        quiet: { [pgx("flowviz_certificate_not_after_seconds", ',name="pgbouncer"')]: "1900800x90", [pgx("flowviz_certificate_not_after_seconds", ',name="valkey"')]: "0x90" },
    },
    {
        alert: "CertificateUnchecked",
        firing: { [pgx("flowviz_certificate_checked_timestamp_seconds", ',name="valkey"')]: "-3000x40" },
        firingAt: "30m",
        silentAt: "20m",
        labels: { ...pgExp, name: "valkey" },
        description: "The certificate watch beside PostgreSQL has not read the certificate of valkey for 1h 20m 0s: its expiry is unwatched.",
        quiet: { [pgx("flowviz_certificate_checked_timestamp_seconds", ',name="valkey"')]: "0+60x40" },
    },
    {
        alert: "BackupTooOld",
        firing: {
            [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="full"')]: "200000x5",
            [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="diff"')]: "120000x5",
        },
        firingAt: "1m",
        labels: brExp,
        description: "The last backup in the repository of pgbackrest-exporter:9854 completed 1d 9h 20m 0s ago; the schedules allow 30h.",
        quiet: {
            [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="full"')]: "200000x5",
            [brx("pgbackrest_backup_since_last_completion_seconds", ',backup_type="diff"')]: "100000x5",
        },
    },
];

export const ALERT_CASES: AlertCase[] = [
    ...BACKUP_CASES,
    {
        alert: "HighErrorRate",
        firing: api(6, 94),
        firingAt: "10m",
        silentAt: "2m",
        description: "6% of API requests failed with 5xx over 5 minutes (threshold 5%).",
        quiet: api(49, 951),
    },
    {
        alert: "ErrorBudgetBurnFast",
        firing: api(8, 92),
        firingAt: "10m",
        silentAt: "2m",
        description: "The API is failing 8% of requests: at this rate the 30-day error budget is gone in under 5 days.",
        quiet: api(29, 971),
    },
    {
        alert: "ErrorBudgetBurnSlow",
        firing: api(1, 99),
        firingAt: "30m",
        silentAt: "10m",
        description: "The API has failed 1% of requests over the long window: the 30-day error budget will not last the month.",
        quiet: api(4, 996),
    },
    {
        alert: "HighLatency",
        firing: buckets({ "0.1": 90, "0.5": 97, "1": 100, "+Inf": 100 }),
        firingAt: "10m",
        silentAt: "4m",
        description: "API P99 latency is 833.3ms (target 500 ms).",
        quiet: buckets({ "0.1": 90, "0.5": 100, "1": 100, "+Inf": 100 }),
    },
    {
        alert: "VeryHighLatency",
        firing: buckets({ "0.1": 90, "0.5": 95, "1": 97, "2.5": 100, "+Inf": 100 }),
        firingAt: "10m",
        silentAt: "4m",
        description: "API P99 latency is 2s (critical above 1 s).",
        quiet: buckets({ "0.1": 90, "0.5": 97, "1": 100, "+Inf": 100 }),
    },
    {
        alert: "ApiDown",
        firing: { 'up{job="api",instance="api:8000"}': "0x10" },
        firingAt: "5m",
        silentAt: "1m",
        description: "Prometheus has reached no API instance for 2 minutes (max up = 0).",
        quiet: { 'up{job="api",instance="api:8000"}': "1x10", 'up{job="api",instance="api-2:8000"}': "0x10" },
    },
    {
        alert: "HighQCFailureRate",
        firing: { 'flowviz_qc_decisions_total{job="api",decision="FAIL",gate_number="1"}': "0+12x150", 'flowviz_qc_decisions_total{job="api",decision="PASS",gate_number="1"}': "0+88x150" },
        firingAt: "150m",
        silentAt: "50m",
        description: "12% of QC decisions in the last hour were FAIL (threshold 10%).",
        quiet: { 'flowviz_qc_decisions_total{job="api",decision="FAIL",gate_number="1"}': "0+99x150", 'flowviz_qc_decisions_total{job="api",decision="PASS",gate_number="1"}': "0+901x150" },
        quietAt: "150m",
    },
    {
        alert: "DatabaseDown",
        firing: { 'pg_up{job="postgres",instance="postgres-exporter:9187"}': "1 1 0 0 0 0 0" },
        firingAt: "4m",
        silentAt: "2m",
        labels: pgExp,
        description: "postgres_exporter on postgres-exporter:9187 cannot reach PostgreSQL (pg_up = 0).",
        quiet: { 'pg_up{job="postgres",instance="postgres-exporter:9187"}': "1x10", 'up{job="postgres",instance="postgres-exporter:9187"}': "0x10" },
    },
    {
        alert: "PostgresTooManyConnections",
        firing: { 'pg_stat_activity_count{job="postgres",instance="postgres-exporter:9187",datname="flowviz",state="active"}': "85x10", 'pg_settings_max_connections{job="postgres",instance="postgres-exporter:9187"}': "100x10" },
        firingAt: "8m",
        silentAt: "3m",
        labels: { instance: "postgres-exporter:9187" },
        description: "postgres-exporter:9187 uses 85% of max_connections.",
        quiet: { 'pg_stat_activity_count{job="postgres",instance="postgres-exporter:9187",datname="flowviz",state="active"}': "80x10", 'pg_settings_max_connections{job="postgres",instance="postgres-exporter:9187"}': "100x10" },
    },
    {
        alert: "PostgresLongTransaction",
        firing: { 'pg_stat_activity_max_tx_duration{job="postgres",instance="postgres-exporter:9187",datname="flowviz",state="idle in transaction"}': "400x10" },
        firingAt: "5m",
        silentAt: "1m",
        labels: { instance: "postgres-exporter:9187", datname: "flowviz" },
        description: "The oldest transaction in flowviz has been open 6m 40s.",
        quiet: {
            'pg_stat_activity_max_tx_duration{job="postgres",instance="postgres-exporter:9187",datname="flowviz",state="active"}': "299x10",
            'pg_stat_activity_max_tx_duration{job="postgres",instance="postgres-exporter:9187",datname="flowviz",state="idle"}': "5000x10",
        },
    },
    {
        alert: "PostgresDeadlocks",
        firing: { 'pg_stat_database_deadlocks{job="postgres",instance="postgres-exporter:9187",datname="flowviz"}': "0 0 0 2 2 2 2 2" },
        firingAt: "4m",
        silentAt: "2m",
        labels: { instance: "postgres-exporter:9187", datname: "flowviz" },
        description: "2 deadlocks in flowviz over 5 minutes.",
        quiet: { 'pg_stat_database_deadlocks{job="postgres",instance="postgres-exporter:9187",datname="flowviz"}': "3x10" },
    },
    {
        alert: "PostgresChecksumFailure",
        firing: { [pgx("pg_data_checksums_failures")]: "0 0 0 1 1 1 1 1" },
        firingAt: "5m",
        labels: pgExp,
        description: "1 page checksum failures on postgres-exporter:9187 in the last hour: the storage corrupted data.",
        quiet: { [pgx("pg_data_checksums_failures")]: "2x90" },
        quietAt: "80m",
    },
    {
        alert: "PostgresDataChecksumsOff",
        firing: { [pgx("pg_data_checksums_enabled")]: "0x90" },
        firingAt: "70m",
        silentAt: "30m",
        labels: pgExp,
        description: "The cluster on postgres-exporter:9187 reports pg_data_checksums_enabled 0: it was initialised without data checksums (before the stack set initdb --data-checksums): silent page corruption reaches the backups unseen.",
        quiet: { [pgx("pg_data_checksums_enabled")]: "1x90" },
    },
    {
        alert: "PostgresRestarted",
        firing: { 'pg_up{job="postgres",instance="postgres-exporter:9187"}': "1 1 0 1 1 1 1" },
        firingAt: "5m",
        labels: pgExp,
        description: "pg_up on postgres-exporter:9187 changed 2 times in 10 minutes: PostgreSQL restarted or was unreachable.",
        quiet: { 'pg_up{job="postgres",instance="postgres-exporter:9187"}': "1x20" },
    },
    {
        alert: "BrokerDown",
        firing: { [vk("redis_up")]: "1 0 0 0 0" },
        firingAt: "3m",
        silentAt: "1m",
        labels: vkExp,
        description: "The exporter beside Valkey on valkey:9121 cannot reach it or log in (redis_up = 0): no task is queued or delivered.",
        quiet: { [vk("redis_up")]: "1x10" },
    },
    {
        alert: "BrokerMemoryNearLimit",
        firing: { [vk("redis_memory_used_bytes")]: "170000000x10", [vk("redis_memory_max_bytes")]: "201326592x10" },
        firingAt: "6m",
        silentAt: "4m",
        labels: vkExp,
        description: "Valkey on valkey:9121 holds 84.44% of its maxmemory; past it (noeviction) every new task is refused.",
        // under 80%, and a broker with no maxmemory (0) is not divided by
        quiet: { [vk("redis_memory_used_bytes")]: "150000000x10", [vk("redis_memory_max_bytes")]: "201326592x10", 'redis_memory_used_bytes{job="valkey",instance="other:9121"}': "5x10", 'redis_memory_max_bytes{job="valkey",instance="other:9121"}': "0x10" },
    },
    {
        alert: "BrokerPersistenceFailing",
        firing: { [vk("redis_aof_enabled")]: "1x10", [vk("redis_aof_last_write_status")]: "1 1 0 0 0 0", [vk("redis_aof_last_bgrewrite_status")]: "1x10" },
        firingAt: "4m",
        silentAt: "2m",
        labels: vkExp,
        description: "Valkey on valkey:9121 failed its last append-only-file write or rewrite (status 0, 1 is ok): queued tasks are no longer durable, and Valkey refuses writes until the file can be written.",
        quiet: { [vk("redis_aof_enabled")]: "1x10", [vk("redis_aof_last_write_status")]: "1x10", [vk("redis_aof_last_bgrewrite_status")]: "1x10" },
    },
    {
        alert: "CeleryQueueBacklog",
        firing: { [vk("redis_key_size", ',db="db0",key="celery"')]: "0 100 300 501 600 700 800 900 1000 1100 1200 1300 1400 1500 1600 1700" },
        firingAt: "14m",
        silentAt: "12m",
        labels: { key: "celery" },
        description: "1600 tasks wait in queue celery (threshold 500): the workers are stopped, stuck or too few.",
        // a burst drained within the hold time
        quiet: { [vk("redis_key_size", ',db="db0",key="celery"')]: "0 800 800 800 800 800 0 0 0 0 0 0 0 0 0 0 0" },
    },
    {
        alert: "PgBouncerDown",
        firing: { 'pgbouncer_up{job="pgbouncer",instance="pgbouncer:9127"}': "1 0 0 0 0" },
        firingAt: "3m",
        silentAt: "1m",
        labels: { instance: "pgbouncer:9127", job: "pgbouncer" },
        description: "The exporter on pgbouncer:9127 cannot reach PgBouncer (pgbouncer_up = 0).",
        quiet: { 'pgbouncer_up{job="pgbouncer",instance="pgbouncer:9127"}': "1x10" },
    },
    {
        alert: "PgBouncerPoolExhausted",
        firing: pgb("pgbouncer_pools_client_waiting_connections", "11x10"),
        firingAt: "3m",
        silentAt: "1m",
        labels: pool,
        description: "11 clients wait for a server connection in pool flowviz/flowviz on pgbouncer:9127 (threshold 10).",
        quiet: pgb("pgbouncer_pools_client_waiting_connections", "10x10"),
    },
    {
        alert: "PgBouncerClientWaitHigh",
        firing: pgb("pgbouncer_pools_client_maxwait_seconds", "1.5x10"),
        firingAt: "3m",
        silentAt: "1m",
        labels: pool,
        description: "The oldest waiting client in flowviz/flowviz has waited 1.5s.",
        quiet: pgb("pgbouncer_pools_client_maxwait_seconds", "1x10"),
    },
    {
        alert: "PgBouncerClientConnectionsNearLimit",
        firing: {
            ...pgb("pgbouncer_pools_client_active_connections", "700x10"),
            ...pgb("pgbouncer_pools_client_waiting_connections", "150x10"),
            'pgbouncer_config_max_client_connections{job="pgbouncer",instance="pgbouncer:9127"}': "1000x10",
        },
        firingAt: "6m",
        silentAt: "3m",
        labels: { instance: "pgbouncer:9127" },
        description: "pgbouncer:9127 holds 85% of max_client_conn.",
        quiet: {
            ...pgb("pgbouncer_pools_client_active_connections", "700x10"),
            ...pgb("pgbouncer_pools_client_waiting_connections", "100x10"),
            'pgbouncer_config_max_client_connections{job="pgbouncer",instance="pgbouncer:9127"}': "1000x10",
        },
    },
    { alert: "NodeFilesystemAlmostFull", firing: fs(8), firingAt: "20m", silentAt: "10m", labels: fsLabels, description: "/ on node-exporter:9100 has 8% free.", quiet: fs(10), quietAt: "30m" },
    { alert: "NodeFilesystemFull", firing: fs(4), firingAt: "10m", silentAt: "3m", labels: fsLabels, description: "/ on node-exporter:9100 has 4% free.", quiet: fs(5), quietAt: "30m" },
    {
        alert: "NodeHighCpu",
        firing: { 'node_cpu_seconds_total{job="node",instance="node-exporter:9100",cpu="0",mode="idle"}': "0+3x40" },
        firingAt: "25m",
        silentAt: "10m",
        labels: { instance: "node-exporter:9100" },
        description: "node-exporter:9100 is 95% busy.",
        quiet: { 'node_cpu_seconds_total{job="node",instance="node-exporter:9100",cpu="0",mode="idle"}': "0+6x40" },
        quietAt: "30m",
    },
    {
        alert: "NodeMemoryLow",
        firing: { 'node_memory_MemAvailable_bytes{job="node",instance="node-exporter:9100"}': "9x20", 'node_memory_MemTotal_bytes{job="node",instance="node-exporter:9100"}': "100x20" },
        firingAt: "15m",
        silentAt: "5m",
        labels: { instance: "node-exporter:9100", job: "node" },
        description: "node-exporter:9100 has 9% of its memory available.",
        quiet: { 'node_memory_MemAvailable_bytes{job="node",instance="node-exporter:9100"}': "10x20", 'node_memory_MemTotal_bytes{job="node",instance="node-exporter:9100"}': "100x20" },
    },
    {
        alert: "TargetDown",
        firing: { 'up{job="node",instance="node-exporter:9100"}': "0x10" },
        firingAt: "6m",
        silentAt: "4m",
        labels: { instance: "node-exporter:9100", job: "node" },
        description: "Prometheus cannot scrape node at node-exporter:9100 (up = 0).",
        quiet: { 'up{job="node",instance="node-exporter:9100"}': "1x10" },
    },
    {
        alert: "PrometheusConfigReloadFailed",
        firing: { 'prometheus_config_last_reload_successful{job="prometheus",instance="localhost:9090"}': "0x15" },
        firingAt: "11m",
        silentAt: "9m",
        labels: { instance: "localhost:9090" },
        description: "The last configuration reload on localhost:9090 failed (last_reload_successful = 0); Prometheus runs the previous one.",
        quiet: { 'prometheus_config_last_reload_successful{job="prometheus",instance="localhost:9090"}': "1x15" },
    },
    {
        alert: "PrometheusRuleFailures",
        firing: { 'prometheus_rule_evaluation_failures_total{job="prometheus",instance="localhost:9090",rule_group="flowviz-api"}': "0+1x10" },
        firingAt: "7m",
        silentAt: "4m",
        labels: { instance: "localhost:9090", rule_group: "flowviz-api" },
        description: "5 rule evaluations failed in flowviz-api over 5 minutes: alerts in it may never fire.",
        quiet: { 'prometheus_rule_evaluation_failures_total{job="prometheus",instance="localhost:9090",rule_group="flowviz-api"}': "4x10" },
    },
    {
        alert: "PrometheusAlertmanagerMissing",
        firing: { 'prometheus_notifications_alertmanagers_discovered{job="prometheus",instance="localhost:9090"}': "0x10" },
        firingAt: "6m",
        silentAt: "4m",
        labels: { instance: "localhost:9090" },
        description: "localhost:9090 discovers 0 Alertmanagers: alerts are not delivered.",
        quiet: { 'prometheus_notifications_alertmanagers_discovered{job="prometheus",instance="localhost:9090"}': "1x10" },
    },
    {
        alert: "PrometheusNotificationErrors",
        firing: {
            'prometheus_notifications_errors_total{job="prometheus",instance="localhost:9090",alertmanager="http://alertmanager:9093/api/v2/alerts"}': "0+2x30",
            'prometheus_notifications_sent_total{job="prometheus",instance="localhost:9090",alertmanager="http://alertmanager:9093/api/v2/alerts"}': "0+100x30",
        },
        firingAt: "20m",
        silentAt: "10m",
        labels: { instance: "localhost:9090" },
        description: "2% of alert notifications from localhost:9090 fail.",
        quiet: {
            'prometheus_notifications_errors_total{job="prometheus",instance="localhost:9090",alertmanager="http://alertmanager:9093/api/v2/alerts"}': "0+1x30",
            'prometheus_notifications_sent_total{job="prometheus",instance="localhost:9090",alertmanager="http://alertmanager:9093/api/v2/alerts"}': "0+100x30",
        },
    },
    {
        alert: "AlertmanagerConfigReloadFailed",
        firing: { 'alertmanager_config_last_reload_successful{job="alertmanager",instance="alertmanager:9093"}': "0x15" },
        firingAt: "11m",
        silentAt: "9m",
        labels: { instance: "alertmanager:9093" },
        description: "The last configuration reload on alertmanager:9093 failed (last_reload_successful = 0).",
        quiet: { 'alertmanager_config_last_reload_successful{job="alertmanager",instance="alertmanager:9093"}': "1x15" },
    },
    {
        alert: "AlertmanagerNotificationsFailing",
        firing: { 'alertmanager_notifications_failed_total{job="alertmanager",instance="alertmanager:9093",integration="webhook"}': "0+6x10" },
        firingAt: "7m",
        silentAt: "4m",
        labels: { instance: "alertmanager:9093", integration: "webhook" },
        description: "webhook notifications fail at 0.1/s.",
        quiet: { 'alertmanager_notifications_failed_total{job="alertmanager",instance="alertmanager:9093",integration="webhook"}': "3x10" },
    },
    {
        // the exporter gone: its target is down (static discovery) or not discovered at all (pods)
        alert: "TargetAbsent",
        firing: { ...allUp(10, "postgres"), 'up{job="postgres",instance="postgres-exporter:9187"}': "0x10" },
        firingAt: "6m",
        silentAt: "4m",
        labels: { job: "postgres", component: "postgres" },
        description: "Prometheus has no healthy postgres target: every one is down or none is discovered. Its alerts cannot fire.",
        quiet: allUp(10),
    },
    {
        alert: "TargetAbsent",
        firing: allUp(10, "pgbouncer"),
        firingAt: "6m",
        silentAt: "4m",
        labels: { job: "pgbouncer", component: "pgbouncer" },
        description: "Prometheus has no healthy pgbouncer target: every one is down or none is discovered. Its alerts cannot fire.",
        quiet: allUp(10),
    },
];

/** `up` = 1 for one target of every catalogued job, but `except` (which then has no series at all). */
function allUp(samples: number, except?: string): Record<string, string> {
    return Object.fromEntries(CATALOG.filter((s) => s.job !== except).map((s) => [`up{job="${s.job}",instance="${s.job}:1"}`, `1x${samples}`]));
}
