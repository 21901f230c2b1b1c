/**
 * Prometheus recording and alerting rules, from code. Thresholds come from the stack
 * (defaults: the seeds); every alert carries severity, summary, a description with
 * its value, and a runbook whose steps live here too (docs/runbooks is generated).
 */
import { stringify } from "yaml";
import { ALERTMANAGER, APP, CATALOG, PROMETHEUS } from "./metrics";
import { GENERATED } from "./format";

export type Severity = "info" | "warning" | "critical";

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    severity: Severity;
    /** api, postgres, pgbouncer, node, business, monitoring: critical inhibits warning within one */
    component: string;
    summary: string;
    /** may use {{ $value }} and {{ $labels.x }} */
    description: string;
    /** what the person on call does, in order */
    runbook: string[];
    /** labels besides severity and component (absent() has none of its own) */
    labels?: Record<string, string>;
}

/** A scraped job and how many of its targets should be up (unknown for a DaemonSet). */
export interface ScrapedJob {
    job: string;
    replicas?: number;
}

export interface RecordingRule {
    record: string;
    expr: string;
}

export interface Thresholds {
    errorRatio: number;
    errorFor: string;
    latencyP99Seconds: number;
    latencyFor: string;
    latencyCriticalSeconds: number;
    databaseDownFor: string;
    pgbouncerWaitingClients: number;
    pgbouncerWaitingFor: string;
    qcFailureRatio: number;
    qcFailureFor: string;
    availabilitySlo: number;
    targetDownFor: string;
}

const api = `job="${APP.job}"`;
/** the SRE workbook's windows for multi-window, multi-burn-rate alerts */
export const BURN_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] as const;
export const errorRatio = (w: string) => `flowviz:api_http_errors:ratio_rate${w}`;
export const LATENCY_P99 = "flowviz:api_http_latency_seconds:p99_rate5m";
/**
 * Multi-window burn-rate pairs (the SRE workbook): each fires when both windows burn the
 * error budget `factor` times faster than the SLO allows, i.e. error ratio > factor x (1 - SLO).
 */
export const BURN_RATES = {
    fast: [{ long: "1h", short: "5m", factor: 14.4 }, { long: "6h", short: "30m", factor: 6 }],
    slow: [{ long: "1d", short: "2h", factor: 3 }, { long: "3d", short: "6h", factor: 1 }],
} as const;
/** The shortest range any rule takes a rate() over; scrapes must be frequent enough to fill it. */
export const SHORTEST_RATE_WINDOW = "5m";

export function recordingRules(): RecordingRule[] {
    return [
        ...BURN_WINDOWS.map((w) => ({
            record: errorRatio(w),
            expr: `sum(rate(http_requests_total{${api},status=~"5.."}[${w}])) / sum(rate(http_requests_total{${api}}[${w}]))`,
        })),
        { record: LATENCY_P99, expr: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${api}}[5m])))` },
    ];
}

/** Where the stack runs by default; runbooks name it so their commands work as written (`-n <yours>` otherwise). */
const NS = "flowviz";
/** The admin console of every PgBouncer replica (each pools on its own), then a command on each. */
const ON_EACH_PGBOUNCER = (sql: string) =>
    `on every PgBouncer replica: \`kubectl -n ${NS} get pods -l app.kubernetes.io/name=pgbouncer\`, then per pod \`kubectl -n ${NS} port-forward pod/<pod> 6432\` and \`psql "host=127.0.0.1 port=6432 user=pgbouncer_admin dbname=pgbouncer sslmode=require" -c '${sql}'\` (Docker: the one container, \`psql "host=127.0.0.1 port=<docker.hostPorts.pgbouncer> ..."\`)`;
const PLANNED_RESTART = `For a planned restart: ${ON_EACH_PGBOUNCER("PAUSE flowviz;")} first, restart, then \`RESUME flowviz;\` on each: clients wait instead of failing (measured: 0 failed transactions, 0 reconnects).`;
const CHECK_DB = [
    `Check PgBouncer: Grafana > Infrastructure > PgBouncer pools (waiting clients, max wait), or ${ON_EACH_PGBOUNCER("SHOW POOLS;")}.`,
    `Verify PostgreSQL answers: \`kubectl -n ${NS} exec postgres-0 -- pg_isready -h 127.0.0.1\` (Docker: \`docker exec flowviz-<stack>-postgres pg_isready -h 127.0.0.1\`).`,
    `Look for long-running queries (PostgreSQL is up): \`kubectl -n ${NS} exec postgres-0 -- psql -U postgres -d flowviz -c "SELECT pid, now() - xact_start, state, query FROM pg_stat_activity ORDER BY 2 DESC NULLS LAST"\`.`,
];
const ERROR_PLAYBOOK = [
    "Open Grafana > Application > Error ratio to confirm the rate and when it started.",
    "Find the affected endpoints in the Top erroring endpoints panel.",
    "Check recent deployments (`pulumi stack history`, the app's release log) and roll back if one lines up.",
    "Review the API logs for stack traces around the start time.",
    "Escalate to the on-call engineer if unresolved in 15 minutes.",
];

