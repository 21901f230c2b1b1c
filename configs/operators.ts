/**
 * The pinned operator releases' objects, read from the manifests stored in operators/ and checked
 * against their recorded checksums: moved into the stack's operator namespace, the Barman Cloud
 * plugin given the images its release build sets, and its cert-manager objects left out (the stack
 * issues the plugin's two certificates itself: components/operators.ts).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CNPG_RELEASES } from "../facts/cloudnative-pg";
import { RBAC_REASON_ANNOTATION } from "../facts/annotations";

/** A Kubernetes object as a manifest holds it. */
export type ManifestObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: any };

/** The namespace the published manifests install into. */
export const PUBLISHED_NAMESPACE = "cnpg-system";
/** The plugin's TLS Secrets as its Deployment mounts them and its Service names them to the operator. */
export const PLUGIN_TLS_SECRETS = { server: "barman-cloud-server-tls", client: "barman-cloud-client-tls" } as const;
/** The plugin's Service: the operator connects to it by this name, which its server certificate carries. */
export const PLUGIN_SERVICE = "barman-cloud";

const REPOSITORY_ROOT = join(__dirname, "..");

/** A stored manifest's objects, or an error naming the file when it is not byte for byte the release's. */
export function releaseObjects(release: { manifest: string; sha256: string; repository: string; tag: string }, root = REPOSITORY_ROOT): ManifestObject[] {
    const text = readFileSync(join(root, release.manifest));
    const sum = createHash("sha256").update(text).digest("hex");
    if (sum !== release.sha256) {
        throw new Error(`${release.manifest} is not ${release.repository} ${release.tag}'s manifest (sha256 ${sum}, recorded ${release.sha256}): restore it from the release (operators/README.md)`);
    }
    return parseAllDocuments(text.toString("utf8"))
        .map((d) => d.toJS() as ManifestObject | null)
        .filter((o): o is ManifestObject => o !== null);
}

/** Every reference to the published namespace, moved to `namespace`. */
function moved(o: ManifestObject, namespace: string): ManifestObject {
    const to = (ns: string | undefined) => (ns === PUBLISHED_NAMESPACE ? namespace : ns);
    const copy: ManifestObject = structuredClone(o);
    if (copy.kind === "Namespace") copy.metadata.name = namespace;
    if (copy.metadata.namespace) copy.metadata.namespace = to(copy.metadata.namespace);
    for (const s of copy.subjects ?? []) s.namespace = to(s.namespace);
    for (const w of copy.webhooks ?? []) if (w.clientConfig?.service) w.clientConfig.service.namespace = to(w.clientConfig.service.namespace);
    const conversion = copy.spec?.conversion?.webhook?.clientConfig?.service;
    if (conversion) conversion.namespace = to(conversion.namespace);
    return copy;
}

const CERT_MANAGER_GROUP = "cert-manager.io/";

/**
 * The operator's and the plugin's objects for `namespace`: the plugin's cert-manager Issuer and
 * Certificates left out, its images the release's, as the release build sets them in the tag's manifest.
 */
/** An operator's Roles and ClusterRoles grant what the operator does (Secrets, pods, RBAC, webhooks): declared as its release's, for the pack and a reviewer. */
function declaredRbac(o: ManifestObject, release: { name: string; tag: string; manifest: string; sha256: string }): ManifestObject {
    if (o.kind !== "Role" && o.kind !== "ClusterRole") return o;
    const reason = `${release.name} ${release.tag}'s own, unchanged from ${release.manifest} (sha256 ${release.sha256.slice(0, 12)})`;
    return { ...o, metadata: { ...o.metadata, annotations: { ...(o.metadata.annotations as object), [RBAC_REASON_ANNOTATION]: reason } } };
}

export function operatorObjects(namespace: string): { operator: ManifestObject[]; plugin: ManifestObject[] } {
    const operator = releaseObjects(CNPG_RELEASES.operator).map((o) => declaredRbac(moved(o, namespace), CNPG_RELEASES.operator));
    if (operator[0]?.kind === "Namespace") {
        // the operator and its plugin run as the restricted Pod Security level allows; the namespace enforces it
        const level = "restricted";
        operator[0].metadata.labels = { ...(operator[0].metadata.labels as object), ...Object.fromEntries(["enforce", "warn", "audit"].map((m) => [`pod-security.kubernetes.io/${m}`, level])) };
    }
    const images = CNPG_RELEASES.plugin.images;
    const plugin = releaseObjects(CNPG_RELEASES.plugin)
        .filter((o) => !o.apiVersion.startsWith(CERT_MANAGER_GROUP))
        .map((o) => declaredRbac(moved(o, namespace), CNPG_RELEASES.plugin))
        .map((o) => {
            if (o.kind === "Deployment") o.spec.template.spec.containers[0].image = images.plugin;
            if (o.kind === "Secret" && o.data?.SIDECAR_IMAGE !== undefined) {
                delete o.data;
                o.stringData = { SIDECAR_IMAGE: images.sidecar };
            }
            return o;
        });
    return { operator, plugin };
}
