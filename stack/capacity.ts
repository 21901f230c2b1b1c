/**
 * Connection capacity: the pool sizes PgBouncer gets when the stack leaves them
 * unset, and the invariants that keep every layer inside the one below it.
 */
import type { StackConfig } from "./schema";

/** Docker runs one container per service; Kubernetes runs the configured replicas. */
export function replicasOn(platform: StackConfig["platform"], replicas: number): number {
    return platform === "docker" ? Math.min(replicas, 1) : replicas;
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
    const total = config.postgres.cpuCores * config.app.roundTripsPerTransaction;
    const poolSize = config.pgbouncer.defaultPoolSize ?? Math.max(2, Math.ceil(total / replicas));
    const reserveSize = config.pgbouncer.reservePoolSize ?? Math.ceil(poolSize / 4);
    return { poolSize, reserveSize, replicas };
}

/**
 * Extra pods a Kubernetes rolling update starts before it stops old ones (maxSurge; the
 * platform sets maxUnavailable 0, so capacity never drops while pods roll). Each one is a
 * PgBouncer with a full server pool for as long as the roll lasts.
 */
export const ROLLING_UPDATE_SURGE = 1;

/** Descriptors PgBouncer needs besides one per client and one per server connection. */
export const PGBOUNCER_FD_OVERHEAD = 64;

/** Every violated invariant, each with its arithmetic, as `key.path: explanation`. */
export function checkCapacity(config: StackConfig): string[] {
    const problems: string[] = [];
    const { poolSize, reserveSize, replicas } = poolSizing(config);
    const pg = config.postgres;

    // Docker replaces a container by deleting it first; Kubernetes surges.
    const surge = config.platform === "kubernetes" ? ROLLING_UPDATE_SURGE : 0;
    const pods = surge > 0 ? `(${replicas} replica(s) + ${surge} during a rolling update)` : `${replicas} replica(s)`;
    const serverConns = (replicas + surge) * (poolSize + reserveSize);
    const available = pg.maxConnections - pg.superuserReservedConnections - pg.adminConnections;
    if (serverConns > available) {
        problems.push(
            `postgres.maxConnections: PgBouncer may open ${pods} x (pool ${poolSize} + reserve ${reserveSize}) = ${serverConns} server connections, ` +
                `but PostgreSQL leaves ${pg.maxConnections} - ${pg.superuserReservedConnections} reserved - ${pg.adminConnections} admin = ${available}; ` +
                `raise postgres.maxConnections to at least ${serverConns + pg.superuserReservedConnections + pg.adminConnections} or lower the pool sizes`,
        );
    }

    const api = config.app.api;
    const worker = config.app.worker;
    const apiReplicas = replicasOn(config.platform, api.replicas);
    const workerReplicas = replicasOn(config.platform, worker.replicas);
    const clients = apiReplicas * (api.dbPoolSize + api.dbMaxOverflow) + workerReplicas * (worker.dbPoolSize + worker.dbMaxOverflow);
    if (clients > config.pgbouncer.maxClientConn) {
        problems.push(
            `pgbouncer.maxClientConn: the app may open ${apiReplicas} API x (${api.dbPoolSize} + ${api.dbMaxOverflow} overflow) + ` +
                `${workerReplicas} worker x (${worker.dbPoolSize} + ${worker.dbMaxOverflow} overflow) = ${clients} client connections, ` +
                `more than max_client_conn ${config.pgbouncer.maxClientConn} of one PgBouncer replica (all of them must fit one replica while the others roll)`,
        );
    }

    const fds = config.pgbouncer.maxClientConn + poolSize + reserveSize + PGBOUNCER_FD_OVERHEAD;
    if (fds > config.pgbouncer.fileDescriptorLimit) {
        problems.push(
            `pgbouncer.fileDescriptorLimit: PgBouncer needs max_client_conn ${config.pgbouncer.maxClientConn} + pool ${poolSize} + reserve ${reserveSize} + ${PGBOUNCER_FD_OVERHEAD} = ${fds} ` +
                `file descriptors, more than the limit ${config.pgbouncer.fileDescriptorLimit}; with too few, clients hang silently`,
        );
    }

    const tag = config.pgbouncer.image.split("@")[0]?.split(":").pop() ?? "";
    if (!tag.includes(config.pgbouncer.version)) {
        problems.push(`pgbouncer.version: is "${config.pgbouncer.version}" but the image tag is "${tag}"; they must agree (settings are generated for the version)`);
    }
    return problems;
}
