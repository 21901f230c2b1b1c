/**
 * The connections a Kubernetes render needs, read from what its pods will run (the files
 * their volumes mount, the CloudNativePG objects), each judged against the rendered
 * NetworkPolicies: a stack whose own configuration needs a connection its policies refuse
 * is refused, naming the file and setting that need it and the policies in the way.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { isIP } from "node:net";
import { parse } from "yaml";
import { activeClusters, iniSections, K8S, pgbackrestRepositories, podTemplate, unwrap } from "./resources";
import { NetworkModel, type Destination, type Pod } from "./network";
import { INSTANCE_METADATA, STS } from "../facts/addresses";

/** The cluster's DNS, which a render does not hold. */
const KUBE_DNS: Pod = { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, hostNetwork: false };
/** The Kubernetes API, as pods reach it: the `kubernetes` Service's 443, which the node forwards to the servers' 6443. */
const API_SERVER = { externalName: "kubernetes.default.svc" } as const;

/** A connection a pod will open, and what in the render says so. */
export interface Need {
    from: Pod;
    /** a loopback address never leaves the pod: NetworkPolicies do not apply to it */
    to: Destination | { service: string; namespace: string } | { loopback: true };
    ports: number[];
    protocol: "TCP" | "UDP";
    /** the file and setting (or object and field) that make the connection */
    because: string;
}

interface Workload {
    resource: PolicyResource;
    pod: Pod;
    /** every file its containers mount, by path (two containers may mount different files at one path) */
    files: [string, string][];
    serviceAccount?: string;
    /** the namespaces the render declares */
    namespaces: Set<string>;
}

const namespacesOf = (resources: PolicyResource[]) => new Set(resources.filter((r) => r.type === K8S.namespace).map((r) => String(r.props.metadata?.name ?? r.name)));


/** A volume's ConfigMap or Secret in the render: by its name (auto-named ones carry a suffix) holding every key the volume mounts. */
function sourceOf(resources: PolicyResource[], type: string, name: string, keys: string[]): Record<string, string> | undefined {
    for (const r of resources.filter((x) => x.type === type)) {
        const declared = r.props.metadata?.name ?? r.name;
        if (name !== declared && !name.startsWith(`${r.name}-`)) continue;
        const data: Record<string, unknown> = { ...((unwrap(r.props.data) ?? {}) as object), ...((unwrap(r.props.stringData) ?? {}) as object) };
        if (!keys.every((k) => k in data)) continue;
        const decoded = (k: string) => (type === K8S.secret && !(k in ((unwrap(r.props.stringData) ?? {}) as object)) ? Buffer.from(String(unwrap(data[k])), "base64").toString("utf8") : String(unwrap(data[k])));
        return Object.fromEntries(Object.keys(data).map((k) => [k, decoded(k)]));
    }
    return undefined;
}

/** The files a pod mounts from ConfigMaps and Secrets, by the path each item gets. */
function mountedFiles(resources: PolicyResource[], spec: any, missing: string[]): [string, string][] {
    const out: [string, string][] = [];
    const read = (type: string, src: { name?: string; items?: { key: string; path: string }[] }) => {
        if (!src?.name) return;
        const items = src.items ?? [];
        const data = sourceOf(resources, type, String(src.name), items.map((i) => i.key));
        if (!data) return missing.push(`${type === K8S.secret ? "Secret" : "ConfigMap"} ${src.name}`);
        for (const i of items.length ? items : Object.keys(data).map((key) => ({ key, path: key }))) out.push([i.path, data[i.key]!]);
    };
    for (const v of spec?.volumes ?? []) {
        for (const s of v.projected?.sources ?? []) {
            if (s.configMap) read(K8S.configMap, s.configMap);
            if (s.secret) read(K8S.secret, s.secret);
        }
        if (v.configMap) read(K8S.configMap, v.configMap);
        // an optional Secret the pod starts without is its controller's to make (an operator's webhook certificate)
        if (v.secret && !v.secret.optional) read(K8S.secret, { name: v.secret.secretName, items: v.secret.items });
    }
    return out;
}

const fileNamed = (files: [string, string][], name: string): [string, string][] => files.filter(([p]) => p === name || p.endsWith(`/${name}`));

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);

