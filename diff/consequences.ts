/**
 * What a change does beyond its diff: what it blocks (data loss, a server that cannot
 * start), which services restart and how to restart the database without failing a
 * transaction, and connection capacity before and after.
 */
import type { RecordedResource } from "../render/program";
import { quantityValue } from "../configs/format";
import { deployedCapacity, type DeployedCapacity } from "../policy/deployed";
import { containerViews, DOCKER, findFile, iniSections, K8S, labelOf, podTemplate } from "../policy/resources";
import { maskSecrets } from "../render/files";
import { MOUNTED_FILES_PATH, type ResourceChange, type Snapshot } from "./compare";
import { ON_EACH_PGBOUNCER } from "../configs/rules/steps";

export interface Finding {
    kind: "blocked" | "restart" | "note";
    /** `type::name` of the resource it is about */
    resource: string;
    message: string;
}

const kindOf = (type: string) => type.split(":").pop()!;
const plain = (r: RecordedResource) => maskSecrets(r.inputs, true) as any;
const label = (r: RecordedResource, key: string): string | undefined => labelOf({ type: r.type, props: plain(r) }, key);
const SERVICE = "app.kubernetes.io/name";
const COMPONENT = "app.kubernetes.io/component";
const VERSION = "app.kubernetes.io/version";

function blocked(c: ResourceChange): Finding[] {
    const resource = `${c.type}::${c.name}`;
    const out: Finding[] = [];
    if (c.protect && (c.action === "replace" || c.action === "delete")) {
        const how = c.action === "replace" ? "replaced (deleted, then created empty)" : "deleted";
        const why = c.changes.filter((p) => p.replaces).map((p) => p.replaces)[0];
        const rename = c.changes.find((p) => p.path === "metadata.name" || p.path === "metadata.namespace");
        const what = rename ? ` (${rename.path} ${String(rename.before)} -> ${String(rename.after)})` : "";
        let message = `${kindOf(c.type)} ${c.name}${what} is protected: it holds data and would be ${how}${why ? ` because ${why}` : ""}; Pulumi refuses, and forcing it loses the data.`;
        if (c.type === K8S.namespace) message += " Renaming the namespace moves every claim into a new, empty namespace: migrate the data (backup and restore) instead.";
        else if (c.changes.some((p) => p.path === "metadata.namespace")) message += " Moving a claim to another namespace gives an empty claim there: back up and restore instead.";
        const restored = c.action === "delete" ? /-data-([a-z0-9-]+)$/.exec(c.name) : null;
        if (restored) message += ` It is restore ${restored[1]}'s volume, with that restore's database and its writes until the next: keep it by listing ${restored[1]} in postgres.restore.previous (runbook RestoreToPointInTime).`;
        out.push({ kind: "blocked", resource, message });
    }
    if (c.type === K8S.pvc && c.action !== "create" && c.action !== "delete") {
        const size = (r?: RecordedResource) => plain(r!).spec?.resources?.requests?.storage as string | undefined;
        const [b, h] = [size(c.base), size(c.head)];
        if (b && h && quantityValue(h) < quantityValue(b)) {
            out.push({ kind: "blocked", resource, message: `PersistentVolumeClaim ${c.name} would shrink from ${b} to ${h}: Kubernetes refuses to shrink a claim; keep ${b} or move the data to a new, smaller volume` });
        }
    }
    return out;
}

/** A PostgreSQL image across a major version cannot start on the old data directory. */
function majorUpgrade(c: ResourceChange): Finding[] {
    const workload = (r: RecordedResource) => r.type === DOCKER.container || podTemplate(r.type, plain(r)) !== undefined;
    if (!c.base || !c.head || !workload(c.head) || label(c.head, COMPONENT) !== "database") return [];
    const major = (r: RecordedResource) => /^(\d+)/.exec(label(r, VERSION) ?? "")?.[1];
    const [b, h] = [major(c.base), major(c.head)];
    if (!b || !h || b === h) return [];
    return [
        {
            kind: "blocked",
            resource: `${c.type}::${c.name}`,
            message: `PostgreSQL ${b} -> ${h}: a major version cannot start on the data directory of another; upgrade with pg_upgrade (or pg_dump and restore) into a new volume first, then switch the image`,
        },
    ];
}

