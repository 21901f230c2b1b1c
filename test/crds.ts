/**
 * Validation of custom resources against the CRDs stored in schema/crds/ (the pinned releases'
 * own schemas), as the API server's structural-schema check would: an unknown field is an
 * error here rather than silently pruned.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./root";

type Schema = Record<string, unknown>;

/** Objects that list their properties and do not keep unknown fields are closed, as pruning makes them. */
function closed(schema: Schema): Schema {
    const out: Schema = {};
    for (const [k, v] of Object.entries(schema)) {
        if (k === "properties" && v && typeof v === "object") out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s as Schema)]));
        else if (["items", "additionalProperties"].includes(k) && v && typeof v === "object") out[k] = closed(v as Schema);
        else if (["allOf", "anyOf", "oneOf"].includes(k) && Array.isArray(v)) out[k] = v.map((s) => closed(s as Schema));
        else out[k] = v;
    }
    if (out.type === "object" && out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) out.additionalProperties = false;
    return out;
}

// formats (int32, int64, date-time) are the API server's to check on typed fields; the shape is ours
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

/** Every served version of every stored CRD, by `group/version/Kind`. */
function load(): Map<string, ValidateFunction> {
    const found = new Map<string, ValidateFunction>();
    const dir = join(ROOT, "schema/crds");
    for (const release of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
        for (const file of readdirSync(join(dir, release.name)).filter((f) => f.endsWith(".yaml"))) {
            for (const doc of parseAllDocuments(readFileSync(join(dir, release.name, file), "utf8"))) {
                const crd = doc.toJS();
                if (crd?.kind !== "CustomResourceDefinition") continue;
                for (const v of crd.spec.versions.filter((x: { served: boolean }) => x.served)) {
                    const schema = closed(v.schema.openAPIV3Schema);
                    // metadata is the API server's own (ObjectMeta); the CRD leaves it open
                    found.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile({ ...schema, properties: { ...(schema.properties as Schema), metadata: { type: "object" } } }));
                }
            }
        }
    }
    return found;
}

let validators: Map<string, ValidateFunction> | undefined;

/** The problems a custom resource has against its stored CRD (none: valid); an unknown kind is a problem too. */
export function crdProblems(object: { apiVersion: string; kind: string }): string[] {
    validators ??= load();
    const validate = validators.get(`${object.apiVersion}/${object.kind}`);
    if (!validate) return [`no stored CRD for ${object.apiVersion} ${object.kind}`];
    const kind = object.kind;
    if (validate(object)) return [];
    return (validate.errors ?? []).map((e) => `${kind}${e.instancePath} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
}
