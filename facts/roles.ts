/** The roles whose names the generators write and the policy pack checks. */

/** The NOLOGIN owner and the migration role of the application database. */
export const ownerRoleOf = (database: string) => `${database}_owner`;
export const migratorRoleOf = (database: string) => `${database}_migrator`;

/** PostgreSQL's bootstrap superuser, as the official image creates it. */
export const SUPERUSER = "postgres";

/** The role a CloudNativePG Cluster streams and clones as (its replication certificate's name): on the StatefulSet engine only while a Cluster migrates from it. */
export const REPLICATION_ROLE = "streaming_replica";
