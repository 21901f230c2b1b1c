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