/** Every catalogued job, one target each but two API replicas: what the docs and the rule tests show. */
export const EXAMPLE_JOBS: ScrapedJob[] = CATALOG.map((s) => ({ job: s.job, replicas: s.job === APP.job ? 2 : 1 }));

const componentOf = (job: string) => CATALOG.find((s) => s.job === job)?.component ?? "monitoring";

/**
 * Alerts that see absence: with pod discovery a job whose pods are all gone has no `up`
 * series at all, so `up == 0` stays silent exactly then. One rule per job fires when no
 * target is up (`absent(up{job} == 1)`), one when fewer are up than the platform runs.
 */
export function targetRules(t: Thresholds, jobs: ScrapedJob[]): AlertRule[] {
    const steps = [
        "Open Prometheus > Status > Targets: is the job listed at all (discovery), and with which error?",
        "Check the job's pods or containers: do they run, restart, or fail their probes? (`kubectl -n flowviz get pods -l app.kubernetes.io/name=<service>`, `docker ps -a`)",
        "On Kubernetes, check that Prometheus may still list the pods (its Role) and reach the port (the service's NetworkPolicy).",
    ];
    return [...jobs]
        .sort((a, b) => a.job.localeCompare(b.job))
        .flatMap((j) => [
            {
                alert: "TargetAbsent",
                expr: `absent(up{job="${j.job}"} == 1)`,
                for: t.targetDownFor,
                severity: "critical" as const,
                component: componentOf(j.job),
                labels: { job: j.job },
                summary: "No target of a job is up",
                description: `Prometheus has no healthy ${j.job} target: every one is down or none is discovered. Its alerts cannot fire.`,
                runbook: steps,
            },
            ...(j.replicas !== undefined && j.replicas > 1
                ? [
                      {
                          alert: "TargetsMissing",
                          expr: `count(up{job="${j.job}"} == 1) < ${j.replicas}`,
                          for: t.targetDownFor,
                          severity: "warning" as const,
                          component: componentOf(j.job),
                          labels: { job: j.job },
                          summary: "Fewer targets of a job are up than run",
                          description: `Only {{ $value }} of ${j.replicas} ${j.job} targets are up.`,
                          runbook: steps,
                      },
                  ]
                : []),
        ]);
}

export function alertRules(t: Thresholds, jobs: ScrapedJob[] = EXAMPLE_JOBS): AlertRule[] {
    return [...serviceRules(t), ...targetRules(t, jobs)];
}

