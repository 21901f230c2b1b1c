/** docs/CONFIG.md, generated from the schema so it can never drift from what is validated. */
import type { TSchema } from "@sinclair/typebox";
import { ExternalSecretKeys, SecretKeys, StackConfigSchema } from "./schema";
import { INVARIANTS } from "./invariants";

interface Node {
    type?: string;
    description?: string;
    default?: unknown;
    properties?: Record<string, Node>;
    required?: string[];
    anyOf?: { const: unknown }[];
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    exclusiveMaximum?: number;
    pattern?: string;
    examples?: string[];
    format?: string;
}

function allowed(n: Node): string {
    if (n.anyOf) return n.anyOf.map((o) => `\`${String(o.const)}\``).join(", ");
    if (n.format === "pinned-image") return "image pinned by a version tag or digest (not `latest`, `main`, `nightly`, a bare major)";
    if (n.format === "positive-duration") return `duration above zero, like ${(n.examples ?? []).map((e) => `\`${e}\``).join(", ")}`;
    if (n.format) return n.format;
    if (n.pattern) {
        const pattern = `\`${n.pattern.replace(/\|/g, "\\|")}\``;
        return n.examples ? `like ${n.examples.map((e) => `\`${e}\``).join(", ")}: ${pattern}` : pattern;
    }
    const low = n.minimum ?? n.exclusiveMinimum;
    const high = n.maximum ?? n.exclusiveMaximum;
    if (low !== undefined || high !== undefined) {
        return `${n.exclusiveMinimum !== undefined ? "(" : "["}${low ?? ""}..${high ?? ""}${n.exclusiveMaximum !== undefined ? ")" : "]"}`;
    }
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
        "Set in `Pulumi.<stack>.yaml` under the `flowviz:` namespace, e.g. `pulumi config set --path flowviz:pgbouncer.replicas 2 -s prod`.",
        "Every key is validated before anything is created: an unknown key, a wrong type or a value out of range fails",
        "the run with the key path, the value and what is allowed; all problems are listed at once. The invariants",
        "below are checked next and print their arithmetic. `npm run check -- --stack <name>` runs all of it without",
        "rendering and prints the derived budgets. Editors that read `yaml-language-server` modelines complete and check",
        "keys from `schema/stack.schema.json` (generated from the same schema).",
        "",
        "Values are read as `pulumi config set --path` writes them: it stores `true`/`false` as booleans, integers as",
        "numbers and everything else, decimals included, as text. So a number may be given as text (`\"0.3\"`), a CPU",
        "quantity as a number (`2`), and a boolean as `\"true\"`/`\"false\"`; anything else of the wrong type is refused",
        "with the command that sets it right. Ranges: `[a..b]` includes its ends, `(a..b)` excludes them.",
        "",
        "| key | type | default | allowed | description |",
        "|---|---|---|---|---|",
    ];
    rows("", schema, schema.required ?? [], out);
    out.push("", "## Secrets", "", "Set with `pulumi config set --secret flowviz:<key> <value> -s <stack>` (at least 16 characters). Any left unset is generated", "with `@pulumi/random` (32 characters) and kept encrypted in the stack state.", "", "| key | what |", "|---|---|");
    for (const [k, d] of Object.entries(SecretKeys)) out.push(`| \`${k}\` | ${d} |`);
    out.push("", "Never generated; required when the receiver that uses them is configured:", "", "| key | what |", "|---|---|");
    for (const [k, d] of Object.entries(ExternalSecretKeys)) out.push(`| \`${k}\` | ${d} |`);
    out.push("", "## Invariants", "", "Checked over the whole stack before anything is created (`stack/invariants.ts`).", "", "| invariant | rule | override |", "|---|---|---|");
    for (const inv of INVARIANTS) out.push(`| ${inv.title} | ${inv.rule.replace(/\|/g, "\\|")} | ${inv.override ? `\`${inv.override}\`` : ""} |`);
    return out.join("\n") + "\n";
}