/** host[:port] or a URL as a destination and port. */
function addressOf(hostPort: string, defaultPort: number): { host: string; port: number } {
    if (/^[a-z]+:\/\//i.test(hostPort)) {
        const u = new URL(hostPort);
        return { host: u.hostname, port: Number(u.port || (u.protocol === "http:" ? 80 : u.protocol === "smtp:" ? 25 : 443)) };
    }
    const [host, port] = hostPort.split(":");
    return { host: host!, port: port ? Number(port) : defaultPort };
}

/** A name as a destination: an address is itself, a cluster name (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`) a Service, anything else lies outside. */
function destination(host: string, namespace: string, namespaces: Set<string>): Need["to"] {
    if (isLoopback(host)) return { loopback: true };
    if (isIP(host)) return { ip: host };
    // a pod of a StatefulSet by its own name: `<pod>.<governing Service>.<ns>.svc[.cluster.local]`, reached as that Service's pods
    const pod = /^[a-z0-9-]+\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$/.exec(host);
    if (pod && namespaces.has(pod[2]!)) return { service: pod[1]!, namespace: pod[2]! };
    const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(\.svc(?:\.cluster\.local)?)?)?$/.exec(host);
    // `svc.ns` is a Service only where `ns` is one of the render's namespaces; `example.com` is a name outside
    if (m && (m[2] === undefined || m[3] !== undefined || namespaces.has(m[2]))) return { service: m[1]!, namespace: m[2] ?? namespace };
    return { externalName: host };
}

/** The S3 repositories of a pgbackrest.conf's global section: `repo1`, `repo2`, ... */
const s3Repositories = (g: Record<string, string>) => pgbackrestRepositories(g).flatMap((r) => (r.type === "s3" ? [r.repo] : []));

/** pgbackrest.conf: each repository's endpoint and where its credentials come from. */
function pgbackrestNeeds(w: Workload): Need[] {
    const out: Need[] = [];
    for (const [path, text] of fileNamed(w.files, "pgbackrest.conf")) {
        const sections = iniSections(text);
        // a repository host reaches PostgreSQL's pgBackRest server for every stanza it backs up
        for (const [stanza, options] of Object.entries(sections).filter(([name]) => name !== "" && name !== "global")) {
            const host = options["pg1-host"];
            if (!host) continue;
            const port = Number(options["pg1-host-port"] ?? (options["pg1-host-type"] === "tls" ? 8432 : 22));
            out.push({ from: w.pod, to: destination(host, w.pod.namespace, w.namespaces), ports: [port], protocol: "TCP", because: `${path}: [${stanza}] pg1-host=${host}` });
        }
        const g = sections.global ?? {};
        // every repository the file names (repo1, an off-site repo2, ...), as pgBackRest reads them
        for (const repo of s3Repositories(g)) {
            const endpoint = g[`${repo}-s3-endpoint`] ?? "";
            out.push({ from: w.pod, to: destination(endpoint, w.pod.namespace, w.namespaces), ports: [Number(g[`${repo}-storage-port`] ?? 443)], protocol: "TCP", because: `${path}: ${repo}-s3-endpoint=${endpoint}` });
            const keyType = g[`${repo}-s3-key-type`] ?? "shared";
            if (keyType === "auto") out.push({ from: w.pod, to: { ip: INSTANCE_METADATA.ip }, ports: [INSTANCE_METADATA.port], protocol: "TCP", because: `${path}: ${repo}-s3-key-type=auto (credentials from the instance metadata address)` });
            if (keyType === "web-id") out.push({ from: w.pod, to: { externalName: STS.host }, ports: [STS.port], protocol: "TCP", because: `${path}: ${repo}-s3-key-type=web-id (credentials from STS)` });
        }
    }
    return out;
}

/** pgbouncer.ini: the servers behind each database. */
function pgbouncerNeeds(w: Workload): Need[] {
    // the pooled databases, and the peers a cancel request is forwarded to
    return fileNamed(w.files, "pgbouncer.ini").flatMap(([path, text]) =>
        (["databases", "peers"] as const).flatMap((section) =>
            Object.entries(iniSections(text)[section] ?? {}).flatMap(([name, conn]) => {
                const host = /(?:^|\s)host=(\S+)/.exec(conn)?.[1];
                if (!host || host.startsWith("/")) return [];
                const port = Number(/(?:^|\s)port=(\d+)/.exec(conn)?.[1] ?? 5432);
                const what = section === "databases" ? `database ${name}` : `peer ${name}`;
                return [{ from: w.pod, to: destination(host, w.pod.namespace, w.namespaces), ports: [port], protocol: "TCP" as const, because: `${path}: ${what} host=${host}` }];
            }),
        ),
    );
}

