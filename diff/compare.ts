/**
 * Two renders of a stack compared resource by resource (identity: type, name, parent):
 * what is created, updated (which inputs, before and after), replaced (and why) or
 * deleted; the generated files line by line; the stack outputs. Secret values are
 * compared but never carried out of here: a changed secret is only marked as such.
 */
import { createTwoFilesPatch } from "diff";
import { autoName, type RecordedResource } from "../render/program";
import { isSecretBox, maskSecrets, SECRET_SIG, type RenderedFile } from "../render/files";
import { replacementReason } from "./replacement";
import { podTemplate } from "../policy/resources";

export interface Snapshot {
    resources: RecordedResource[];
    outputs: Record<string, unknown>;
    secretOutputs: string[];
    files: RenderedFile[];
}

export type Action = "create" | "update" | "replace" | "delete";

export interface PropertyChange {
    path: string;
    /** display values; undefined when absent on that side; never a secret's value */
    before?: unknown;
    after?: unknown;
    secret: boolean;
    /** why this change replaces the resource */
    replaces?: string;
}

export interface ResourceChange {
    key: string;
    type: string;
    name: string;
    parent?: string;
    action: Action;
    changes: PropertyChange[];
    protect: boolean;
    deleteBeforeReplace: boolean;
    base?: RecordedResource;
    head?: RecordedResource;
}

export interface FileChange {
    file: string;
    action: "create" | "update" | "delete";
    secret: boolean;
    /** unified diff of the file (a secret file's with its credentials masked; empty when only they changed) */
    patch: string;
}

const isBox = isSecretBox;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !isBox(v);

/** Keys that identify list items, so a list reads `containers[postgres]` and an insertion shifts nothing. */
const ITEM_KEYS = ["name", "file", "label"];

function itemKey(item: unknown): string | undefined {
    if (typeof item === "string") return /^[A-Za-z_][A-Za-z0-9_]*=/.test(item) ? item.slice(0, item.indexOf("=")) : undefined;
    if (!isObject(item)) return undefined;
    const k = ITEM_KEYS.find((f) => typeof item[f] === "string");
    return k ? String(item[k]) : undefined;
}

/** A list as key -> item when every item has a distinct key; otherwise by index. */
function keyed(list: unknown[]): Map<string, unknown> | undefined {
    const keys = list.map(itemKey);
    if (keys.some((k) => k === undefined) || new Set(keys).size !== keys.length) return undefined;
    return new Map(keys.map((k, i) => [k!, list[i]]));
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (isObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
const holdsSecret = (v: unknown): boolean => isBox(v) || (Array.isArray(v) ? v.some(holdsSecret) : isObject(v) ? Object.values(v).some(holdsSecret) : false);

/**
 * Every differing leaf between two values. Inside a secret the structure (keys, item
 * names) is followed so a reviewer sees what changed, but no value is shown.
 */
export function diffValues(a: unknown, b: unknown, path: string, out: PropertyChange[], secret = false): void {
    const inSecret = secret || isBox(a) || isBox(b);
    const x = isBox(a) ? a.value : a;
    const y = isBox(b) ? b.value : b;
    const join = (k: string) => (path ? `${path}.${k}` : k);
    if (isObject(x) && isObject(y)) {
        for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) diffValues(x[k], y[k], join(k), out, inSecret);
        return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
        const kx = keyed(x);
        const ky = keyed(y);
        if (kx && ky) {
            for (const k of [...new Set([...kx.keys(), ...ky.keys()])].sort()) diffValues(kx.get(k), ky.get(k), `${path}[${k}]`, out, inSecret);
        } else {
            for (let i = 0; i < Math.max(x.length, y.length); i++) diffValues(x[i], y[i], `${path}[${i}]`, out, inSecret);
        }
        return;
    }
    if (stable(maskSecrets(x, true)) === stable(maskSecrets(y, true))) return;
    const hidden = inSecret || holdsSecret(x) || holdsSecret(y);
    const mask = (v: unknown) => (v === undefined ? undefined : "[secret]");
    out.push(hidden ? { path, before: mask(x), after: mask(y), secret: true } : { path, before: x, after: y, secret: false });
}

export const identity = (r: RecordedResource) => `${r.type}::${r.name}::${r.parent ?? ""}`;

export function compareResources(base: RecordedResource[], head: RecordedResource[]): { changes: ResourceChange[]; unchanged: number } {
    const before = new Map(base.map((r) => [identity(r), r]));
    const after = new Map(head.map((r) => [identity(r), r]));
    const changes: ResourceChange[] = [];
    let unchanged = 0;
    for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const b = before.get(key);
        const h = after.get(key);
        const r = (h ?? b)!;
        const common = { key, type: r.type, name: r.name, parent: r.parent, protect: (b ?? h)!.protect, deleteBeforeReplace: r.deleteBeforeReplace, base: b, head: h };
        if (!b) {
            changes.push({ ...common, action: "create", changes: [] });
            continue;
        }
        if (!h) {
            changes.push({ ...common, action: "delete", changes: [] });
            continue;
        }
        const props: PropertyChange[] = [];
        diffValues(b.inputs, h.inputs, "", props);
        if (props.length === 0) {
            unchanged++;
            continue;
        }
        for (const p of props) p.replaces = replacementReason(r.type, p.path);
        changes.push({ ...common, action: props.some((p) => p.replaces) ? "replace" : "update", changes: props });
    }
    const rolled = rolledByReplacedFiles(changes, head, before);
    return { changes: [...changes, ...rolled].sort((a, b) => a.key.localeCompare(b.key)), unchanged: unchanged - rolled.length };
}

