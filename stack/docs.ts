/** docs/CONFIG.md, generated from the schema so it can never drift from what is validated. */
import type { TSchema } from "@sinclair/typebox";
import { SecretKeys, StackConfigSchema } from "./schema";

interface Node {
    type?: string;
    description?: string;
    default?: unknown;
    properties?: Record<string, Node>;
    required?: string[];
    anyOf?: { const: unknown }[];
    minimum?: number;
    maximum?: number;
    pattern?: string;
    examples?: string[];
    format?: string;
}

function allowed(n: Node): string {
    if (n.anyOf) return n.anyOf.map((o) => `\`${String(o.const)}\``).join(", ");
    if (n.format === "pinned-image") return "image pinned by tag or digest (not `latest`)";
    if (n.format) return n.format;
    if (n.pattern) {
        const pattern = `\`${n.pattern.replace(/\|/g, "\\|")}\``;
        return n.examples ? `like ${n.examples.map((e) => `\`${e}\``).join(", ")}: ${pattern}` : pattern;
    }
    if (n.minimum !== undefined || n.maximum !== undefined) return `${n.minimum ?? ""}..${n.maximum ?? ""}`;
    return n.type ?? "";
}

function rows(prefix: string, node: Node, required: string[], out: string[]): void {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
        const path = `${prefix}${key}`;
        if (child.properties) {
            rows(`${path}.`, child, child.required ?? [], out);
            continue;
        }
        const def = child.default !== undefined ? `\`${JSON.stringify(child.default)}\`` : required.includes(key) ? "**required**" : "unset";
        out.push(`| \`${path}\` | ${child.type ?? "enum"} | ${def} | ${allowed(child)} | ${child.description ?? ""} |`);
    }
}

export function configDocs(): string {
    const schema = StackConfigSchema as TSchema as Node;
    const out = [
        "# Stack configuration",
        "",
        "<!-- Generated from stack/schema.ts by `npm run docs`; a test fails when this file is stale. -->",
        "",
        "Set in `Pulumi.<stack>.yaml` under the `flowviz:` namespace, e.g. `pulumi config set --path flowviz:pgbouncer.replicas 2`.",
        "Every key is validated before anything is created: an unknown key, a wrong type or a value out of range fails",
        "the run with the key path, the value and what is allowed; all problems are listed at once. The capacity",
        "invariants in `stack/capacity.ts` are checked next and print their arithmetic.",
        "",
        "| key | type | default | allowed | description |",
        "|---|---|---|---|---|",
    ];
    rows("", schema, schema.required ?? [], out);
    out.push("", "## Secrets", "", "Set with `pulumi config set --secret <key> <value>` (at least 16 characters). Any left unset is generated", "with `@pulumi/random` (32 characters) and kept encrypted in the stack state.", "", "| key | what |", "|---|---|");
    for (const [k, d] of Object.entries(SecretKeys)) out.push(`| \`${k}\` | ${d} |`);
    return out.join("\n") + "\n";
}
