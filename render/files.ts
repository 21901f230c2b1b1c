/**
 * The files a deployment would upload, taken from the recorded resource inputs (never
 * re-generated), so a render can never differ from what would be deployed.
 */
import { posix } from "node:path";
import { autoName, type RecordedResource } from "./program";
import { CONFIG_DIR_LABEL, FILE_MODE } from "../components/service";

/** The SDK's marker on a secret value inside deserialized inputs. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface RenderedFile {
    service: string;
    /** path relative to the service's config folder */
    path: string;
    content: string;
    secret: boolean;
}

export function isSecretBox(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && SECRET_SIG in v;
}

/** Every leaf replaced by `[secret]`, the shape kept (a Secret's keys are not secret; its object stays an object). */
function maskLeaves(v: unknown): unknown {
    if (isSecretBox(v)) return maskLeaves(v.value);
    if (Array.isArray(v)) return v.map(maskLeaves);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskLeaves(x)]));
    return "[secret]";
}

/**
 * A deep copy with every secret value replaced by `[secret]` (keeping maps and lists as
 * such, so the plan stays valid against the Kubernetes schema), or unwrapped when `show`.
 */
export function maskSecrets(v: unknown, show: boolean): unknown {
    if (isSecretBox(v)) return show ? maskSecrets(v.value, show) : maskLeaves(v.value);
    if (Array.isArray(v)) return v.map((x) => maskSecrets(x, show));
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskSecrets(x, show)]));
    return v;
}

const unwrap = (v: unknown) => (isSecretBox(v) ? { value: v.value, secret: true } : { value: v, secret: false });

function commonDir(paths: string[]): string {
    const dirs = paths.map((p) => posix.dirname(p).split("/"));
    const first = dirs[0] ?? [];
    let n = 0;
    while (n < first.length && dirs.every((d) => d[n] === first[n])) n++;
    return first.slice(0, n).join("/") || "/";
}

function dockerFiles(resources: RecordedResource[]): RenderedFile[] {
    const out: RenderedFile[] = [];
    for (const r of resources.filter((x) => x.type === "docker:index/container:Container")) {
        const uploads = unwrap(r.inputs.uploads);
        const list = (uploads.value ?? []) as { file: string; content: unknown; permissions: string }[];
        if (list.length === 0) continue;
        const labels = (r.inputs.labels ?? []) as { label: string; value: string }[];
        const service = labels.find((l) => l.label === "app.kubernetes.io/name")?.value ?? r.name;
        const base = labels.find((l) => l.label === CONFIG_DIR_LABEL)?.value ?? commonDir(list.map((u) => u.file));
        for (const u of list) {
            const c = unwrap(u.content);
            // One secret file makes the whole uploads list secret; the mode tells which file it was.
            out.push({ service, path: posix.relative(base, u.file), content: String(c.value), secret: c.secret || u.permissions === FILE_MODE.secret });
        }
    }
    return out;
}

/** The pod template of a workload the platform declares (a CronJob's inside its job template); none for other objects. */
function podTemplateOf(r: RecordedResource): any {
    if (!r.type.startsWith("kubernetes:")) return undefined;
    const spec = r.inputs.spec as any;
    if (r.type.endsWith(":CronJob")) return spec.jobTemplate.spec.template;
    return ["Deployment", "StatefulSet", "DaemonSet", "Job"].some((k) => r.type.endsWith(`:${k}`)) ? spec.template : undefined;
}

function kubernetesFiles(resources: RecordedResource[]): RenderedFile[] {
    const byName = new Map<string, RecordedResource>();
    for (const r of resources.filter((x) => x.type === "kubernetes:core/v1:ConfigMap" || x.type === "kubernetes:core/v1:Secret")) {
        byName.set(`${r.type}::${autoName(r.name)}`, r);
    }
    const out: RenderedFile[] = [];
    // a scheduled service's CronJobs share one pod template (and its deploy Job, when it has one): its files once
    const templates = resources.map(podTemplateOf).filter((t) => t !== undefined);
    const seen = new Set<string>();
    for (const template of templates) {
        const service: string = template.metadata.labels["app.kubernetes.io/name"];
        if (seen.has(service)) continue;
        seen.add(service);
        for (const vol of template.spec.volumes ?? []) {
            // a sidecar's files are in a volume named after it (components/platform/kubernetes.ts)
            const owner: string = vol.name.startsWith("config-") ? vol.name.slice("config-".length) : service;
            for (const src of vol.projected?.sources ?? []) {
                const ref = src.configMap ?? src.secret;
                const kind = src.configMap ? "kubernetes:core/v1:ConfigMap" : "kubernetes:core/v1:Secret";
                const obj = byName.get(`${kind}::${ref.name}`);
                if (!obj) throw new Error(`${service}: ${kind} ${ref.name} is not in the plan`);
                const data = unwrap(src.configMap ? obj.inputs.data : obj.inputs.stringData);
                for (const item of ref.items as { key: string; path: string }[]) {
                    const c = unwrap((data.value as Record<string, unknown>)[item.key]);
                    out.push({ service: owner, path: item.path, content: String(c.value), secret: data.secret || c.secret || !!src.secret });
                }
            }
        }
    }
    return out;
}

/** Every generated file of the plan, by service. */
export function renderedFiles(resources: RecordedResource[]): RenderedFile[] {
    return [...dockerFiles(resources), ...kubernetesFiles(resources)].sort((a, b) =>
        `${a.service}/${a.path}`.localeCompare(`${b.service}/${b.path}`),
    );
}
