import { stringify } from "yaml";
import { WATCHED_CERTIFICATES } from "./certificates";
import { GENERATED } from "./format";

/**
 * postgres_exporter's extra queries (its `--extend.query-path`): the archiver's progress, data
 * checksums, and the servers' certificates as read beside PostgreSQL (certificates.ts). Metric names are `<query>_<column>`.
 */
export function exporterQueries(): string {
    const segment = "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')";
    const lsn = (hex: string) => `('x' || ${hex})::bit(32)::bigint`;
    // the end of the last archived segment (its name is timeline, log, segment in hex)
    const archivedEnd = `${lsn("substr(last_archived_wal, 9, 8)")} * 4294967296 + ${lsn("substr(last_archived_wal, 17, 8)")} * ${segment} + ${segment}`;
    const queries = {
        pg_archiver: {
            query:
                "SELECT archived_count, failed_count, " +
                `CASE WHEN substr(last_archived_wal, 1, 24) ~ '^[0-9A-F]{24}$' THEN greatest(0, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') - (${archivedEnd})) ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END AS pending_wal_bytes, ` +
                "coalesce(extract(epoch FROM now() - last_archived_time), -1) AS last_archived_age_seconds FROM pg_stat_archiver",
            metrics: [
                { archived_count: { usage: "COUNTER", description: "WAL files archived" } },
                { failed_count: { usage: "COUNTER", description: "failed attempts to archive a WAL file" } },
                { pending_wal_bytes: { usage: "GAUGE", description: "WAL written after the end of the last archived segment" } },
                { last_archived_age_seconds: { usage: "GAUGE", description: "seconds since the last WAL file was archived (-1: never)" } },
            ],
        },
        // every page checksum PostgreSQL found wrong since the statistics were reset; NULL (0 here) without checksums
        pg_data_checksums: {
            query: "SELECT (current_setting('data_checksums') = 'on')::int AS enabled, coalesce(sum(checksum_failures), 0) AS failures FROM pg_stat_database",
            metrics: [
                { enabled: { usage: "GAUGE", description: "1 when the cluster was initialised with data checksums (initdb --data-checksums or pg_checksums --enable)" } },
                { failures: { usage: "COUNTER", description: "pages read with a wrong checksum, all databases" } },
            ],
        },
        flowviz_certificate: {
            query:
                "SELECT n.name, coalesce(extract(epoch FROM c.not_after), 0) AS not_after_seconds, coalesce(extract(epoch FROM c.checked_at), 0) AS checked_timestamp_seconds " +
                `FROM (VALUES ${WATCHED_CERTIFICATES.map((n) => `('${n}')`).join(", ")}) AS n(name) LEFT JOIN flowviz_ops.certificates c USING (name)`,
            metrics: [
                { name: { usage: "LABEL", description: "the server whose certificate it is" } },
                { not_after_seconds: { usage: "GAUGE", description: "when the certificate the server presents expires (0: never read)" } },
                { checked_timestamp_seconds: { usage: "GAUGE", description: "when the certificate watch beside PostgreSQL last read it (0: never)" } },
            ],
        },
    };
    return `# ${GENERATED}\n` + stringify(queries, { lineWidth: 0 });
}
