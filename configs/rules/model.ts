/**
 * The shape of the rules. Thresholds come from the stack (defaults: the seeds); every alert
 * carries severity, summary, a description with its value, and a runbook whose steps live
 * with it (docs/runbooks is generated).
 */

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
    brokerBacklogTasks: number;
    brokerBacklogFor: string;
    /** derived from postgres.backups (stack/backups.ts); no backup alerts without a repository */
    backups?: BackupThresholds;
    /** postgres.engine cloudnative-pg: the Cluster's size and max_connections (its exporter does not export settings); unset for the StatefulSet */
    cloudnativePg?: { maxConnections: number; instances: number; synchronous: number };
}

export interface BackupThresholds {
    archiveTimeoutSeconds: number;
    /** the longest gap between full backups, plus the time one may take */
    fullMaxAgeSeconds: number;
    /** the same over full and differential backups */
    anyMaxAgeSeconds: number;
    /** pgBackRest's archive-push-queue-max */
    walQueueBytes: number;
    /** twice the longest gap between restore drills (statefulset engine) */
    drillMaxAgeSeconds?: number;
}