function serviceRules(t: Thresholds): AlertRule[] {
    const budget = +(1 - t.availabilitySlo).toPrecision(6);
    const burn = (pairs: (typeof BURN_RATES)[keyof typeof BURN_RATES]) =>
        pairs
            .map(({ long, short, factor }) => `(${errorRatio(long)} > ${+(factor * budget).toPrecision(6)} and ${errorRatio(short)} > ${+(factor * budget).toPrecision(6)})`)
            .join(" or ");
    return [
        {
            alert: "HighErrorRate",
            expr: `${errorRatio("5m")} > ${t.errorRatio}`,
            for: t.errorFor,
            severity: "critical",
            component: "api",
            summary: "High API error rate",
            description: `{{ $value | humanizePercentage }} of API requests failed with 5xx over 5 minutes (threshold ${t.errorRatio * 100}%).`,
            runbook: ERROR_PLAYBOOK,
        },
        {
            alert: "ErrorBudgetBurnFast",
            expr: burn(BURN_RATES.fast),
            for: "2m",
            severity: "critical",
            component: "api",
            summary: `API error budget burning fast (SLO ${t.availabilitySlo * 100}%)`,
            description: "The API is failing {{ $value | humanizePercentage }} of requests: at this rate the 30-day error budget is gone in under 5 days.",
            runbook: ERROR_PLAYBOOK,
        },
        {
            alert: "ErrorBudgetBurnSlow",
            expr: burn(BURN_RATES.slow),
            for: "15m",
            severity: "warning",
            component: "api",
            summary: `API error budget burning (SLO ${t.availabilitySlo * 100}%)`,
            description: "The API has failed {{ $value | humanizePercentage }} of requests over the long window: the 30-day error budget will not last the month.",
            runbook: ["Open Grafana > Application and find the endpoints with a steady 5xx share.", ...ERROR_PLAYBOOK.slice(2, 4), "Plan the fix within the week; page only if the fast-burn alert joins."],
        },
        {
            alert: "HighLatency",
            expr: `${LATENCY_P99} > ${t.latencyP99Seconds}`,
            for: t.latencyFor,
            severity: "warning",
            component: "api",
            summary: "API P99 latency above target",
            description: `API P99 latency is {{ $value | humanizeDuration }} (target ${t.latencyP99Seconds * 1000} ms).`,
            runbook: ["Open Grafana > Application > Latency to see which percentile and endpoints moved.", ...CHECK_DB, "Check node CPU and memory (Grafana > Infrastructure)."],
        },
        {
            alert: "VeryHighLatency",
            expr: `${LATENCY_P99} > ${t.latencyCriticalSeconds}`,
            for: t.latencyFor,
            severity: "critical",
            component: "api",
            summary: "API P99 latency above 1 second",
            description: `API P99 latency is {{ $value | humanizeDuration }} (critical above ${t.latencyCriticalSeconds} s).`,
            runbook: ["Open Grafana > Application > Latency.", ...CHECK_DB, "Escalate to the on-call engineer if unresolved in 15 minutes."],
        },
        {
            alert: "ApiDown",
            expr: `max(up{${api}}) == 0`,
            for: "2m",
            severity: "critical",
            component: "api",
            summary: "No API instance is up",
            description: "Prometheus has reached no API instance for 2 minutes (max up = {{ $value }}).",
            runbook: ["Check the API pods/containers and their restarts.", "Read the API logs for the crash cause.", ...CHECK_DB.slice(0, 2)],
        },
        {
            alert: "HighQCFailureRate",
            expr: `sum(rate(flowviz_qc_decisions_total{decision="FAIL"}[1h])) / sum(rate(flowviz_qc_decisions_total[1h])) > ${t.qcFailureRatio}`,
            for: t.qcFailureFor,
            severity: "warning",
            component: "business",
            summary: "High QC failure rate",
            description: `{{ $value | humanizePercentage }} of QC decisions in the last hour were FAIL (threshold ${t.qcFailureRatio * 100}%).`,
            runbook: ["Open Grafana > Business > QC decisions per hour, split by gate.", "Tell the production supervisor: a quality problem upstream is likelier than a software fault.", "Check whether a recent release changed QC rules."],
        },
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
                CHECK_DB[1]!,
                `Why it stopped: \`kubectl -n ${NS} get pod postgres-0\`, \`kubectl -n ${NS} describe pod postgres-0\` (OOMKilled, probes, events), \`kubectl -n ${NS} logs postgres-0 --previous\` (Docker: \`docker logs flowviz-<stack>-postgres\`).`,
                `Free space on its volume: \`kubectl -n ${NS} exec postgres-0 -- df -h /var/lib/postgresql/data\`; a full volume stops writes (grow postgres.storageSize: \`npm run diff\` shows it as an in-place update).`,
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
            alert: "PostgresRestarted",
            expr: "changes(pg_up[10m]) > 0",
            for: "0m",
            severity: "info",
            component: "postgres",
            summary: "PostgreSQL went away and came back",
            description: "pg_up on {{ $labels.instance }} changed {{ $value }} times in 10 minutes: PostgreSQL restarted or was unreachable.",
            runbook: [`Read the PostgreSQL log for the reason (OOM kill, crash, deliberate restart): \`kubectl -n ${NS} logs postgres-0 --previous\`.`, `Confirm that PgBouncer reconnected: ${ON_EACH_PGBOUNCER("SHOW SERVERS;")}.`],
        },
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
            runbook: [...CHECK_DB, "If the database has idle CPU, raise postgres.cpuCores (the pool follows it) or pgbouncer.defaultPoolSize within the capacity invariants."],
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
        {
            alert: "NodeFilesystemAlmostFull",
            expr: `node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes < 0.10 and node_filesystem_readonly == 0`,
            for: "15m",
            severity: "warning",
            component: "node",
            summary: "Filesystem has under 10% free",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free.",
            runbook: ["Find what grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.", "Prometheus data: lower monitoring.retentionSize; PostgreSQL data: grow the volume."],
        },
        {
            alert: "NodeFilesystemFull",
            expr: `node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes < 0.05 and node_filesystem_readonly == 0`,
            for: "5m",
            severity: "critical",
            component: "node",
            summary: "Filesystem has under 5% free",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free.",
            runbook: ["Free space now (old logs, dangling images: `docker image prune`).", "PostgreSQL stops accepting writes when its volume is full: grow it first."],
        },
        {
            alert: "NodeHighCpu",
            expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9`,
            for: "15m",
            severity: "warning",
            component: "node",
            summary: "Node CPU above 90%",
            description: "{{ $labels.instance }} is {{ $value | humanizePercentage }} busy.",
            runbook: ["`top` on the node: which process?", "PostgreSQL: look for expensive queries in pg_stat_statements."],
        },
        {
            alert: "NodeMemoryLow",
            expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.10",
            for: "10m",
            severity: "warning",
            component: "node",
            summary: "Node has under 10% memory available",
            description: "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available.",
            runbook: ["`ps aux --sort=-rss | head` on the node.", "Check the memory limits of the services (resources in the stack config)."],
        },
        {
            alert: "TargetDown",
            expr: "up == 0",
            for: t.targetDownFor,
            severity: "warning",
            component: "monitoring",
            summary: "A scrape target is down",
            description: "Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }} (up = {{ $value }}).",
            runbook: ["Open Prometheus > Status > Targets for the scrape error.", "Check that the exporter's container/pod runs and can reach what it exports."],
        },
        {
            alert: "PrometheusConfigReloadFailed",
            expr: `max by (instance) (prometheus_config_last_reload_successful{job="${PROMETHEUS.job}"}) == 0`,
            for: "10m",
            severity: "warning",
            component: "monitoring",
            summary: "Prometheus could not load its configuration",
            description: "The last configuration reload on {{ $labels.instance }} failed (last_reload_successful = {{ $value }}); Prometheus runs the previous one.",
            runbook: ["Run `promtool check config` on the rendered prometheus.yml (`npm run render`).", "Read the Prometheus log for the error."],
        },
        {
            alert: "PrometheusRuleFailures",
            expr: `sum by (instance, rule_group) (increase(prometheus_rule_evaluation_failures_total{job="${PROMETHEUS.job}"}[5m])) > 0`,
            for: "5m",
            severity: "warning",
            component: "monitoring",
            summary: "Prometheus fails to evaluate rules",
            description: "{{ $value }} rule evaluations failed in {{ $labels.rule_group }} over 5 minutes: alerts in it may never fire.",
            runbook: ["Open Prometheus > Status > Rules for the failing rule and its error.", "Run `promtool test rules` (part of `npm test`)."],
        },
        {
            alert: "PrometheusAlertmanagerMissing",
            expr: `max by (instance) (prometheus_notifications_alertmanagers_discovered{job="${PROMETHEUS.job}"}) < 1`,
            for: "5m",
            severity: "warning",
            component: "monitoring",
            summary: "Prometheus has no Alertmanager to send to",
            description: "{{ $labels.instance }} discovers {{ $value }} Alertmanagers: alerts are not delivered.",
            runbook: ["Check the Alertmanager container/pod.", "Check the alerting section of prometheus.yml."],
        },
        {
            alert: "PrometheusNotificationErrors",
            expr: `sum by (instance) (rate(prometheus_notifications_errors_total{job="${PROMETHEUS.job}"}[5m])) / sum by (instance) (rate(prometheus_notifications_sent_total{job="${PROMETHEUS.job}"}[5m])) > 0.01`,
            for: "15m",
            severity: "warning",
            component: "monitoring",
            summary: "Prometheus fails to send alerts to Alertmanager",
            description: "{{ $value | humanizePercentage }} of alert notifications from {{ $labels.instance }} fail.",
            runbook: ["Check that Prometheus reaches Alertmanager (NetworkPolicy, container network).", "Read the Prometheus log."],
        },
        {
            alert: "AlertmanagerConfigReloadFailed",
            expr: `max by (instance) (alertmanager_config_last_reload_successful{job="${ALERTMANAGER.job}"}) == 0`,
            for: "10m",
            severity: "warning",
            component: "monitoring",
            summary: "Alertmanager could not load its configuration",
            description: "The last configuration reload on {{ $labels.instance }} failed (last_reload_successful = {{ $value }}).",
            runbook: ["Run `amtool check-config` on the rendered alertmanager.yml.", "Read the Alertmanager log."],
        },
        {
            alert: "AlertmanagerNotificationsFailing",
            expr: `sum by (instance, integration) (rate(alertmanager_notifications_failed_total{job="${ALERTMANAGER.job}"}[5m])) > 0`,
            for: "5m",
            severity: "warning",
            component: "monitoring",
            summary: "Alertmanager fails to deliver notifications",
            description: "{{ $labels.integration }} notifications fail at {{ $value }}/s.",
            runbook: ["Read the Alertmanager log for the receiver's error (credentials, URL, SMTP).", "Rotate the receiver's secret if it expired (`pulumi config set --secret ...`)."],
        },
        {
            alert: "Watchdog",
            expr: "vector(1)",
            for: "0m",
            severity: "info",
            component: "monitoring",
            summary: "Alerting pipeline heartbeat (always firing)",
            description: "Always firing (value {{ $value }}). If the dead man's switch stops receiving it, Prometheus or Alertmanager is broken.",
            runbook: ["This alert is meant to fire. If the dead man's switch reports it missing, check Prometheus, then Alertmanager, then the watchdog receiver."],
        },
    ];
}

/** Jobs whose metrics each rule group reads; groups are split so one failing exporter is easy to see. */
const GROUPS: [string, string[]][] = [
    ["flowviz-api", ["api", "business"]],
    ["flowviz-postgres", ["postgres"]],
    ["flowviz-pgbouncer", ["pgbouncer"]],
    ["flowviz-node", ["node"]],
    ["flowviz-monitoring", ["monitoring"]],
];

export interface RuleGroup {
    name: string;
    interval: string;
    rules: object[];
}

/**
 * The rule groups Prometheus evaluates, as data: the bundled Prometheus reads them from
 * its rules file, operator mode declares them in a PrometheusRule. `components` limits
 * them to what the stack watches itself (operator mode leaves node alerts to the cluster's own).
 */
export function ruleGroups(t: Thresholds, runbookBaseUrl: string, evaluationInterval: string, jobs: ScrapedJob[], components = GROUPS.flatMap(([, c]) => c)): RuleGroup[] {
    const alerts = alertRules(t, jobs);
    return [
        { name: "flowviz-recording", interval: evaluationInterval, rules: recordingRules() },
        ...GROUPS.filter(([, of]) => of.some((c) => components.includes(c))).map(([name, of]) => ({
            name,
            interval: evaluationInterval,
            rules: alerts
                .filter((a) => of.includes(a.component))
                .map((a) => ({
                    alert: a.alert,
                    expr: a.expr,
                    for: a.for,
                    labels: { severity: a.severity, component: a.component, ...a.labels },
                    annotations: { summary: a.summary, description: a.description, runbook_url: `${runbookBaseUrl}/${a.alert}.md` },
                })),
        })),
    ];
}

export function rulesFile(t: Thresholds, runbookBaseUrl: string, evaluationInterval: string, jobs: ScrapedJob[]): string {
    return `# ${GENERATED}\n` + stringify({ groups: ruleGroups(t, runbookBaseUrl, evaluationInterval, jobs) }, { lineWidth: 0 });
}

/** How on-call reaches the tools of a deployed stack (every runbook ends with it). */
const REACHING = [
    "## Reaching the tools",
    "",
    `Commands assume the namespace \`${NS}\` (\`kubernetes.namespace\`); on Docker the tools listen on the host ports of the stack file.`,
    "",
    `- Grafana: \`kubectl -n ${NS} port-forward svc/grafana 3000\`, http://127.0.0.1:3000, user \`admin\`, password \`pulumi stack output --show-secrets grafanaAdminPassword -s prod\`.`,
    `- Prometheus: \`kubectl -n ${NS} port-forward svc/prometheus 9090\`, Alertmanager: \`kubectl -n ${NS} port-forward svc/alertmanager 9093\` (operator mode: the monitoring namespace's).`,
    `- PgBouncer's admin console: per pod, \`kubectl -n ${NS} port-forward pod/<pgbouncer-pod> 6432\`, user \`pgbouncer_admin\`, password \`pulumi stack output --show-secrets pgbouncerAdminPassword -s prod\`.`,
    `- The thresholds are the stack's (\`monitoring.alerts\` in \`Pulumi.<stack>.yaml\`); the alert's description shows the live value and the threshold it crossed.`,
];

/** docs/runbooks/<Alert>.md */
export function runbookMarkdown(a: AlertRule): string {
    return [
        `# ${a.alert}`,
        "",
        `<!-- Generated from configs/rules.ts by \`npm run docs\`. -->`,
        "",
        `**Severity:** ${a.severity} · **Component:** ${a.component} · **For:** ${a.for}`,
        "",
        `${a.summary}. ${a.description.replace(/\{\{[^}]*\}\}/g, "…")}`,
        "",
        "```promql",
        a.expr,
        "```",
        "",
        "## Steps",
        "",
        ...a.runbook.map((s, i) => `${i + 1}. ${s}`),
        "",
        ...REACHING,
        "",
    ].join("\n");
}

