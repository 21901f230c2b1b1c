/**
 * The rendered NetworkPolicies judged as a cluster would: a connection passes when the
 * source's egress and the destination's ingress both allow it (a pod no policy selects is
 * open; default deny selects every pod). Every connection the stack makes must pass; the
 * ones an attacker in a pod would try must not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { PolicyResource } from "@pulumi/policy";
import type { RecordedResource } from "../../render/program";
import { NetworkModel, type Pod } from "../../policy/network";
import { policyResource } from "../../render/policy-check";
import { ROOT, runStack } from "../helpers";
import { neededConnections, refusedConnections } from "../../policy/connections";
import { readFileSync } from "node:fs";
import { join } from "node:path";

type Destination = { pod: string } | { ip: string };

/** a public address, the API server's, the cloud metadata address */
const API_SERVER = "10.96.0.1";
const PUBLIC = "203.0.113.10";
const METADATA = "169.254.169.254";

/** The render's pods (and the cluster's DNS) under its NetworkPolicies, addressed by workload name. */
class Cluster {
    readonly pods: Pod[];
    readonly model: NetworkModel;
    constructor(readonly resources: PolicyResource[], extra: Pod[] = []) {
        this.pods = [{ name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, hostNetwork: false }, ...NetworkModel.podsOf(resources), ...extra];
        this.model = new NetworkModel(this.pods, resources);
    }
    pod(name: string): Pod {
        const p = this.pods.find((x) => x.name === name);
        if (!p) throw new Error(`no workload ${name}`);
        return p;
    }
    allows(from: string, to: Destination, port: number, protocol = "TCP"): boolean {
        return this.model.allows(this.pod(from), "pod" in to ? { pod: this.pod(to.pod) } : to, port, protocol);
    }
}

/** What Prometheus scrapes, read from its rendered prometheus.yml: the service and port each job keeps. */
function scrapeTargets(resources: RecordedResource[]): [string, number][] {
    const cm = resources.find((r) => r.name === "prometheus-config")!;
    const yml = parse((cm.inputs.data as Record<string, string>)["prometheus.yml"]!);
    return yml.scrape_configs
        .filter((j: any) => j.kubernetes_sd_configs)
        .map((j: any) => {
            const keep = (label: string) => j.relabel_configs.find((r: any) => r.action === "keep" && r.source_labels[0] === label).regex;
            return [keep("__meta_kubernetes_pod_label_app_kubernetes_io_name"), Number(keep("__meta_kubernetes_pod_container_port_number"))];
        });
}

describe("NetworkPolicies of the prod render, judged connection by connection", () => {
    let cluster: Cluster;
    let scraped: [string, number][];
    beforeAll(async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "network" });
        cluster = new Cluster(run.resources.map(policyResource));
        scraped = scrapeTargets(run.resources);
    });

    it("lets through every connection the stack makes", () => {
        const needed: [string, Destination, number, string?][] = [
            ["api", { pod: "pgbouncer" }, 6432],
            ["worker", { pod: "pgbouncer" }, 6432],
            ["api", { pod: "valkey" }, 6379],
            ["worker", { pod: "valkey" }, 6379],
            ["pgbouncer", { pod: "postgres" }, 5432],
            ["postgres-exporter", { pod: "postgres" }, 5432],
            ["postgres-roles", { pod: "postgres" }, 5432],
            // the backup sidecar reads PgBouncer's and Valkey's certificates
            ["postgres", { pod: "pgbouncer" }, 6432],
            ["postgres", { pod: "valkey" }, 6379],
            ["grafana", { pod: "prometheus" }, 9090],
            ["grafana", { pod: "alertmanager" }, 9093],
            ["prometheus", { pod: "alertmanager" }, 9093],
            ["prometheus", { ip: API_SERVER }, 443],
            // the webhook receiver and dead man's switch (HTTPS), the S3 repository
            ["alertmanager", { ip: PUBLIC }, 443],
            ["postgres", { ip: PUBLIC }, 443],
        ];
        for (const pod of cluster.pods.filter((p) => !p.hostNetwork && p.name !== "kube-dns")) needed.push([pod.name, { pod: "kube-dns" }, 53, "UDP"], [pod.name, { pod: "kube-dns" }, 53, "TCP"]);
        expect(scraped.length).toBeGreaterThanOrEqual(5);
        for (const [service, port] of scraped) needed.push(["prometheus", { pod: service }, port]);
        const refused = needed.filter(([from, to, port, protocol]) => !cluster.allows(from, to, port, protocol));
        expect(refused.map(([f, t, p]) => `${f} -> ${JSON.stringify(t)}:${p}`)).toEqual([]);
    });

    it.each([
        ["api", { pod: "postgres" }, 5432, "the app skips PgBouncer"],
        ["api", { ip: METADATA }, 80, "the cloud metadata address"],
        ["api", { ip: PUBLIC }, 443, "the internet (no app.egress declared)"],
        ["api", { ip: API_SERVER }, 443, "the API server"],
        ["worker", { pod: "prometheus" }, 9090, "the worker reads metrics"],
        ["valkey", { ip: PUBLIC }, 443, "the broker calls out"],
        ["pgbouncer", { pod: "valkey" }, 6379, "PgBouncer reaches the broker"],
        ["postgres", { ip: PUBLIC }, 22, "the database on another port"],
        ["postgres", { ip: METADATA }, 80, "the database to the metadata address"],
        ["alertmanager", { ip: "10.1.2.3" }, 443, "Alertmanager into private networks"],
        ["grafana", { ip: PUBLIC }, 443, "Grafana calls out (plugins, updates)"],
        ["postgres-exporter", { pod: "pgbouncer" }, 6432, "the exporter through the pooler"],
        ["prometheus", { ip: PUBLIC }, 443, "Prometheus calls out"],
    ] as const)("refuses %s -> %j:%i (%s)", (from, to, port, why) => {
        expect(cluster.allows(from, to as Destination, port), why).toBe(false);
    });

    it("lets the API reach what app.egress declares, and only that", async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "network", override: { app: { egress: [{ cidr: "198.51.100.0/24", ports: [443], reason: "carrier tracking API" }] } } });
        const c = new Cluster(run.resources.map(policyResource));
        expect(c.allows("api", { ip: "198.51.100.7" }, 443)).toBe(true);
        expect(c.allows("api", { ip: "198.51.100.7" }, 80)).toBe(false);
        expect(c.allows("worker", { ip: "198.51.100.7" }, 443)).toBe(false);
    });
});