export function restartMessage(service: string, component: string | undefined, how: string, database: string): string {
    if (component === "database") {
        return (
            `PostgreSQL restarts (${how}): its only server stops with a fast shutdown (up to 120 s) and every open transaction fails. ` +
            `To fail none: ${ON_EACH_PGBOUNCER(`PAUSE ${database};`)}, apply, then \`RESUME ${database};\` on each (README, "Restarting PostgreSQL")`
        );
    }
    if (component === "pooler") {
        return `PgBouncer restarts (${how}): each instance drains and stops with its safe shutdown (SIGINT: running transactions finish); clients reconnect, so the app must retry connections`;
    }
    return `${service} restarts (${how})`;
}

function restarts(changes: ResourceChange[], head: Snapshot): Finding[] {
    const byKey = new Map(changes.map((c) => [`${c.type}::${c.name}`, c]));
    // the database PgBouncer pools, which PAUSE and RESUME name
    const database = Object.keys(iniSections(findFile(asPolicyInput(head), "pgbouncer.ini") ?? "").databases ?? {})[0] ?? "<database>";
    const out: Finding[] = [];
    const workloads = head.resources.filter((r) => [K8S.deployment, K8S.statefulSet, K8S.daemonSet, DOCKER.container].includes(r.type as never));
    for (const r of workloads) {
        const c = byKey.get(`${r.type}::${r.name}`);
        const service = label(r, SERVICE) ?? r.name;
        const component = label(r, COMPONENT);
        let how: string | undefined;
        if (r.type === DOCKER.container) {
            if (c?.action === "replace") how = `its container is replaced: ${c.changes.filter((p) => p.replaces).map((p) => p.path.split(/[.[]/)[0]).filter((x, i, all) => all.indexOf(x) === i).join(", ")} changed`;
        } else if (c?.action === "replace") {
            how = "its workload is replaced";
        } else if (c?.changes.some((p) => p.path.startsWith("spec.template") && p.path !== MOUNTED_FILES_PATH)) {
            how = `its pod template changed (${c.changes.filter((p) => p.path.startsWith("spec.template") && p.path !== MOUNTED_FILES_PATH).length} field(s))`;
        } else {
            const mounted = (c?.changes ?? []).filter((p) => p.path === MOUNTED_FILES_PATH).map((p) => String(p.before));
            if (mounted.length > 0) how = `it mounts replaced configuration ${mounted.join(", ")}`;
        }
        if (how && c?.action !== "create") out.push({ kind: "restart", resource: `${r.type}::${r.name}`, message: restartMessage(service, component, how, database) });
    }
    for (const c of changes.filter((x) => x.type === K8S.job && x.action === "replace")) {
        out.push({ kind: "note", resource: `${c.type}::${c.name}`, message: `Job ${c.name} runs again (replaced)` });
    }
    return out;
}

/**
 * A restore (postgres.restore): a new data volume `<service>-data-<id>` that the database starts
 * on, restored from the backup repository; the old volume is kept. The stack must say
 * `replaceData: true` for this to render at all.
 */
function restore(c: ResourceChange): Finding[] {
    if (c.action !== "create" || (c.type !== K8S.pvc && c.type !== DOCKER.volume)) return [];
    const m = /^(.+)-data-([a-z0-9-]+)$/.exec(c.name);
    if (!m) return [];
    return [
        {
            kind: "note",
            resource: `${c.type}::${c.name}`,
            message: `RESTORE ${m[1]} starts on a new volume ${c.name}, restored from the backup repository (postgres.restore ${m[2]}) before PostgreSQL starts; writes after the restore target are not in it. Kept, unmounted and protected: ${m[1]}-data (the database before the first restore) and the volume of each restore in postgres.restore.previous (that restore's database with its writes until the next) (runbook RestoreToPointInTime)`,
        },
    ];
}

