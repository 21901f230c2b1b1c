/** What the WAL archive (postgres_exporter's extra queries) and the backup repository (pgbackrest_exporter) alert on. */
import { NS } from "./steps";
import type { AlertRule, BackupThresholds } from "./model";
import { CERTIFICATE_LIFETIME, CERTIFICATE_WARN_DAYS } from "../../configs/certificates";

/** Where a scheduled service's runs left their logs (its Jobs; Docker: its loop container). */
const logsOf = (service: string) => `\`kubectl -n ${NS} get jobs -l app.kubernetes.io/name=${service}\`, then \`kubectl -n ${NS} logs job/<job>\` (Docker: \`docker logs flowviz-<stack>-${service}\`)`;
/** A scheduled run started by hand: a Job from its CronJob (Docker: the script in its loop container). */
const runNowOf = (service: string, run: string, script: string) =>
    `\`kubectl -n ${NS} create job --from=cronjob/${service}-${run} ${service}-${run}-now\` (Docker: \`docker exec flowviz-<stack>-${service} sh /etc/pgbackrest/${script}\`).`;
const RUN_LOGS = `The backup runs' logs: ${logsOf("postgres-backup")}.`;
const PGBR = `The repository as pgBackRest sees it: \`kubectl -n ${NS} exec deploy/pgbackrest-exporter -- pgbackrest --config=/etc/pgbackrest/pgbackrest/pgbackrest.conf --config-include-path=/etc/pgbackrest/pgbackrest/conf.d --stanza=flowviz info\` (Docker: \`docker exec flowviz-<stack>-pgbackrest-exporter pgbackrest ... info\`, same options).`;
const RUN_NOW = (run: string) => `Run it now: ${runNowOf("postgres-backup", run, `backup.sh ${run}`)}`;
const hours = (s: number) => `${Math.round(s / 3600)}h`;

