/**
 * What the platform lets a pod or container do beyond its own process: namespaces and
 * their Pod Security level, NetworkPolicy rules, RBAC, exposure outside the cluster,
 * and the Docker equivalents (privileged, host network, published ports, capabilities).
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { POD_SECURITY_LABEL } from "./pod-security";
import { containersOf, DOCKER, EXPOSURE_ANNOTATION, HOST_ACCESS_ANNOTATION, K8S, labelOf, podTemplate, unwrap } from "./resources";
import { isPrivateOrLoopback } from "../facts/addresses";
import { RBAC_REASON_ANNOTATION } from "../facts/annotations";

/**
 * The only images a namespace below `restricted` may run: node-exporter, which reads the
 * node (host PID, network and filesystem), and the proxy that authenticates its scrapes.
 */
export const HOST_DAEMON_IMAGES = ["prom/node-exporter", "quay.io/prometheus/node-exporter", "quay.io/brancz/kube-rbac-proxy"];
const repositoryOf = (image: string) => image.split("@")[0]!.replace(/:[^/:]*$/, "");

export const namespaceOf = (r: PolicyResource) => r.props.metadata?.namespace as string | undefined;

export const namespaceLevels: StackValidationPolicy = {
    name: "namespace-levels",
    description:
        "Every namespace the stack declares enforces Pod Security `restricted`, except the host namespace: it may be `privileged` and admits only node-exporter (and its authenticating proxy), declared as host access. Every workload sits in a namespace the stack declares.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const levels = new Map(args.resources.filter((r) => r.type === K8S.namespace).map((r) => [r.props.metadata?.name as string, r.props.metadata?.labels?.[POD_SECURITY_LABEL] as string | undefined]));
        for (const r of args.resources) {
            const template = podTemplate(r.type, r.props);
            if (!template) continue;
            const ns = namespaceOf(r) ?? "default";
            if (!levels.has(ns)) {
                report(`${r.name} runs in namespace ${ns}, which the stack does not declare (no Pod Security level, no default-deny)`, r.urn);
                continue;
            }
            if (levels.get(ns) === "restricted") continue;
            const foreign = containersOf(template.spec).filter((c) => !HOST_DAEMON_IMAGES.includes(repositoryOf(String(c.image))));
            for (const c of foreign) report(`${r.name}: container ${c.name} (${c.image}) runs in namespace ${ns} at Pod Security ${levels.get(ns)}; only ${HOST_DAEMON_IMAGES.join(", ")} may run below restricted`, r.urn);
            if (!r.props.metadata?.annotations?.[HOST_ACCESS_ANNOTATION]) report(`${r.name} runs in namespace ${ns} at Pod Security ${levels.get(ns)} without declaring why it needs the host (${HOST_ACCESS_ANNOTATION})`, r.urn);
        }
        const hosted = new Set(args.resources.filter((r) => podTemplate(r.type, r.props)).map((r) => namespaceOf(r)));
        for (const [ns, level] of levels) {
            if (level === "restricted") continue;
            if (level !== "privileged" && level !== "baseline") report(`namespace ${ns} enforces ${level ?? "no"} Pod Security level; restricted, or privileged for node-exporter only`);
            else if (!hosted.has(ns)) report(`namespace ${ns} enforces ${level} but holds no host daemon; it must enforce restricted`);
        }
    },
};

interface Peer {
    podSelector?: { matchLabels?: object; matchExpressions?: unknown[] };
    namespaceSelector?: { matchLabels?: object; matchExpressions?: unknown[] };
    ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
    from?: Peer[];
    to?: Peer[];
    ports?: unknown[];
}