describe("NetworkPolicies around CloudNativePG's instances (postgres.engine cloudnative-pg)", () => {
    let cluster: Cluster;
    beforeAll(async () => {
        const run = await runStack("Pulumi.prod.yaml", { stack: "network" });
        // the pods the operator makes: the instances (labelled by the Cluster's inheritedMetadata) and the operator itself
        const spec = run.resources.find((r) => r.type === "kubernetes:postgresql.cnpg.io/v1:Cluster")!.inputs.spec as { inheritedMetadata: { labels: Record<string, string> } };
        cluster = new Cluster(run.resources.map(policyResource), [
            { name: "postgres", namespace: "flowviz", labels: { ...spec.inheritedMetadata.labels, "cnpg.io/cluster": "postgres", "cnpg.io/instanceRole": "primary" }, hostNetwork: false },
            { name: "cnpg-operator", namespace: "cnpg-system", labels: { "app.kubernetes.io/name": "cloudnative-pg" }, hostNetwork: false },
        ]);
    });

    it("lets through what the Cluster needs: PgBouncer, replication, the operator's status calls, scrapes, the API server, the object store, DNS", () => {
        const needed: [string, Destination, number, string?][] = [
            ["pgbouncer", { pod: "postgres" }, 5432],
            ["postgres", { pod: "postgres" }, 5432],
            ["postgres", { pod: "postgres" }, 8000],
            ["cnpg-operator", { pod: "postgres" }, 8000],
            ["prometheus", { pod: "postgres" }, 9187],
            ["postgres", { ip: API_SERVER }, 443],
            ["postgres", { ip: PUBLIC }, 443],
            ["postgres", { pod: "kube-dns" }, 53, "UDP"],
        ];
        expect(needed.filter(([from, to, port, protocol]) => !cluster.allows(from, to, port, protocol)).map(([f, t, p]) => `${f} -> ${JSON.stringify(t)}:${p}`)).toEqual([]);
    });

    it.each([
        ["api", { pod: "postgres" }, 5432, "the app skips PgBouncer"],
        ["pgbouncer", { pod: "postgres" }, 8000, "the pooler calls the instance manager"],
        ["cnpg-operator", { pod: "postgres" }, 5432, "the operator logs in to PostgreSQL over TCP"],
        ["postgres", { ip: METADATA }, 80, "an instance to the metadata address"],
        ["postgres", { ip: PUBLIC }, 22, "an instance on another port"],
        ["postgres", { pod: "valkey" }, 6379, "an instance to the broker"],
    ] as const)("refuses %s -> %j:%i (%s)", (from, to, port, why) => {
        expect(cluster.allows(from, to as Destination, port), why).toBe(false);
    });
});

