/**
 * pgBackRest from typed input: its configuration (plain) and its credentials (a file of
 * their own, included), PostgreSQL's archive settings, the start script that restores a
 * data directory before PostgreSQL starts, and the scheduler the backup sidecar runs.
 */
import { stringify } from "yaml";
import { WATCHED_CERTIFICATES } from "../stack/fixed";
import { GENERATED, quoteLiteral, quantityValue } from "./format";

/** The one stanza: the cluster's name in the repository. */
export const STANZA = "flowviz";

/** Where pgBackRest takes the store's credentials: static keys, a projected web identity token (STS), the instance metadata address. */
export type S3KeyType = "shared" | "web-id" | "auto";

export type RepositoryInput =
    | { type: "posix"; path: string }
    | { type: "s3"; endpoint: string; bucket: string; region: string; uriStyle: "host" | "path"; path: string; keyType: S3KeyType; caFile?: string };

export interface PgBackRestInput {
    /** PostgreSQL's data directory, its port and a socket directory both containers see */
    dataDir: string;
    port: number;
    socketDir: string;
    /** on the data volume: the asynchronous archive's spool and the locks PostgreSQL's and the sidecar's pgBackRest share */
    spoolPath: string;
    lockPath: string;
    repository: RepositoryInput;
    retention: { full: number; diff: number };
    /** WAL kept for an unreachable repository (`4Gi`) */
    archivePushQueueMax: string;
}

/** pgBackRest's sizes: powers of 1024 written KB, MB, GB, TB. */
export function pgbackrestSize(quantity: string): string {
    const bytes = quantityValue(quantity);
    for (const [unit, size] of [["TB", 1024 ** 4], ["GB", 1024 ** 3], ["MB", 1024 ** 2]] as const) if (bytes % size === 0) return `${bytes / size}${unit}`;
    return `${Math.ceil(bytes / 1024)}KB`;
}

type Value = string | number | boolean | undefined;
const section = (name: string, options: Record<string, Value>) => [
    `[${name}]`,
    ...Object.entries(options)
        .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${typeof v === "boolean" ? (v ? "y" : "n") : v}`),
];

function repositoryOptions(r: RepositoryInput): Record<string, Value> {
    if (r.type === "posix") return { "repo1-type": "posix", "repo1-path": r.path };
    return {
        "repo1-type": "s3",
        "repo1-path": r.path,
        "repo1-s3-endpoint": r.endpoint.split(":")[0],
        "repo1-storage-port": r.endpoint.includes(":") ? Number(r.endpoint.split(":")[1]) : undefined,
        "repo1-s3-bucket": r.bucket,
        "repo1-s3-region": r.region,
        "repo1-s3-uri-style": r.uriStyle,
        "repo1-s3-key-type": r.keyType,
        "repo1-storage-ca-file": r.caFile,
        "repo1-storage-verify-tls": true,
    };
}

/** pgbackrest.conf: everything but the credentials (those are in pgbackrestSecrets, included). */
export function pgbackrestConf(i: PgBackRestInput): string {
    return [
        `# ${GENERATED}`,
        ...section("global", {
            ...repositoryOptions(i.repository),
            // encrypted at rest; the passphrase is in the included credentials file
            "repo1-cipher-type": "aes-256-cbc",
            "repo1-retention-full": i.retention.full,
            "repo1-retention-full-type": "count",
            "repo1-retention-diff": i.retention.diff,
            // small files bundled; block incremental (repo1-block) left off: restores from an S3 store
            // failed with "block map version must be zero" (pgbackrest#2182) in the integration suite
            "repo1-bundle": true,
            "compress-type": "zst",
            "archive-async": true,
            "spool-path": i.spoolPath,
            "archive-push-queue-max": pgbackrestSize(i.archivePushQueueMax),
            // a segment waits at most this long for the repository before archive_command fails and PostgreSQL retries
            "archive-timeout": 60,
            "lock-path": i.lockPath,
            "log-level-console": "info",
            "log-level-file": "off",
            "process-max": 2,
            "start-fast": true,
            "delta": true,
        }),
        "",
        ...section(STANZA, { "pg1-path": i.dataDir, "pg1-port": i.port, "pg1-socket-path": i.socketDir, "pg1-user": "postgres" }),
        "",
    ].join("\n");
}

/** The included credentials file: the repository's passphrase and, with shared S3 keys, the keys. */
export function pgbackrestSecrets(s: { cipherPass: string; s3?: { key: string; secret: string } }): string {
    return [`# ${GENERATED}`, ...section("global", { "repo1-cipher-pass": s.cipherPass, "repo1-s3-key": s.s3?.key, "repo1-s3-key-secret": s.s3?.secret }), ""].join("\n");
}

/** The pgBackRest command line both containers use: the generated file and the credentials beside it. */
export function pgbackrestCommand(configFile: string, includePath: string): string {
    return `pgbackrest --config=${configFile} --config-include-path=${includePath} --stanza=${STANZA}`;
}

