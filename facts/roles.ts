/** The roles whose names the generators write and the policy pack checks. */

/** The NOLOGIN owner and the migration role of the application database. */
export const ownerRoleOf = (database: string) => `${database}_owner`;
export const migratorRoleOf = (database: string) => `${database}_migrator`;

/** PostgreSQL's bootstrap superuser, as the official image creates it. */
export const SUPERUSER = "postgres";