/** The prod stack file's postgres section with the object store's credentials changed. */
function prodPostgres(s3: Record<string, unknown>): Record<string, unknown> {
    const pg = parse(readFileSync(join(ROOT, "test/fixtures/good/prod-statefulset.yaml"), "utf8")).config["flowviz:postgres"];
    const where = { ...pg.backups.s3 };
    delete where.serviceAccountAnnotations;
    return { ...pg, backups: { ...pg.backups, s3: { ...where, ...s3 } } };
}

/** A render's resources with one object's inputs changed, as a hand edit or a weakened generator would leave them. */
function edited(resources: PolicyResource[], name: string, type: string, change: (props: any) => void): PolicyResource[] {
    return resources.map((r) => {
        if (r.name !== name || r.type !== type) return r;
        const props = structuredClone(r.props);
        change(props);
        return { ...r, props };
    });
}

const NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const CM = "kubernetes:core/v1:ConfigMap";

describe("connections read from the rendered files, judged against the rendered NetworkPolicies", () => {
    let prod: PolicyResource[];
    beforeAll(async () => {
        prod = (await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "network" })).resources.map(policyResource);
    });
    const needsOf = (resources: PolicyResource[]) => neededConnections(resources).needs.map((n) => `${n.from.name} -> ${"pod" in n.to ? n.to.pod.name : "ip" in n.to ? n.to.ip : "externalName" in n.to ? n.to.externalName : "service" in n.to ? n.to.service : "loopback"}:${n.ports.join("|")}`);

    it("finds what prod's files imply, and every one of them is allowed", () => {
        const needs = needsOf(prod);
        for (const n of [
            "postgres -> s3.eu-central-1.amazonaws.com:443",
            "postgres -> sts.amazonaws.com:443",
            "pgbouncer -> postgres:5432",
            "alertmanager -> incidents.example.com:443",
            "alertmanager -> watchdog.example.com:443",
            "prometheus -> kubernetes.default.svc:443|6443",
            "prometheus -> alertmanager:9093",
            "prometheus -> pgbouncer:9127",
            "grafana -> prometheus:9090",
            // the backup runs (CronJobs) and the repository's exporter read the repository; the runs reach pgBackRest's TLS server
            "postgres-backup-full -> postgres:8432",
            "postgres-backup-full -> s3.eu-central-1.amazonaws.com:443",
            "postgres-backup-full -> sts.amazonaws.com:443",
            "pgbackrest-exporter -> s3.eu-central-1.amazonaws.com:443",
            "valkey -> kube-dns:53",
            // the peered PgBouncer replicas forward cancel requests to one another (each pod by its own name)
            "pgbouncer -> pgbouncer-peers:6432",
            // the drills read the repository and push to the Pushgateway
            "postgres-drill-drill -> s3.eu-central-1.amazonaws.com:443",
        ])
            expect(needs).toContain(n);
        expect(refusedConnections(prod)).toEqual([]);
    });

    it("refuses peered PgBouncers whose ingress no longer lets a peer in", () => {
        const weakened = edited(prod, "pgbouncer-ingress", "kubernetes:networking.k8s.io/v1:NetworkPolicy", (p) => {
            p.spec.ingress = p.spec.ingress.map((rule: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[] }) => ({ ...rule, from: (rule.from ?? []).filter((f) => f.podSelector?.matchLabels?.["app.kubernetes.io/name"] !== "pgbouncer") }));
        });
        const refused = refusedConnections(weakened);
        expect(refused.some((r) => r.startsWith("pgbouncer -> pod pgbouncer:6432/TCP") && r.includes("peer 2 host=pgbouncer-1.pgbouncer-peers")), refused.join("\n")).toBe(true);
    });

    it("refuses the render whose pgBackRest asks the metadata address its egress refuses (prod as it was), naming the file and the policy", () => {
        const weakened = edited(prod, "postgres-config", CM, (p) => {
            const key = Object.keys(p.data).find((k) => k.endsWith("pgbackrest.conf"))!;
            p.data[key] = p.data[key].replace("repo1-s3-key-type=web-id", "repo1-s3-key-type=auto");
        });
        const refused = refusedConnections(weakened);
        expect(refused.some((r) => r.startsWith("postgres -> 169.254.169.254:80/TCP, needed by pgbackrest/pgbackrest.conf: repo1-s3-key-type=auto") && r.includes("egress of NetworkPolicy") && r.includes("postgres-egress"))).toBe(true);
    });

    it("lets the backup pods alone reach the metadata address with keyType auto and metadataEndpoint", async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "network", override: { postgres: prodPostgres({ keyType: "auto", metadataEndpoint: "169.254.169.254:80" }) } });
        const resources = run.resources.map(policyResource);
        expect(needsOf(resources)).toContain("postgres -> 169.254.169.254:80");
        expect(refusedConnections(resources)).toEqual([]);
        const c = new Cluster(resources);
        expect(c.allows("postgres", { ip: METADATA }, 80)).toBe(true);
        expect(c.allows("postgres", { ip: "169.254.169.253" }, 80)).toBe(false);
        for (const other of ["api", "worker", "pgbouncer", "grafana", "postgres-exporter"]) expect(c.allows(other, { ip: METADATA }, 80), other).toBe(false);
    });

    it("binds the backup pods to the role with web-id: their ServiceAccount carries the annotations, and an unbound one is refused", () => {
        const sa = prod.find((r) => r.type === "kubernetes:core/v1:ServiceAccount" && r.name === "postgres-sa")!;
        expect(sa.props.metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/flowviz-prod-backups" });
        const statefulSet = prod.find((r) => r.name === "postgres" && r.type === "kubernetes:apps/v1:StatefulSet")!;
        expect(statefulSet.props.spec.template.spec.serviceAccountName).toBe(sa.props.metadata.name);
        const unbound = edited(prod, "postgres-sa", "kubernetes:core/v1:ServiceAccount", (p) => delete p.metadata.annotations);
        expect(refusedConnections(unbound).some((r) => r.includes("repo1-s3-key-type=web-id") && r.includes("carries no annotation"))).toBe(true);
    });

    it.each([
        ["the object store's port closed", "postgres-egress", (p: any) => p.spec.egress.forEach((r: any) => r.ports?.forEach((x: any) => x.port === 443 && (x.port = 8443))), "postgres -> s3.eu-central-1.amazonaws.com:443"],
        ["Alertmanager's receivers cut", "alertmanager-egress", (p: any) => (p.spec.egress = p.spec.egress.filter((r: any) => !r.to?.some((t: any) => t.ipBlock))), "alertmanager -> incidents.example.com:443"],
        ["the scrape of PgBouncer's exporter dropped", "pgbouncer-ingress", (p: any) => (p.spec.ingress = p.spec.ingress.filter((r: any) => !r.ports?.some((x: any) => x.port === 9127))), "prometheus -> pod pgbouncer:9127"],
        ["PgBouncer's way to PostgreSQL", "pgbouncer-egress", (p: any) => (p.spec.egress = p.spec.egress.filter((r: any) => !r.ports?.some((x: any) => x.port === 5432))), "pgbouncer -> pod postgres:5432"],
        ["the TLS server's port closed to the backup runs", "postgres-ingress", (p: any) => (p.spec.ingress = p.spec.ingress.filter((r: any) => !r.ports?.some((x: any) => x.port === 8432))), "postgres-backup-full -> pod postgres:8432"],
        ["DNS", "api-egress", (p: any) => (p.spec.egress = p.spec.egress.filter((r: any) => !r.ports?.some((x: any) => x.port === 53))), "api -> pod kube-dns:53"],
    ])("refuses a render with %s", (_, policy, change, expected) => {
        const refused = refusedConnections(edited(prod, policy, NP, change));
        expect(refused.some((r) => r.startsWith(expected)), refused.join("\n")).toBe(true);
    });

    it("reads the Cluster's object store and credentials (CloudNativePG, keyType auto with and without its egress)", async () => {
        const fixture = parse(readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8")).config;
        const pg = fixture["flowviz:postgres"];
        const run = await runStack("Pulumi.prod.yaml", { stack: "network", override: { postgres: { ...pg, backups: { ...pg.backups, s3: { ...pg.backups.s3, keyType: "auto", serviceAccountAnnotations: undefined, metadataEndpoint: "169.254.169.254:80" } } } } });
        const resources = run.resources.map(policyResource);
        expect(needsOf(resources)).toEqual(expect.arrayContaining(["postgres -> s3.eu-central-1.amazonaws.com:443", "postgres -> 169.254.169.254:80", "postgres -> kubernetes.default.svc:443|6443"]));
        expect(refusedConnections(resources)).toEqual([]);
        const closed = edited(resources, "postgres-cluster-egress", NP, (p) => (p.spec.egress = p.spec.egress.filter((r: any) => !r.to?.some((t: any) => t.ipBlock?.cidr === "169.254.169.254/32"))));
        expect(refusedConnections(closed).some((r) => r.startsWith("postgres -> 169.254.169.254:80/TCP, needed by ObjectStore") && r.includes("inheritFromIAMRole"))).toBe(true);
    });
});
