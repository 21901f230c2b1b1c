/**
 * What PostgreSQL alerts on when CloudNativePG runs it (postgres.engine cloudnative-pg): the
 * same alerts as postgres.ts and backups.ts, read from the instance manager's exporter
 * (`cnpg_*`, port 9187 of every instance) and the Barman Cloud plugin's metrics, plus what only
 * a replicated cluster has: lag, a missing synchronous standby, fencing, failovers, instances
 * sharing a node. CloudNativePG 1.30's default queries and collector (docs/src/monitoring.md).
 */
import { NS } from "./steps";
import type { AlertRule, BackupThresholds, Thresholds } from "./model";

const CLUSTER = "postgres";
const STATUS = `The cluster as the operator sees it: \`kubectl cnpg status ${CLUSTER} -n ${NS}\` (the kubectl-cnpg plugin of the operator's version): primary, standbys, replication, archive, last backup.`;
const PODS = `The instances: \`kubectl -n ${NS} get pods -l cnpg.io/cluster=${CLUSTER} -L cnpg.io/instanceRole\`; why one stopped: \`kubectl -n ${NS} logs <pod> -c postgres --previous\` and \`kubectl -n ${NS} describe pod <pod>\`.`;
// by the label both documented installs give the operator's pods (the Helm chart names its Deployment after the release, the plain manifest `cnpg-controller-manager`)
const OPERATOR = "The operator's own log: `kubectl -n cnpg-system logs -l app.kubernetes.io/name=cloudnative-pg --since=30m` (failover and switchover decisions are logged there).";
const PSQL = `SQL on the primary without a superuser password: \`kubectl cnpg psql ${CLUSTER} -n ${NS} -- -d flowviz\` (peer authentication inside the pod).`;
const PLUGIN_LOG = `The Barman Cloud sidecar of the primary: \`kubectl -n ${NS} logs <primary-pod> -c plugin-barman-cloud --tail=200\`; the ObjectStore: \`kubectl -n ${NS} describe objectstore ${CLUSTER}-backups\`.`;
/** The Barman Cloud plugin's metrics, named after the plugin (barman-cloud.cloudnative-pg.io). */
const PLUGIN = "barman_cloud_cloudnative_pg_io";
const hours = (s: number) => `${Math.round(s / 3600)}h`;
/** Half the way to wraparound (2^31): time enough to find and end what holds the horizon. */
const XID_AGE_WARNING = 2 ** 30;

