/** Shared panel vocabulary: every panel queries the provisioned datasource and has a unit. */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import { DATASOURCE_UID } from "../configs/grafana";

export const datasource: dashboard.DataSourceRef = { type: "prometheus", uid: DATASOURCE_UID };

export interface Query {
    expr: string;
    legend?: string;
}

function targets(queries: Query[]): prometheus.DataqueryBuilder[] {
    return queries.map((q, i) =>
        new prometheus.DataqueryBuilder()
            .expr(q.expr)
            .legendFormat(q.legend ?? "__auto")
            .refId(String.fromCharCode(65 + i))
            .datasource(datasource),
    );
}

/** A time series panel, `w` of 24 columns wide. */
export function graph(title: string, unit: string, queries: Query[], w = 12, description?: string): timeseries.PanelBuilder {
    const p = new timeseries.PanelBuilder().title(title).unit(unit).datasource(datasource).span(w).height(8).fillOpacity(10).lineWidth(1);
    if (description) p.description(description);
    for (const t of targets(queries)) p.withTarget(t);
    return p;
}

/** A single-value panel. */
export function single(title: string, unit: string, query: Query, w = 6): stat.PanelBuilder {
    const p = new stat.PanelBuilder().title(title).unit(unit).datasource(datasource).span(w).height(4);
    for (const t of targets([query])) p.withTarget(t);
    return p;
}

export function newDashboard(uid: string, title: string, tags: string[]): dashboard.DashboardBuilder {
    return new dashboard.DashboardBuilder(title)
        .uid(uid)
        .tags(["flowviz", ...tags])
        .refresh("30s")
        .time({ from: "now-6h", to: "now" })
        .timezone("browser")
        .editable();
}

export const row = (title: string) => new dashboard.RowBuilder(title);
