/**
 * Connection capacity: the pool sizes PgBouncer gets when the stack leaves them
 * unset, and the budgets that keep every layer inside the one below it.
 */
import { compareVersions, quantityValue } from "../configs/format";
import { PGBOUNCER_FD_OVERHEAD } from "../facts/pgbouncer";
import type { StackConfig } from "./schema";

/** Docker runs one container per service; Kubernetes runs the configured replicas. */
export function replicasOn(platform: StackConfig["platform"], replicas: number): number {
    return platform === "docker" ? Math.min(replicas, 1) : replicas;
}

/** The database's cores: its CPU limit is the one source (`postgres.cpuCores`, when set, must agree). */
export function databaseCores(config: StackConfig): number {
    return quantityValue(config.postgres.resources.cpu);
}

export interface PoolSizing {
    /** `default_pool_size` of each PgBouncer replica */
    poolSize: number;
    /** `reserve_pool_size` of each PgBouncer replica */
    reserveSize: number;
    replicas: number;
}

/**
 * In transaction pooling a server connection is held from BEGIN to COMMIT, through
 * every client round trip, and the database core serving it idles while the client
 * thinks and the packets travel. With R round trips a connection keeps a core busy
 * only about 1/R of the time it is held, so cores x R connections keep the database
 * busy; fewer starve it (measured: pools of 4-12 for 2 cores lose 10-30% TPS), more
 * only add context switches and lock contention. The total is split evenly across
 * PgBouncer replicas so adding replicas never multiplies the load on PostgreSQL.
 * The reserve (a quarter of the pool) absorbs bursts after `reserve_pool_timeout`.
 */
export function poolSizing(config: StackConfig): PoolSizing {
    const replicas = replicasOn(config.platform, config.pgbouncer.replicas);
    const total = databaseCores(config) * config.app.roundTripsPerTransaction;
    const poolSize = config.pgbouncer.defaultPoolSize ?? Math.max(2, Math.ceil(total / replicas));
    const reserveSize = config.pgbouncer.reservePoolSize ?? Math.ceil(poolSize / 4);
    return { poolSize, reserveSize, replicas };
}

/**
 * Extra pods a Kubernetes rolling update starts before it stops old ones (maxSurge; the
 * platform sets maxUnavailable 0, so capacity never drops while pods roll). Each one is a
 * PgBouncer with a full server pool, or an app pod with a full client pool, for as long
 * as the roll lasts.
 */
export const ROLLING_UPDATE_SURGE = 1;


/** Peering (a cancel request forwarded to the replica that holds the query) arrived in PgBouncer 1.19. */
export const PEERING_SINCE = "1.19.0";

/**
 * PgBouncer's replicas are peered: more than one on Kubernetes, each at an address of its own (a
 * StatefulSet), so that a cancel request reaching any replica stops the query on the one holding it.
 */
export const pgbouncerPeered = (config: StackConfig) =>
    config.platform === "kubernetes" && poolSizing(config).replicas > 1 && compareVersions(config.pgbouncer.version, PEERING_SINCE) >= 0;

/** Pods of a workload while it rolls: Docker replaces by deleting first, a Deployment surges, a StatefulSet replaces one pod at a time. */
function rollingPods(config: StackConfig, replicas: number, statefulSet = false): { pods: number; text: string } {
    const surge = config.platform === "kubernetes" && replicas > 0 && !statefulSet ? ROLLING_UPDATE_SURGE : 0;
    return { pods: replicas + surge, text: surge > 0 ? `(${replicas} + ${surge} during a rolling update)` : `${replicas}` };
}

export interface ConnectionBudget {
    sizing: PoolSizing;
    /** server connections PgBouncer may open, its surge pod included */
    serverConnections: { value: number; arithmetic: string };
    /** what PostgreSQL leaves for PgBouncer */
    serverAvailable: { value: number; arithmetic: string };
    /** client connections the app may open, its surge pods included */
    clientConnections: { value: number; arithmetic: string };
    /** file descriptors one PgBouncer needs */
    fileDescriptors: { value: number; arithmetic: string };
}

export function connectionBudget(config: StackConfig): ConnectionBudget {
    const sizing = poolSizing(config);
    const { poolSize, reserveSize, replicas } = sizing;
    const pg = config.postgres;
    const pgb = rollingPods(config, replicas, pgbouncerPeered(config));
    const { api, worker } = config.app;
    const apiPods = rollingPods(config, replicasOn(config.platform, api.replicas));
    const workerPods = rollingPods(config, replicasOn(config.platform, worker.replicas));
    const fds = config.pgbouncer.maxClientConn + poolSize + reserveSize + PGBOUNCER_FD_OVERHEAD;
    return {
        sizing,
        serverConnections: {
            value: pgb.pods * (poolSize + reserveSize),
            arithmetic: `${pgb.text} PgBouncer x (pool ${poolSize} + reserve ${reserveSize})`,
        },
        serverAvailable: {
            value: pg.maxConnections - pg.superuserReservedConnections - pg.adminConnections,
            arithmetic: `max_connections ${pg.maxConnections} - ${pg.superuserReservedConnections} reserved - ${pg.adminConnections} admin`,
        },
        clientConnections: {
            value: apiPods.pods * (api.dbPoolSize + api.dbMaxOverflow) + workerPods.pods * (worker.dbPoolSize + worker.dbMaxOverflow),
            arithmetic:
                `${apiPods.text} API x (${api.dbPoolSize} + ${api.dbMaxOverflow} overflow) + ` +
                `${workerPods.text} worker x (${worker.dbPoolSize} + ${worker.dbMaxOverflow} overflow)`,
        },
        fileDescriptors: {
            value: fds,
            arithmetic: `max_client_conn ${config.pgbouncer.maxClientConn} + pool ${poolSize} + reserve ${reserveSize} + ${PGBOUNCER_FD_OVERHEAD} of its own`,
        },
    };
}