export function cnpgPostgresRules(t: Thresholds, cluster: { maxConnections: number; instances: number; synchronous: number }): AlertRule[] {
    return [
        {
            alert: "DatabaseDown",
            expr: "cnpg_collector_up == 0",
            for: t.databaseDownFor,
            severity: "critical",
            component: "postgres",
            summary: "A PostgreSQL instance is down",
            description: "The instance manager of {{ $labels.pod }} cannot reach its PostgreSQL (cnpg_collector_up = {{ $value }}); the operator fails over when it is the primary.",
            runbook: [STATUS, PODS, OPERATOR, "A full volume is the usual crash loop (\"No space left on device\"): grow postgres.storageSize (`npm run diff` shows it as an in-place update; the StorageClass must allow expansion)."],
        },
        {
            alert: "PostgresTooManyConnections",
            expr: `sum by (pod) (cnpg_backends_total) > ${Math.floor(cluster.maxConnections * 0.8)}`,
            for: "5m",
            severity: "warning",
            component: "postgres",
            summary: "PostgreSQL is near max_connections",
            description: `{{ $labels.pod }} has {{ $value }} backends, over 80% of max_connections ${cluster.maxConnections}.`,
            runbook: [PSQL, "Find who holds connections: `SELECT usename, application_name, count(*) FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC;`.", "Check the capacity invariants in stack/capacity.ts before raising max_connections."],
        },
        {
            alert: "PostgresLongTransaction",
            expr: `max by (pod, datname) (cnpg_backends_max_tx_duration_seconds{state=~"active|idle in transaction"}) > 300`,
            for: "2m",
            severity: "warning",
            component: "postgres",
            summary: "A PostgreSQL transaction has been open for over 5 minutes",
            description: "The oldest transaction in {{ $labels.datname }} on {{ $labels.pod }} has been open {{ $value | humanizeDuration }}.",
            runbook: [PSQL, "A pooled transaction holds a server connection the whole time: cancel it with `SELECT pg_cancel_backend(<pid>);` if it is stuck."],
        },
        {
            alert: "PostgresDeadlocks",
            expr: `sum by (pod, datname) (increase(cnpg_pg_stat_database_deadlocks{datname!~"template0|template1"}[5m])) > 0`,
            for: "0m",
            severity: "warning",
            component: "postgres",
            summary: "PostgreSQL deadlocks",
            description: "{{ $value }} deadlocks in {{ $labels.datname }} over 5 minutes.",
            runbook: ["Read the PostgreSQL log (`kubectl -n " + NS + " logs <primary-pod> -c postgres | grep -i deadlock`): every deadlock is logged with both statements.", "Make the transactions involved take their locks in the same order."],
        },
        {
            alert: "PostgresRestarted",
            expr: "changes(cnpg_pg_postmaster_start_time[10m]) > 0",
            for: "0m",
            severity: "info",
            component: "postgres",
            summary: "A PostgreSQL instance restarted",
            description: "PostgreSQL on {{ $labels.pod }} started {{ $value }} times again within 10 minutes (a restart, a rolling update or a failover).",
            runbook: [STATUS, OPERATOR],
        },
        {
            alert: "PostgresFailover",
            expr: "changes(cnpg_pg_replication_in_recovery[10m]) > 0 and cnpg_pg_replication_in_recovery == 0",
            for: "0m",
            severity: "warning",
            component: "postgres",
            summary: "A standby became the primary",
            description: "{{ $labels.pod }} left recovery within 10 minutes ({{ $value }} role changes): a failover or switchover promoted it. PgBouncer follows through the -rw Service.",
            runbook: [
                STATUS,
                OPERATOR,
                "An unplanned failover means the old primary's node or pod failed: find why (PODS below) before it rejoins as a standby; the operator rewinds or re-clones it by itself.",
                PODS,
                `Planned moves use a switchover, not a kill: \`kubectl cnpg promote ${CLUSTER} <standby-pod> -n ${NS}\` (the operator shuts the primary down cleanly first; with a synchronous standby nothing acknowledged is lost).`,
            ],
        },
        {
            alert: "PostgresSynchronousStandbyMissing",
            // what streams to the primary (default query pg_replication, column streaming_replicas), not the collector's
            // sync_replicas: with dataDurability required, synchronous_standby_names lists every instance whether or not it streams
            expr: `(cnpg_pg_replication_streaming_replicas and on(pod) (cnpg_pg_replication_in_recovery == 0)) < ${cluster.synchronous}`,
            for: "1m",
            severity: "critical",
            component: "postgres",
            summary: "Fewer synchronous standbys than required",
            description: `The primary {{ $labels.pod }} has {{ $value }} standbys streaming; every commit needs ${cluster.synchronous} to confirm it (ANY ${cluster.synchronous}): with dataDurability required, writes wait until one is back.`,
            runbook: [
                STATUS,
                PODS,
                "With `postgres.cloudnativePg.synchronous.dataDurability: required` commits block (the app sees timeouts, PgBouncer's waiting clients climb) rather than being acknowledged by one node; that is the design. Bring a standby back (a node, a volume, a NetworkPolicy) and commits continue.",
                "Only if writes must continue before a standby returns, and losing the last acknowledged writes with the primary's node is accepted: set dataDurability preferred, `npm run diff`, `pulumi up`, and set it back afterwards.",
            ],
        },
        {
            alert: "PostgresReplicationLag",
            expr: "max by (pod) (cnpg_pg_replication_lag) > 30",
            for: "5m",
            severity: "warning",
            component: "postgres",
            summary: "A standby is behind the primary",
            description: "{{ $labels.pod }} replays WAL {{ $value | humanizeDuration }} behind the primary: a failover to it would have to catch up first.",
            runbook: [
                STATUS,
                `A standby that cannot catch up (a long query holding replay, a slow disk, a dropped slot): \`kubectl cnpg status ${CLUSTER} -n ${NS}\` shows its replication state; its log says why.`,
                `When it will not recover, recreate it from the primary: \`kubectl cnpg destroy ${CLUSTER} <instance-number> -n ${NS}\` (deletes that instance's pod and volume; the operator clones a new one with pg_basebackup).`,
            ],
        },
        {
            alert: "PostgresStandbysNotStreaming",
            expr: `max(cnpg_pg_replication_streaming_replicas) < ${cluster.instances - 1}`,
            for: "5m",
            severity: "warning",
            component: "postgres",
            summary: "Not every standby streams from the primary",
            description: `The primary has {{ $value }} of ${cluster.instances - 1} standbys streaming: a failover has fewer candidates.`,
            runbook: [STATUS, PODS],
        },
        {
            alert: "PostgresInstancesShareANode",
            expr: `max(cnpg_collector_nodes_used) < ${cluster.instances} and max(cnpg_collector_nodes_used) >= 0`,
            for: "15m",
            severity: "warning",
            component: "postgres",
            summary: "Instances share a node",
            description: `The ${cluster.instances} instances run on {{ $value }} nodes: losing one node loses more than one instance.`,
            runbook: [PODS, "The anti-affinity is required, so a shared node means the pods were placed before it applied or nodes are missing: add nodes, then delete the extra pod on the shared node so it is rescheduled."],
        },
        {
            alert: "PostgresFenced",
            expr: "max by (pod) (cnpg_collector_fencing_on) == 1",
            for: "0m",
            severity: "warning",
            component: "postgres",
            summary: "An instance is fenced",
            description: "{{ $labels.pod }} is fenced (fencing_on = {{ $value }}): PostgreSQL is stopped on it and it serves nothing.",
            runbook: [`Someone fenced it for an investigation (\`kubectl cnpg fencing on ${CLUSTER} <pod> -n ${NS}\`); when done: \`kubectl cnpg fencing off ${CLUSTER} <pod> -n ${NS}\`.`, STATUS],
        },
        {
            alert: "PostgresSwitchoverRequired",
            expr: "max(cnpg_collector_manual_switchover_required) == 1",
            for: "0m",
            severity: "warning",
            component: "postgres",
            summary: "The operator waits for a switchover",
            description: "An update needs the primary restarted and waits for a person to switch over (manual_switchover_required = {{ $value }}).",
            runbook: [STATUS, `Switch over to a synchronous standby: \`kubectl cnpg promote ${CLUSTER} <standby-pod> -n ${NS}\`.`],
        },
        {
            alert: "PostgresTransactionIdAge",
            // default query pg_database, column xid_age: age(datfrozenxid); wraparound stops writes at 2^31
            expr: `max by (pod, datname) (cnpg_pg_database_xid_age) > ${XID_AGE_WARNING}`,
            for: "15m",
            severity: "warning",
            component: "postgres",
            summary: "Transaction IDs are nearing wraparound",
            description: "{{ $labels.datname }} on {{ $labels.pod }} has {{ $value }} transactions since its oldest unfrozen row: at 2^31 PostgreSQL stops taking writes until it is vacuumed.",
            runbook: [
                "Autovacuum is not freezing fast enough, or something holds the horizon back: a long transaction (PostgresLongTransaction), an abandoned replication slot or prepared transaction. " + PSQL + " then `SELECT datname, age(datfrozenxid) FROM pg_database ORDER BY 2 DESC;` and `SELECT relname, age(relfrozenxid) FROM pg_class WHERE relkind = 'r' ORDER BY 2 DESC LIMIT 10;`.",
                "End what holds the horizon, then `VACUUM (FREEZE, VERBOSE)` the oldest tables in a quiet hour.",
            ],
        },
    ];
}

