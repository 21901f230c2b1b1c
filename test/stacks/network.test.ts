/**
 * The rendered NetworkPolicies judged as a cluster would: a connection passes when the
 * source's egress and the destination's ingress both allow it (a pod no policy selects is
 * open; default deny selects every pod). Every connection the stack makes must pass; the
 * ones an attacker in a pod would try must not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { RecordedResource } from "../../render/program";
import { podTemplate } from "../../policy/resources";
import { runStack } from "../helpers";

interface Pod {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    hostNetwork: boolean;
}
type Destination = { pod: string } | { ip: string };
interface Selector {
    matchLabels?: Record<string, string>;
}
interface Peer {
    podSelector?: Selector;
    namespaceSelector?: Selector;
    ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
    to?: Peer[];
    from?: Peer[];
    ports?: { port?: number; protocol?: string }[];
}

/** a node's address (node-exporter on the host network), the API server's, a public one, the cloud metadata address */
const NODE = "10.0.0.5";
const API_SERVER = "10.96.0.1";
const PUBLIC = "203.0.113.10";
const METADATA = "169.254.169.254";

const ipNumber = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const inCidr = (ip: string, cidr: string) => {
    const [base, bits] = cidr.split("/");
    const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
    return (ipNumber(ip) & mask) >>> 0 === (ipNumber(base!) & mask) >>> 0;
};
const selects = (s: Selector | undefined, labels: Record<string, string>) => Object.entries(s?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

class Cluster {
    readonly pods: Pod[];
    private readonly policies: { namespace: string; spec: any }[];
    constructor(resources: RecordedResource[]) {
        // the cluster's DNS, which the render does not hold: kube-dns pods in kube-system
        const kubeDns: Pod = { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, hostNetwork: false };
        this.pods = [kubeDns, ...resources.flatMap((r) => {
            const t = podTemplate(r.type, r.inputs);
            return t ? [{ name: r.name, namespace: (r.inputs.metadata as any).namespace, labels: t.metadata.labels ?? {}, hostNetwork: t.spec.hostNetwork === true }] : [];
        })];
        this.policies = resources.filter((r) => r.type.endsWith("NetworkPolicy")).map((r) => ({ namespace: (r.inputs.metadata as any).namespace, spec: r.inputs.spec }));
    }
    pod(name: string): Pod {
        const p = this.pods.find((x) => x.name === name);
        if (!p) throw new Error(`no workload ${name}`);
        return p;
    }
    private peerMatches(peer: Peer, from: Pod, dst: Pod | { ip: string }): boolean {
        if (peer.ipBlock) return "ip" in dst && inCidr(dst.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(dst.ip, c));
        if (!("labels" in dst)) return false;
        const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": dst.namespace }) : dst.namespace === from.namespace;
        return nsOk && (peer.podSelector === undefined || selects(peer.podSelector, dst.labels));
    }
    private allowedBy(pod: Pod, direction: "Egress" | "Ingress", other: Pod | { ip: string }, port: number, protocol: string): boolean {
        if (pod.hostNetwork) return true;
        const applying = this.policies.filter((p) => p.namespace === pod.namespace && (p.spec.policyTypes ?? ["Ingress"]).includes(direction) && selects(p.spec.podSelector, pod.labels));
        if (applying.length === 0) return true;
        const key = direction === "Egress" ? "egress" : "ingress";
        const peers = direction === "Egress" ? "to" : "from";
        return applying.some((p) =>
            ((p.spec[key] ?? []) as Rule[]).some(
                (rule) =>
                    (rule[peers] === undefined || rule[peers]!.some((peer) => this.peerMatches(peer, pod, other))) &&
                    (rule.ports === undefined || rule.ports.some((p) => (p.port === undefined || p.port === port) && (p.protocol ?? "TCP") === protocol)),
            ),
        );
    }
    /** Whether `from` can open a connection to a pod (by workload name) or an address, on a port. */
    allows(from: string, to: Destination, port: number, protocol = "TCP"): boolean {
        const src = this.pod(from);
        const dst = "pod" in to ? this.pod(to.pod) : to;
        const dstAsPeer = "labels" in dst && dst.hostNetwork ? { ip: NODE } : dst;
        return this.allowedBy(src, "Egress", dstAsPeer, port, protocol) && (!("labels" in dst) || this.allowedBy(dst, "Ingress", src, port, protocol));
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
        const run = await runStack("Pulumi.prod.yaml", { stack: "network" });
        cluster = new Cluster(run.resources);
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
        const run = await runStack("Pulumi.prod.yaml", { stack: "network", override: { app: { egress: [{ cidr: "198.51.100.0/24", ports: [443], reason: "carrier tracking API" }] } } });
        const c = new Cluster(run.resources);
        expect(c.allows("api", { ip: "198.51.100.7" }, 443)).toBe(true);
        expect(c.allows("api", { ip: "198.51.100.7" }, 80)).toBe(false);
        expect(c.allows("worker", { ip: "198.51.100.7" }, 443)).toBe(false);
    });
});

describe("NetworkPolicies around CloudNativePG's instances (postgres.engine cloudnative-pg)", () => {
    let cluster: Cluster;
    beforeAll(async () => {
        const run = await runStack("test/fixtures/good/prod-cloudnative-pg.yaml", { stack: "network" });
        cluster = new Cluster(run.resources);
        // the pods the operator makes: the instances (labelled by the Cluster's inheritedMetadata) and the operator itself
        const spec = run.resources.find((r) => r.type === "kubernetes:postgresql.cnpg.io/v1:Cluster")!.inputs.spec as { inheritedMetadata: { labels: Record<string, string> } };
        cluster.pods.push(
            { name: "postgres", namespace: "flowviz", labels: { ...spec.inheritedMetadata.labels, "cnpg.io/cluster": "postgres", "cnpg.io/instanceRole": "primary" }, hostNetwork: false },
            { name: "cnpg-operator", namespace: "cnpg-system", labels: { "app.kubernetes.io/name": "cloudnative-pg" }, hostNetwork: false },
        );
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
