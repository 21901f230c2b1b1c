/**
 * pgBackRest from typed input: its configuration (plain) and its credentials (a file of
 * their own, included), PostgreSQL's archive settings (the restore before PostgreSQL starts is
 * configs/restore.ts).
 */
import { GENERATED, quoteLiteral, quantityValue, shellQuote, shellScript } from "./format";

/** The annotation a WAL gap leaves on the newest full backup before it (configs/backup-runs.ts); the next full backup carries none. */
export const WAL_GAP_ANNOTATION = "flowviz-wal-gap";

/** The one stanza: the cluster's name in the repository. */
export const STANZA = "flowviz";

/** Where pgBackRest takes the store's credentials: static keys, a projected web identity token (STS), the instance metadata address. */
export type S3KeyType = "shared" | "web-id" | "auto";

export type RepositoryInput =
    | { type: "posix"; path: string }
    | { type: "s3"; endpoint: string; bucket: string; region: string; uriStyle: "host" | "path"; path: string; keyType: S3KeyType; caFile?: string }
    /** the server role reaches no repository */
    | { type: "none" };

export interface PgBackRestInput {
    /** PostgreSQL's data directory, its port and a socket directory both containers see */
    dataDir: string;
    port: number;
    socketDir: string;
    /** where this role keeps its locks (and, archiving, its spool) */
    lockPath: string;
    repository: RepositoryInput;
    /** the off-site repository (repo2), kept by time */
    offsite?: OffsiteInput;
}

/** The off-site repository: an S3 store of its own, its full backups kept this many days. */
export type OffsiteInput = Extract<RepositoryInput, { type: "s3" }> & { retentionDays: number };

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

/** A repository's options, numbered: repo1 the stack's repository, repo2 the off-site one. */
function repositoryOptions(r: RepositoryInput, n: 1 | 2): Record<string, Value> {
    const repo = (k: string) => `repo${n}-${k}`;
    if (r.type === "none") return {};
    // encrypted at rest; the passphrase is in the included credentials file
    const cipher = { [repo("cipher-type")]: "aes-256-cbc" };
    if (r.type === "posix") return { [repo("type")]: "posix", [repo("path")]: r.path, ...cipher };
    return {
        [repo("type")]: "s3",
        [repo("path")]: r.path,
        [repo("s3-endpoint")]: r.endpoint.split(":")[0],
        [repo("storage-port")]: r.endpoint.includes(":") ? Number(r.endpoint.split(":")[1]) : undefined,
        [repo("s3-bucket")]: r.bucket,
        [repo("s3-region")]: r.region,
        [repo("s3-uri-style")]: r.uriStyle,
        [repo("s3-key-type")]: r.keyType,
        [repo("storage-ca-file")]: r.caFile,
        [repo("storage-verify-tls")]: true,
        ...cipher,
    };
}

/**
 * Where a pgbackrest.conf runs, and so what it holds:
 * - `archive`: PostgreSQL's own container (archive-push and -get, a restore before start): the
 *   repository, the asynchronous archive's spool on the data volume, nothing about backups;
 * - `server`: pgBackRest's TLS server beside PostgreSQL, which the backup runs reach: the data
 *   directory and the one client certificate it accepts, no repository;
 * - `repository`: the backup runs: the repository, retention, and PostgreSQL as a TLS host
 *   verified against the stack CA with a client certificate; without `postgres`, what only reads
 *   the repository (the exporter's `pgbackrest info`).
 * - `drill`: the restore drill: the repositories, and a scratch data directory to restore into.
 * A change to backups (retention, the runs) touches only the last, never PostgreSQL's pod.
 */
export type PgBackRestRole =
    | { kind: "archive"; spoolPath: string; archivePushQueueMax: string }
    /** the restore drill: the repositories read into a scratch data directory (pg1-path), nothing written back */
    | { kind: "drill" }
    | { kind: "server"; port: number; tls: TlsFiles; client: string }
    | { kind: "repository"; retention: { full: number; diff: number }; holdExpiry?: boolean; postgres?: { host: string; port: number; tls: TlsFiles } };

/** A certificate, its key and the CA its peer must chain to (paths). */
export interface TlsFiles {
    cert: string;
    key: string;
    ca: string;
}

/** The port of pgBackRest's TLS server (its default). */
export const PGBACKREST_TLS_PORT = 8432;

