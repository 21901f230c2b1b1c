/** What the Celery broker (Valkey, through redis_exporter beside it) and its queues alert on. */
import { NS } from "./steps";
import type { AlertRule, Thresholds } from "./model";

const PODS = `The broker's pod and log: \`kubectl -n ${NS} get pods -l app.kubernetes.io/name=valkey\`, \`kubectl -n ${NS} logs statefulset/valkey -c valkey --tail=200\` (Docker: \`docker logs flowviz-<stack>-valkey\`).`;
const WORKERS = `The workers: \`kubectl -n ${NS} get pods -l app.kubernetes.io/name=worker\` and their logs (\`kubectl -n ${NS} logs deploy/worker --tail=200\`); a worker that answers no ping fails its liveness probe and is restarted.`;
const CLI = `Valkey's own view (as the exporter's read-only user cannot change anything, use the app's): \`kubectl -n ${NS} exec -it statefulset/valkey -c valkey -- valkey-cli --tls --cacert /etc/valkey/tls/ca.crt --user flowviz --askpass INFO memory\`.`;

export function brokerRules(t: Thresholds): AlertRule[] {
    return [
        {
            alert: "BrokerDown",
            expr: "redis_up == 0",
            for: "1m",
            severity: "critical",
            component: "broker",
            summary: "The Celery broker is down",
            description: "The exporter beside Valkey on {{ $labels.instance }} cannot reach it or log in (redis_up = {{ $value }}): no task is queued or delivered.",
            runbook: [PODS, "A full volume (the append-only file) or a refused certificate is the usual cause; the log says which.", "Tasks already queued are in the append-only file on the volume and come back with the broker."],
        },
        {
            alert: "BrokerMemoryNearLimit",
            expr: "redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.8",
            for: "5m",
            severity: "warning",
            component: "broker",
            summary: "The broker is near its maxmemory",
            description: "Valkey on {{ $labels.instance }} holds {{ $value | humanizePercentage }} of its maxmemory; past it (noeviction) every new task is refused.",
            runbook: ["A backlog usually fills it: see CeleryQueueBacklog.", CLI, "Raise app.valkeyMemory (maxmemory is three quarters of it) once the backlog's cause is known."],
        },
        {
            alert: "BrokerPersistenceFailing",
            // the failed status (0) is the value; only where the append-only file is on
            expr: "(redis_aof_last_write_status == 0 or redis_aof_last_bgrewrite_status == 0) and on (instance) redis_aof_enabled == 1",
            for: "1m",
            severity: "critical",
            component: "broker",
            summary: "The broker cannot write its append-only file",
            description: "Valkey on {{ $labels.instance }} failed its last append-only-file write or rewrite (status {{ $value }}, 1 is ok): queued tasks are no longer durable, and Valkey refuses writes until the file can be written.",
            runbook: [PODS, "A full volume: grow app.valkeyStorageSize (`npm run diff` shows it as an in-place update) or find what filled it.", CLI.replace("INFO memory", "INFO persistence")],
        },
        {
            alert: "CeleryQueueBacklog",
            expr: `max by (key) (redis_key_size) > ${t.brokerBacklogTasks}`,
            for: t.brokerBacklogFor,
            severity: "warning",
            component: "broker",
            summary: "Tasks pile up in a Celery queue",
            description: `{{ $value }} tasks wait in queue {{ $labels.key }} (threshold ${t.brokerBacklogTasks}): the workers are stopped, stuck or too few.`,
            runbook: [WORKERS, "If they run and are busy, add workers (app.worker.replicas) or concurrency; if none runs, the deployment or its image is the cause.", CLI.replace("INFO memory", "LLEN <queue>")],
        },
    ];
}