const isEmptySelector = (s: Peer["podSelector"]) => s !== undefined && Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
const EVERY_ADDRESS = ["0.0.0.0/0", "::/0"];
/** A peer that stands for anyone: `{}`, every pod of every namespace, every address. */
const isAnyPeer = (p: Peer) =>
    (p.podSelector === undefined && p.namespaceSelector === undefined && p.ipBlock === undefined) ||
    (p.namespaceSelector !== undefined && isEmptySelector(p.namespaceSelector) && (p.podSelector === undefined || isEmptySelector(p.podSelector))) ||
    (p.ipBlock !== undefined && EVERY_ADDRESS.includes(p.ipBlock.cidr) && (p.ipBlock.except ?? []).length === 0);

/** A rule that lets every peer in on every port: no peers or an any-peer, and no ports. */
export function allowsAll(rule: Rule, direction: "from" | "to"): boolean {
    const peers = rule[direction];
    const anyone = peers === undefined || peers.length === 0 || peers.some(isAnyPeer);
    return anyone && (rule.ports === undefined || rule.ports.length === 0);
}

export const networkPolicyRules = (np: PolicyResource): string[] => {
    const out: string[] = [];
    (np.props.spec?.ingress ?? []).forEach((rule: Rule, i: number) => allowsAll(rule, "from") && out.push(`NetworkPolicy ${np.name}: ingress rule ${i} allows every source on every port`));
    (np.props.spec?.egress ?? []).forEach((rule: Rule, i: number) => allowsAll(rule, "to") && out.push(`NetworkPolicy ${np.name}: egress rule ${i} allows every destination on every port`));
    return out;
};

const DANGEROUS_VERBS = ["escalate", "bind", "impersonate"];
const BROAD_ROLES = ["cluster-admin", "admin", "edit"];
const WRITE = ["create", "update", "patch", "delete", "deletecollection"];

/**
 * Grants that reach beyond a workload's own pods without a wildcard or a dangerous verb: each is a
 * way to another workload's credentials or to running code as someone else.
 */
