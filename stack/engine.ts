/** Which PostgreSQL engine and which backup repository a stack resolves to: the facts the backup and engine rules share. */
import type { StackConfig } from "./schema";

export type Repository = "posix" | "s3" | "none";

/** The stack runs PostgreSQL as a CloudNativePG Cluster (otherwise a StatefulSet or a Docker container). */
export const usesCloudNativePg = (c: Pick<StackConfig, "postgres">) => c.postgres.engine === "cloudnative-pg";

/** The repository a stack uses: the one it names, else posix on Docker and s3 on Kubernetes. */
export function backupRepository(c: Pick<StackConfig, "platform" | "postgres">): Repository {
    return c.postgres.backups.repository ?? (c.platform === "docker" ? "posix" : "s3");
}

export type MigrationStage = "stream" | "switch" | "retired";

/** The stage of a move from the StatefulSet engine to CloudNativePG (postgres.cloudnativePg.fromStatefulSet), none when the stack is not moving. */
export function migrationStage(c: Pick<StackConfig, "platform" | "postgres">): MigrationStage | undefined {
    return c.platform === "kubernetes" && usesCloudNativePg(c) ? c.postgres.cloudnativePg.fromStatefulSet : undefined;
}

/** The StatefulSet engine's server runs in this stack: its own engine, or beside a Cluster that is moving from it (stream, switch). */
export function runsStatefulSet(c: Pick<StackConfig, "platform" | "postgres">): boolean {
    const stage = migrationStage(c);
    return !usesCloudNativePg(c) || stage === "stream" || stage === "switch";
}

/** The engine of the server PgBouncer sends to (the StatefulSet's until a move's switch): the alerts, the exporter and the dashboards follow it. */
export function servingEngine(c: Pick<StackConfig, "platform" | "postgres">): StackConfig["postgres"]["engine"] {
    return migrationStage(c) === "stream" ? "statefulset" : c.postgres.engine;
}