/** alertmanager.yml: every receiver's address (webhooks, Slack, SMTP). */
function alertmanagerNeeds(w: Workload): Need[] {
    const out: Need[] = [];
    for (const [path, text] of fileNamed(w.files, "alertmanager.yml")) {
        const doc = parse(text) ?? {};
        const add = (address: string, defaultPort: number, what: string) => {
            const a = addressOf(address, defaultPort);
            out.push({ from: w.pod, to: destination(a.host, w.pod.namespace, w.namespaces), ports: [a.port], protocol: "TCP", because: `${path}: ${what} ${a.host}:${a.port}` });
        };
        if (doc.global?.smtp_smarthost) add(String(doc.global.smtp_smarthost), 25, "global.smtp_smarthost");
        for (const r of doc.receivers ?? []) {
            for (const c of r.webhook_configs ?? []) if (c.url) add(String(c.url), 443, `receiver ${r.name} webhook`);
            for (const c of r.slack_configs ?? []) add(String(c.api_url ?? doc.global?.slack_api_url ?? "https://hooks.slack.com"), 443, `receiver ${r.name} slack`);
            for (const c of r.email_configs ?? []) if (c.smarthost) add(String(c.smarthost), 25, `receiver ${r.name} smarthost`);
        }
    }
    return out;
}

/** prometheus.yml: the API server for discovery, each discovered job's pods and port, the Alertmanagers. */
function prometheusNeeds(w: Workload, workloads: Workload[]): Need[] {
    const out: Need[] = [];
    for (const [path, text] of fileNamed(w.files, "prometheus.yml")) {
        const doc = parse(text) ?? {};
        const jobs = [...(doc.scrape_configs ?? []).map((j: any) => [`job ${j.job_name}`, j]), ...(doc.alerting?.alertmanagers ?? []).map((j: any) => ["alerting.alertmanagers", j])] as [string, any][];
        for (const [what, job] of jobs) {
            if (job.kubernetes_sd_configs) out.push({ from: w.pod, to: API_SERVER, ports: [443, 6443], protocol: "TCP", because: `${path}: ${what} discovers pods (kubernetes_sd_configs)` });
            const keep = (label: string) => (job.relabel_configs ?? []).find((r: any) => r.action === "keep" && r.source_labels?.[0] === label)?.regex as string | undefined;
            const name = keep("__meta_kubernetes_pod_label_app_kubernetes_io_name");
            const port = keep("__meta_kubernetes_pod_container_port_number");
            if (name && port && /^\d+$/.test(port)) {
                for (const t of workloads.filter((x) => new RegExp(`^(?:${name})$`).test(x.pod.labels["app.kubernetes.io/name"] ?? ""))) out.push({ from: w.pod, to: { pod: t.pod }, ports: [Number(port)], protocol: "TCP", because: `${path}: ${what} scrapes ${name}:${port}` });
            }
            for (const sc of job.static_configs ?? []) for (const target of sc.targets ?? []) {
                const a = addressOf(String(target), 80);
                out.push({ from: w.pod, to: destination(a.host, w.pod.namespace, w.namespaces), ports: [a.port], protocol: "TCP", because: `${path}: ${what} target ${target}` });
            }
        }
    }
    return out;
}

/** Grafana's provisioned datasources. */
function grafanaNeeds(w: Workload): Need[] {
    return w.files.filter(([p]) => /(^|\/)datasources\/[^/]+\.ya?ml$/.test(p)).flatMap(([path, text]) =>
        ((parse(text) ?? {}).datasources ?? []).filter((d: any) => d.url).map((d: any) => {
            const a = addressOf(String(d.url), 80);
            return { from: w.pod, to: destination(a.host, w.pod.namespace, w.namespaces), ports: [a.port], protocol: "TCP" as const, because: `${path}: datasource ${d.name} ${d.url}` };
        }),
    );
}

