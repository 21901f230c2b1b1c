/** What the API and the business metrics alert on, and the recording rules they read. */
import { APP } from "../metrics";
import type { AlertRule, RecordingRule, Thresholds } from "./model";
import { CHECK_DB, ERROR_PLAYBOOK } from "./steps";

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

export function apiRules(t: Thresholds): AlertRule[] {
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
    ];
}
