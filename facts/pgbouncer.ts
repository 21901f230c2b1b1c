/** What PgBouncer needs that the generators size and the pack checks. */

/** Descriptors PgBouncer needs besides one per client and one per server connection (its listeners, logs, TLS files, DNS). */
export const PGBOUNCER_FD_OVERHEAD = 64;