const POWERFUL_GRANTS: { groups: string[]; resources: string[]; verbs: string[]; what: string }[] = [
    { groups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"], what: "reads Secrets" },
    { groups: [""], resources: ["pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "services/proxy", "pods/ephemeralcontainers"], verbs: ["get", "create", "update", "patch"], what: "runs commands in, attaches to or proxies to pods and nodes" },
    { groups: [""], resources: ["serviceaccounts/token", "serviceaccounts"], verbs: ["create", "impersonate"], what: "mints ServiceAccount tokens" },
    { groups: ["", "apps", "batch"], resources: ["pods", "deployments", "statefulsets", "daemonsets", "replicasets", "replicationcontrollers", "jobs", "cronjobs"], verbs: ["create", "update", "patch"], what: "creates or changes workloads (a pod may run as any ServiceAccount of its namespace)" },
    { groups: ["rbac.authorization.k8s.io"], resources: ["roles", "clusterroles", "rolebindings", "clusterrolebindings"], verbs: WRITE, what: "changes RBAC" },
    { groups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings"], verbs: WRITE, what: "changes admission control" },
    { groups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval", "signers"], verbs: ["update", "patch", "approve", "sign"], what: "approves or signs certificates" },
    { groups: ["", "apiextensions.k8s.io"], resources: ["nodes", "namespaces", "persistentvolumes", "customresourcedefinitions"], verbs: WRITE, what: "changes nodes, namespaces, volumes or API types" },
];

/** What a rule grants of POWERFUL_GRANTS, said as a reviewer reads it. */
function powerfulGrants(rule: Record<string, string[] | undefined>): string[] {
    return POWERFUL_GRANTS.filter(
        (g) => (rule.apiGroups ?? []).some((x) => g.groups.includes(x)) && (rule.resources ?? []).some((x) => g.resources.includes(x)) && (rule.verbs ?? []).some((x) => g.verbs.includes(x)),
    ).map((g) => `${g.what} (${JSON.stringify(rule.resources)} ${JSON.stringify(rule.verbs)})`);
}

export const rbac: ResourceValidationPolicy = {
    name: "least-privilege-rbac",
    description: `Roles and ClusterRoles name their API groups, resources and verbs (no \`*\`), grant no escalate, bind or impersonate, aggregate nothing, and grant nothing that reaches other workloads' credentials or code (Secrets, exec and proxies, tokens, workloads, RBAC, admission, certificates, nodes and namespaces) unless they declare why (${RBAC_REASON_ANNOTATION}); bindings go to ServiceAccounts only, never to cluster-admin, admin, edit or a system: role.`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === K8S.role || args.type === K8S.clusterRole) {
            const declared = String(args.props.metadata?.annotations?.[RBAC_REASON_ANNOTATION] ?? "").trim();
            for (const rule of (args.props.rules ?? []) as Record<string, string[] | undefined>[]) {
                for (const field of ["apiGroups", "resources", "verbs", "nonResourceURLs"]) {
                    if ((rule[field] ?? []).some((x) => x.includes("*"))) report(`${args.name}: rule grants ${field} ${JSON.stringify(rule[field])} (a wildcard)`);
                }
                for (const verb of rule.verbs ?? []) if (DANGEROUS_VERBS.includes(verb)) report(`${args.name}: rule grants the ${verb} verb`);
                if (!declared) for (const grant of powerfulGrants(rule)) report(`${args.name}: rule ${grant} without declaring why (${RBAC_REASON_ANNOTATION})`);
            }
            // an aggregated ClusterRole takes the rules of every ClusterRole whose labels match, present and future
            if (args.props.aggregationRule && !declared) report(`${args.name}: aggregates other ClusterRoles' rules (aggregationRule) without declaring why (${RBAC_REASON_ANNOTATION})`);
        }
        if (args.type === K8S.roleBinding || args.type === K8S.clusterRoleBinding) {
            const ref = args.props.roleRef ?? {};
            if (BROAD_ROLES.includes(ref.name) || String(ref.name ?? "").startsWith("system:")) report(`${args.name} binds ${ref.kind} ${ref.name}`);
            for (const s of (args.props.subjects ?? []) as { kind: string; name: string }[]) {
                if (s.kind !== "ServiceAccount") report(`${args.name} binds ${ref.kind} ${ref.name} to ${s.kind} ${s.name}: only a workload's own ServiceAccount (a Group such as system:authenticated is everyone)`);
            }
        }
    },
};


/** Resource types that take traffic from outside the cluster: the Gateway API's, Istio's and Traefik's. */
const EDGE_API = /^kubernetes:(gateway\.networking\.k8s\.io|networking\.istio\.io|traefik\.io|traefik\.containo\.us)\//;

export const exposure: ResourceValidationPolicy = {
    name: "no-public-exposure",
    description: `Nothing reachable from outside the cluster or host unless declared (annotation ${EXPOSURE_ANNOTATION}): no LoadBalancer or NodePort Service, Ingress, Gateway API or mesh route, or externalIPs; no host port or host network unless the workload declares why (${HOST_ACCESS_ANNOTATION}); Docker ports only on loopback or private addresses.`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const declaredExposure = args.props.metadata?.annotations?.[EXPOSURE_ANNOTATION];
        if (args.type === K8S.service && !declaredExposure) {
            if (["LoadBalancer", "NodePort"].includes(args.props.spec?.type)) report(`Service ${args.name} is of type ${args.props.spec.type} without declaring why (${EXPOSURE_ANNOTATION})`);
            if ((args.props.spec?.externalIPs ?? []).length > 0) report(`Service ${args.name} sets externalIPs ${args.props.spec.externalIPs.join(", ")} without declaring why (${EXPOSURE_ANNOTATION})`);
        }
        if (args.type === K8S.ingress && !declaredExposure) report(`Ingress ${args.name} exposes the cluster without declaring why (${EXPOSURE_ANNOTATION})`);
        // the Gateway API's and service meshes' ways in: a Gateway listens outside, a route attaches a Service to one
        if (EDGE_API.test(args.type) && !declaredExposure) report(`${args.type.split(":").pop()} ${args.name} routes traffic from outside the cluster without declaring why (${EXPOSURE_ANNOTATION})`);
        if (args.type === DOCKER.container) {
            const name = args.props.name;
            if (args.props.publishAllPorts) report(`container ${name} publishes every exposed port on every interface (publishAllPorts)`);
            for (const p of (unwrap(args.props.ports) ?? []) as { ip?: string; internal: number; external?: number }[]) {
                if (!p.ip || !isPrivateOrLoopback(p.ip)) report(`container ${name} publishes port ${p.external ?? p.internal} on ${!p.ip || p.ip === "0.0.0.0" || p.ip === "::" ? "every interface" : p.ip}; only loopback or private addresses`);
            }
            return;
        }
        const template = podTemplate(args.type, args.props);
        if (!template) return;
        const declared = args.props.metadata?.annotations?.[HOST_ACCESS_ANNOTATION];
        if (template.spec.hostNetwork && !declared) report(`${args.name} uses the host network without declaring why (${HOST_ACCESS_ANNOTATION})`);
        for (const c of containersOf(template.spec)) for (const p of c.ports ?? []) if (p.hostPort && !declared) report(`container ${c.name} claims hostPort ${p.hostPort}`);
    },
};

export const dockerIsolation: ResourceValidationPolicy = {
    name: "docker-isolation",
    description: `Docker containers are not privileged, drop every capability and add none, run with no-new-privileges and every kernel confinement (seccomp, AppArmor, labels), get no host device, mount no container runtime socket, and mount the host's files or share its network, PID, IPC, user or cgroup namespace only when they declare why (label ${HOST_ACCESS_ANNOTATION}).`,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== DOCKER.container) return;
        const p = args.props;
        const name = p.name;
        if (p.privileged) report(`container ${name} is privileged`);
        const caps = (unwrap(p.capabilities) ?? {}) as { adds?: string[]; drops?: string[] };
        if (!(caps.drops ?? []).includes("ALL")) report(`container ${name} does not drop ALL capabilities`);
        for (const cap of caps.adds ?? []) report(`container ${name} adds capability ${cap}`);
        if (!((p.securityOpts ?? []) as string[]).some((o) => /^no-new-privileges(:true)?$/.test(o))) report(`container ${name} may gain privileges (securityOpts lacks no-new-privileges)`);
        const declared = labelOf(args, HOST_ACCESS_ANNOTATION)?.trim();
        for (const [field, value] of [["networkMode", p.networkMode], ["pidMode", p.pidMode], ["ipcMode", p.ipc], ["usernsMode", p.usernsMode], ["cgroupnsMode", p.cgroupnsMode]] as const) {
            if (value === "host" && !declared) report(`container ${name} shares the host's ${field.replace("Mode", "")} namespace (${field}: host) without declaring why (${HOST_ACCESS_ANNOTATION})`);
        }
        // the kernel's filters off: seccomp, AppArmor, SELinux labels, /proc and /sys masks
        for (const o of (p.securityOpts ?? []) as string[]) if (/^(seccomp|apparmor|systempaths)[=:]unconfined$|^label[=:]disable$/.test(o)) report(`container ${name} turns a kernel confinement off (securityOpts ${o})`);
        const binds = [
            ...((unwrap(p.mounts) ?? []) as { source?: string; type?: string }[]).filter((m) => m.type === "bind").map((m) => m.source),
            ...((unwrap(p.volumes) ?? []) as { hostPath?: string }[]).map((v) => v.hostPath),
        ];
        for (const source of binds) {
            if (!source) continue;
            if (/docker\.sock|containerd\.sock|crio\.sock/.test(source)) report(`container ${name} mounts the container runtime's socket ${source}`);
            else if (!declared) report(`container ${name} mounts the host's ${source} without declaring why (${HOST_ACCESS_ANNOTATION})`);
        }
        if ((p.devices ?? []).length > 0) report(`container ${name} is given host devices`);
    },
};
