/**
 * Kubernetes target: a protected namespace enforcing Pod Security `restricted` with
 * default-deny ingress (host daemons get a `privileged` namespace of their own, with
 * nothing else in it); per service a ConfigMap and a Secret (auto-named, so a content
 * change replaces them and rolls the pods), the workload, a Service, a NetworkPolicy,
 * a PodDisruptionBudget when replicated, and protected PersistentVolumeClaims.
 */
import { scheduledRuns } from "./kubernetes-scheduled";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { input as k8sIn } from "@pulumi/kubernetes/types";
import { ROLLING_UPDATE_SURGE } from "../../stack/capacity";
import { HOST_ACCESS_ANNOTATION } from "../../facts/annotations";
import { opensPort, prepareContainer, SCRAPER, scrapeTargetsOf, serviceLabels, sidecarMounts, VERSION_LABEL, type Deployed, type GracefulStop, type Platform, type ServiceSpec } from "../service";
import { containerFiles, podContainer } from "./kubernetes-container";

/** Name resolution: the cluster DNS in kube-system, on port 53. */
export const DNS_EGRESS: k8sIn.networking.v1.NetworkPolicyEgressRule = {
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
    ports: [
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
    ],
};

export interface KubernetesPlatformArgs {
    namespace: string;
    storageClassName?: string;
    /** where pods may connect beyond the stack's services (kubernetes.egress) */
    egress: { apiServerCidrs: string[]; nodeCidrs: string[] };
    /** operator mode: the namespace whose Prometheus scrapes us (ours otherwise) */
    scraperNamespace?: string;
}

/**
 * Seconds a replicated pod keeps serving after it is told to stop, so that its Service
 * endpoint is removed (kube-proxy, DNS) before it stops accepting connections.
 */
const drainSeconds = (replicas: number) => (replicas > 1 ? 10 : 0);

/**
 * Kubernetes only ever sends SIGTERM; a service that drains on another signal gets it
 * from a preStop hook, which then waits for the process to exit.
 */
function preStopScript(stop: GracefulStop, replicas: number): string {
    const drain = drainSeconds(replicas);
    return [...(drain > 0 ? [`sleep ${drain}`] : []), `kill -${stop.signal.replace(/^SIG/, "")} 1`, "while kill -0 1 2>/dev/null; do sleep 1; done"].join("; ");
}

/**
 * Roll without losing capacity: one extra pod first, none fewer. A pod holding a
 * ReadWriteOnce claim cannot overlap with its replacement, so it is recreated instead.
 */
function rollout(spec: ServiceSpec): k8sIn.apps.v1.DeploymentStrategy {
    if ((spec.volumes ?? []).length > 0) return { type: "Recreate" };
    return { type: "RollingUpdate", rollingUpdate: { maxSurge: ROLLING_UPDATE_SURGE, maxUnavailable: 0 } };
}

/** The namespace of host daemons (node-exporter): Pod Security `privileged`, nothing else in it. */
export const hostNamespaceOf = (namespace: string) => `${namespace}-host`;

