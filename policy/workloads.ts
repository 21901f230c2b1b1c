/**
 * What a workload is handed besides its own configuration: the Secrets it references (its own
 * only), the Kubernetes API token it mounts (only where a binding gives it a use), and where its
 * data lives (a database's data directory on a protected claim, never a scratch directory or the
 * node's disk).
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { HOST_ACCESS_ANNOTATION } from "../facts/annotations";
import { containersOf, containerViews, DOCKER, K8S, podTemplate, unwrap } from "./resources";

const NAME = "app.kubernetes.io/name";
type Ref = { name: string; keys: string[]; how: string };

/** Every Secret a pod template reads: mounted (plain or projected), in an env value, or whole as env. */
export function secretReferences(spec: any): Ref[] {
    const out: Ref[] = [];
    const keys = (items?: { key: string }[]) => (items ?? []).map((i) => i.key);
    for (const v of spec?.volumes ?? []) {
        if (v.secret && !v.secret.optional) out.push({ name: String(v.secret.secretName), keys: keys(v.secret.items), how: `volume ${v.name}` });
        for (const s of v.projected?.sources ?? []) if (s.secret && !s.secret.optional) out.push({ name: String(s.secret.name), keys: keys(s.secret.items), how: `volume ${v.name}` });
    }
    for (const c of containersOf(spec)) {
        for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (ref && !ref.optional) out.push({ name: String(ref.name), keys: [ref.key], how: `container ${c.name} env ${e.name}` });
        }
        for (const f of c.envFrom ?? []) if (f.secretRef && !f.secretRef.optional) out.push({ name: String(f.secretRef.name), keys: [], how: `container ${c.name} envFrom` });
    }
    return out;
}

/** The render's Secret a reference names: its declared name, or its auto-name (`<resource>-<suffix>`) holding the keys read. */
function secretNamed(resources: PolicyResource[], ref: Ref): PolicyResource | undefined {
    return resources.find((r) => {
        if (r.type !== K8S.secret) return false;
        const declared = r.props.metadata?.name ?? r.name;
        if (ref.name !== declared && !ref.name.startsWith(`${r.name}-`)) return false;
        const data = { ...(r.props.data ?? {}), ...(r.props.stringData ?? {}) };
        return ref.keys.every((k) => k in data);
    });
}

export const workloadSecrets: StackValidationPolicy = {
    name: "workload-secrets",
    description:
        "A workload references only its own Secrets (labelled with its own app.kubernetes.io/name), never another service's (the superuser's password, another role's, a private key), and mounts a Kubernetes API token only when its ServiceAccount is bound to a Role it uses.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const bound = new Set(
            args.resources
                .filter((r) => r.type === K8S.roleBinding || r.type === K8S.clusterRoleBinding)
                .flatMap((b) => ((b.props.subjects ?? []) as { kind: string; name: string; namespace?: string }[]).filter((s) => s.kind === "ServiceAccount").map((s) => `${s.namespace ?? b.props.metadata?.namespace}/${s.name}`)),
        );
        for (const r of args.resources) {
            const template = podTemplate(r.type, r.props);
            if (!template) continue;
            const own = template.metadata.labels?.[NAME];
            for (const ref of secretReferences(template.spec)) {
                const secret = secretNamed(args.resources, ref);
                // a Secret the render does not hold is an operator's or the cluster's: the pod would not start without it, and nothing here can say whose it is
                if (!secret) continue;
                const owner = secret.props.metadata?.labels?.[NAME];
                if (owner !== own) report(`${r.name} reads Secret ${secret.name} (${ref.how}), which is ${owner ?? "no service"}'s, not its own (${own}): hand it a Secret of its own with only what it needs`, r.urn);
            }
            const namespace = r.props.metadata?.namespace;
            const account = template.spec.serviceAccountName ?? "default";
            if (template.spec.automountServiceAccountToken !== false && !bound.has(`${namespace}/${account}`)) {
                report(`${r.name} mounts a Kubernetes API token (automountServiceAccountToken is not false) though no binding gives ServiceAccount ${account} anything to do: set automountServiceAccountToken: false`, r.urn);
            }
        }
    },
};

/** Where a database keeps its data, by the variable its image reads. */
const DATA_DIRECTORIES = ["PGDATA"];

export const dataVolumes: StackValidationPolicy = {
    name: "data-volumes",
    description: `A database's data directory (PGDATA) is on a PersistentVolumeClaim the stack protects, never an emptyDir or ephemeral volume (lost with the pod); no pod mounts the node's filesystem (hostPath) unless it declares why (${HOST_ACCESS_ANNOTATION}).`,
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const claims = args.resources.filter((r) => r.type === K8S.pvc);
        for (const r of args.resources.filter((x) => x.type === DOCKER.container)) {
            const env = containerViews(r)[0]?.env ?? {};
            for (const variable of DATA_DIRECTORIES) {
                const path = env[variable];
                if (path === undefined) continue;
                const mount = ((unwrap(r.props.volumes) ?? []) as { containerPath: string; volumeName?: string }[]).filter((v) => path.startsWith(v.containerPath)).sort((a, b) => b.containerPath.length - a.containerPath.length)[0];
                const volume = mount?.volumeName && args.resources.find((v) => v.type === DOCKER.volume && (v.props.name ?? v.name) === mount.volumeName);
                if (!volume) report(`container ${r.props.name}: ${variable} ${path} is not on a Docker volume of the stack: the database is lost with the container`, r.urn);
                else if (!volume.opts?.protect) report(`container ${r.props.name}: ${variable} is on volume ${mount!.volumeName}, which is not protected`, r.urn);
            }
        }
        for (const r of args.resources) {
            const template = podTemplate(r.type, r.props);
            if (!template) continue;
            const volumes = new Map(((template.spec.volumes ?? []) as any[]).map((v) => [v.name, v]));
            const declared = String(r.props.metadata?.annotations?.[HOST_ACCESS_ANNOTATION] ?? "").trim();
            for (const v of volumes.values()) if (v.hostPath && !declared) report(`${r.name} mounts the node's ${v.hostPath.path} (hostPath volume ${v.name}) without declaring why (${HOST_ACCESS_ANNOTATION})`, r.urn);
            // a one-shot run (a restore drill) may keep its copy on a volume of its own that goes with it
            if (r.type === K8S.cronJob || r.type === K8S.job) continue;
            for (const c of containersOf(template.spec)) {
                for (const e of c.env ?? []) {
                    if (!DATA_DIRECTORIES.includes(e.name) || e.value === undefined) continue;
                    const mount = ((c.volumeMounts ?? []) as { name: string; mountPath: string }[]).filter((m) => String(e.value).startsWith(m.mountPath)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
                    const volume = mount && volumes.get(mount.name);
                    const claimName = volume?.persistentVolumeClaim?.claimName;
                    const claim = claimName && claims.find((p) => (p.props.metadata?.name ?? p.name) === claimName);
                    if (!claim) report(`${r.name}: ${e.name} ${e.value} is on ${mount ? `volume ${mount.name} (${Object.keys(volume ?? {}).filter((k) => k !== "name").join(", ") || "not declared"})` : "the container's own filesystem"}, not a PersistentVolumeClaim of the stack: the database is lost with the pod`, r.urn);
                    else if (!claim.opts?.protect) report(`${r.name}: ${e.name} is on claim ${claimName}, which is not protected`, r.urn);
                }
            }
        }
    },
};
