/**
 * pgBackRest from typed input: its configuration (plain) and its credentials (a file of
 * their own, included), PostgreSQL's archive settings, the start script that restores a
 * data directory before PostgreSQL starts, and the scheduler the backup sidecar runs.
 */
import { GENERATED, quoteLiteral, quantityValue } from "./format";

/** The one stanza: the cluster's name in the repository. */
export const STANZA = "flowviz";

export type RepositoryInput =
    | { type: "posix"; path: string }
    | { type: "s3"; endpoint: string; bucket: string; region: string; uriStyle: "host" | "path"; path: string; keyType: "shared" | "auto"; caFile?: string };

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
            "repo1-bundle": true,
            "repo1-block": true,
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

/** What a restore brings back: `latest`, a time, or an LSN (`lsn:0/3000060`). */
export function restoreOptions(target: string): string[] {
    if (target === "latest") return ["--type=default"];
    if (target.startsWith("lsn:")) return ["--type=lsn", `--target=${target.slice(4)}`, "--target-action=promote"];
    return ["--type=time", `--target=${target}`, "--target-action=promote"];
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
 * archive, then every minute (UTC) takes the backup the schedule says is due (full wins) and
 * every `checkEveryMinutes` checks the repository. Each result goes to PostgreSQL through `record`
 * (a psql call) so that the exporter can see it; a failure never stops the loop.
 */
export function backupSchedulerScript(i: { command: string; full: CronSets; diff: CronSets; checkEveryMinutes: number; record: string; ready: string }): string {
    return [
        "#!/bin/sh",
        `# ${GENERATED}`,
        "set -u",
        `pgbr() { ${i.command} "$@"; }`,
        `# record KIND OK: one row in flowviz_ops.backup_events (kind: full, diff, check)`,
        `record() { ${i.record}; }`,
        `until ${i.ready}; do sleep 5; done`,
        "pgbr stanza-create && pgbr check; record check $?",
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
        `        if [ $(( $(date -u +%s) / 60 % ${i.checkEveryMinutes} )) -eq 0 ]; then pgbr check; record check $?; fi`,
        "    fi",
        "    sleep 10",
        "done",
        "",
    ].join("\n");
}
