/** What PostgreSQL (through postgres_exporter) alerts on. */
import { CHECK_DB, NS, PLANNED_RESTART, ON_EACH_PGBOUNCER } from "./steps";
import type { AlertRule, Thresholds } from "./model";

export function postgresRules(t: Thresholds): AlertRule[] {
    return [
        {
            alert: "DatabaseDown",
            expr: "pg_up == 0",
            for: t.databaseDownFor,
            severity: "critical",
            component: "postgres",
            summary: "PostgreSQL is down",
            description: "postgres_exporter on {{ $labels.instance }} cannot reach PostgreSQL (pg_up = {{ $value }}).",
            // no query against the database as a diagnostic: it is down
            runbook: [
                `Is the pod running at all: \`kubectl -n ${NS} get pod postgres-0\`. When it is crash-looping (CrashLoopBackOff, Error, OOMKilled) nothing can be exec'd into it: read why from outside, \`kubectl -n ${NS} logs postgres-0 -c postgres --previous\` (the run that failed), \`kubectl -n ${NS} describe pod postgres-0\` (last state, exit code, probes) and \`kubectl -n ${NS} get events --field-selector involvedObject.name=postgres-0\` (Docker: \`docker logs flowviz-<stack>-postgres\`, \`docker inspect -f '{{.State}}' flowviz-<stack>-postgres\`).`,
                `A full data volume is the usual crash loop ("No space left on device" in that log): \`kubectl -n ${NS} describe pvc postgres-data\` for its size; grow postgres.storageSize (\`npm run diff\` shows it as an in-place update). When the pod runs: \`kubectl -n ${NS} exec postgres-0 -c postgres -- df -h /var/lib/postgresql/data\`.`,
                CHECK_DB[1]!,
                `A crash recovers by itself: the startup probe allows 30 minutes of WAL replay. Restart only after reading why it stopped. ${PLANNED_RESTART}`,
            ],
        },
        {
            alert: "PostgresTooManyConnections",
            expr: `sum by (instance) (pg_stat_activity_count) / on (instance) max by (instance) (pg_settings_max_connections) > 0.8`,
            for: "5m",
            severity: "warning",
            component: "postgres",
            summary: "PostgreSQL is near max_connections",
            description: "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of max_connections.",
            runbook: ["Find who holds connections: `SELECT usename, application_name, count(*) FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC;`.", "Anything besides PgBouncer and the exporters is connecting directly: point it at PgBouncer.", "Check the capacity invariants in stack/capacity.ts before raising max_connections."],
        },
        {
            alert: "PostgresLongTransaction",
            expr: `max by (instance, datname) (pg_stat_activity_max_tx_duration{state=~"active|idle in transaction"}) > 300`,
            for: "2m",
            severity: "warning",
            component: "postgres",
            summary: "A PostgreSQL transaction has been open for over 5 minutes",
            description: "The oldest transaction in {{ $labels.datname }} has been open {{ $value | humanizeDuration }}.",
            runbook: [CHECK_DB[2]!, "A pooled transaction holds a server connection the whole time: cancel it with `SELECT pg_cancel_backend(<pid>);` if it is stuck."],
        },
        {
            alert: "PostgresDeadlocks",
            expr: `sum by (instance, datname) (increase(pg_stat_database_deadlocks{datname!~"template0|template1"}[5m])) > 0`,
            for: "0m",
            severity: "warning",
            component: "postgres",
            summary: "PostgreSQL deadlocks",
            description: "{{ $value }} deadlocks in {{ $labels.datname }} over 5 minutes.",
            runbook: ["Read the PostgreSQL log: every deadlock is logged with both statements.", "Make the transactions involved take their locks in the same order."],
        },
        {
            alert: "PostgresChecksumFailure",
            expr: "increase(pg_data_checksums_failures[1h]) > 0",
            for: "0m",
            severity: "critical",
            component: "postgres",
            summary: "PostgreSQL read a page whose checksum is wrong",
            description: "{{ $value }} page checksum failures on {{ $labels.instance }} in the last hour: the storage corrupted data.",
            runbook: [
                "Find the relation: the PostgreSQL log names the file and block of every `invalid page in block`; `SELECT datname, checksum_failures, checksum_last_failure FROM pg_stat_database;` names the database.",
                "Stop writing to it if you can, and do not run `zero_damaged_pages`: it throws the page away.",
                "The backups hold the page as it was: restore to a time before the failure into a new volume (runbook RestoreToPointInTime) and copy the relation's rows back, or restore the whole cluster.",
                "Replace the disk or node: checksums catch corruption, the storage causes it.",
            ],
        },
        {
            alert: "PostgresDataChecksumsOff",
            expr: "pg_data_checksums_enabled == 0",
            for: "1h",
            severity: "warning",
            component: "postgres",
            summary: "PostgreSQL runs without data checksums",
            description: "The cluster on {{ $labels.instance }} reports pg_data_checksums_enabled {{ $value }}: it was initialised without data checksums (before the stack set initdb --data-checksums): silent page corruption reaches the backups unseen.",
            runbook: [
                "The cluster predates `--data-checksums`; new clusters get them at initdb. Enabling them needs PostgreSQL stopped: plan a window (pg_checksums reads every page, about the time of a full backup).",
                "Take a full backup first, then stop PostgreSQL cleanly (fast shutdown, never immediate).",
                "Run `pg_checksums --enable -D \"$PGDATA\" --progress` as the postgres user in a one-off pod or container on the data volume, with PostgreSQL's image.",
                "Start PostgreSQL; `SHOW data_checksums;` says on and this alert resolves. Take a full backup: pgBackRest then checks every page it copies.",
            ],
        },
        {
            alert: "PostgresRestarted",
            expr: "changes(pg_up[10m]) > 0",
            for: "0m",
            severity: "info",
            component: "postgres",
            summary: "PostgreSQL went away and came back",
            description: "pg_up on {{ $labels.instance }} changed {{ $value }} times in 10 minutes: PostgreSQL restarted or was unreachable.",
            runbook: [`Read the PostgreSQL log for the reason (OOM kill, crash, deliberate restart): \`kubectl -n ${NS} logs postgres-0 -c postgres --previous\`.`, `Confirm that PgBouncer reconnected: ${ON_EACH_PGBOUNCER("SHOW SERVERS;")}.`],
        },
    ];
}