export function backupRules(b: BackupThresholds): AlertRule[] {
    const stalledFor = `${3 * b.archiveTimeoutSeconds}s`;
    return [
        {
            alert: "WalArchiveFailing",
            expr: "increase(pg_archiver_failed_count[5m]) > 0",
            for: "5m",
            severity: "warning",
            component: "backup",
            summary: "archive_command is failing",
            description: "PostgreSQL on {{ $labels.instance }} failed to archive WAL {{ $value }} times in 5 minutes; it keeps the WAL and retries.",
            runbook: [
                `Why: PostgreSQL's log (\`kubectl -n ${NS} logs postgres-0 -c postgres | grep -i archive\`): an unreachable repository, wrong credentials, a full repository volume.`,
                PGBR,
                "PostgreSQL keeps serving: the WAL waits in pg_wal (pgBackRest's queue holds at most postgres.backups.archivePushQueueMax); nothing is lost while the archive catches up.",
            ],
        },
        {
            alert: "WalArchiveStalled",
            expr: "pg_archiver_pending_wal_bytes > 16 * 1024 * 1024",
            for: stalledFor,
            severity: "critical",
            component: "backup",
            summary: "WAL is not reaching the archive",
            description: "{{ $value | humanize1024 }}B of WAL on {{ $labels.instance }} is not archived after 3 x archive_timeout: a restore now would lose those writes.",
            runbook: [
                "Follow WalArchiveFailing's steps first: the repository is unreachable or refusing.",
                `If it stays down past archivePushQueueMax, pgBackRest drops the queued WAL so that PostgreSQL's disk never fills (its log says "dropped WAL file"): the archive then has a gap, and point-in-time restores cannot cross it. Once the repository is back the wal-check run finds it and takes a full backup (WalArchiveGap fires until it completes).`,
            ],
        },
        {
            alert: "PgWalGrowing",
            expr: `pg_wal_size_bytes > ${Math.round(b.walQueueBytes / 2)}`,
            for: "10m",
            severity: "warning",
            component: "backup",
            summary: "pg_wal is growing",
            description: "pg_wal on {{ $labels.instance }} holds {{ $value | humanize1024 }}B, half of what the archive queue may keep.",
            runbook: [
                "WAL piles up when archiving stalls (see WalArchiveStalled) or a replication slot is abandoned: `SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) FROM pg_replication_slots;`.",
                `Free space on the data volume: \`kubectl -n ${NS} exec postgres-0 -c postgres -- df -h /var/lib/postgresql/data\`.`,
            ],
        },
        {
            alert: "BackupRepositoryUnreachable",
            expr: "max by (instance) (pgbackrest_repo_status) > 0 or min by (instance) (pgbackrest_exporter_status) == 0",
            for: "10m",
            severity: "critical",
            component: "backup",
            summary: "The backup repository does not answer",
            description: "pgBackRest on {{ $labels.instance }} cannot read the repository (status {{ $value }}; 0 for the exporter means `pgbackrest info` failed): neither WAL nor backups reach it.",
            runbook: [PGBR, "Object store: the endpoint, the bucket, the credentials (keys, the backup pods' role with web-id, the metadata address with auto); posix: the repository volume is mounted and not full.", RUN_LOGS],
        },
        {
            alert: "WalArchiveGap",
            expr: 'max by (instance) (pgbackrest_backup_last_annotations{backup_type="full"}) > 0',
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "WAL is missing from the archive after the newest full backup",
            description: "The newest full backup on {{ $labels.instance }} carries {{ $value }} mark(s) of a WAL gap after it: a restore to a time after the gap's start cannot replay past it until a new full backup completes.",
            runbook: [
                "pgBackRest dropped queued WAL (archivePushQueueMax) while the repository was unreachable, and reported it archived: the wal-check run found the gap, marked the newest full backup with it (`flowviz-wal-gap`) and started a full backup. The alert ends when that full backup completes.",
                `See the mark: \`pgbackrest ... info --set=<label>\` (${PGBR.replace(/^The repository as pgBackRest sees it: /, "")}).`,
                `If no full backup follows within the hour, take one: ${RUN_NOW("full")}`,
                "Points in time inside the gap are lost for good; every point after the new full backup restores. Say so in the incident record.",
            ],
        },
        {
            alert: "BackupHasErrors",
            expr: 'max by (instance, backup_type) (pgbackrest_backup_last_error_status{backup_type=~"full|diff"}) > 0',
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "The newest backup found errors",
            description: "The newest {{ $labels.backup_type }} backup on {{ $labels.instance }} completed with errors (error status {{ $value }}): pgBackRest found pages whose checksum is wrong.",
            runbook: ["Corrupt pages were copied as they are: see PostgresChecksumFailure's runbook for finding the relation.", RUN_LOGS, "The backups before the corruption still hold good pages: keep them (raise retention.full for now) until the relation is repaired."],
        },
        {
            alert: "FullBackupTooOld",
            expr: `min by (instance) (pgbackrest_backup_since_last_completion_seconds{backup_type="full"}) > ${b.fullMaxAgeSeconds}`,
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "No full backup within its schedule",
            description: `The last full backup in the repository of {{ $labels.instance }} completed {{ $value | humanizeDuration }} ago; postgres.backups.schedule.full allows ${hours(b.fullMaxAgeSeconds)}.`,
            runbook: [RUN_LOGS, PGBR, `Without a recent full backup, the recovery window shrinks as older ones expire: ${RUN_NOW("full")}`],
        },
        ...(b.drillMaxAgeSeconds ? drillRules(b.drillMaxAgeSeconds) : []),
        {
            alert: "CertificateExpiresSoon",
            expr: `flowviz_certificate_not_after_seconds - time() < ${CERTIFICATE_WARN_DAYS} * 86400 and flowviz_certificate_not_after_seconds > 0`,
            for: "1h",
            severity: "warning",
            component: "backup",
            summary: "A server certificate expires soon",
            description: `The certificate {{ $labels.name }} presents expires in {{ $value | humanizeDuration }}; any \`pulumi up\` in its last ${CERTIFICATE_LIFETIME.server.renewBefore / 24} days renews it.`,
            runbook: [
                "Certificates are renewed by a deploy inside their renewal window: run the deploy workflow (or `pulumi up`) for this stack; the certificate is re-issued and the server restarts with it.",
                "If a deploy ran and the date did not move, the server still holds the old files: its pod did not roll (`kubectl -n " + NS + " rollout restart` it) or the deploy failed.",
            ],
        },
        {
            alert: "CertificateUnchecked",
            expr: "time() - flowviz_certificate_checked_timestamp_seconds > 3600",
            for: "15m",
            severity: "warning",
            component: "backup",
            summary: "A server certificate is not being read",
            description: "The certificate watch beside PostgreSQL has not read the certificate of {{ $labels.name }} for {{ $value | humanizeDuration }}: its expiry is unwatched.",
            runbook: [
                `Its log: \`kubectl -n ${NS} logs postgres-0 -c postgres-backup-server --tail=200\` (Docker: \`docker logs flowviz-<stack>-postgres-backup-server\`).`,
                "It reads each certificate with `openssl s_client` every few minutes: the server is down, unreachable from PostgreSQL's pod (NetworkPolicy), or refuses TLS.",
            ],
        },
        {
            alert: "BackupTooOld",
            expr: `min by (instance) (pgbackrest_backup_since_last_completion_seconds{backup_type=~"full|diff"}) > ${b.anyMaxAgeSeconds}`,
            for: "0m",
            severity: "warning",
            component: "backup",
            summary: "No backup within its schedule",
            description: `The last backup in the repository of {{ $labels.instance }} completed {{ $value | humanizeDuration }} ago; the schedules allow ${hours(b.anyMaxAgeSeconds)}.`,
            runbook: [RUN_LOGS, PGBR, `A failed run is retried three times with a growing pause, then waits for its schedule: ${RUN_NOW("diff")}`],
        },
    ];
}

