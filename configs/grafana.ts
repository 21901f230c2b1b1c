/** Grafana provisioning: the Prometheus datasource (fixed uid) and the dashboard provider. */
import { stringify } from "yaml";
import { GENERATED } from "./format";

/** Every panel query names this uid, so dashboards never depend on a datasource's display name. */
export const DATASOURCE_UID = "flowviz-prometheus";

export function datasourcesYml(prometheusUrl: string, scrapeInterval: string): string {
    return `# ${GENERATED}\n` + stringify({
        apiVersion: 1,
        datasources: [
            { name: "Prometheus", type: "prometheus", uid: DATASOURCE_UID, access: "proxy", url: prometheusUrl, isDefault: true, editable: false, jsonData: { timeInterval: scrapeInterval } },
        ],
    });
}

export function dashboardProviderYml(dashboardsDir: string): string {
    return `# ${GENERATED}\n` + stringify({
        apiVersion: 1,
        providers: [{ name: "flowviz", folder: "flowviz", type: "file", disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 60, options: { path: dashboardsDir } }],
    });
}
