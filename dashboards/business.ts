/** Business: lots, QC decisions, operators, production runs, traceability latency. */
import { graph, newDashboard, row, single } from "./panels";

export function businessDashboard() {
    return newDashboard("flowviz-business", "flowviz / Business", ["business"])
        .withRow(row("Now"))
        .withPanel(single("Active operators", "none", { expr: "sum(flowviz_active_operators)" }))
        .withPanel(single("Production runs in progress", "none", { expr: "sum(flowviz_production_runs_active)" }))
        .withPanel(single("Lots registered (last hour)", "none", { expr: "sum(increase(flowviz_lots_registered_total[1h]))" }))
        .withPanel(
            single("QC FAIL share (last hour)", "percentunit", {
                expr: 'sum(rate(flowviz_qc_decisions_total{decision="FAIL"}[1h])) / sum(rate(flowviz_qc_decisions_total[1h]))',
            }),
        )
        .withRow(row("Throughput"))
        .withPanel(graph("Lots registered per hour", "none", [{ expr: "sum by (lot_type) (increase(flowviz_lots_registered_total[1h]))", legend: "{{lot_type}}" }]))
        .withPanel(graph("QC decisions per hour", "none", [{ expr: "sum by (decision) (increase(flowviz_qc_decisions_total[1h]))", legend: "{{decision}}" }]))
        .withPanel(graph("Active operators", "none", [{ expr: "sum(flowviz_active_operators)", legend: "operators" }]))
        .withPanel(graph("Production runs in progress", "none", [{ expr: "sum(flowviz_production_runs_active)", legend: "runs" }]))
        .withPanel(
            graph("Traceability query latency", "s", [0.5, 0.95, 0.99].map((q) => ({
                expr: `histogram_quantile(${q}, sum by (le) (rate(flowviz_traceability_query_duration_seconds_bucket[$__rate_interval])))`,
                legend: `P${q * 100}`,
            })), 24),
        );
}