/** A CloudNativePG Cluster's instances: the API server, the object store its ObjectStore names, and the credentials' source. */
function clusterNeeds(resources: PolicyResource[], clusterPods: Map<string, Pod>): Need[] {
    const out: Need[] = [];
    for (const c of activeClusters(resources)) {
        const pod = clusterPods.get(c.name)!;
        const name = `Cluster ${c.name}`;
        out.push({ from: pod, to: API_SERVER, ports: [443, 6443], protocol: "TCP", because: `${name}: the instance manager watches its Cluster` });
        // a server it streams from (a move from the StatefulSet engine); once promoted, it reads from it no more
        for (const e of c.props.spec?.replica?.enabled === true ? (c.props.spec?.externalClusters ?? []) : []) {
            const host = e.connectionParameters?.host;
            if (host) out.push({ from: pod, to: destination(String(host), pod.namespace, namespacesOf(resources)), ports: [Number(e.connectionParameters.port ?? 5432)], protocol: "TCP", because: `${name}: externalClusters ${e.name} (${host})` });
        }
        for (const plugin of c.props.spec?.plugins ?? []) {
            const storeName = plugin.parameters?.barmanObjectName;
            const store = resources.find((r) => r.type === K8S.objectStore && (r.props.metadata?.name ?? r.name) === storeName);
            const conf = store?.props.spec?.configuration;
            if (!conf?.endpointURL) continue;
            const a = addressOf(String(conf.endpointURL), 443);
            out.push({ from: pod, to: destination(a.host, pod.namespace, namespacesOf(resources)), ports: [a.port], protocol: "TCP", because: `ObjectStore ${storeName}: endpointURL ${conf.endpointURL}` });
            if (conf.s3Credentials?.inheritFromIAMRole) {
                const identity = Object.keys(c.props.spec?.serviceAccountTemplate?.metadata?.annotations ?? {}).length > 0;
                out.push(
                    identity
                        ? { from: pod, to: { externalName: STS.host }, ports: [STS.port], protocol: "TCP", because: `ObjectStore ${storeName}: inheritFromIAMRole with the Cluster's serviceAccountTemplate annotations (web identity, STS)` }
                        : { from: pod, to: { ip: INSTANCE_METADATA.ip }, ports: [INSTANCE_METADATA.port], protocol: "TCP", because: `ObjectStore ${storeName}: inheritFromIAMRole without a workload identity (the node's role, instance metadata)` },
                );
            }
        }
    }
    return out;
}

/** The pods a render makes, with what each mounts; CloudNativePG instances as the operator labels them. */
export function renderedWorkloads(resources: PolicyResource[]): { workloads: Workload[]; clusterPods: Map<string, Pod>; missing: string[] } {
    const missing: string[] = [];
    const namespaces = namespacesOf(resources);
    const workloads = resources.flatMap((r) => {
        const t = podTemplate(r.type, r.props);
        if (!t) return [];
        const pod: Pod = { name: r.name, namespace: r.props.metadata?.namespace ?? "default", labels: t.metadata.labels ?? {}, hostNetwork: t.spec.hostNetwork === true };
        return [{ resource: r, pod, files: mountedFiles(resources, t.spec, missing), serviceAccount: t.spec.serviceAccountName, namespaces }];
    });
    const clusterPods = new Map(
        activeClusters(resources).map((c) => {
            const name = c.props.metadata?.name ?? c.name;
            return [c.name, { name: c.name, namespace: c.props.metadata?.namespace ?? "default", labels: { ...(c.props.spec?.inheritedMetadata?.labels ?? {}), "cnpg.io/cluster": name, "cnpg.io/instanceRole": "primary" }, hostNetwork: false }];
        }),
    );
    return { workloads, clusterPods, missing };
}

