/**
 * CloudNativePG's Cluster as it will be admitted: the same data-path and audit rules as the
 * StatefulSet's rendered files, read from the Cluster's pg_hba and parameters, plus what only a
 * Cluster can get wrong (a superuser login, a fixed parameter, no synchronous standby, the
 * operator's own CA or the deprecated in-tree archiver), and PgBouncer pointed at the primary.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { fixedParametersIn } from "../facts/cloudnative-pg";
import { auditViolations, dataPathViolations, hbaRules } from "./data-path";
import { activeClusters, findFile, servingClusters, iniSections, K8S, unwrap } from "./resources";
import { podSecurityViolations } from "./pod-security";
import { rolesViolations } from "./roles";
import { migratorRoleOf, SUPERUSER } from "../facts/roles";

const SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup";

type Resource = { type: string; name: string; props: any };

/** The Cluster's parameters as postgresql.conf would hold them (what the audit rules read). */
const asConf = (parameters: Record<string, string>, preload: string[]) =>
    [...Object.entries(parameters).map(([k, v]) => `${k} = '${v}'`), `shared_preload_libraries = '${preload.join(",")}'`].join("\n");

/** What one Cluster lets through that the stack must not. */
export function clusterViolations(cluster: Resource): string[] {
    const spec = unwrap(cluster.props.spec) as any;
    const at = `Cluster ${cluster.props.metadata?.name ?? cluster.name}`;
    if (!spec?.postgresql) return [`${at}: its spec cannot be read, so the data path cannot be checked`];
    const pg = spec.postgresql;
    const out: string[] = [];
    const hba: string[] = pg.pg_hba ?? [];
    out.push(...dataPathViolations({ pgHba: hba.join("\n") }).map((v) => `${at}: ${v.replace(/^pg_hba\.conf/, "postgresql.pg_hba")}`));
    const last = hbaRules(hba.join("\n")).at(-1);
    if (!last || last.type !== "host" || last.method !== "reject" || !last.databases.includes("all") || !last.users.includes("all") || last.address !== "all") {
        out.push(`${at}: postgresql.pg_hba does not end with "host all all all reject", so CloudNativePG's default rule (host all all all scram-sha-256) lets plaintext logins in`);
    }
    const parameters: Record<string, string> = pg.parameters ?? {};
    const fixed = fixedParametersIn(parameters);
    if (fixed.length) out.push(`${at}: postgresql.parameters sets ${fixed.join(", ")}, which CloudNativePG fixes itself and refuses`);
    out.push(...auditViolations(asConf(parameters, pg.shared_preload_libraries ?? [])).map((v) => `${at}: ${v.replace(/^postgresql\.conf/, "postgresql.parameters")}`));
    if (!["TLSv1.2", "TLSv1.3", undefined].includes(parameters.ssl_min_protocol_version)) out.push(`${at}: ssl_min_protocol_version is ${parameters.ssl_min_protocol_version}; TLS 1.2 at least`);
    if (spec.enableSuperuserAccess !== false) out.push(`${at}: enableSuperuserAccess is ${spec.enableSuperuserAccess ?? "unset"}; the postgres superuser must have no password (the operator does the roles work)`);
    const sync = pg.synchronous;
    if (!sync || !(sync.number >= 1) || Number(spec.instances ?? 1) < sync.number + 1) out.push(`${at}: no synchronous standby (postgresql.synchronous with number >= 1 and more instances than that); a commit acknowledged by the primary alone is lost with its node`);
    const certs = spec.certificates ?? {};
    for (const key of ["serverTLSSecret", "serverCASecret", "clientCASecret", "replicationTLSSecret"]) {
        if (!certs[key]) out.push(`${at}: certificates.${key} is unset; the operator would issue its own CA, which the stack's clients do not verify against`);
    }
    // the operator's pods as the Cluster's security contexts make them, at the namespace's level
    const pod = { securityContext: spec.podSecurityContext ?? {}, containers: [{ name: "postgres", securityContext: spec.securityContext ?? {} }] };
    out.push(...podSecurityViolations(pod, "restricted").map((v) => `${at}: its pods would break Pod Security restricted: ${v}`));
    // a server the Cluster clones and streams from: its certificate checked, no password
    for (const e of spec.externalClusters ?? []) {
        if (!e.connectionParameters) continue;
        if (e.connectionParameters.sslmode !== "verify-full" || !e.sslRootCert) out.push(`${at}: externalClusters ${e.name} connects with sslmode ${e.connectionParameters.sslmode ?? "unset"}${e.sslRootCert ? "" : " and no sslRootCert"}; verify-full against the stack CA, or a copy of the database could be taken by whoever answers at ${e.connectionParameters.host}`);
        if (e.password) out.push(`${at}: externalClusters ${e.name} logs in with a password; the Cluster's replication certificate (sslCert, sslKey) only`);
    }
    if (spec.backup?.barmanObjectStore) out.push(`${at}: backup.barmanObjectStore is the in-tree archiver (deprecated since 1.26, removed in 1.31); archive through the Barman Cloud plugin (spec.plugins)`);
    return out;
}

