/**
 * The JSON Schema of a `Pulumi.<stack>.yaml` file, generated from the same TypeBox schema
 * ajv checks, for editors (yaml-language-server completes keys and underlines mistakes).
 * It accepts what the loader accepts: values as `pulumi config set --path` writes them.
 */
import { ExternalSecretKeys, SecretKeys, StackConfigSchema } from "./schema";
import { PROVIDER_NAMESPACES } from "./load";
import { NUMERIC_TEXT } from "./coerce";
import { DURATION_PATTERN } from "../configs/format";

type Json = Record<string, unknown>;

/** A duration above zero: at least one non-zero digit. */
const DURATION = `^(?=.*[1-9])${DURATION_PATTERN.slice(1)}`;
const DOC_KEYS = ["description", "default", "examples"];

function split(node: Json): { doc: Json; rest: Json } {
    const doc: Json = {};
    const rest: Json = {};
    for (const [k, v] of Object.entries(node)) (DOC_KEYS.includes(k) ? doc : rest)[k] = v;
    return { doc, rest };
}

/** One schema node made editor-friendly: custom formats as patterns, the CLI's spellings allowed. */
function forEditor(node: Json): Json {
    if (node.type === "object") {
        const children = (node.properties ?? {}) as Record<string, Json>;
        const properties = Object.fromEntries(Object.entries(children).map(([k, v]) => [k, forEditor(v)]));
        // A key with a default may be left out of a stack file.
        const required = ((node.required ?? []) as string[]).filter((k) => children[k]?.default === undefined);
        const out: Json = { ...node, properties };
        delete out.required;
        return required.length > 0 ? { ...out, required } : out;
    }
    const { doc, rest } = split(node);
    if (rest.format === "positive-duration") return { ...doc, type: "string", pattern: DURATION };
    if (rest.format === "pinned-image") return { ...doc, type: "string", anyOf: [{ pattern: ":v?[0-9]+\\.[0-9]+[^/:]*$" }, { pattern: "@sha256:[a-f0-9]{64}$" }] };
    if (rest.type === "number" || rest.type === "integer") return { ...doc, anyOf: [rest, { type: "string", pattern: NUMERIC_TEXT }] };
    if (rest.type === "boolean") return { ...doc, anyOf: [rest, { enum: ["true", "false"] }] };
    if (rest.type === "string" && typeof rest.pattern === "string" && new RegExp(rest.pattern).test("2")) return { ...doc, anyOf: [rest, { type: "number" }] };
    return node;
}

const secure = (description: string): Json => ({
    description: `${description} (set with \`pulumi config set --secret\`)`,
    type: "object",
    properties: { secure: { type: "string" } },
    required: ["secure"],
    additionalProperties: false,
});

export function stackFileSchema(project = "flowviz"): Json {
    const schema = JSON.parse(JSON.stringify(StackConfigSchema)) as Json;
    const sections = Object.entries(schema.properties as Record<string, Json>).map(([k, v]) => [`${project}:${k}`, forEditor(v)]);
    const secrets = Object.entries({ ...SecretKeys, ...ExternalSecretKeys }).map(([k, d]) => [`${project}:${k}`, secure(d)]);
    return {
        $schema: "http://json-schema.org/draft-07/schema#",
        title: `Pulumi stack file of the ${project} project (generated from stack/schema.ts by npm run docs)`,
        type: "object",
        properties: {
            secretsprovider: { type: "string" },
            encryptedkey: { type: "string" },
            encryptionsalt: { type: "string" },
            environment: { description: "Pulumi ESC environments imported by the stack" },
            config: {
                type: "object",
                properties: Object.fromEntries([...sections, ...secrets]),
                required: [`${project}:platform`],
                patternProperties: { [`^(${PROVIDER_NAMESPACES.join("|")}):`]: {} },
                additionalProperties: false,
            },
        },
        additionalProperties: false,
    };
}