function roleOptions(i: PgBackRestInput, role: PgBackRestRole): { global: Record<string, Value>; stanza: Record<string, Value> } {
    const pg = { "pg1-path": i.dataDir, "pg1-port": i.port, "pg1-socket-path": i.socketDir, "pg1-user": "postgres" };
    const repository = {
        ...repositoryOptions(i.repository, 1),
        ...(i.offsite && i.repository.type !== "none" ? repositoryOptions(i.offsite, 2) : {}),
        "compress-type": "zst",
        "process-max": 2,
        // a WAL segment waits at most this long for the repository (archive_command fails and PostgreSQL retries; a backup fails)
        "archive-timeout": 60,
    };
    if (role.kind === "drill") return { global: repository, stanza: { "pg1-path": i.dataDir } };
    if (role.kind === "archive") {
        return {
            global: { ...repository, "archive-async": true, "spool-path": role.spoolPath, "archive-push-queue-max": pgbackrestSize(role.archivePushQueueMax), delta: true },
            stanza: pg,
        };
    }
    if (role.kind === "server") {
        return {
            global: {
                "tls-server-address": "*",
                "tls-server-port": role.port,
                "tls-server-cert-file": role.tls.cert,
                "tls-server-key-file": role.tls.key,
                "tls-server-ca-file": role.tls.ca,
                // the only client: the backup runs' certificate, for this stanza alone
                "tls-server-auth": `${role.client}=${STANZA}`,
            },
            stanza: pg,
        };
    }
    return {
        global: {
            ...repository,
            "repo1-retention-full": role.retention.full,
            "repo1-retention-full-type": "count",
            "repo1-retention-diff": role.retention.diff,
            ...(i.offsite ? { "repo2-retention-full": i.offsite.retentionDays, "repo2-retention-full-type": "time", "repo2-bundle": true } : {}),
            // small files bundled; block incremental (repo1-block) left off: restores from an S3 store
            // failed with "block map version must be zero" (pgbackrest#2182) in the integration suite
            "repo1-bundle": true,
            "start-fast": true,
            // after a restore, until a person releases them: nothing from before the incident expires
            "expire-auto": role.holdExpiry ? false : undefined,
        },
        stanza: role.postgres
            ? {
                  ...pg,
                  "pg1-host": role.postgres.host,
                  "pg1-host-type": "tls",
                  "pg1-host-port": role.postgres.port,
                  "pg1-host-cert-file": role.postgres.tls.cert,
                  "pg1-host-key-file": role.postgres.tls.key,
                  "pg1-host-ca-file": role.postgres.tls.ca,
              }
            : {},
    };
}

/** pgbackrest.conf for one role: everything but the credentials (those are in pgbackrestSecrets, included). */
export function pgbackrestConf(i: PgBackRestInput, role: PgBackRestRole): string {
    const { global, stanza } = roleOptions(i, role);
    return [
        `# ${GENERATED}`,
        `# role: ${role.kind}`,
        ...section("global", { ...global, "lock-path": i.lockPath, "log-level-console": "info", "log-level-file": "off" }),
        "",
        ...section(STANZA, stanza),
        "",
    ].join("\n");
}

/** A repository's credentials: its passphrase and, with shared S3 keys, the keys. */
export interface RepositorySecrets {
    cipherPass: string;
    s3?: { key: string; secret: string };
}

/** The included credentials file: each repository's passphrase and keys. */
export function pgbackrestSecrets(s: RepositorySecrets & { offsite?: RepositorySecrets }): string {
    const of = (n: 1 | 2, r: RepositorySecrets | undefined) => ({ [`repo${n}-cipher-pass`]: r?.cipherPass, [`repo${n}-s3-key`]: r?.s3?.key, [`repo${n}-s3-key-secret`]: r?.s3?.secret });
    return [`# ${GENERATED}`, ...section("global", { ...of(1, s), ...of(2, s.offsite) }), ""].join("\n");
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

/** PostgreSQL's start: makes the folders pgBackRest and the second socket need on the data volume, then the image's entrypoint. */
export function postgresStartScript(i: { dirs: string[]; entrypoint: string[] }): string {
    return shellScript([`mkdir -p ${i.dirs.join(" ")}`, `exec ${i.entrypoint.map(shellQuote).join(" ")}`]);
}
