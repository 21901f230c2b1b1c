/** What PgBouncer (through its exporter) alerts on. */
import { CHECK_DB, NS } from "./steps";
import type { AlertRule, Thresholds } from "./model";

export function pgbouncerRules(t: Thresholds): AlertRule[] {
    return [
        {
            alert: "PgBouncerDown",
            expr: "pgbouncer_up == 0",
            for: "1m",
            severity: "critical",
            component: "pgbouncer",
            summary: "PgBouncer is down",
            description: "The exporter on {{ $labels.instance }} cannot reach PgBouncer (pgbouncer_up = {{ $value }}).",
            runbook: [
                `Check the PgBouncer pods and their logs: \`kubectl -n ${NS} get pods -l app.kubernetes.io/name=pgbouncer\`, \`kubectl -n ${NS} logs deploy/pgbouncer\` (Docker: \`docker logs flowviz-<stack>-pgbouncer\`).`,
                `Restart it if its pools are stuck: \`kubectl -n ${NS} rollout restart deployment/pgbouncer\` (one pod at a time, each draining first; Docker: \`docker restart flowviz-<stack>-pgbouncer\`, which drops the clients).`,
            ],
        },
        {
            alert: "PgBouncerPoolExhausted",
            expr: `pgbouncer_pools_client_waiting_connections > ${t.pgbouncerWaitingClients}`,
            for: t.pgbouncerWaitingFor,
            severity: "warning",
            component: "pgbouncer",
            summary: "Clients are queueing for PgBouncer server connections",
            description: `{{ $value }} clients wait for a server connection in pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.instance }} (threshold ${t.pgbouncerWaitingClients}).`,
            runbook: [...CHECK_DB, "If the database has idle CPU, raise postgres.resources.cpu (the pool follows it: cores x app.roundTripsPerTransaction) or set pgbouncer.defaultPoolSize, within the capacity invariants (`npm run check` prints them)."],
        },
        {
            alert: "PgBouncerClientWaitHigh",
            expr: "pgbouncer_pools_client_maxwait_seconds > 1",
            for: "2m",
            severity: "warning",
            component: "pgbouncer",
            summary: "PgBouncer clients wait over a second for a connection",
            description: "The oldest waiting client in {{ $labels.database }}/{{ $labels.user }} has waited {{ $value | humanizeDuration }}.",
            runbook: CHECK_DB,
        },
        {
            alert: "PgBouncerClientConnectionsNearLimit",
            expr:
                "sum by (instance) (pgbouncer_pools_client_active_connections + pgbouncer_pools_client_waiting_connections) / on (instance) max by (instance) (pgbouncer_config_max_client_connections) > 0.8",
            for: "5m",
            severity: "warning",
            component: "pgbouncer",
            summary: "PgBouncer is near max_client_conn",
            description: "{{ $labels.instance }} holds {{ $value | humanizePercentage }} of max_client_conn.",
            runbook: ["Check how many API replicas run and their SQLAlchemy pool sizes (app.api.dbPoolSize + dbMaxOverflow).", "Raise pgbouncer.maxClientConn (and fileDescriptorLimit) or add PgBouncer replicas."],
        },
    ];
}