/** Cluster settings PostgreSQL reads only at start: changing one restarts every instance. */
const RESTART_PATHS = ["spec.imageName", "spec.resources", "spec.postgresql.shared_preload_libraries", ...["max_connections", "superuser_reserved_connections", "shared_buffers", "max_worker_processes", "max_wal_senders"].map((p) => `spec.postgresql.parameters.${p}`)];

/**
 * A CloudNativePG Cluster: what its operator does with a change. A storage shrink is refused;
 * settings read at start roll the instances (standbys first, then a switchover); a Cluster
 * bootstrapped by recovery is a restore into a new Cluster; a hibernated one stops its pods.
 */
function cloudnativePg(c: ResourceChange): Finding[] {
    if (c.type !== K8S.cnpgCluster) return [];
    const resource = `${c.type}::${c.name}`;
    const [b, h] = [c.base && plain(c.base), c.head && plain(c.head)];
    const out: Finding[] = [];
    const size = (x: any) => x?.spec?.storage?.size as string | undefined;
    if (size(b) && size(h) && quantityValue(size(h)!) < quantityValue(size(b)!)) {
        out.push({ kind: "blocked", resource, message: `Cluster ${c.name}'s volumes would shrink from ${size(b)} to ${size(h)}: CloudNativePG refuses to shrink storage; keep ${size(b)} or restore into a new Cluster with smaller volumes` });
    }
    const changed = (prefix: string) => c.changes.some((p) => p.path === prefix || p.path.startsWith(`${prefix}.`));
    if (c.action === "update" && changed("spec.imageName") && changed("spec.postgresql.parameters")) {
        out.push({ kind: "blocked", resource, message: `Cluster ${c.name}: the image and PostgreSQL parameters change together, which CloudNativePG refuses with primaryUpdateMethod switchover; change them in two deployments` });
    }
    const restartBy = c.action === "update" ? c.changes.map((p) => p.path).filter((p) => RESTART_PATHS.some((r) => p === r || p.startsWith(`${r}.`) || p.startsWith(`${r}[`))) : [];
    if (restartBy.length > 0) {
        out.push({
            kind: "restart",
            resource,
            message: `PostgreSQL's instances restart one by one (${restartBy.join(", ")} changed): the standbys first, then a switchover to a synchronous standby (primaryUpdateMethod switchover); transactions open on the primary at the switchover fail and PgBouncer reconnects to the new primary through the -rw Service`,
        });
    }
    const recovery = h?.spec?.bootstrap?.recovery;
    if (c.action === "create" && recovery) {
        const origin = (h.spec.externalClusters ?? []).find((e: any) => e.name === recovery.source)?.plugin?.parameters?.serverName ?? recovery.source;
        const target = recovery.recoveryTarget?.targetTime ?? recovery.recoveryTarget?.targetLSN ?? "the last archived WAL";
        out.push({ kind: "note", resource, message: `RESTORE into a new Cluster ${c.name}, recovered from ${origin}'s archive to ${target}; recovery never happens in place: ${origin} keeps its volumes (hibernated), writes after the target are only there (runbook RestoreToPointInTime)` });
    }
    const hibernated = (x: any) => x?.metadata?.annotations?.["cnpg.io/hibernation"] === "on";
    if (c.action === "update" && hibernated(h) && !hibernated(b)) {
        out.push({ kind: "note", resource, message: `Cluster ${c.name} is hibernated: its pods stop, its volumes (and data) stay; it serves nothing until the annotation is removed` });
    }
    return out;
}