export function cnpgBackupRules(b: BackupThresholds): AlertRule[] {
    const stalledFor = `${3 * b.archiveTimeoutSeconds}s`;
    return [
        {
            alert: "WalArchiveFailing",
            expr: "increase(cnpg_pg_stat_archiver_failed_count[5m]) > 0",
            for: "5m",
            severity: "warning",
            component: "backup",
            summary: "WAL archiving is failing",
            description: "{{ $labels.pod }} failed to archive WAL {{ $value }} times in 5 minutes; it keeps the WAL and retries.",
            runbook: [PLUGIN_LOG, STATUS, "Object store: the endpoint, the bucket, the keys (backupS3AccessKey / backupS3SecretKey) or the node's role; the NetworkPolicy's object-store egress (kubernetes.egress.objectStorageCidrs)."],
        },
        {
            alert: "WalArchiveStalled",
            expr: 'cnpg_collector_pg_wal_archive_status{value="ready"} > 2',
            for: stalledFor,
            severity: "critical",
            component: "backup",
            summary: "WAL is not reaching the archive",
            description: "{{ $value }} WAL segments on {{ $labels.pod }} wait to be archived after 3 x archive_timeout: a restore now would lose those writes (the synchronous standby still has them).",
            runbook: ["Follow WalArchiveFailing's steps: the object store is unreachable or refusing.", "WAL waits in pg_wal until the archive is back (nothing is dropped): watch PgWalGrowing, and once the archive is back take a backup at once: `kubectl cnpg backup " + CLUSTER + " -n " + NS + " --method plugin --plugin-name barman-cloud.cloudnative-pg.io`."],
        },
        {
            alert: "PgWalGrowing",
            expr: `cnpg_collector_pg_wal{value="size"} > ${Math.round(b.walQueueBytes / 2)}`,
            for: "10m",
            severity: "warning",
            component: "backup",
            summary: "pg_wal is growing",
            description: "pg_wal on {{ $labels.pod }} holds {{ $value | humanize1024 }}B.",
            runbook: [
                "WAL piles up when archiving stalls (WalArchiveStalled) or a replication slot is held by a standby that is gone: " + PSQL + " then `SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) FROM pg_replication_slots;`.",
                STATUS,
            ],
        },
        {
            alert: "BackupFailed",
            expr: `max(${PLUGIN}_last_failed_backup_timestamp) > max(${PLUGIN}_last_available_backup_timestamp)`,
            for: "0m",
            severity: "warning",
            component: "backup",
            summary: "The last backup failed",
            description: "The last base backup attempt (at {{ $value | humanizeTimestamp }}) failed after the last one that succeeded; the ScheduledBackup tries again at its next time.",
            runbook: [`\`kubectl -n ${NS} get backups.postgresql.cnpg.io --sort-by=.metadata.creationTimestamp\` and \`kubectl -n ${NS} describe backup <last>\` for the error.`, PLUGIN_LOG, "Take one by hand when the cause is fixed: `kubectl cnpg backup " + CLUSTER + " -n " + NS + " --method plugin --plugin-name barman-cloud.cloudnative-pg.io`."],
        },
        {
            alert: "FullBackupTooOld",
            expr: `time() - max(${PLUGIN}_last_available_backup_timestamp) > ${b.fullMaxAgeSeconds}`,
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "No base backup within its schedule",
            description: `The last base backup ended {{ $value | humanizeDuration }} ago; postgres.backups.schedule.full allows ${hours(b.fullMaxAgeSeconds)}.`,
            runbook: [`\`kubectl -n ${NS} get scheduledbackups,backups\`: is the ScheduledBackup there and creating Backups?`, PLUGIN_LOG, "Without a recent base backup a restore replays more WAL, and the recovery window shrinks as older backups expire: take one now (BackupFailed's last step)."],
        },
        {
            alert: "BackupMetricsMissing",
            // without them BackupFailed and FullBackupTooOld cannot fire: their silence would look like health
            expr: `absent(${PLUGIN}_last_available_backup_timestamp)`,
            for: "1h",
            severity: "warning",
            component: "backup",
            summary: "The Barman Cloud plugin reports no backups",
            labels: { job: "postgres" },
            description: "No instance (job postgres) exports the plugin's backup metrics: BackupFailed and FullBackupTooOld cannot fire until one does.",
            runbook: [PLUGIN_LOG, "The plugin's sidecar runs in every instance once the Cluster names the plugin (`spec.plugins`): is the plugin installed, its version the one the stack expects (`npm run check`), and did the first base backup complete (`kubectl -n " + NS + " get backups.postgresql.cnpg.io`)?"],
        },
    ];
}
