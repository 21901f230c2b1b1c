/** Memory and disk budgets: what the configured settings may take against what the containers get. */
import { durationSeconds, prometheusBytes, quantityValue } from "../configs/format";
import type { StackConfig } from "./schema";

/** PostgreSQL's default `autovacuum_max_workers` (the generated postgresql.conf keeps it). */
export const AUTOVACUUM_MAX_WORKERS = 3;

/** Prometheus keeps at least three WAL segments of 128 MiB (Prometheus docs, "Storage"). */
export const PROMETHEUS_WAL_BYTES = 3 * 128 * 1024 ** 2;

export interface Budget {
    value: number;
    arithmetic: string;
}

const MiB = 1024 ** 2;
export const mib = (bytes: number) => `${Math.round(bytes / MiB)}Mi`;

/**
 * What PostgreSQL may hold in memory at once, after the PostgreSQL documentation's
 * "Resource Consumption" chapter: shared_buffers is allocated at start; every
 * connection may run sorts and hashes of up to work_mem each ("the total memory used
 * could be many times the value of work_mem"); autovacuum takes up to
 * autovacuum_max_workers x maintenance_work_mem, plus one manual VACUUM or CREATE INDEX.
 */
export function postgresMemory(config: StackConfig): { need: Budget; limit: number } {
    const pg = config.postgres;
    const shared = quantityValue(pg.sharedBuffers);
    const work = quantityValue(pg.workMem);
    const maintenance = quantityValue(pg.maintenanceWorkMem);
    const perConnection = pg.workMemPerConnection;
    const value = shared + pg.maxConnections * perConnection * work + (AUTOVACUUM_MAX_WORKERS + 1) * maintenance;
    const connections = perConnection === 1 ? `${pg.maxConnections} connections x work_mem ${pg.workMem}` : `${pg.maxConnections} connections x ${perConnection} x work_mem ${pg.workMem}`;
    return {
        need: {
            value,
            arithmetic: `shared_buffers ${pg.sharedBuffers} + ${connections} + (${AUTOVACUUM_MAX_WORKERS} autovacuum workers + 1) x maintenance_work_mem ${pg.maintenanceWorkMem} = ${mib(value)}`,
        },
        limit: quantityValue(pg.resources.memory),
    };
}

/**
 * Disk Prometheus may fill: retention.size counts persisted blocks only, so the volume also
 * holds the WAL and the block being compacted; Robust Perception ("Configuring Prometheus
 * storage retention") advises room for the WAL and one maximum-size block, which is at most
 * 10% of the retention (hence the default headroom of 10%).
 */
export function prometheusDisk(config: StackConfig): { need: Budget; volume: number } {
    const m = config.monitoring;
    const retention = prometheusBytes(m.retentionSize);
    const value = retention * (1 + m.retentionHeadroomPercent / 100) + PROMETHEUS_WAL_BYTES;
    return {
        need: {
            value,
            arithmetic: `retentionSize ${m.retentionSize} + ${m.retentionHeadroomPercent}% headroom + WAL ${mib(PROMETHEUS_WAL_BYTES)} = ${mib(value)}`,
        },
        volume: quantityValue(m.prometheusStorageSize),
    };
}

/** Seconds of a duration the schema has already validated. */
export const seconds = (d: string) => durationSeconds(d) ?? NaN;