const POWER_FLAGS = ["superuser", "createrole", "replication", "bypassrls"] as const;

/** The operator's managed roles: no power but what a role of the application needs, and the database's owner joined by its migrator alone. */
export function managedRoleViolations(at: string, spec: any): string[] {
    const out: string[] = [];
    const owner = spec.bootstrap?.initdb?.owner ?? spec.bootstrap?.pg_basebackup?.owner;
    const database = spec.bootstrap?.initdb?.database ?? spec.bootstrap?.pg_basebackup?.database;
    for (const r of (spec.managed?.roles ?? []) as Record<string, any>[]) {
        for (const flag of POWER_FLAGS) if (r[flag] === true) out.push(`${at}: managed role ${r.name} is given ${flag.toUpperCase()}`);
        for (const parent of (r.inRoles ?? []) as string[]) {
            if (parent === SUPERUSER || parent.startsWith("pg_") && parent !== "pg_monitor") out.push(`${at}: managed role ${r.name} is made a member of ${parent}`);
            if (parent === owner && r.name !== migratorRoleOf(database ?? "")) out.push(`${at}: managed role ${r.name} is made a member of ${owner}, the owner of ${database}; only ${migratorRoleOf(database ?? "")} may be`);
        }
        if (r.login === true && r.ensure !== "absent" && !r.passwordSecret && r.disablePassword !== true) out.push(`${at}: managed role ${r.name} logs in with no password Secret: the operator would leave its password as it finds it`);
    }
    return out;
}

/** The bootstrap SQL a Cluster runs once, inline or from its ConfigMaps, judged as roles.sql is. */
export function bootstrapSqlViolations(at: string, spec: any, resources: { type: string; name: string; props: any }[]): string[] {
    const initdb = spec.bootstrap?.initdb;
    if (!initdb) return [];
    const texts: string[] = [...(initdb.postInitSQL ?? []), ...(initdb.postInitApplicationSQL ?? []), ...(initdb.postInitTemplateSQL ?? [])];
    // fail closed: SQL the pack cannot read is SQL it cannot pass
    const unread: string[] = [];
    for (const refs of [initdb.postInitSQLRefs, initdb.postInitApplicationSQLRefs, initdb.postInitTemplateSQLRefs]) {
        for (const ref of refs?.configMapRefs ?? []) {
            const map = resources.find((r) => r.type === K8S.configMap && (r.props.metadata?.name ?? r.name) === ref.name);
            const text = map?.props.data?.[ref.key];
            if (text === undefined) unread.push(`${at}: bootstrap SQL ConfigMap ${ref.name} key ${ref.key} is not in the render: it cannot be judged`);
            else texts.push(text);
        }
        for (const ref of refs?.secretRefs ?? []) unread.push(`${at}: bootstrap SQL in Secret ${ref.name}: the pack reads the stack's bootstrap SQL from ConfigMaps only (it holds no password)`);
    }
    return [...unread, ...rolesViolations(texts.join(";\n")).map((v) => `${at}: bootstrap ${v}`)];
}

