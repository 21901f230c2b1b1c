/**
 * What the services themselves let in, read from their rendered files and command lines:
 * Valkey's ACL and listeners, admin APIs, and Grafana's access settings.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { containerViews, generatedFilePolicy } from "./resources";
import { VALKEY_USERS } from "../facts/valkey";


const FORBIDDEN_VALKEY_DIRECTIVES: Record<string, RegExp> = {
    "enable-debug-command": /^(yes|local)$/,
    "enable-module-command": /^(yes|local)$/,
    "enable-protected-configs": /^(yes|local)$/,
    "protected-mode": /^no$/,
};

/** What valkey.conf lets through: each finding names the line. */
export function valkeyViolations(conf: string): string[] {
    const out: string[] = [];
    const lines = conf.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const directive = (name: string) => lines.filter((l) => l.split(/\s+/)[0] === name).map((l) => l.slice(name.length).trim());
    const users = directive("user");
    if (!users.some((u) => /^default\s/.test(u) && /\soff(\s|$)/.test(` ${u} `))) out.push("valkey.conf: the default user is not switched off (`user default off`); it would accept logins without a password");
    for (const u of users) {
        const [name, ...rules] = u.split(/\s+/);
        if (rules.includes("off")) continue;
        const line = `user ${u.replace(/[#>]\S+/g, (m) => `${m[0]}***`)}`;
        if (rules.includes("nopass")) out.push(`valkey.conf: "${line}" logs in without a password (nopass)`);
        if (rules.some((r) => r.startsWith(">"))) out.push(`valkey.conf: "${line}" stores a plaintext password (>...); store its SHA-256 (#...)`);
        const grants = rules.filter((r) => /^[+-]@|^allcommands$|^nocommands$|^[+-][a-z|]+$/i.test(r));
        const user = Object.values(VALKEY_USERS).find((x) => x.name === name?.toLowerCase());
        if (!user) {
            out.push(`valkey.conf: user ${name} is none of the broker's users (${Object.values(VALKEY_USERS).map((x) => x.name).join(", ")})`);
            continue;
        }
        const allowed: readonly string[] = user.grants;
        for (const g of grants) if (!allowed.includes(g) && !g.startsWith("-")) out.push(`valkey.conf: user ${name} is granted ${g}; it may have only ${allowed.join(" ")}`);
        // the grants are read in order: the last word on a command wins, so the list must end as ours ends
        if (grants[0] !== "-@all") out.push(`valkey.conf: user ${name} does not start its grants with -@all`);
        if (grants.at(-1) !== allowed.at(-1)) out.push(`valkey.conf: user ${name} does not end its grants with ${allowed.at(-1)}`);
        if (user === VALKEY_USERS.exporter && rules.some((r) => /^(~|%W~|%RW~|&|allkeys$|allchannels$)/i.test(r))) out.push(`valkey.conf: user ${name} may write keys or use channels; it reads queue lengths only (%R~<queue>)`);
    }
    const port = directive("port")[0];
    if (port !== "0") out.push(`valkey.conf: the plaintext port is ${port ?? "6379 (the default)"}; set port 0 and serve tls-port only`);
    if (directive("tls-port").length === 0) out.push("valkey.conf: no tls-port; the broker's password and task payloads would cross the network in plaintext");
    for (const [name, bad] of Object.entries(FORBIDDEN_VALKEY_DIRECTIVES)) for (const v of directive(name)) if (bad.test(v)) out.push(`valkey.conf: ${name} ${v}`);
    for (const v of directive("rename-command")) if (/^(config|debug|module)\b/i.test(v)) out.push(`valkey.conf: rename-command ${v.split(/\s+/)[0]} keeps an admin command reachable under another name`);
    return out;
}

export const valkeyAcl = generatedFilePolicy({
    name: "valkey-acl",
    description: `Valkey serves TLS only (port 0), its default user is off, and every user is one of the broker's, logs in with a hashed password and runs only its own list: the app's categories (${VALKEY_USERS.app.grants.join(" ")}), the exporter's commands (${VALKEY_USERS.exporter.grants.join(" ")}) on read-only queue keys; no debug or module command.`,
    file: "valkey.conf",
    component: "cache",
    checks: "Valkey's ACL",
    violations: valkeyViolations,
});

const ADMIN_FLAGS: [RegExp, string][] = [
    [/^--web\.enable-admin-api$/, "Prometheus' admin API (delete series, snapshots, clean tombstones)"],
    [/^--enable-feature=.*\bremote-write-receiver\b/, "Prometheus' remote-write receiver (anyone on the network writes series)"],
    [/^--web\.enable-remote-write-receiver$/, "Prometheus' remote-write receiver (anyone on the network writes series)"],
];

export const noAdminApis: ResourceValidationPolicy = {
    name: "no-admin-apis",
    description: "No container turns on an admin or write API that needs no credential: Prometheus' admin API or remote-write receiver.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        for (const c of containerViews(args)) for (const a of c.args) for (const [flag, what] of ADMIN_FLAGS) if (flag.test(a)) report(`container ${c.name} turns on ${what} (${a})`);
    },
};

const isGrafana = (c: { image: string; env: Record<string, string> }) => /(^|\/)grafana\/grafana(-oss|-enterprise)?(:|@|$)/.test(c.image) || Object.keys(c.env).some((k) => k.startsWith("GF_"));
const truthy = (v: string | undefined) => /^(true|1|yes|on)$/i.test(v ?? "");

export const grafanaAccess: ResourceValidationPolicy = {
    name: "grafana-access",
    description: "Grafana admits no anonymous user and no sign-up, shares no snapshot outside, and encrypts its stored secrets with a key of its own (GF_SECURITY_SECRET_KEY from a file or Secret, not the published default).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        for (const c of containerViews(args).filter(isGrafana)) {
            const env = c.env;
            if (truthy(env.GF_AUTH_ANONYMOUS_ENABLED)) report(`container ${c.name} lets anonymous users in (GF_AUTH_ANONYMOUS_ENABLED${env.GF_AUTH_ANONYMOUS_ORG_ROLE ? `, as ${env.GF_AUTH_ANONYMOUS_ORG_ROLE}` : ""})`);
            if (truthy(env.GF_USERS_ALLOW_SIGN_UP)) report(`container ${c.name} lets anyone sign up (GF_USERS_ALLOW_SIGN_UP)`);
            if (truthy(env.GF_AUTH_PROXY_ENABLED)) report(`container ${c.name} trusts a user name from any proxy header (GF_AUTH_PROXY_ENABLED)`);
            if (env.GF_SNAPSHOTS_EXTERNAL_ENABLED !== "false") report(`container ${c.name} may publish snapshots outside (set GF_SNAPSHOTS_EXTERNAL_ENABLED=false)`);
            if (env.GF_SECURITY_SECRET_KEY__FILE === undefined) report(`container ${c.name} encrypts its stored secrets with Grafana's published default key (set GF_SECURITY_SECRET_KEY__FILE)`);
        }
    },
};