/** postgres.engine switched: a new Cluster starts empty (initdb) while the StatefulSet's data stays behind (or the other way round). */
/** initdb's arguments only shape a new cluster: a changed POSTGRES_INITDB_ARGS leaves the running one as it was initialised. */
function initdbArgs(c: ResourceChange): Finding[] {
    if (!c.base || !c.head || label(c.head, COMPONENT) !== "database") return [];
    const args = (r: RecordedResource) => containerViews({ type: r.type, props: plain(r) })[0]?.env.POSTGRES_INITDB_ARGS;
    const [b, h] = [args(c.base), args(c.head)];
    if (b === undefined || h === undefined || b === h) return [];
    const checksums = !b.includes("--data-checksums") && h.includes("--data-checksums");
    return [
        {
            kind: "note",
            resource: `${c.type}::${c.name}`,
            message:
                `POSTGRES_INITDB_ARGS "${b}" -> "${h}": initdb runs only on an empty volume, so the existing cluster keeps how it was initialised` +
                (checksums ? "; it stays without data checksums (alert PostgresDataChecksumsOff) until pg_checksums --enable runs offline (docs/runbooks/PostgresDataChecksumsOff.md)" : ""),
        },
    ];
}

function engineSwitch(changes: ResourceChange[]): Finding[] {
    const database = (c: ResourceChange) => c.type === K8S.statefulSet && c.base !== undefined && label(c.base, COMPONENT) === "database";
    const leaving = changes.find((c) => c.action === "delete" && (database(c) || c.type === K8S.cnpgCluster));
    const arriving = changes.find((c) => c.action === "create" && (c.type === K8S.cnpgCluster ? plain(c.head!).spec?.bootstrap?.initdb !== undefined : c.type === K8S.statefulSet && label(c.head!, COMPONENT) === "database"));
    if (!leaving || !arriving || leaving.type === arriving.type) return [];
    return [
        {
            kind: "blocked",
            resource: `${arriving.type}::${arriving.name}`,
            message: `postgres.engine changes: ${kindOf(arriving.type)} ${arriving.name} starts with an empty database, and the data of ${kindOf(leaving.type)} ${leaving.name} does not move by itself; migrate it first (a restore from the backups into the new engine, or CloudNativePG's bootstrap from the old server) and keep the old volumes until it is verified (docs/CLOUDNATIVE-PG.md)`,
        },
    ];
}

/**
 * postgres.cloudnativePg.fromStatefulSet, read from the render: a Cluster cloned from the StatefulSet
 * engine's server (bootstrap.pg_basebackup) streams (replica), is promoted once that server has
 * stopped, and the server's objects go last. Each step is shown; a step skipped is blocked, since
 * it would leave writes on a server the Cluster no longer follows.
 */
