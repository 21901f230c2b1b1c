/**
 * The versions we deploy against the versions we test: each server image's default and the
 * Debian 13 server of the same major.minor the real-server tests run (test/binaries.ts), or an
 * exception with its reason. docs/VERSIONS.md is generated from this table; a unit test holds
 * every default to its tested line and the integration suite holds the tested line to the binary.
 */
import type { StackConfig } from "./schema";
import { imageTag } from "./images";

export interface TestedVersion {
    component: string;
    /** the stack key that chooses the image */
    key: string;
    image(c: StackConfig): string;
    /** the Debian 13 package the tests run, its binary (a name in test/binaries.ts) and the release line it ships (PostgreSQL's is its major version: its minor releases are patches) */
    tested?: { package: string; binary: string; line: string };
    /** why the image's major.minor may differ from the tested line (or why nothing is tested) */
    exception?: string;
}

export const TESTED_VERSIONS: readonly TestedVersion[] = [
    { component: "PostgreSQL", key: "postgres.image", image: (c) => c.postgres.image, tested: { package: "postgresql-17", binary: "postgres", line: "17" } },
    {
        component: "PostgreSQL (CloudNativePG)",
        key: "postgres.cloudnativePg.image",
        image: (c) => c.postgres.cloudnativePg.image,
        // the operand's PostgreSQL only: the operator (1.30) and the Barman Cloud plugin (0.14) do not run here (docs/CLOUDNATIVE-PG.md)
        tested: { package: "postgresql-17", binary: "postgres", line: "17" },
    },
    {
        component: "PgBouncer",
        key: "pgbouncer.image",
        image: (c) => c.pgbouncer.image,
        tested: { package: "pgbouncer", binary: "pgbouncer", line: "1.24" },
        exception: "Debian 13 ships 1.24. The generator gates settings on `pgbouncer.version` and writes none newer than 1.21, so a 1.25 file differs from the tested 1.24 one only in its version comment; 1.25 fixes bugs 1.24 has (a stack that wants exactly what is tested sets `edoburu/pgbouncer:v1.24.1-p0` and version 1.24.1)",
    },
    { component: "Valkey", key: "app.valkeyImage", image: (c) => c.app.valkeyImage, tested: { package: "valkey-server", binary: "valkey-server", line: "8.1" } },
    { component: "Prometheus", key: "monitoring.prometheusImage", image: (c) => c.monitoring.prometheusImage, tested: { package: "prometheus", binary: "prometheus", line: "2.53" } },
    { component: "Alertmanager", key: "monitoring.alertmanagerImage", image: (c) => c.monitoring.alertmanagerImage, tested: { package: "prometheus-alertmanager", binary: "alertmanager", line: "0.28" } },
    { component: "Pushgateway", key: "monitoring.pushgatewayImage", image: (c) => c.monitoring.pushgatewayImage, tested: { package: "prometheus-pushgateway", binary: "pushgateway", line: "1.11" } },
    { component: "node-exporter", key: "monitoring.nodeExporterImage", image: (c) => c.monitoring.nodeExporterImage, tested: { package: "prometheus-node-exporter", binary: "node-exporter", line: "1.9" } },
    {
        component: "kube-rbac-proxy",
        key: "monitoring.kubeRbacProxyImage",
        image: (c) => c.monitoring.kubeRbacProxyImage,
        exception: "Kubernetes only (it asks the API server to review tokens); no Debian package and no API server here: its flags, RBAC and Prometheus' scrape settings are checked against the Kubernetes schemas and promtool, not run",
    },
    { component: "postgres-exporter", key: "monitoring.postgresExporterImage", image: (c) => c.monitoring.postgresExporterImage, tested: { package: "prometheus-postgres-exporter", binary: "postgres-exporter", line: "0.17" } },
    {
        component: "PgBouncer exporter",
        key: "monitoring.pgbouncerExporterImage",
        image: (c) => c.monitoring.pgbouncerExporterImage,
        tested: { package: "prometheus-pgbouncer-exporter", binary: "pgbouncer-exporter", line: "0.10" },
        exception: "Debian 13 ships 0.10.2; every catalogued metric is checked live on it, and 0.12 exposes the same names (the stats counters since 0.11)",
    },
    { component: "Valkey exporter", key: "monitoring.valkeyExporterImage", image: (c) => c.monitoring.valkeyExporterImage, tested: { package: "prometheus-redis-exporter", binary: "redis-exporter", line: "1.69" } },
    { component: "Grafana", key: "monitoring.grafanaImage", image: (c) => c.monitoring.grafanaImage, exception: "no Debian package: dashboards are checked by type, every query is parsed and run against the real Prometheus, the start script is run with stand-ins" },
];

/** The version an image's tag names (`postgres:17.12-trixie` gives 17.12, `prom/prometheus:v2.53.5` 2.53.5). */
export function imageVersion(image: string): string | undefined {
    return /^v?(\d+(?:\.\d+)*)/.exec(imageTag(image))?.[1];
}

/** True when a version is on a release line (`2.53.5` on `2.53`, `17.13` on `17`). */
export function onLine(version: string, line: string): boolean {
    const parts = line.split(".");
    return version.split(".").slice(0, parts.length).join(".") === line;
}

/** docs/VERSIONS.md */
export function versionsDoc(defaults: StackConfig): string {
    const rows = TESTED_VERSIONS.map((v) => {
        const tested = v.tested ? `${v.tested.line} (Debian 13 \`${v.tested.package}\`)` : "not run here";
        return `| ${v.component} | \`${v.key}\` | \`${v.image(defaults)}\` | ${tested} | ${v.exception ?? "none: same release line"} |`;
    });
    return [
        "# Versions: deployed and tested",
        "",
        "<!-- generated by `npm run docs` from stack/versions.ts -->",
        "",
        "Each server image's default and the real server the integration suite runs it against: Debian 13's",
        "package, natively on Debian 13 or in the Debian 13 root `scripts/servers.sh` builds (the suite prints",
        "every server's version when it starts). A unit test fails when a default's major.minor leaves its",
        "tested line without an exception below; the integration suite fails when a binary leaves it.",
        "Bumping an image to a new major.minor means testing it: change the tested line here, and the",
        "package list in `scripts/servers.sh` if Debian 13 does not ship it.",
        "",
        "| component | key | image default | tested | exception |",
        "|---|---|---|---|---|",
        ...rows,
        "",
    ].join("\n");
}
