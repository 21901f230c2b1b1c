/** Reading rendered Kubernetes and Docker resources: type tokens, pod templates, files. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { ENV_CREDENTIALS_LABEL, EXPOSURE_ANNOTATION, HOST_ACCESS_ANNOTATION } from "../facts/annotations";
export { ENV_CREDENTIALS_LABEL, EXPOSURE_ANNOTATION, HOST_ACCESS_ANNOTATION };

export const K8S = {
    namespace: "kubernetes:core/v1:Namespace",
    crd: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
    configMap: "kubernetes:core/v1:ConfigMap",
    secret: "kubernetes:core/v1:Secret",
    service: "kubernetes:core/v1:Service",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
    pod: "kubernetes:core/v1:Pod",
    cnpgCluster: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    objectStore: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
} as const;

export const DOCKER = {
    container: "docker:index/container:Container",
    volume: "docker:index/volume:Volume",
    image: "docker:index/remoteImage:RemoteImage",
} as const;

export const WORKLOADS: readonly string[] = [K8S.deployment, K8S.statefulSet, K8S.daemonSet, K8S.job, K8S.cronJob, K8S.pod];

/** The pod template of a Kubernetes workload (or the pod itself). */
export function podTemplate(type: string, props: any): { metadata: any; spec: any } | undefined {
    if (!WORKLOADS.includes(type)) return undefined;
    if (type === K8S.pod) return { metadata: props.metadata ?? {}, spec: props.spec ?? {} };
    const template = type === K8S.cronJob ? props.spec?.jobTemplate?.spec?.template : props.spec?.template;
    return template ? { metadata: template.metadata ?? {}, spec: template.spec ?? {} } : undefined;
}

/** A label of a Docker container, a workload's pods or any other object. */
export function labelOf(r: { type: string; props: any }, key: string): string | undefined {
    if (r.type === DOCKER.container) return ((unwrap(r.props.labels) as { label: string; value: string }[] | undefined) ?? []).find((l) => l.label === key)?.value;
    return podTemplate(r.type, r.props)?.metadata?.labels?.[key] ?? r.props.metadata?.labels?.[key];
}

/** Whether the stack deploys a workload or Docker container of this app.kubernetes.io/component (database, pooler, ...). */
export function deploysComponent(resources: { type: string; props: any }[], component: string): boolean {
    return resources.some((r) => (r.type === DOCKER.container || podTemplate(r.type, r.props)) && labelOf(r, "app.kubernetes.io/component") === component);
}

export const containersOf = (spec: any): any[] => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];

/**
 * `key = value` lines by `[section]` (pgbouncer.ini's `databases` and `pgbouncer`;
 * postgresql.conf has only the unnamed section ""), comments skipped, quotes removed.
 */
