/** What the WAL archive and the backups alert on (postgres_exporter's extra queries: configs/pgbackrest.ts). */
import { NS } from "./steps";
import type { AlertRule, BackupThresholds } from "./model";
import { CERTIFICATE_LIFETIME, CERTIFICATE_WARN_DAYS } from "../../stack/fixed";

const SIDECAR_LOGS = `The backup sidecar's log: \`kubectl -n ${NS} logs postgres-0 -c postgres-backup --tail=200\` (Docker: \`docker logs flowviz-<stack>-postgres-backup\`).`;
const PGBR = `pgBackRest in the sidecar: \`kubectl -n ${NS} exec postgres-0 -c postgres-backup -- pgbackrest --config=/etc/pgbackrest/pgbackrest/pgbackrest.conf --config-include-path=/etc/pgbackrest/pgbackrest/conf.d --stanza=flowviz info\` (Docker: \`docker exec flowviz-<stack>-postgres-backup pgbackrest ... info\`, same options).`;
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
                `If it stays down past archivePushQueueMax, pgBackRest drops the queued WAL so that PostgreSQL's disk never fills (its log says "dropped WAL file(s)"): the archive then has a gap, and point-in-time restores cannot cross it. Once the repository is back, take a full backup at once: \`kubectl -n ${NS} exec postgres-0 -c postgres-backup -- pgbackrest ... backup --type=full\`.`,
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
            expr: 'flowviz_backup_last_ok{kind="check"} == 0',
            for: "10m",
            severity: "critical",
            component: "backup",
            summary: "The backup repository does not answer",
            description: "The backup sidecar's last repository check on {{ $labels.instance }} failed (last_ok = {{ $value }}): neither WAL nor backups can reach it.",
            runbook: [SIDECAR_LOGS, PGBR, "Object store: the endpoint, the bucket, the keys (backupS3AccessKey / backupS3SecretKey) or the node's role; posix: the repository volume is mounted and not full."],
        },
        {
            alert: "BackupFailed",
            expr: 'flowviz_backup_last_ok{kind=~"full|diff"} == 0',
            for: "0m",
            severity: "warning",
            component: "backup",
            summary: "A backup failed",
            description: "The last {{ $labels.kind }} backup of {{ $labels.instance }} failed (last_ok = {{ $value }}); the sidecar tries again at the next scheduled time.",
            runbook: [SIDECAR_LOGS, PGBR, "Take one by hand when the cause is fixed: `pgbackrest ... backup --type=full` in the sidecar (same options as above)."],
        },
        {
            alert: "FullBackupTooOld",
            expr: `time() - flowviz_backup_last_success_timestamp_seconds{kind="full"} > ${b.fullMaxAgeSeconds}`,
            for: "0m",
            severity: "critical",
            component: "backup",
            summary: "No full backup within its schedule",
            description: `The last full backup of {{ $labels.instance }} ended {{ $value | humanizeDuration }} ago; postgres.backups.schedule.full allows ${hours(b.fullMaxAgeSeconds)}.`,
            runbook: [SIDECAR_LOGS, PGBR, "Without a recent full backup, the recovery window shrinks as older ones expire: take one now (BackupFailed's last step)."],
        },
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
            description: "The backup sidecar has not read the certificate of {{ $labels.name }} for {{ $value | humanizeDuration }}: its expiry is unwatched.",
            runbook: [SIDECAR_LOGS, "The sidecar reads each certificate with `openssl s_client` every few minutes: the server is down, unreachable from PostgreSQL's pod (NetworkPolicy), or refuses TLS."],
        },
        {
            alert: "BackupTooOld",
            expr: `time() - max without (kind) (flowviz_backup_last_success_timestamp_seconds{kind=~"full|diff"}) > ${b.anyMaxAgeSeconds}`,
            for: "0m",
            severity: "warning",
            component: "backup",
            summary: "No backup within its schedule",
            description: `The last backup of {{ $labels.instance }} ended {{ $value | humanizeDuration }} ago; the schedules allow ${hours(b.anyMaxAgeSeconds)}.`,
            runbook: [SIDECAR_LOGS, PGBR],
        },
    ];
}