/** The Barman Cloud objects: encrypted, over verified TLS, kept for a window; no scheduled backup suspended. */
export function backupObjectViolations(resources: { type: string; name: string; props: any }[]): string[] {
    const out: string[] = [];
    for (const store of resources.filter((r) => r.type === K8S.objectStore)) {
        const conf = store.props.spec?.configuration ?? {};
        const at = `ObjectStore ${store.props.metadata?.name ?? store.name}`;
        for (const part of ["wal", "data"]) if (!["AES256", "aws:kms"].includes(conf[part]?.encryption)) out.push(`${at}: ${part}.encryption is ${conf[part]?.encryption ?? "unset"}: the bucket would hold the database in plaintext; AES256 or aws:kms`);
        if (conf.endpointURL && !String(conf.endpointURL).startsWith("https://")) out.push(`${at}: endpointURL ${conf.endpointURL} is not HTTPS`);
        if (!store.props.spec?.retentionPolicy) out.push(`${at}: no retentionPolicy: nothing bounds what it keeps or says how far back it reaches`);
    }
    for (const b of resources.filter((r) => r.type === SCHEDULED_BACKUP)) {
        if (b.props.spec?.suspend === true) out.push(`ScheduledBackup ${b.name} is suspended: base backups stop while the alerts on their age are the only sign`);
    }
    for (const c of activeClusters(resources)) {
        const archives = (c.props.spec?.plugins ?? []).some((p: any) => p.isWALArchiver === true && p.enabled !== false);
        if (resources.some((r) => r.type === K8S.objectStore) && !archives) out.push(`Cluster ${c.props.metadata?.name ?? c.name}: no plugin archives its WAL (spec.plugins isWALArchiver): nothing after the last base backup can be restored`);
    }
    return out;
}

export const cloudnativePgPolicy: StackValidationPolicy = {
    name: "cloudnative-pg",
    description:
        "A CloudNativePG Cluster keeps the data path and audit rules (TLS-only pg_hba ending in reject, SCRAM, pgAudit, no values in the log), has no superuser login, sets no parameter the operator fixes, runs its pods at Pod Security restricted, commits synchronously to a standby, uses the stack CA's certificates and the Barman Cloud plugin, and PgBouncer reaches its primary (-rw); its managed roles hold no power (superuser, createrole, replication, bypassrls, pg_* memberships) and only the migrator joins the owner; its bootstrap SQL passes roles.sql's rules; its ObjectStore encrypts WAL and base backups over HTTPS with a retention policy, its WAL is archived and no ScheduledBackup is suspended.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const clusters = args.resources.filter((r) => r.type === K8S.cnpgCluster) as Resource[];
        for (const c of clusters) {
            const at = `Cluster ${c.props.metadata?.name ?? c.name}`;
            const spec = unwrap(c.props.spec) as any;
            for (const v of [...clusterViolations(c), ...managedRoleViolations(at, spec ?? {}), ...bootstrapSqlViolations(at, spec ?? {}, args.resources)]) report(v);
        }
        for (const v of backupObjectViolations(args.resources)) report(v);
        const serving = servingClusters(clusters).map((c) => c.props.metadata?.name as string);
        const ini = findFile(args.resources, "pgbouncer.ini");
        if (ini === undefined) return;
        // a Cluster that still streams from another server is read-only: its -rw Service is no place for writes yet
        const replicas = activeClusters(clusters).filter((c) => !serving.includes(c.props.metadata?.name)).map((c) => c.props.metadata?.name as string);
        for (const [db, line] of Object.entries(iniSections(ini).databases ?? {})) {
            const host = /host=(\S+)/.exec(line)?.[1] ?? "";
            const replica = replicas.find((name) => host.startsWith(`${name}-rw.`) || host.startsWith(`${name}-r`));
            if (replica) report(`pgbouncer.ini: database ${db} goes to ${host}, but Cluster ${replica} is a replica still following another server (spec.replica.enabled): every write would fail until it is promoted`);
        }
        if (serving.length === 0) return;
        for (const [db, line] of Object.entries(iniSections(ini).databases ?? {})) {
            const host = /host=(\S+)/.exec(line)?.[1] ?? "";
            if (!serving.some((name) => host.startsWith(`${name}-rw.`))) report(`pgbouncer.ini: database ${db} goes to ${host || "no host"}, not a serving Cluster's read-write Service (${serving.map((n) => `${n}-rw`).join(", ")}); writes would reach a standby or nothing`);
        }
    },
};