const DRILL_LOGS = `The drill's log: ${logsOf("postgres-drill")}; it names the repository, the backup and the step that failed (restore, recovery, pg_amcheck, a table).`;
const DRILL_NOW = `Run one now: ${runNowOf("postgres-drill", "drill", "drill.sh")}`;

/** The restore drills (configs/drill.ts): one that failed, and none that succeeded for too long. */
function drillRules(maxAgeSeconds: number): AlertRule[] {
    return [
        {
            alert: "RestoreDrillFailed",
            expr: "max by (repo) (flowviz_restore_drill_success) == 0",
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "The last restore drill failed",
            description: "The newest backup of repository {{ $labels.repo }} did not restore, recover or pass its checks in the last drill (success {{ $value }}): a restore now may fail the same way.",
            runbook: [
                DRILL_LOGS,
                "A restore that failed: the repository is unreachable or a file is damaged (`pgbackrest verify` names it); recovery that failed: WAL missing (see WalArchiveGap); pg_amcheck: a corrupt page in the backup (see BackupHasErrors).",
                "Until a drill succeeds, treat that repository's newest backup as unusable: take a full backup now and drill it. " + DRILL_NOW,
            ],
        },
        {
            alert: "RestoreDrillMissing",
            // none ever: counted from the Pushgateway's start (it forgets what was pushed when its pod is replaced)
            expr: `(time() - max by (repo) (flowviz_restore_drill_last_success_timestamp_seconds) > ${maxAgeSeconds}) or on() ((time() - max(process_start_time_seconds{job="pushgateway"}) > ${maxAgeSeconds}) unless on() count(flowviz_restore_drill_last_success_timestamp_seconds) > 0)`,
            for: "1h",
            severity: "warning",
            component: "backup",
            summary: "No restore drill has succeeded lately",
            description: `No drill has succeeded for {{ $value | humanizeDuration }} (twice postgres.backups.schedule.drill allows ${Math.round(maxAgeSeconds / 86400)} days): whether the backups restore is not known.`,
            runbook: [
                DRILL_LOGS,
                "No drill ran: the CronJob (`kubectl -n " + NS + " get cronjob postgres-drill-drill`) or its scratch volume (a storage class that cannot provision it) is the cause. The Pushgateway keeps results in memory and a file on its scratch: a restarted Pushgateway pod forgets them until the next drill.",
                DRILL_NOW,
            ],
        },
    ];
}