export class KubernetesPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "kubernetes" as const;
    readonly listenAddress = "0.0.0.0";
    readonly namespace: k8s.core.v1.Namespace;
    private hostNamespace?: k8s.core.v1.Namespace;
    /** every service deployed, for the egress policies (finish) */
    private readonly deployed = new Map<string, { spec: ServiceSpec; parent: pulumi.Resource }>();
    /** namespace of each deployed service, by service name */
    private readonly namespaceOfService = new Map<string, string>();
    readonly scraped: Platform["scraped"] = [];

    constructor(private readonly name: string, private readonly args: KubernetesPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:platform:Kubernetes", name, {}, opts);
        this.namespace = this.newNamespace(name, args.namespace, "restricted");
        this.registerOutputs({ namespace: this.namespace.metadata.name });
    }

    /**
     * A namespace enforcing a Pod Security level, behind default-deny ingress. Protected:
     * deleting it would delete the volume claims in it.
     */
    private newNamespace(prefix: string, namespace: string, level: "restricted" | "privileged"): k8s.core.v1.Namespace {
        const ns = new k8s.core.v1.Namespace(
            `${prefix}-namespace`,
            {
                metadata: {
                    name: namespace,
                    labels: {
                        "app.kubernetes.io/part-of": "flowviz",
                        "pod-security.kubernetes.io/enforce": level,
                        "pod-security.kubernetes.io/warn": level,
                        "pod-security.kubernetes.io/audit": level,
                    },
                },
            },
            { parent: this, protect: true, retainOnDelete: true },
        );
        new k8s.networking.v1.NetworkPolicy(
            `${prefix}-default-deny`,
            { metadata: { name: "default-deny", namespace: ns.metadata.name }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
            { parent: this },
        );
        return ns;
    }

    /** Where a service's objects go: host daemons in the host namespace, everything else in ours. */
    private namespaceFor(spec: ServiceSpec): { name: string; output: pulumi.Output<string> } {
        if (!spec.hostRootfs) return { name: this.args.namespace, output: this.namespace.metadata.name };
        const name = hostNamespaceOf(this.args.namespace);
        this.hostNamespace ??= this.newNamespace(`${this.name}-host`, name, "privileged");
        return { name, output: this.hostNamespace.metadata.name };
    }

    private serviceNamespace(service: string): string {
        return this.namespaceOfService.get(service) ?? this.args.namespace;
    }

    hostOf(service: string): string {
        return `${service}.${this.serviceNamespace(service)}.svc.cluster.local`;
    }

    peerHostsOf(service: string, replicas: number): string[] {
        return Array.from({ length: replicas }, (_, i) => `${service}-${i}.${service}-peers.${this.serviceNamespace(service)}.svc.cluster.local`);
    }

    namesOf(service: string): { dnsNames: string[]; ipAddresses: string[] } {
        const ns = this.serviceNamespace(service);
        return { dnsNames: [`${service}.${ns}.svc.cluster.local`, `${service}.${ns}.svc`, `${service}.${ns}`, service], ipAddresses: [] };
    }

    /** Pods, not Services: behind a load-balanced Service the counters of different pods would mix. */
    discovery(service: string, port: number): Record<string, unknown> {
        return {
            kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [this.serviceNamespace(service)] } }],
            relabel_configs: [
                { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: service, action: "keep" },
                { source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: String(port), action: "keep" },
                { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
                { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], target_label: "service" },
                { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
                { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
            ],
        };
    }

    /** Who may scrape metrics ports: our Prometheus, or in operator mode the monitoring namespace's. */
    private scraperPeer(): k8sIn.networking.v1.NetworkPolicyPeer {
        const ns = this.args.scraperNamespace;
        return ns ? { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } } : { podSelector: { matchLabels: this.selector(SCRAPER) } };
    }

    /** A ClusterRole bound to one service account; cluster-wide names carry the namespace. */
    private clusterRole(name: string, namespace: string, sa: k8s.core.v1.ServiceAccount, rules: k8sIn.rbac.v1.PolicyRule[], opts: pulumi.CustomResourceOptions): void {
        const metadata = { name: `${namespace}-${name}`, labels: { "app.kubernetes.io/part-of": "flowviz" } };
        const role = new k8s.rbac.v1.ClusterRole(name, { metadata, rules }, opts);
        new k8s.rbac.v1.ClusterRoleBinding(
            name,
            { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name }, subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }] },
            opts,
        );
    }

    /** Labels that select the pods of one service. */
    selector(service: string): Record<string, string> {
        return { "app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "flowviz" };
    }

    /**
     * One egress NetworkPolicy per workload, the mirror of the ingress ones: DNS, the services
     * that list it in reachableFrom (on their ports), what it scrapes if it is our Prometheus
     * (pods, the nodes' node-exporter, the API server for discovery), and the outside
     * addresses its spec declares. Nothing else leaves a pod: the namespace denies egress by default.
     */
    finish(): void {
        const peer = (service: string, from: string): k8sIn.networking.v1.NetworkPolicyPeer => {
            const ns = this.serviceNamespace(service);
            const pods = { podSelector: { matchLabels: this.selector(service) } };
            return ns === this.serviceNamespace(from) ? pods : { ...pods, namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } };
        };
        const { apiServerCidrs, nodeCidrs } = this.args.egress;
        for (const { spec, parent } of this.deployed.values()) {
            if (spec.hostRootfs) continue; // host network: NetworkPolicies do not apply
            const rules: k8sIn.networking.v1.NetworkPolicyEgressRule[] = [DNS_EGRESS];
            for (const { spec: target } of this.deployed.values()) {
                const ports = (target.ports ?? []).filter((p) => opensPort(target, p, spec.name)).map((p) => ({ port: p.port }));
                if (ports.length) rules.push({ to: [peer(target.name, spec.name)], ports });
            }
            if (spec.name === SCRAPER && !this.args.scraperNamespace) {
                for (const s of this.scraped) {
                    const target = this.deployed.get(s.service)!.spec;
                    rules.push(target.hostRootfs ? { to: nodeCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: s.target.port }] } : { to: [peer(s.service, spec.name)], ports: [{ port: s.target.port }] });
                }
                rules.push({ to: apiServerCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: 443 }, { port: 6443 }] });
            }
            // a pod's sidecars share its network: the spec declares for all of them
            for (const e of spec.egress ?? []) {
                const rule = { to: e.cidrs.map((cidr) => ({ ipBlock: { cidr, except: e.except } })), ports: e.ports.map((port) => ({ port })) };
                // two reasons for one rule (the object store and STS, both public on 443) make one rule
                if (!rules.some((r) => JSON.stringify(r) === JSON.stringify(rule))) rules.push(rule);
            }
            new k8s.networking.v1.NetworkPolicy(
                `${spec.name}-egress`,
                {
                    metadata: { name: `${spec.name}-egress`, namespace: this.serviceNamespace(spec.name), labels: { "app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": "flowviz" } },
                    spec: { podSelector: { matchLabels: this.selector(spec.name) }, policyTypes: ["Egress"], egress: rules },
                },
                { parent },
            );
        }
    }

    /** Who may open connections to a service's pods: the services in its reachableFrom on its ports, the scraper on its metrics ports. */
    private ingressPolicy(spec: ServiceSpec, metadata: k8sIn.meta.v1.ObjectMeta, scraped: Platform["scraped"], opts: pulumi.CustomResourceOptions): void {
        const open = (spec.ports ?? []).filter((p) => !p.from);
        const scrapedPorts = scraped.map((t) => t.target.port);
        const pods = (services: string[]) => services.map((s) => ({ podSelector: { matchLabels: this.selector(s) } }));
        new k8s.networking.v1.NetworkPolicy(
            `${spec.name}-ingress`,
            {
                metadata,
                spec: {
                    podSelector: { matchLabels: this.selector(spec.name) },
                    policyTypes: ["Ingress"],
                    ingress: [
                        ...((spec.reachableFrom ?? []).length && open.length ? [{ from: pods(spec.reachableFrom!), ports: open.map((p) => ({ port: p.port })) }] : []),
                        // a port with callers of its own (an operator's status port)
                        ...(spec.ports ?? [])
                            .filter((p) => p.from)
                            .map((p) => ({
                                from: [...(p.from!.namespaces ?? []).map((ns) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } })), ...pods(p.from!.services ?? [])],
                                ports: [{ port: p.port }],
                            })),
                        ...(scrapedPorts.length ? [{ from: [this.scraperPeer()], ports: scrapedPorts.map((port) => ({ port })) }] : []),
                    ],
                },
            },
            opts,
        );
    }

    /** An operator's pods (workload `operated`): their NetworkPolicies and scrape target; the operator makes the rest. */
    private admitOperated(spec: ServiceSpec, parent: pulumi.Resource): Deployed {
        if (spec.hostRootfs || (spec.volumes ?? []).length || (spec.files ?? []).length) throw new Error(`${spec.name}: an operated service's pods, volumes and files are its operator's`);
        this.namespaceOfService.set(spec.name, this.args.namespace);
        const stable = Object.fromEntries(Object.entries(serviceLabels(spec)).filter(([k]) => k !== VERSION_LABEL));
        const scraped = scrapeTargetsOf(spec, spec.replicas);
        this.ingressPolicy(spec, { name: spec.name, namespace: this.namespace.metadata.name, labels: stable }, scraped, { parent });
        this.scraped.push(...scraped);
        return { readyWhen: [] };
    }

    /** A service's persistent volume: protected, and kept in the cluster when it leaves the stack. */
    private claim(service: string, v: { name: string; size: string }, ns: pulumi.Input<string>, labels: Record<string, string>, parent: pulumi.Resource): k8s.core.v1.PersistentVolumeClaim {
        return new k8s.core.v1.PersistentVolumeClaim(
            `${service}-${v.name}`,
            {
                metadata: { name: `${service}-${v.name}`, namespace: ns, labels },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    storageClassName: this.args.storageClassName,
                    resources: { requests: { storage: v.size } },
                },
            },
            { parent, protect: true, retainOnDelete: true },
        );
    }

    /** A service that no longer runs: its volumes stay declared (protected, as they were), nothing else of it. */
    retire(spec: ServiceSpec, parent: pulumi.Resource): void {
        const stable = Object.fromEntries(Object.entries(serviceLabels(spec)).filter(([k]) => k !== VERSION_LABEL));
        const ns = this.namespaceFor(spec).output;
        for (const v of [...(spec.volumes ?? []), ...(spec.retainedVolumes ?? [])]) this.claim(spec.name, v, ns, stable, parent);
    }

    deploy(spec: ServiceSpec, parent: pulumi.Resource): Deployed {
        const opts = { parent };
        this.deployed.set(spec.name, { spec, parent });
        if (spec.workload === "operated") return this.admitOperated(spec, parent);
        if (spec.hostRootfs && !spec.hostAccessReason) throw new Error(`${spec.name}: a host daemon must say why it needs the host (hostAccessReason)`);
        const namespace = this.namespaceFor(spec);
        const ns = namespace.output;
        this.namespaceOfService.set(spec.name, namespace.name);
        const labels = serviceLabels(spec);
        // The version label goes on the workload and its pods only: on a ConfigMap, Secret, claim, Service,
        // NetworkPolicy or budget it would make an image bump an update of each of them (noise in every diff).
        const stable = Object.fromEntries(Object.entries(labels).filter(([k]) => k !== VERSION_LABEL));
        const main = containerFiles(spec, "config", ns, stable, opts);
        const volumes: k8sIn.core.v1.Volume[] = [...main.volumes];
        const mounts: k8sIn.core.v1.VolumeMount[] = [...main.mounts];
        (spec.scratch ?? []).forEach((dir, i) => {
            volumes.push({ name: `scratch-${i}`, emptyDir: {} });
            mounts.push({ name: `scratch-${i}`, mountPath: dir });
        });
        if (spec.sharedMemory) {
            volumes.push({ name: "shm", emptyDir: { medium: "Memory", sizeLimit: spec.sharedMemory } });
            mounts.push({ name: "shm", mountPath: "/dev/shm" });
        }
        for (const e of spec.ephemeralVolumes ?? []) {
            const claim = { accessModes: ["ReadWriteOnce"], storageClassName: this.args.storageClassName, resources: { requests: { storage: e.size } } };
            volumes.push({ name: e.name, ephemeral: { volumeClaimTemplate: { metadata: { labels: stable }, spec: claim } } });
            mounts.push({ name: e.name, mountPath: e.mountPath });
        }
        const claim = (v: { name: string; size: string }) => this.claim(spec.name, v, ns, stable, parent);
        for (const v of spec.volumes ?? []) {
            if (spec.replicas > 1) throw new Error(`${spec.name}: a service with a persistent volume runs one replica`);
            volumes.push({ name: v.name, persistentVolumeClaim: { claimName: claim(v).metadata.name } });
            mounts.push({ name: v.name, mountPath: v.mountPath });
        }
        for (const kept of spec.retainedVolumes ?? []) claim(kept);
        if (spec.hostRootfs) {
            volumes.push({ name: "host-root", hostPath: { path: "/" } });
            mounts.push({ name: "host-root", mountPath: spec.hostRootfs, readOnly: true, mountPropagation: "HostToContainer" });
        }

        // one ServiceAccount per service that needs one: for the API permissions below, or for the cloud role its annotations bind
        const sa =
            spec.discoversPods || spec.reviewsTokens || spec.workloadIdentity
                ? new k8s.core.v1.ServiceAccount(`${spec.name}-sa`, { metadata: { name: spec.name, namespace: ns, labels: stable, annotations: spec.workloadIdentity } }, opts)
                : undefined;
        if (sa && spec.discoversPods) {
            // read pods wherever scraped services run: our namespace and, when there is one, the host daemons'
            const watched: [string, pulumi.Output<string>][] = [["", ns], ...(this.hostNamespace ? [["-host", this.hostNamespace.metadata.name] as [string, pulumi.Output<string>]] : [])];
            for (const [suffix, where] of watched) {
                const role = new k8s.rbac.v1.Role(
                    `${spec.name}-discovery${suffix}`,
                    { metadata: { name: `${spec.name}-discovery`, namespace: where, labels: stable }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }] },
                    opts,
                );
                new k8s.rbac.v1.RoleBinding(
                    `${spec.name}-discovery${suffix}`,
                    {
                        metadata: { name: `${spec.name}-discovery`, namespace: where, labels: stable },
                        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: namespace.name }],
                    },
                    opts,
                );
            }
            // GET /metrics behind an authenticating proxy (node-exporter's): a cluster-wide permission, on that URL only
            if (this.scraped.some((t) => t.target.authenticated)) this.clusterRole(`${spec.name}-metrics`, namespace.name, sa, [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }], opts);
        }
        if (sa && spec.reviewsTokens) {
            this.clusterRole(
                `${spec.name}-auth`,
                namespace.name,
                sa,
                [
                    { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
                    { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
                ],
                opts,
            );
        }
        const serviceAccountName = sa?.metadata.name;
        const container: k8sIn.core.v1.Container = {
            ...podContainer(spec, main.env, mounts, { hasData: (spec.volumes ?? []).length > 0 }),
            lifecycle: spec.stop ? { preStop: { exec: { command: ["/bin/sh", "-c", preStopScript(spec.stop, spec.replicas)] } } } : undefined,
        };
        const prepare = prepareContainer(spec);
        const sidecars = (spec.sidecars ?? []).map((sidecar) => {
            const config = containerFiles(sidecar, `config-${sidecar.name}`, ns, stable, opts);
            volumes.push(...config.volumes);
            return podContainer(sidecar, config.env, [...config.mounts, ...sidecarMounts(spec, sidecar)], { sidecarOf: spec });
        });
        const podSpec: k8sIn.core.v1.PodSpec = {
            initContainers: prepare ? [podContainer(prepare, main.env, mounts, { hasData: false })] : undefined,
            containers: [container, ...sidecars],
            volumes,
            serviceAccountName,
            automountServiceAccountToken: spec.discoversPods === true || spec.reviewsTokens === true,
            enableServiceLinks: false,
            hostPID: spec.hostRootfs ? true : undefined,
            hostNetwork: spec.hostRootfs ? true : undefined,
            securityContext: spec.runAs
                ? {
                      runAsNonRoot: true,
                      runAsUser: spec.runAs.user,
                      runAsGroup: spec.runAs.group,
                      fsGroup: spec.runAs.group,
                      seccompProfile: { type: "RuntimeDefault" },
                  }
                : { seccompProfile: { type: "RuntimeDefault" } },
            restartPolicy: spec.workload === "job" ? "OnFailure" : undefined,
            terminationGracePeriodSeconds: spec.stop ? spec.stop.graceSeconds + drainSeconds(spec.replicas) : undefined,
            // Replicas on different nodes (and zones) where the cluster allows it, so one node's loss takes one replica.
            topologySpreadConstraints:
                spec.replicas > 1
                    ? ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
                          topologyKey,
                          maxSkew: 1,
                          whenUnsatisfiable: "ScheduleAnyway",
                          labelSelector: { matchLabels: this.selector(spec.name) },
                      }))
                    : undefined,
        };
        const template = { metadata: { labels }, spec: podSpec };
        const selector = { matchLabels: this.selector(spec.name) };
        const metadata = {
            name: spec.name,
            namespace: ns,
            labels,
            annotations: spec.hostAccessReason ? { [HOST_ACCESS_ANNOTATION]: spec.hostAccessReason } : undefined,
        };
        let workload: pulumi.CustomResource;
        switch (spec.workload) {
            case "deployment":
                workload = new k8s.apps.v1.Deployment(spec.name, { metadata, spec: { replicas: spec.replicas, selector, template, strategy: rollout(spec) } }, { ...opts, dependsOn: spec.startsAfter });
                break;
            case "statefulset":
                if (spec.peers) {
                    // the governing Service: headless, every pod listed ready or not, so each has its own name from the start
                    new k8s.core.v1.Service(
                        `${spec.name}-peers`,
                        { metadata: { name: `${spec.name}-peers`, namespace: ns, labels: stable }, spec: { clusterIP: "None", publishNotReadyAddresses: true, selector: this.selector(spec.name), ports: (spec.ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.name })) } },
                        opts,
                    );
                }
                workload = new k8s.apps.v1.StatefulSet(
                    spec.name,
                    { metadata, spec: { replicas: spec.replicas, serviceName: spec.peers ? `${spec.name}-peers` : spec.name, selector, template, ...(spec.peers ? { podManagementPolicy: "Parallel" } : {}) } },
                    { ...opts, dependsOn: spec.startsAfter },
                );
                break;
            case "daemonset":
                workload = new k8s.apps.v1.DaemonSet(spec.name, { metadata, spec: { selector, template } }, opts);
                break;
            case "job":
                workload = new k8s.batch.v1.Job(
                    spec.name,
                    { metadata: { namespace: ns, labels }, spec: { backoffLimit: 20, ttlSecondsAfterFinished: 86400, template } },
                    { ...opts, deleteBeforeReplace: true },
                );
                break;
            case "scheduled":
                workload = scheduledRuns(spec, { namespace: ns, labels }, template, opts)[0]!;
                break;
        }

        const ports = spec.ports ?? [];
        const scraped = scrapeTargetsOf(spec, spec.workload === "daemonset" ? undefined : spec.replicas);
        if (ports.length > 0 && spec.workload !== "job" && spec.workload !== "scheduled") {
            new k8s.core.v1.Service(
                `${spec.name}-service`,
                {
                    metadata: { ...metadata, labels: stable },
                    spec: { selector: this.selector(spec.name), ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name })) },
                },
                opts,
            );
            this.ingressPolicy(spec, { ...metadata, labels: stable }, scraped, opts);
        }
        if (spec.replicas > 1 && (spec.workload === "deployment" || spec.workload === "statefulset")) {
            new k8s.policy.v1.PodDisruptionBudget(`${spec.name}-pdb`, { metadata: { ...metadata, labels: stable }, spec: { maxUnavailable: 1, selector } }, opts);
        }
        this.scraped.push(...scraped);
        return { readyWhen: [workload] };
    }
}
