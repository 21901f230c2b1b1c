/** Application (RED): rate, errors, duration of the API, and the endpoints that fail. */
import { errorRatio, LATENCY_P99 } from "../configs/rules";
import { graph, newDashboard, row, single } from "./panels";

const api = 'job="api"';
const quantile = (q: number) => ({
    expr: `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket{${api}}[$__rate_interval])))`,
    legend: `P${q * 100}`,
});

export function applicationDashboard() {
    return newDashboard("flowviz-application", "flowviz / Application (RED)", ["red", "api"])
        .withRow(row("Overview"))
        .withPanel(single("Requests per second", "reqps", { expr: `sum(rate(http_requests_total{${api}}[$__rate_interval]))` }))
        .withPanel(single("Error ratio (5m)", "percentunit", { expr: errorRatio("5m") }))
        .withPanel(single("P99 latency (5m)", "s", { expr: LATENCY_P99 }))
        .withPanel(single("API instances up", "none", { expr: `sum(up{${api}})` }))
        .withRow(row("Rate, errors, duration"))
        .withPanel(graph("Request rate by status", "reqps", [{ expr: `sum by (status) (rate(http_requests_total{${api}}[$__rate_interval]))`, legend: "{{status}}" }]))
        .withPanel(
            graph("Error ratio", "percentunit", [
                { expr: `sum(rate(http_requests_total{${api},status=~"5.."}[$__rate_interval])) / sum(rate(http_requests_total{${api}}[$__rate_interval]))`, legend: "5xx share" },
            ]),
        )
        .withPanel(graph("Latency P50 / P95 / P99", "s", [quantile(0.5), quantile(0.95), quantile(0.99)]))
        .withPanel(
            graph("Top erroring endpoints", "reqps", [
                { expr: `topk(10, sum by (handler, method) (rate(http_requests_total{${api},status=~"5.."}[$__rate_interval])))`, legend: "{{method}} {{handler}}" },
            ], 12, "The playbook's first stop for HighErrorRate"),
        )
        .withPanel(
            graph("Slowest endpoints (P99)", "s", [
                { expr: `topk(10, histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket{${api}}[$__rate_interval]))))`, legend: "{{handler}}" },
            ]),
        )
        .withPanel(
            graph("Error budget burn (SLO windows)", "percentunit", [
                { expr: errorRatio("1h"), legend: "1h" },
                { expr: errorRatio("6h"), legend: "6h" },
                { expr: errorRatio("1d"), legend: "1d" },
            ]),
        );
}