/** Every connection the render's configuration implies. */
export function neededConnections(resources: PolicyResource[]): { needs: Need[]; problems: string[]; pods: Pod[] } {
    const { workloads, clusterPods, missing } = renderedWorkloads(resources);
    const problems = missing.map((m) => `${m} is mounted but not in the render: the connections its files imply cannot be judged`);
    const needs: Need[] = [];
    for (const pod of [...workloads.map((w) => w.pod), ...clusterPods.values()].filter((p) => !p.hostNetwork)) {
        needs.push({ from: pod, to: { pod: KUBE_DNS }, ports: [53], protocol: "UDP", because: "name resolution" }, { from: pod, to: { pod: KUBE_DNS }, ports: [53], protocol: "TCP", because: "name resolution" });
    }
    for (const w of workloads) {
        needs.push(...pgbackrestNeeds(w), ...pgbouncerNeeds(w), ...alertmanagerNeeds(w), ...prometheusNeeds(w, workloads), ...grafanaNeeds(w));
        const webId = fileNamed(w.files, "pgbackrest.conf").flatMap(([, t]) => {
            const g = iniSections(t).global ?? {};
            return s3Repositories(g).filter((repo) => g[`${repo}-s3-key-type`] === "web-id");
        })[0];
        const account = resources.find((r) => r.type === "kubernetes:core/v1:ServiceAccount" && (r.props.metadata?.name ?? r.name) === w.serviceAccount && (r.props.metadata?.namespace ?? "default") === w.pod.namespace);
        if (webId && Object.keys(account?.props.metadata?.annotations ?? {}).length === 0)
            problems.push(`${w.pod.name}: pgbackrest.conf says ${webId}-s3-key-type=web-id, but the pods run as ${w.serviceAccount ? `ServiceAccount ${w.serviceAccount}, which carries no annotation binding it to a role` : "no ServiceAccount of their own"}: no web identity token would be projected`);
    }
    needs.push(...clusterNeeds(resources, clusterPods));
    return { needs, problems, pods: [...workloads.map((w) => w.pod), ...clusterPods.values()] };
}

/** The pods a destination stands for: a Service's selected pods (a CloudNativePG `-rw`/`-ro`/`-r` Service: its instances). */
function podsBehind(to: { service: string; namespace: string }, resources: PolicyResource[], pods: Pod[]): Pod[] | undefined {
    const svc = resources.find((r) => r.type === K8S.service && (r.props.metadata?.name ?? r.name) === to.service && (r.props.metadata?.namespace ?? "default") === to.namespace);
    if (svc) {
        const selector: Record<string, string> = svc.props.spec?.selector ?? {};
        return pods.filter((p) => p.namespace === to.namespace && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => p.labels[k] === v));
    }
    const operated = pods.find((p) => p.namespace === to.namespace && p.labels["cnpg.io/cluster"] !== undefined && new RegExp(`^${p.labels["cnpg.io/cluster"]}-(rw|ro|r)$`).test(to.service));
    return operated ? [operated] : undefined;
}

const describe = (to: Need["to"]) => ("loopback" in to ? "loopback" : "pod" in to ? `pod ${to.pod.name}` : "ip" in to ? to.ip : "externalName" in to ? to.externalName : `service ${to.service}.${to.namespace}`);

/** Each needed connection the NetworkPolicies refuse, naming what needs it and what refuses it. */
export function refusedConnections(resources: PolicyResource[]): string[] {
    if (!resources.some((r) => r.type === K8S.networkPolicy)) return [];
    const { needs, problems, pods: rendered } = neededConnections(resources);
    const pods = [KUBE_DNS, ...rendered];
    const model = new NetworkModel(pods, resources);
    const out = [...problems];
    for (const n of needs) {
        if ("loopback" in n.to) continue;
        const targets: Destination[] | undefined = "service" in n.to ? podsBehind(n.to, resources, pods)?.map((pod) => ({ pod })) : [n.to];
        if (!targets || targets.length === 0) {
            out.push(`${n.from.name} -> ${describe(n.to)}:${n.ports.join("|")}, needed by ${n.because}: no pod of the render stands behind that name`);
            continue;
        }
        for (const to of targets) {
            const verdicts = n.ports.map((port) => model.judge(n.from, to, port, n.protocol));
            const refusal = verdicts.every((v) => !v.allowed) ? verdicts[0] : undefined;
            if (refusal && !refusal.allowed) {
                const by = refusal.policies.length ? `NetworkPolicy ${refusal.policies.join(", ")}` : "the policies";
                out.push(`${n.from.name} -> ${describe(to)}:${n.ports.join("|")}/${n.protocol}, needed by ${n.because}: refused by the ${refusal.side} of ${by}`);
            }
        }
    }
    return [...new Set(out)];
}

export const renderedConnections: StackValidationPolicy = {
    name: "rendered-connections",
    description:
        "Every connection the rendered configuration implies (the backup repository and its credentials' source, PgBouncer's servers, Alertmanager's receivers, Prometheus' targets and discovery, Grafana's datasources, CloudNativePG's object store, DNS) is allowed by the source's egress and the destination's ingress NetworkPolicies.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const v of refusedConnections(args.resources)) report(v);
    },
};
