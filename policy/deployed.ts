/**
 * Connection capacity as it will be deployed, read from the rendered files and workloads
 * (not from the stack config): what the policy pack checks and what a diff compares.
 */
import { activeClusters, containerViews, DOCKER, findFile, iniSections, K8S } from "./resources";
import { PGBOUNCER_FD_OVERHEAD } from "../facts/pgbouncer";
import { postgresConf } from "./conf-files";

interface ResourceLike {
    type: string;
    props: any;
}

export interface DeployedCapacity {
    /** `default_pool_size` and `reserve_pool_size` of each PgBouncer */
    pool: number;
    reserve: number;
    /** PgBouncer pods at most (replicas + rolling-update surge) */
    pgbouncerPods: number;
    /** server connections PgBouncer may open, and what PostgreSQL leaves it (max_connections - superuser_reserved_connections - flowviz.admin_connections) */
    serverConnections: number;
    serverAvailable: number;
    maxConnections: number;
    /** `max_client_conn` of one PgBouncer, and the app's pools (replicas + surge) x (pool_size + max_overflow) */
    maxClientConn: number;
    clientConnections: number;
    /** PgBouncer's open-file limit (Docker ulimits; undefined: the runtime's) and what it needs */
    fileLimit?: number;
    filesNeeded: number;
}

/** `intOrString` surge of a Deployment's rolling update (a percentage counts as one pod, the least it rounds up to). */
function surgeOf(deployment: ResourceLike): number {
    // a StatefulSet replaces one pod at a time, never more than its replicas
    if (deployment.type === K8S.statefulSet) return 0;
    const strategy = deployment.props.spec?.strategy;
    if (strategy?.type === "Recreate") return 0;
    const s = strategy?.rollingUpdate?.maxSurge ?? "25%";
    return typeof s === "number" ? s : 1;
}

/** The plain environment of a workload's containers (the app's pool settings). */
const envOf = (r: ResourceLike): Record<string, string> => Object.assign({}, ...containerViews(r).map((c) => c.env));

/** Pods a workload may run at once: Docker one container, Kubernetes replicas plus surge. */
const podsOf = (r: ResourceLike) => (r.type === DOCKER.container ? 1 : Number(r.props.spec?.replicas ?? 1) + surgeOf(r));

export function deployedCapacity(resources: ResourceLike[]): DeployedCapacity | undefined {
    const ini = findFile(resources, "pgbouncer.ini");
    const conf = findFile(resources, "postgresql.conf");
    // CloudNativePG: the Cluster's parameters are postgresql.conf's
    const cluster = activeClusters(resources)[0]?.props.spec?.postgresql?.parameters as Record<string, string> | undefined;
    if (ini === undefined || (conf === undefined && cluster === undefined)) return undefined;
    const pgb = iniSections(ini).pgbouncer ?? {};
    const pg = conf === undefined ? cluster! : postgresConf(conf).settings;
    const pool = Number(pgb.default_pool_size ?? 20);
    const reserve = Number(pgb.reserve_pool_size ?? 0);
    const isPgbouncer = (r: ResourceLike) =>
        ((r.type === K8S.deployment || r.type === K8S.statefulSet) && r.props.metadata?.name === "pgbouncer") ||
        (r.type === DOCKER.container && (r.props.uploads ?? []).some((u: { file: string }) => u.file.endsWith("/pgbouncer.ini")));
    const pgbouncer = resources.find(isPgbouncer);
    const pgbouncerPods = pgbouncer ? podsOf(pgbouncer) : 1;
    const maxConnections = Number(pg.max_connections ?? 100);
    const maxClientConn = Number(pgb.max_client_conn ?? 100);
    const apps = resources.filter((r) => (r.type === K8S.deployment || r.type === DOCKER.container) && envOf(r).DB_POOL_SIZE !== undefined);
    const clientConnections = apps.reduce((sum, r) => sum + podsOf(r) * (Number(envOf(r).DB_POOL_SIZE) + Number(envOf(r).DB_MAX_OVERFLOW ?? 0)), 0);
    const nofile = pgbouncer?.type === DOCKER.container ? pgbouncer.props.ulimits?.find((u: { name: string }) => u.name === "nofile")?.soft : undefined;
    return {
        pool,
        reserve,
        pgbouncerPods,
        serverConnections: pgbouncerPods * (pool + reserve),
        serverAvailable: maxConnections - Number(pg.superuser_reserved_connections ?? 3) - Number(pg["flowviz.admin_connections"] ?? 0),
        maxConnections,
        maxClientConn,
        clientConnections,
        fileLimit: nofile === undefined ? undefined : Number(nofile),
        filesNeeded: maxClientConn + pool + reserve + PGBOUNCER_FD_OVERHEAD,
    };
}
