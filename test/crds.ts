/**
 * Validation of custom resources against the CRDs of the operator releases stored in operators/ (their
 * own schemas), as the API server's admission would: the structural schema (an unknown field is
 * an error here rather than silently pruned) and the CRD's CEL rules (x-kubernetes-validations;
 * the transition rules, which compare with `oldSelf`, apply to updates only and are left out).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { evaluate } from "@marcbachmann/cel-js";
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

/** The CRD's CEL rules that a value breaks, walking the schema along the value. */
function celProblems(schema: Schema, value: unknown, path: string): string[] {
    if (value === undefined || value === null) return [];
    const out: string[] = [];
    for (const v of (schema["x-kubernetes-validations"] ?? []) as { rule: string; message?: string }[]) {
        if (v.rule.includes("oldSelf")) continue;
        let ok: unknown;
        try {
            ok = evaluate(v.rule, { self: value });
        } catch (e) {
            ok = `cannot be evaluated (${(e as Error).message})`;
        }
        if (ok !== true) out.push(`${path || "/"}: ${v.message ?? v.rule}${typeof ok === "string" ? ` ${ok}` : ""}`);
    }
    const properties = schema.properties as Record<string, Schema> | undefined;
    if (properties && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, sub] of Object.entries(properties)) out.push(...celProblems(sub, (value as Record<string, unknown>)[k], `${path}/${k}`));
    }
    if (schema.items && Array.isArray(value)) value.forEach((item, i) => out.push(...celProblems(schema.items as Schema, item, `${path}/${i}`)));
    if (schema.additionalProperties && typeof schema.additionalProperties === "object" && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, item] of Object.entries(value as Record<string, unknown>)) out.push(...celProblems(schema.additionalProperties as Schema, item, `${path}/${k}`));
    }
    return out;
}

interface Validator {
    structural: ValidateFunction;
    schema: Schema;
}

/** Every served version of every CRD in the stored operator manifests (operators/), by `group/version/Kind`. */
function load(): Map<string, Validator> {
    const found = new Map<string, Validator>();
    const dir = join(ROOT, "operators");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
        for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
            const crd = doc.toJS();
            if (crd?.kind !== "CustomResourceDefinition") continue;
            for (const v of crd.spec.versions.filter((x: { served: boolean }) => x.served)) {
                const schema = closed(v.schema.openAPIV3Schema);
                // metadata is the API server's own (ObjectMeta); the CRD leaves it open
                const structural = ajv.compile({ ...schema, properties: { ...(schema.properties as Schema), metadata: { type: "object" } } });
                found.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, { structural, schema: v.schema.openAPIV3Schema });
            }
        }
    }
    return found;
}

let validators: Map<string, Validator> | undefined;

/** The problems a custom resource has against its stored CRD (none: valid); an unknown kind is a problem too. */
export function crdProblems(object: { apiVersion: string; kind: string }): string[] {
    validators ??= load();
    const validator = validators.get(`${object.apiVersion}/${object.kind}`);
    if (!validator) return [`no stored CRD for ${object.apiVersion} ${object.kind}`];
    const kind = object.kind;
    const validate = validator.structural;
    if (!validate(object)) return (validate.errors ?? []).map((e) => `${kind}${e.instancePath} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
    return celProblems(validator.schema, object, "").map((p) => `${kind}${p}`);
}