const MOUNTED_FILES = ["kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"];
/** The change a workload gets when what it mounts is replaced (it has no field of its own that changed). */
export const MOUNTED_FILES_PATH = "spec.template (mounted files)";

/** Names of the ConfigMaps and Secrets a pod template mounts or reads. */
function referencedObjects(r: RecordedResource): string[] {
    const spec = podTemplate(r.type, maskSecrets(r.inputs, true))?.spec;
    if (!spec) return [];
    const names: string[] = [];
    for (const v of spec.volumes ?? []) {
        for (const s of v.projected?.sources ?? []) names.push(s.configMap?.name ?? s.secret?.name);
        names.push(v.configMap?.name, v.secret?.secretName);
    }
    for (const c of spec.containers ?? []) for (const e of c.env ?? []) names.push(e.valueFrom?.secretKeyRef?.name, e.valueFrom?.configMapKeyRef?.name);
    return names.filter((n): n is string => typeof n === "string");
}

/**
 * A workload the render shows unchanged though it mounts a ConfigMap or Secret that is replaced:
 * deployed, an auto-named replacement has a new name, so the pod template changes and the pods roll.
 * Each such change names the object (`before`), which the restart findings quote: the one place
 * that reads what a workload mounts.
 */
function rolledByReplacedFiles(changes: ResourceChange[], head: RecordedResource[], before: Map<string, RecordedResource>): ResourceChange[] {
    const replaced = new Set(changes.filter((c) => c.action === "replace" && MOUNTED_FILES.includes(c.type)).map((c) => (c.base!.inputs as { metadata?: { name?: string } }).metadata?.name ?? autoName(c.name)));
    if (replaced.size === 0) return [];
    const changed = new Set(changes.map((c) => c.key));
    return head.flatMap((w) => {
        const key = identity(w);
        const mounts = changed.has(key) || !before.has(key) ? [] : referencedObjects(w).filter((n) => replaced.has(n));
        if (mounts.length === 0) return [];
        const change: ResourceChange = { key, type: w.type, name: w.name, parent: w.parent, protect: w.protect, deleteBeforeReplace: w.deleteBeforeReplace, base: before.get(key), head: w, action: "update", changes: [] };
        change.changes = mounts.map((n) => ({ path: MOUNTED_FILES_PATH, before: n, after: `${n}, replaced: the pods roll`, secret: false }));
        return [change];
    });
}

const CREDENTIAL_LINES: [RegExp, string][] = [
    // SCRAM verifiers (roles.sql, userlist.txt)
    [/SCRAM-SHA-256\$[^'"\s]+/g, "<SCRAM verifier>"],
    // Valkey ACL password hashes
    [/#[0-9a-f]{64}\b/g, "#<password hash>"],
    // credentials in URLs
    [/(:\/\/[^:/\s@]+:)[^@\s]+@/g, "$1<secret>@"],
    // key: value and key = value settings that hold a credential (YAML, ini, conf)
    [/^(\s*[\w.-]*(?:pass(?:word)?|secret|token|api_url|key-secret|s3-key|cipher-pass)[\w.-]*\s*[:=]\s*).+$/gim, "$1<secret>"],
    // anything else that looks random: 20+ letters and digits
    [/\b(?=[A-Za-z0-9+=_-]*\d)(?=[A-Za-z0-9+=_-]*[A-Za-z])[A-Za-z0-9+=_-]{20,}/g, "<secret>"],
];

/** A secret file's text with every credential in it masked: what a reviewer may see of it. */
export function maskCredentials(text: string): string {
    return CREDENTIAL_LINES.reduce((t, [pattern, mask]) => t.replace(pattern, mask), text);
}

export function compareFiles(base: RenderedFile[], head: RenderedFile[]): FileChange[] {
    const name = (f: RenderedFile) => `${f.service}/${f.path}`;
    const before = new Map(base.map((f) => [name(f), f]));
    const after = new Map(head.map((f) => [name(f), f]));
    const out: FileChange[] = [];
    for (const file of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const b = before.get(file);
        const h = after.get(file);
        if (b && h && b.content === h.content) continue;
        const secret = (b?.secret ?? false) || (h?.secret ?? false);
        const action = !b ? "create" : !h ? "delete" : "update";
        // a secret file is compared with its credentials masked: the reviewer sees what else changed
        const shown = (f?: RenderedFile) => (secret ? maskCredentials(f?.content ?? "") : (f?.content ?? ""));
        const [x, y] = [shown(b), shown(h)];
        const patch = x === y ? "" : createTwoFilesPatch(`a/${file}`, `b/${file}`, x, y, undefined, undefined, { context: 3 }).split("\n").slice(1).join("\n");
        out.push({ file, action, secret, patch });
    }
    return out;
}

export function compareOutputs(base: Snapshot, head: Snapshot): PropertyChange[] {
    const wrap = (s: Snapshot) => Object.fromEntries(Object.entries(s.outputs).map(([k, v]) => [k, s.secretOutputs.includes(k) ? { [SECRET_SIG]: SECRET_SIG, value: v } : v]));
    const out: PropertyChange[] = [];
    diffValues(wrap(base), wrap(head), "", out);
    return out;
}
