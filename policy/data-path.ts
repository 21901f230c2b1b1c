/**
 * The database hops as they will be deployed, read from the rendered pg_hba.conf,
 * pgbouncer.ini and pgbouncer_hba.conf: what a security reviewer checks before every change.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { REPLICATION_ROLE } from "../facts/roles";
import { commandLineOverrides, execLines, pgbouncerIncludes, postgresConf, valkeyIncludes } from "./conf-files";
import { containersOf, containerViews, deploysComponent, DOCKER, findFile, findFiles, generatedFilePolicy, iniSections, labelOf, podTemplate, unwrap } from "./resources";

interface HbaRule {
    type: string;
    databases: string[];
    users: string[];
    address?: string;
    method: string;
    line: string;
}

/** pg_hba.conf lines (PostgreSQL's or PgBouncer's): comments and blank lines skipped, list fields split. */
export function hbaRules(text: string): HbaRule[] {
    return text
        .split("\n")
        .map((line) => line.replace(/#.*$/, "").trim())
        .filter(Boolean)
        .map((line) => {
            const f = line.split(/\s+/);
            const list = (v = "") => v.split(",").map((x) => x.replace(/^"(.*)"$/, "$1"));
            const local = f[0] === "local";
            return { type: f[0]!, databases: list(f[1]), users: list(f[2]), address: local ? undefined : f[3], method: f[local ? 3 : 4] ?? "", line };
        });
}

const SCRAM_OR_CERT = ["scram-sha-256", "cert", "reject"];
/** PgBouncer's own loopback addresses, exactly: behind a service-mesh sidecar every inbound connection comes from 127.0.0.6. */
const LOOPBACK = /^(127\.0\.0\.1\/32|::1\/128)$/;
const TLS_CLIENT_MODES = ["require", "verify-ca", "verify-full"];
/** A CA file that trusts the public web: any public CA could vouch for "PostgreSQL". */
const SYSTEM_BUNDLE = /^\/etc\/(ssl|pki)\/|ca-certificates|ca-bundle/;

/** What the rendered files let through that the data path must not: each finding names the file and the line or key. */
export function dataPathViolations(files: { pgHba?: string; pgbouncerIni?: string; pgbouncerHba?: string }, superuser = "postgres"): string[] {
    const out: string[] = [];
    if (files.pgHba !== undefined) {
        for (const r of hbaRules(files.pgHba)) {
            // peer: the socket's caller by its own operating-system user, for the superuser only (a pod's own processes)
            const peerForSuperuser = r.type === "local" && r.method === "peer" && r.users.length === 1 && r.users[0] === superuser;
            if (!SCRAM_OR_CERT.includes(r.method) && !peerForSuperuser) out.push(`pg_hba.conf: "${r.line}" uses ${r.method}; only scram-sha-256, cert or reject (peer: the superuser on the local socket alone)`);
            // host, hostnossl, hostgssenc, hostnogssenc: anything but hostssl may arrive without TLS
            if (r.type.startsWith("host") && r.type !== "hostssl" && r.method !== "reject") out.push(`pg_hba.conf: "${r.line}" accepts TCP without TLS`);
            const superuserByPassword = r.type.startsWith("host") && r.method !== "reject" && r.method !== "cert" && r.users.some((u) => u === superuser || u === "all");
            // the replication pseudo-database: a migrating Cluster's role alone, by its certificate
            const replication = r.databases.includes("replication") && r.method !== "reject";
            if (replication && (r.method !== "cert" || r.type !== "hostssl" || r.users.some((u) => u !== REPLICATION_ROLE))) out.push(`pg_hba.conf: "${r.line}" lets a replication connection in; only ${REPLICATION_ROLE}, over TLS with its client certificate (hostssl ... cert)`);
            if (superuserByPassword) out.push(`pg_hba.conf: "${r.line}" lets ${superuser} in over TCP with a password; only with its client certificate (cert)`);
        }
    }
    if (files.pgbouncerIni !== undefined) {
        // PgBouncer takes its settings' names in any case
        const s = Object.fromEntries(Object.entries(iniSections(files.pgbouncerIni).pgbouncer ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        if (!TLS_CLIENT_MODES.includes(s.client_tls_sslmode ?? "disable")) out.push(`pgbouncer.ini: client_tls_sslmode is ${s.client_tls_sslmode ?? "unset"}; clients must use TLS (${TLS_CLIENT_MODES.join(", ")})`);
        if (s.server_tls_sslmode !== "verify-full") out.push(`pgbouncer.ini: server_tls_sslmode is ${s.server_tls_sslmode ?? "unset"}; PgBouncer must verify PostgreSQL's certificate and name (verify-full)`);
        if (!s.server_tls_ca_file || SYSTEM_BUNDLE.test(s.server_tls_ca_file)) out.push(`pgbouncer.ini: server_tls_ca_file is ${s.server_tls_ca_file ?? "unset"}; PgBouncer must trust only the stack CA for PostgreSQL`);
        if (s.auth_type !== "hba" || !s.auth_hba_file) out.push(`pgbouncer.ini: auth_type is ${s.auth_type ?? "unset"}; hba with auth_hba_file keeps the console on loopback`);
    }
    if (files.pgbouncerHba !== undefined) {
        for (const r of hbaRules(files.pgbouncerHba)) {
            if (r.method === "reject") continue;
            if (!SCRAM_OR_CERT.includes(r.method)) out.push(`pgbouncer_hba.conf: "${r.line}" uses ${r.method}; only scram-sha-256, cert or reject`);
            if (r.type !== "hostssl") out.push(`pgbouncer_hba.conf: "${r.line}" accepts a login without TLS`);
            const console = r.databases.includes("pgbouncer") || r.databases.includes("all");
            if (console && !LOOPBACK.test(r.address ?? "")) out.push(`pgbouncer_hba.conf: "${r.line}" opens the console beyond PgBouncer's loopback`);
        }
    }
    return out;
}

export const dataPathPolicy: StackValidationPolicy = {
    name: "data-path",
    description:
        "The rendered database hops: PostgreSQL accepts TCP only over TLS with SCRAM, the superuser only with its client certificate; PgBouncer requires TLS from clients, verifies PostgreSQL (verify-full, against the stack CA), and opens its console only on its loopback (auth_type hba); no container points OpenSSL at another configuration (OPENSSL_* in its environment).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const files = { pgHba: findFile(args.resources, "pg_hba.conf"), pgbouncerIni: findFile(args.resources, "pgbouncer.ini"), pgbouncerHba: findFile(args.resources, "pgbouncer_hba.conf") };
        // fail closed: a database or pooler whose files cannot be read is not let through unchecked
        const needed: [boolean, string | undefined, string][] = [
            [deploysComponent(args.resources, "database"), files.pgHba, "pg_hba.conf"],
            [deploysComponent(args.resources, "pooler"), files.pgbouncerIni, "pgbouncer.ini"],
            [deploysComponent(args.resources, "pooler"), files.pgbouncerHba, "pgbouncer_hba.conf"],
        ];
        for (const [deployed, text, name] of needed) if (deployed && text === undefined) report(`${name}: not found in any ConfigMap, Secret or upload, so the data path cannot be checked`);
        for (const v of dataPathViolations(files)) report(v);
        // OpenSSL's own configuration, engines or modules from the environment would change the protocols and suites on
        // every hop, and no policy reads them (the stack deploys none: docs/BENCHMARKS.md, TLS 1.3 suites)
        for (const r of args.resources) {
            for (const c of containerViews(r)) {
                for (const name of Object.keys(c.env).filter((n) => /^OPENSSL_/i.test(n))) report(`container ${c.name} sets ${name}: OpenSSL would take its TLS settings from somewhere no policy reads`);
            }
        }
    },
};

/** What postgresql.conf must keep for the audit trail of HACCP records. */
export function auditViolations(conf: string): string[] {
    const s = postgresConf(conf).settings;
    const out: string[] = [];
    const on = (key: string) => ["on", "true", "1", "yes"].includes((s[key] ?? "off").toLowerCase());
    if (!(s.shared_preload_libraries ?? "").split(",").map((x) => x.trim()).includes("pgaudit")) out.push("postgresql.conf: pgaudit is not in shared_preload_libraries; DDL, role changes and writes would go unrecorded");
    if (!/\b(ddl|all)\b/.test(s["pgaudit.log"] ?? "") || !/\b(role|all)\b/.test(s["pgaudit.log"] ?? "")) out.push(`postgresql.conf: pgaudit.log is ${s["pgaudit.log"] ?? "unset"}; it must record ddl and role for every role`);
    for (const key of ["log_connections", "log_disconnections"]) if (!on(key)) out.push(`postgresql.conf: ${key} is ${s[key] ?? "off (the default)"}; the audit trail needs who connected`);
    for (const key of ["log_parameter_max_length", "log_parameter_max_length_on_error"]) if (s[key] !== "0") out.push(`postgresql.conf: ${key} is ${s[key] ?? "unset"}; bind parameters (record values) would reach the log; set 0`);
    if (on("pgaudit.log_parameter")) out.push("postgresql.conf: pgaudit.log_parameter is on; record values would reach the log");
    return out;
}

export const auditTrail = generatedFilePolicy({
    name: "audit-trail",
    description: "postgresql.conf preloads pgAudit recording DDL and role changes, logs connections and disconnections, and keeps bind parameters (record values) out of the log.",
    file: "postgresql.conf",
    component: "database",
    checks: "the audit trail",
    violations: auditViolations,
});

/** Files whose every copy the pack must have read, and what includes another file. */
const GENERATED_FILES = ["postgresql.conf", "pg_hba.conf", "pgbouncer.ini", "pgbouncer_hba.conf", "valkey.conf", "roles.sql"];
const INCLUDES: Record<string, (text: string) => string[]> = { "postgresql.conf": (t) => postgresConf(t).includes, "pgbouncer.ini": pgbouncerIncludes, "valkey.conf": valkeyIncludes };

/** PostgreSQL's command lines: its containers' and its start scripts' exec lines (`-c` overrides win over the postgresql.conf the pack reads). */
function databaseCommandLines(resources: { type: string; name?: string; props: any }[]): { where: string; argv: string[] }[] {
    const scripts = findFiles(resources, "start.sh").flatMap((f) => execLines(f.text).map((argv) => ({ where: `start.sh (${f.where})`, argv })));
    return [...scripts, ...resources.flatMap((r) => {
        if (labelOf(r, "app.kubernetes.io/component") !== "database") return [];
        if (r.type === DOCKER.container) return [{ where: `container ${r.name}`, argv: [...((unwrap(r.props.entrypoints) as string[]) ?? []), ...((unwrap(r.props.command) as string[]) ?? [])] }];
        const t = podTemplate(r.type, r.props);
        return containersOf(t?.spec).map((c) => ({ where: `${r.name} container ${c.name}`, argv: [...(c.command ?? []), ...(c.args ?? [])] }));
    })];
}

export const wholeFiles: StackValidationPolicy = {
    name: "whole-files",
    description:
        "What the servers read is what the pack reads: no include directive in postgresql.conf, pgbouncer.ini or valkey.conf, one content for every copy of a generated file, and no setting on PostgreSQL's command line but where its files are (a -c override wins over the file).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const name of GENERATED_FILES) {
            const copies = findFiles(args.resources, name);
            if (new Set(copies.map((c) => c.text)).size > 1) report(`${name}: ${copies.length} copies with different contents (${copies.map((c) => c.where).join(", ")}); the server may read another than the one judged`);
            for (const c of copies) for (const inc of INCLUDES[name]?.(c.text) ?? []) report(`${name} (${c.where}): "${inc}" makes the server read a file the pack never sees; generated files include nothing`);
        }
        for (const { where, argv } of databaseCommandLines(args.resources)) {
            for (const o of commandLineOverrides(argv)) report(`${where}: "-c ${o}" on PostgreSQL's command line overrides postgresql.conf; only config_file and hba_file may be set there`);
        }
    },
};