function engineMove(changes: ResourceChange[], head: Snapshot): Finding[] {
    const clonedIn = (r: RecordedResource) => r.type === K8S.cnpgCluster && plain(r).spec?.bootstrap?.pg_basebackup !== undefined;
    const unchanged = head.resources.find((r) => clonedIn(r) && !changes.some((c) => c.type === r.type && c.name === r.name));
    const cloned: Pick<ResourceChange, "type" | "name" | "action" | "base" | "head"> | undefined =
        changes.find((c) => clonedIn((c.head ?? c.base)!)) ?? (unchanged && { type: unchanged.type, name: unchanged.name, action: "update", base: unchanged, head: unchanged });
    if (!cloned) return [];
    const resource = `${cloned.type}::${cloned.name}`;
    const streaming = (r?: RecordedResource) => r !== undefined && plain(r).spec?.replica?.enabled === true;
    const database = (r: RecordedResource) => r.type === K8S.statefulSet && label(r, COMPONENT) === "database";
    const server = changes.find((c) => database((c.head ?? c.base)!));
    const serverName = server?.name ?? "postgres";
    const serverNow = server ? server.head : head.resources.find(database);
    const runningPods = serverNow ? Number(plain(serverNow).spec?.replicas ?? 1) : 0;
    const step = (n: number, message: string): Finding => ({ kind: "note", resource, message: `MOVE step ${n} of 3 (postgres.cloudnativePg.fromStatefulSet): ${message}` });
    const out: Finding[] = [];
    if (cloned.action === "create") {
        out.push(
            streaming(cloned.head)
                ? step(1, `Cluster ${cloned.name} is cloned from StatefulSet ${serverName} (pg_basebackup as streaming_replica, by its certificate) and follows it as a replica cluster; PgBouncer still sends every query to ${serverName}. Next, once \`kubectl cnpg status ${cloned.name}\` shows it streaming: fromStatefulSet switch`)
                : { kind: "blocked", resource, message: `Cluster ${cloned.name} would be cloned from StatefulSet ${serverName} and take writes at once: whatever ${serverName} acknowledges after the copy would never reach it. Set postgres.cloudnativePg.fromStatefulSet to stream first, switch once it streams` },
        );
    }
    const promoted = cloned.action === "update" && streaming(cloned.base) && !streaming(cloned.head);
    if (promoted && runningPods > 0) {
        out.push({ kind: "blocked", resource, message: `Cluster ${cloned.name} would be promoted while StatefulSet ${serverName} still runs (${runningPods} pod): two primaries, and writes to the old one lost. fromStatefulSet switch stops it first` });
    } else if (promoted && server?.action === "delete") {
        out.push({ kind: "blocked", resource, message: `Cluster ${cloned.name} would be promoted and StatefulSet ${serverName} deleted in one step: Pulumi deletes last, so ${serverName} would take writes after the promotion. Set fromStatefulSet switch first, retired after` });
    } else if (promoted) {
        out.push(step(2, `StatefulSet ${serverName} stops first (its fast shutdown sends its last WAL to the Cluster), then Cluster ${cloned.name} is promoted, then PgBouncer moves to ${cloned.name}-rw: writes fail from the stop until the promotion (docs/CLOUDNATIVE-PG.md has the measured seconds). Next, once the Cluster serves: fromStatefulSet retired`));
    }
    if (server?.action === "delete" && streaming(cloned.head)) {
        out.push({ kind: "blocked", resource: `${server.type}::${server.name}`, message: `StatefulSet ${serverName} would be deleted while Cluster ${cloned.name} still streams from it: nothing would take writes. Set fromStatefulSet switch first` });
    } else if (server?.action === "delete" && !promoted) {
        out.push(step(3, `StatefulSet ${serverName} and its objects go; its volumes stay (protected, kept on delete) until you delete them yourself`));
    }
    return out;
}

export function findings(changes: ResourceChange[], head: Snapshot): Finding[] {
    return [...changes.flatMap(blocked), ...changes.flatMap(majorUpgrade), ...changes.flatMap(initdbArgs), ...changes.flatMap(restore), ...changes.flatMap(cloudnativePg), ...engineSwitch(changes), ...engineMove(changes, head), ...restarts(changes, head)];
}

export interface CapacityRow {
    what: string;
    before?: string;
    after?: string;
}

const asPolicyInput = (s: Snapshot) => s.resources.map((r) => ({ type: r.type, props: plain(r) }));

/** Connection capacity as deployed, before and after, one row per figure. */
export function capacity(base: Snapshot, head: Snapshot): CapacityRow[] {
    const [b, h] = [deployedCapacity(asPolicyInput(base)), deployedCapacity(asPolicyInput(head))];
    const rows: [string, (c: DeployedCapacity) => string | undefined][] = [
        ["PgBouncer pool per replica", (c) => `${c.pool} + reserve ${c.reserve}`],
        ["PgBouncer pods (surge included)", (c) => String(c.pgbouncerPods)],
        ["server connections / available", (c) => `${c.serverConnections} / ${c.serverAvailable} (max_connections ${c.maxConnections})`],
        ["client connections / max_client_conn", (c) => `${c.clientConnections} / ${c.maxClientConn}`],
        ["PgBouncer file descriptors needed / limit", (c) => `${c.filesNeeded} / ${c.fileLimit ?? "runtime default"}`],
    ];
    return rows.map(([what, f]) => ({ what, before: b && f(b), after: h && f(h) }));
}