export function iniSections(text: string): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = { "": {} };
    let section = out[""]!;
    for (const line of text.split("\n")) {
        const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
        if (header) section = out[header[1]!] ??= {};
        const m = /^\s*([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(line);
        if (m && !line.trimStart().startsWith("#") && !line.trimStart().startsWith(";")) section[m[1]!] = m[2]!.replace(/^'(.*)'$/, "$1");
    }
    return out;
}

/** The repositories a pgbackrest.conf's global section names, as pgBackRest numbers them (`repo1`, `repo2`, ...), with their type. */
export const pgbackrestRepositories = (global: Record<string, string>): { repo: string; type: string }[] =>
    Object.keys(global).flatMap((k) => (/^repo\d+-type$/.test(k) ? [{ repo: k.slice(0, -"-type".length), type: global[k]! }] : []));

/** A value as the engine hands it over: a secret arrives wrapped ({<signature>, value}). */
export const unwrap = (v: unknown): unknown => (v !== null && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);

/** Every copy of a generated file of the stack, wherever the platform put it (a ConfigMap or Secret key, a Docker upload), with where it was found. */
export function findFiles(resources: { type: string; name?: string; props: any }[], fileName: string): { where: string; text: string }[] {
    const named = ([k]: [string, unknown]) => k === fileName || k.endsWith(`__${fileName}`);
    const out: { where: string; text: string }[] = [];
    for (const r of resources) {
        const where = (key: string) => `${r.name ?? r.type}: ${key}`;
        if (r.type === K8S.configMap) for (const [k, v] of Object.entries(r.props.data ?? {}).filter(named)) out.push({ where: where(k), text: String(v) });
        if (r.type === K8S.secret) {
            for (const [k, v] of Object.entries((unwrap(r.props.stringData) ?? {}) as Record<string, unknown>).filter(named)) out.push({ where: where(k), text: String(unwrap(v)) });
            for (const [k, v] of Object.entries((unwrap(r.props.data) ?? {}) as Record<string, unknown>).filter(named)) out.push({ where: where(k), text: Buffer.from(String(unwrap(v)), "base64").toString("utf8") });
        }
        if (r.type === DOCKER.container) {
            for (const u of ((unwrap(r.props.uploads) ?? []) as { file: string; content: unknown }[]).filter((x) => x.file.endsWith(`/${fileName}`))) out.push({ where: where(u.file), text: String(unwrap(u.content)) });
        }
    }
    return out;
}

/** A generated file of the stack, wherever the platform put it (the first copy found). */
export const findFile = (resources: { type: string; props: any }[], fileName: string): string | undefined => findFiles(resources, fileName)[0]?.text;

/** One container as the policies read it on either platform: its image, command line and plain environment. */
export interface ContainerView {
    name: string;
    image: string;
    args: string[];
    env: Record<string, string>;
}

/** The containers of a workload or Docker container; other resources have none. */
export function containerViews(r: { type: string; props: any }): ContainerView[] {
    if (r.type === DOCKER.container) {
        const entries = ((unwrap(r.props.envs) ?? []) as unknown[]).map((e) => String(unwrap(e)));
        const env = Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
        return [{ name: String(r.props.name), image: String(r.props.image), args: [...(r.props.entrypoints ?? []), ...(r.props.command ?? [])].map(String), env }];
    }
    return containersOf(podTemplate(r.type, r.props)?.spec).map((c) => ({
        name: String(c.name),
        image: String(c.image),
        args: [...(c.command ?? []), ...(c.args ?? [])].map(String),
        env: Object.fromEntries((c.env ?? []).filter((e: any) => e.value !== undefined).map((e: any) => [e.name, String(unwrap(e.value))])),
    }));
}

/**
 * A mandatory policy over one generated file: it refuses a deployed component whose file it
 * cannot find (fails closed), otherwise reports what the file lets through.
 */
export function generatedFilePolicy(p: { name: string; description: string; file: string; component: string; checks: string; violations: (text: string) => string[] }): StackValidationPolicy {
    return {
        name: p.name,
        description: p.description,
        enforcementLevel: "mandatory",
        validateStack: (args, report) => {
            const text = findFile(args.resources, p.file);
            if (text === undefined) {
                if (deploysComponent(args.resources, p.component)) report(`${p.file}: not found in any ConfigMap, Secret or upload, so ${p.checks} cannot be checked`);
                return;
            }
            for (const v of p.violations(text)) report(v);
        },
    };
}

/** The CloudNativePG Clusters that run (a hibernated one, kept after a restore, has no pods). */
export const activeClusters = <R extends { type: string; props: any }>(resources: R[]): R[] =>
    resources.filter((r) => r.type === K8S.cnpgCluster && r.props.metadata?.annotations?.["cnpg.io/hibernation"] !== "on");
/** Clusters that take writes: running, and not a replica of another server (a Cluster still streaming from the StatefulSet it moves from). */
export const servingClusters = <R extends { type: string; props: any }>(resources: R[]): R[] => activeClusters(resources).filter((r) => r.props.spec?.replica?.enabled !== true);
