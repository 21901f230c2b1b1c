/**
 * Reads a stack's raw configuration (the `project:key` -> string map Pulumi hands
 * the program), validates it against the schema and the capacity invariants, and
 * returns the typed config with every default filled in. Problems are collected,
 * not thrown one by one, so a user sees all of them at once.
 */
import Ajv, { type ErrorObject } from "ajv";
import { CNPG_FULL_SCHEDULE, ExternalSecretKeys, StackConfigSchema, SecretKeys, type ExternalSecretKey, type StackConfig, type SecretKey } from "./schema";
import { checkInvariants } from "./invariants";
import { isPinnedImage } from "../facts/images";
export { isPinnedImage } from "../facts/images";
import { coerceToSchema, type Coercion, type SchemaNode } from "./coerce";
import { durationSeconds } from "../configs/format";
import { cronProblem, isCron } from "./schedule";
import { backupRepository } from "./engine";

export class ConfigError extends Error {
    constructor(readonly problems: string[], stack: string) {
        super(
            `Stack "${stack}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}; nothing was created:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}


const FORMAT_HELP: Record<string, string> = {
    "pinned-image": "an image pinned by a version tag (major.minor at least) or a digest, e.g. `postgres:17.12-trixie` (never `latest`, `main`, `edge`, `nightly`, a bare major, or untagged)",
    ipv4: "an IPv4 address",
    uri: "an http(s) URL",
    "positive-duration": "a duration above zero, like 15s, 2m, 1h30m, 30d",
    cron: "a cron schedule of five fields (minute hour day-of-month month day-of-week, UTC) as Kubernetes' CronJobs read it (day of week 0-6, no L, W, # or ?), like `0 1 * * 0`",
};

const TYPE_NAMES: Record<string, string> = {
    integer: "a whole number",
    number: "a number",
    string: "a string",
    boolean: "true or false",
    object: "a map of keys",
    array: "a list",
};

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
ajv.addFormat("pinned-image", isPinnedImage);
ajv.addFormat("uri", /^https?:\/\/[^\s/$.?#][^\s]*$/);
ajv.addFormat("positive-duration", (d: string) => (durationSeconds(d) ?? 0) > 0);
ajv.addFormat("cron", isCron);
ajv.addFormat("ipv4", /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/);
const validate = ajv.compile<StackConfig>(StackConfigSchema);

/** Config namespaces other than the project's that a stack file may hold: the engine's and the providers'. */
export const PROVIDER_NAMESPACES = ["pulumi", "docker", "kubernetes", "random"];

function keyPath(project: string, instancePath: string): string {
    return `${project}:` + instancePath.slice(1).split("/").join(".");
}

/** For a bare number where a unit is wanted (`15` for a duration, `2048` for a size), the command that sets it with the unit. */
function unitHint(data: unknown, key: string, stack: string, unit: string | undefined): string {
    if (unit === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(String(data))) return "";
    return `; with its unit: pulumi config set --path ${key} ${String(data)}${unit} -s ${stack}`;
}

/** The number a human wrote with a suffix or separators ("2k" is 2000, "1,000" and "1 000" are 1000), if that is what it is. */
function numberMeant(text: string): number | undefined {
    const m = /^\s*([0-9]+(?:[.][0-9]+)?|[0-9]{1,3}(?:[, ][0-9]{3})+)\s*([kKmM])?\s*$/.exec(text);
    if (!m) return undefined;
    const value = Number(m[1]!.replace(/[, ]/g, "")) * (m[2] ? (m[2].toLowerCase() === "k" ? 1000 : 1_000_000) : 1);
    return Number.isFinite(value) ? value : undefined;
}

/** How to write a value of the wanted type, for a type error. */
function typeHint(type: string, key: string, stack: string, example: unknown, data?: unknown): string {
    const set = (value: unknown, flag: string) => `pulumi config set --path ${key} ${String(value)}${flag} -s ${stack}`;
    switch (type) {
        case "integer":
        case "number": {
            // "2k", "1.5M", "1,000", "1 000": the number it stands for; otherwise only an example (the default)
            const meant = typeof data === "string" ? numberMeant(data) : undefined;
            const float = type === "number" ? " (newer CLIs: --type float), or write it unquoted in YAML" : "";
            if (meant !== undefined && (type === "number" || Number.isInteger(meant))) return `; write the number itself: ${set(meant, "")}${float}`;
            return `; write a number without units or separators${example === undefined ? "" : ` (the default is ${String(example)})`}: ${set("<number>", "")}${float}`;
        }
        case "boolean":
            return `; set it with ${set(true, "")}`;
        case "string":
            return `; quote it in YAML, or set it with ${set(JSON.stringify(example ?? "..."), " --type string")}`;
        case "object":
            return `; nest the keys in YAML, or set each with pulumi config set --path ${key}.<name> <value> -s ${stack}`;
        default:
            return "";
    }
}

interface DescribeContext {
    project: string;
    stack: string;
    /** what the stack file held where a value was read as another type */
    originals: Map<string, unknown>;
}

function describe(err: ErrorObject, ctx: DescribeContext): string {
    const project = ctx.project;
    const where = keyPath(project, err.instancePath);
    const data = ctx.originals.has(err.instancePath) ? ctx.originals.get(err.instancePath) : err.data;
    const got = data === undefined ? "" : ` is ${JSON.stringify(data)}:`;
    const p = err.params as Record<string, unknown>;
    switch (err.keyword) {
        case "additionalProperties": {
            const allowed = Object.keys((err.parentSchema as { properties?: object }).properties ?? {});
            const at = err.instancePath ? `${where}.` : `${project}:`;
            const key = String(p.additionalProperty);
            const nesting = key.includes(".") ? ` (a dotted key is one literal name: nest it in YAML, or use pulumi config set --path ${project}:${key} <value> -s ${ctx.stack})` : "";
            // at the top level a key may also be a credential, set as a secret
            const secrets = err.instancePath ? "" : `; secrets (pulumi config set --secret): ${[...Object.keys(SecretKeys), ...Object.keys(ExternalSecretKeys)].join(", ")}`;
            return `${at}${key}: unknown key; allowed here: ${allowed.join(", ")}${secrets}${nesting}`;
        }
        case "required":
            return `${err.instancePath ? `${where}.` : `${project}:`}${String(p.missingProperty)}: is required`;
        case "format": {
            const unit = p.format === "positive-duration" ? "s" : undefined;
            const which = p.format === "cron" && typeof data === "string" ? ` ${cronProblem(data)};` : "";
            return `${where}${got}${which} must be ${FORMAT_HELP[String(p.format)] ?? String(p.format)}${unitHint(data, where, ctx.stack, unit)}`;
        }
        case "pattern": {
            const { description, examples } = err.parentSchema as { description?: string; examples?: string[] };
            const like = examples ? `must look like ${examples.join(", ")} (pattern ${String(p.pattern)})` : `must match ${String(p.pattern)}`;
            const unit = examples?.map((e) => /^[0-9.]+([A-Za-z]+)$/.exec(String(e))?.[1]).find((u) => u !== undefined);
            // a URL where a host is asked for: the scheme is the mistake
            const host = typeof data === "string" ? /^[a-z]+:\/\/([^/]+)\/?$/i.exec(data)?.[1] : undefined;
            if (host && new RegExp(String(p.pattern)).test(host)) return `${where}${got} drop the scheme: a host[:port] is asked for here; pulumi config set --path ${where} ${host} -s ${ctx.stack}`;
            return `${where}${got} ${like}${description ? `: ${description}` : ""}${unitHint(data, where, ctx.stack, unit)}`;
        }
        case "type": {
            const type = String(p.type);
            const example = (err.parentSchema as { default?: unknown; examples?: unknown[] }).default ?? (err.parentSchema as { examples?: unknown[] }).examples?.[0];
            return `${where}${got} must be ${TYPE_NAMES[type] ?? type}${typeHint(type, where, ctx.stack, example, data)}`;
        }
        case "anyOf": {
            const options = ((err.schema as { const?: unknown }[]) ?? []).map((s) => JSON.stringify(s.const));
            return `${where}${got} must be one of ${options.join(", ")}`;
        }
        default:
            return `${where}${got} ${err.message ?? "is invalid"}`;
    }
}

/** Drops errors that only restate another (a union's branch errors under its anyOf). */
function relevant(errors: ErrorObject[]): ErrorObject[] {
    const unions = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
    return errors.filter((e) => e.keyword === "anyOf" || !unions.has(e.instancePath));
}

/**
 * The cross-field problems of a stack that also has invalid values, so that both come in one
 * round: each invalid value is set aside (its default stands in) and the invariants run on the
 * rest; problems about a set-aside key are left out (its own error already names it).
 */
function invariantsDespite(coerced: Record<string, unknown>, errors: ErrorObject[], ctx: { project: string; stack: string }): string[] {
    const repaired = structuredClone(coerced);
    const setAside: string[] = [];
    for (const e of errors) {
        const path = e.instancePath.slice(1).split("/");
        const fallback = (e.parentSchema as { default?: unknown } | undefined)?.default;
        if (!e.instancePath || fallback === undefined || !["type", "pattern", "format", "minimum", "maximum", "anyOf", "exclusiveMinimum", "exclusiveMaximum"].includes(e.keyword)) return [];
        let node = repaired as Record<string, unknown>;
        for (const part of path.slice(0, -1)) node = node[part] as Record<string, unknown>;
        node[path.at(-1)!] = structuredClone(fallback);
        setAside.push(`${ctx.project}:${path.join(".")}`);
    }
    if (!validate(repaired)) return [];
    return checkInvariants(repaired as StackConfig, ctx)
        .filter((p) => !setAside.some((k) => p.startsWith(`${k}:`) || p.startsWith(`${k} `)))
        .map((p) => `${p} (checked with defaults standing in for the invalid values above)`);
}

/**
 * Defaults that depend on the engine, set where the stack left the key out: CloudNativePG takes
 * base backups only (Barman Cloud), so daily by default, which keeps a restore's replay within
 * retention.maxReplayHours; pgBackRest's weekly full has daily differentials beside it.
 */
function withEngineDefaults(v: Record<string, unknown>): Record<string, unknown> {
    const postgres = v.postgres as { engine?: unknown; backups?: { schedule?: { full?: unknown } } } | undefined;
    if (postgres?.engine !== "cloudnative-pg" || postgres.backups?.schedule?.full !== undefined) return v;
    const backups = { ...(postgres.backups ?? {}), schedule: { ...(postgres.backups?.schedule ?? {}), full: CNPG_FULL_SCHEDULE } };
    return { ...v, postgres: { ...postgres, backups } };
}

export interface LoadedConfig {
    config: StackConfig;
    /** Secret keys the stack set (as `secure:` values); the rest are generated. */
    secrets: Partial<Record<SecretKey | ExternalSecretKey, string>>;
}

/**
 * @param raw every config value of the stack, as Pulumi passes it (`project:key` -> string)
 * @param isSecret whether a key was set as a `secure:` value
 */
export function loadStackConfig(project: string, stack: string, raw: Record<string, string>, isSecret: (key: string) => boolean): LoadedConfig {
    const problems: string[] = [];
    const values: Record<string, unknown> = {};
    const secrets: Partial<Record<SecretKey | ExternalSecretKey, string>> = {};
    const prefix = `${project}:`;
    for (const [fullKey, text] of Object.entries(raw)) {
        if (!fullKey.startsWith(prefix)) {
            const namespace = fullKey.slice(0, fullKey.indexOf(":"));
            if (!PROVIDER_NAMESPACES.includes(namespace)) {
                problems.push(`${fullKey}: unknown namespace "${namespace}"; this program reads ${prefix}<key> and provider settings under ${PROVIDER_NAMESPACES.map((n) => `${n}:`).join(", ")}`);
            }
            continue;
        }
        const key = fullKey.slice(prefix.length);
        if (key in SecretKeys || key in ExternalSecretKeys) {
            const problem = isSecret(fullKey)
                ? secretProblem(key as SecretKey | ExternalSecretKey, text)
                : `must be set as a secret (pulumi config set --secret ${fullKey} <value> -s ${stack}), never in plain text`;
            if (problem) problems.push(`${fullKey}: ${problem}`);
            else secrets[key as SecretKey | ExternalSecretKey] = text;
            continue;
        }
        values[key] = parseValue(text);
    }
    const coercions: Coercion[] = [];
    const coerced = withEngineDefaults(coerceToSchema(StackConfigSchema as SchemaNode, values, coercions) as Record<string, unknown>);
    if (!validate(coerced)) {
        const originals = new Map(coercions.map((c) => [c.path, c.original]));
        const errors = relevant(validate.errors ?? []);
        problems.push(...errors.map((e) => describe(e, { project, stack, originals })));
        problems.push(...invariantsDespite(coerced, errors, { project, stack }));
        throw new ConfigError(problems, stack);
    }
    problems.push(...checkInvariants(coerced, { project, stack }));
    const receivers = coerced.monitoring.receivers;
    const needs: [unknown, ExternalSecretKey, string][] = [
        [receivers.email, "alertmanagerSmtpPassword", "monitoring.receivers.email"],
        [receivers.slack, "alertmanagerSlackWebhookUrl", "monitoring.receivers.slack"],
        ...(["backupS3AccessKey", "backupS3SecretKey"] as const).map((k): [unknown, ExternalSecretKey, string] => [backupRepository(coerced) === "s3" && coerced.postgres.backups.s3?.keyType === "shared", k, "postgres.backups.s3"]),
        ...(["backupOffsiteS3AccessKey", "backupOffsiteS3SecretKey"] as const).map((k): [unknown, ExternalSecretKey, string] => [coerced.postgres.backups.offsite?.s3.keyType === "shared", k, "postgres.backups.offsite.s3"]),
    ];
    for (const [used, key, path] of needs) {
        if (used && secrets[key] === undefined) problems.push(`${prefix}${path}: needs the secret ${prefix}${key} (pulumi config set --secret ${prefix}${key} <value> -s ${stack})`);
    }
    if (problems.length > 0) throw new ConfigError(problems, stack);
    return { config: coerced, secrets };
}

/**
 * What is wrong with a secret's value, described without showing it. Passwords become
 * SCRAM verifiers (printable ASCII only, no SASLprep here) and a line of valkey.conf
 * (no spaces, quotes or backslashes); URLs percent-encode them.
 */
function secretProblem(key: SecretKey | ExternalSecretKey, value: string): string | undefined {
    if (key === "alertmanagerSlackWebhookUrl") return /^https:\/\/\S+$/.test(value) ? undefined : "must be an https:// URL (the Slack incoming-webhook URL)";
    if (key === "alertmanagerSmtpPassword") return value.length > 0 ? undefined : "is empty";
    const problems = [];
    if (value.length < 16) problems.push(`is ${value.length} characters: must be at least 16`);
    if (!/^[\x21-\x7e]*$/.test(value) || /["'\\]/.test(value)) problems.push("may only hold printable ASCII characters other than space, quotes and backslash");
    return problems.length > 0 ? problems.join("; ") : undefined;
}

/** Structured config arrives as JSON text, plain strings as themselves. */
function parseValue(text: string): unknown {
    try {
        const parsed: unknown = JSON.parse(text);
        return typeof parsed === "object" && parsed !== null ? parsed : text;
    } catch {
        return text;
    }
}