/** postgresql.conf settings for continuous archiving through pgBackRest. */
export function archiveSettings(i: { command: string; archiveTimeoutSeconds: number; socketDirs: string[] }): Record<string, string | number> {
    return {
        archive_mode: "on",
        archive_command: quoteLiteral(`${i.command} archive-push %p`),
        archive_timeout: quoteLiteral(`${i.archiveTimeoutSeconds}s`),
        wal_level: "replica",
        unix_socket_directories: quoteLiteral(i.socketDirs.join(",")),
    };
}

/** A time as pgBackRest reads it to choose the backup (`2026-12-04 10:15:00+00`), from ISO 8601 with a zone. */
export function pgbackrestTime(iso: string): string {
    return iso.replace("T", " ").replace(/Z$/, "+00").replace(/([+-]\d{2}):?(\d{2})$/, (_, h: string, m: string) => (m === "00" ? h : `${h}${m}`));
}

/** What a restore brings back: `latest`, a time, or an LSN (`lsn:0/3000060`). */
export function restoreOptions(target: string): string[] {
    if (target === "latest") return ["--type=default"];
    if (target.startsWith("lsn:")) return ["--type=lsn", `--target=${target.slice(4)}`, "--target-action=promote"];
    return ["--type=time", `--target=${pgbackrestTime(target)}`, "--target-action=promote"];
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * PostgreSQL's start: makes the directories pgBackRest and the second socket need on the data
 * volume; when a restore is asked for and this volume has not had it, restores into the empty
 * data directory (a volume that already has data is never overwritten); then the image's entrypoint.
 */
export function postgresStartScript(i: { command: string; dataDir: string; dirs: string[]; restore?: { id: string; target: string }; entrypoint: string[] }): string {
    const marker = `${i.dataDir}/../restored-${i.restore?.id ?? ""}`;
    return [
        "#!/bin/sh",
        `# ${GENERATED}`,
        "set -eu",
        `mkdir -p ${i.dirs.join(" ")}`,
        ...(i.restore
            ? [
                  `if [ ! -e ${marker} ]; then`,
                  `    if [ -s ${i.dataDir}/PG_VERSION ]; then echo "restore ${i.restore.id}: ${i.dataDir} already holds a cluster; refusing to restore over it" >&2; exit 1; fi`,
                  `    echo "restore ${i.restore.id}: restoring to ${i.restore.target}" >&2`,
                  `    ${i.command} restore ${restoreOptions(i.restore.target).map(shellQuote).join(" ")}`,
                  `    touch ${marker}`,
                  "fi",
              ]
            : []),
        `exec ${i.entrypoint.map(shellQuote).join(" ")}`,
        "",
    ].join("\n");
}

/** One cron schedule as the sets of values its fields allow (stack/schedule.ts reads them). */
export interface CronSets {
    minute: number[];
    hour: number[];
    dayOfMonth: number[];
    month: number[];
    dayOfWeek: number[];
    dayOfMonthAny: boolean;
    dayOfWeekAny: boolean;
}

/** A shell test that is true when `$m $h $dom $mon $dow` (set by the loop) match a schedule; cron's rule: a restricted day of month OR day of week. */
function matches(c: CronSets): string {
    const inSet = (variable: string, values: number[]) => `case " ${values.join(" ")} " in *" $${variable} "*) true ;; *) false ;; esac`;
    const day = c.dayOfMonthAny || c.dayOfWeekAny ? `{ ${inSet("dom", c.dayOfMonth)}; } && { ${inSet("dow", c.dayOfWeek)}; }` : `{ { ${inSet("dom", c.dayOfMonth)}; } || { ${inSet("dow", c.dayOfWeek)}; }; }`;
    return `{ ${inSet("m", c.minute)}; } && { ${inSet("h", c.hour)}; } && { ${inSet("mon", c.month)}; } && ${day}`;
}

/**
 * The backup sidecar: creates the stanza (idempotent) once PostgreSQL answers, checks the
 * archive, takes a full backup if the repository has none, then every minute (UTC) takes the
 * backup the schedule says is due (full wins) and every `checkEveryMinutes` checks the
 * repository. Each result is a row in flowviz_ops.backup_events (through `psql`, as the
 * superuser on the socket) that the exporter reads; a failure never stops the loop.
 */
/** A TLS server whose certificate the sidecar reads: PostgreSQL's protocol negotiates TLS first (STARTTLS), Valkey speaks it directly. */
export interface CertificateEndpoint {
    name: string;
    host: string;
    port: number;
    protocol: "postgres" | "tls";
}

export function backupSchedulerScript(i: { command: string; psql: string; full: CronSets; diff: CronSets; checkEveryMinutes: number; certificates: CertificateEndpoint[] }): string {
    return [
        "#!/bin/sh",
        `# ${GENERATED}`,
        "set -u",
        `pgbr() { ${i.command} "$@"; }`,
        `sql() { ${i.psql} "$@"; }`,
        "# record KIND STATUS: the result of a run (kind: full, diff, check), with the backups' size after a backup",
        "record() {",
        "    bytes=NULL",
        '    if [ "$1" != check ] && info=$(pgbr info --output=json); then',
        `        bytes=$(echo "SELECT coalesce(sum((b->'info'->'repository'->>'delta')::bigint), 0) FROM json_array_elements(:'info'::json->0->'backup') b" | sql -At -v info="$info") || bytes=NULL`,
        "    fi",
        `    sql -c "DELETE FROM flowviz_ops.backup_events WHERE at < now() - interval '90 days'" -c "INSERT INTO flowviz_ops.backup_events (kind, ok, repo_bytes) VALUES ('$1', $2 = 0, \${bytes:-NULL})" >/dev/null || echo "could not record $1" >&2`,
        "}",
        "# certificates: the expiry of each server's certificate as it presents it (a failed read leaves checked_at behind)",
        "certificates() {",
        ...i.certificates.map(
            (c) =>
                `    end=$(openssl s_client -connect ${c.host}:${c.port} -servername ${c.host}${c.protocol === "postgres" ? " -starttls postgres" : ""} </dev/null 2>/dev/null | openssl x509 -noout -enddate) && ` +
                `sql -c "INSERT INTO flowviz_ops.certificates (name, not_after) VALUES ('${c.name}', to_timestamp($(date -u -d "\${end#notAfter=}" +%s))) ON CONFLICT (name) DO UPDATE SET not_after = excluded.not_after, checked_at = now()" >/dev/null || echo "could not read the certificate of ${c.name}" >&2`,
        ),
        "}",
        "until sql -At -c 'SELECT 1' >/dev/null 2>&1; do sleep 5; done",
        "certificates",
        "pgbr stanza-create && pgbr check; record check $?",
        `pgbr info --output=json | grep -q '"label"' || { pgbr backup --type=full; record full $?; }`,
        "last=''",
        "while :; do",
        "    now=$(date -u '+%M %H %d %m %w')",
        '    if [ "$now" != "$last" ]; then',
        "        last=$now",
        "        set -- $now",
        // leading zeros off: cron values are plain numbers
        '        m=${1#0} h=${2#0} dom=${3#0} mon=${4#0} dow=$5',
        "        if " + matches(i.full) + "; then pgbr backup --type=full; record full $?",
        "        elif " + matches(i.diff) + "; then pgbr backup --type=diff; record diff $?",
        "        fi",
        // the repository still answers (repo-ls reads it; check would also force a WAL switch every time)
        `        if [ $(( $(date -u +%s) / 60 % ${i.checkEveryMinutes} )) -eq 0 ]; then pgbr repo-ls >/dev/null; record check $?; certificates; fi`,
        "    fi",
        "    sleep 10",
        "done",
        "",
    ].join("\n");
}

/**
 * postgres_exporter's extra queries (its `--extend.query-path`): the archiver's progress and the
 * backup sidecar's results (backups, and the servers' certificates it reads). Metric names are `<query>_<column>`.
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
        flowviz_backup: {
            query:
                "SELECT k.kind, coalesce(extract(epoch FROM max(e.at) FILTER (WHERE e.ok)), 0) AS last_success_timestamp_seconds, " +
                "coalesce((array_agg(e.ok::int ORDER BY e.at DESC))[1], 1) AS last_ok " +
                "FROM (VALUES ('full'), ('diff'), ('check')) AS k(kind) LEFT JOIN flowviz_ops.backup_events e USING (kind) GROUP BY k.kind",
            metrics: [
                { kind: { usage: "LABEL", description: "full, diff or check (the repository check)" } },
                { last_success_timestamp_seconds: { usage: "GAUGE", description: "when the last successful run ended (0: never)" } },
                { last_ok: { usage: "GAUGE", description: "1 when the last run succeeded" } },
            ],
        },
        flowviz_certificate: {
            query:
                "SELECT n.name, coalesce(extract(epoch FROM c.not_after), 0) AS not_after_seconds, coalesce(extract(epoch FROM c.checked_at), 0) AS checked_timestamp_seconds " +
                `FROM (VALUES ${WATCHED_CERTIFICATES.map((n) => `('${n}')`).join(", ")}) AS n(name) LEFT JOIN flowviz_ops.certificates c USING (name)`,
            metrics: [
                { name: { usage: "LABEL", description: "the server whose certificate it is" } },
                { not_after_seconds: { usage: "GAUGE", description: "when the certificate the server presents expires (0: never read)" } },
                { checked_timestamp_seconds: { usage: "GAUGE", description: "when the backup sidecar last read it (0: never)" } },
            ],
        },
        flowviz_backup_repository: {
            query: "SELECT coalesce((SELECT repo_bytes FROM flowviz_ops.backup_events WHERE repo_bytes IS NOT NULL ORDER BY at DESC LIMIT 1), 0) AS bytes",
            metrics: [{ bytes: { usage: "GAUGE", description: "size of the backups in the repository after the last backup (pgbackrest info)" } }],
        },
    };
    return `# ${GENERATED}\n` + stringify(queries, { lineWidth: 0 });
}
