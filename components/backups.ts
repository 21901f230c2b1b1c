/**
 * What continuous archiving and scheduled backups add to PostgreSQL: pgBackRest in its image
 * (archive-push and -get, a restore before start), pgBackRest's TLS server beside it (which
 * also reads the servers' certificates), and the backup runs as a service of their own
 * (`postgres-backup`: CronJobs on Kubernetes, a loop container on Docker) that reach
 * PostgreSQL only through that server. Backup settings live in the runs alone: changing a
 * schedule or retention never restarts PostgreSQL.
 */
import * as pulumi from "@pulumi/pulumi";
import { archiveSettings, pgbackrestCommand, pgbackrestConf, pgbackrestSecrets, postgresStartScript, PGBACKREST_TLS_PORT, type OffsiteInput, type PgBackRestRole, type RepositoryInput, type RepositorySecrets } from "../configs/pgbackrest";
import { restoreScript } from "../configs/restore";
import { backupRunScript, WAL_GAPS_AWK } from "../configs/backup-runs";
import { certificateWatchScript, type CertificateEndpoint } from "../configs/certificates";
import { durationSeconds } from "../configs/format";
import { backupRepository } from "../stack/engine";
import { dataVolumes } from "../stack/backups";
import { FIXED_PORTS, POSTGRES_PORT, SUPERUSER, TLS_FILES } from "../stack/fixed";
import { PGBACKREST_EXPORTER, RESTORE_DRILL } from "../configs/metrics";
import { EXPORTER_RESOURCES, EXPORTER_RUN_AS, listenFlag, metricsEndpoint } from "./exporters";
import { drillScript } from "../configs/drill";
import type { StackConfig } from "../stack/schema";
import { imageTag } from "../stack/images";
import { caFile, certificateFiles, type Certificate } from "./tls";
import { SCRAPER, type ExternalEgress, type ServiceFile, type ServicePort, type ServiceSpec, type Sidecar } from "./service";

/** The data volume's mount; PGDATA is a folder in it, so pgBackRest's spool, locks and a socket can sit beside it. */
export const DATA_MOUNT = "/var/lib/postgresql/data";
export const PGDATA = `${DATA_MOUNT}/pgdata`;
const SOCKET_DIR = `${DATA_MOUNT}/run`;
const SPOOL = `${DATA_MOUNT}/pgbackrest/spool`;
const LOCKS = `${DATA_MOUNT}/pgbackrest/lock`;
/** the posix repository's volume */
const REPO_MOUNT = "/var/lib/pgbackrest";
/** the S3 endpoint's CA, when the stack gives one */
const S3_CA = "pgbackrest/s3-ca.crt";
const OFFSITE_CA = "pgbackrest/offsite-ca.crt";
const CONF = "pgbackrest/pgbackrest.conf";
const CREDENTIALS = "pgbackrest/conf.d/credentials.conf";
/** the Dockerfile Docker builds the image from (Kubernetes pulls postgres.backups.image) */
export const IMAGE_CONTEXT = "images/postgres-pgbackrest";
/** minutes between reads of the servers' certificates */
const CERTIFICATES_EVERY_MINUTES = 5;
/** the backup runs' service; the TLS server lets in its certificate's common name alone */
export const BACKUP_RUNS = "postgres-backup";
/** where the TLS server, the runs and the exporter mount their files (each its own container) */
const DIR = "/etc/pgbackrest";
/** the restore drills' service, and the scratch folder they restore into */
export const DRILL = "postgres-drill";
const DRILL_SCRATCH = "/drill";
/** where drills push what they measured */
export const PUSHGATEWAY = "pushgateway";
/** the runs' and the exporter's locks, on their scratch folder */
const SCRATCH_LOCKS = "/tmp/pgbackrest";

/** A repository's passphrase and, for S3 with shared keys, the keys. */
export interface RepositoryCredentials {
    cipherPass: pulumi.Input<string>;
    s3Keys?: { key: pulumi.Input<string>; secret: pulumi.Input<string> };
}

export interface BackupArgs extends RepositoryCredentials {
    /** the off-site repository's own credentials (postgres.backups.offsite) */
    offsite?: RepositoryCredentials;
    /** where PostgreSQL mounts its generated files */
    configDir: string;
    /** PostgreSQL's own start: the image's entrypoint and its arguments */
    entrypoint: string[];
    runAs: NonNullable<ServiceSpec["runAs"]>;
    /** the TLS servers whose certificates are read beside PostgreSQL (WATCHED_CERTIFICATES) */
    certificates: CertificateEndpoint[];
    /** PostgreSQL's server certificate (the TLS server presents it: the same names), the client CAs it trusts, the server CA the runs trust */
    serverCertificate: Certificate;
    clientCaPem: pulumi.Input<string>;
    serverCaPem: pulumi.Input<string>;
    /** the runs' client certificate, common name BACKUP_RUNS */
    runsCertificate: Certificate;
    /** the name the runs reach PostgreSQL's pod at (its certificate carries it) */
    postgresHost: string;
    /** the address the exporter listens on */
    listenAddress: string;
    /** the Pushgateway's image and the address the drills reach it at */
    pushgatewayImage: string;
    pushgatewayUrl: string;
    /** Kubernetes: the outside addresses the repository's readers need (the object store, its credentials' source) and their workload identity */
    egress?: ExternalEgress[];
    workloadIdentity?: ServiceSpec["workloadIdentity"];
}

/** The parts of PostgreSQL's ServiceSpec that backups set, and the runs' own service. */
export interface BackupParts {
    image: string;
    build?: ServiceSpec["build"];
    command: string[];
    args: string[];
    files: ServiceFile[];
    archive: Record<string, string | number>;
    volumes: NonNullable<ServiceSpec["volumes"]>;
    retainedVolumes: NonNullable<ServiceSpec["retainedVolumes"]>;
    /** the restore before PostgreSQL starts, when one is asked for */
    prepare?: ServiceSpec["prepare"];
    /** pgBackRest's TLS server port on PostgreSQL's pod, open to the runs alone */
    port: ServicePort;
    sidecar: Sidecar;
    runs: ServiceSpec;
    /** pgbackrest_exporter: the repository as `pgbackrest info` reads it */
    exporter: ServiceSpec;
    /** the restore drills, and the Pushgateway they push what they measured to */
    drill: ServiceSpec;
    pushgateway: ServiceSpec;
}


/** The image with pgBackRest and pgAudit PostgreSQL runs: the one the stack names, else (Docker) one built from the Dockerfile on postgres.image. */
export function backupImage(s: StackConfig["postgres"]): { image: string; build?: ServiceSpec["build"] } {
    if (s.backups.image) return { image: s.backups.image };
    return { image: `flowviz/postgres-pgbackrest:${imageTag(s.image)}`, build: { context: IMAGE_CONTEXT, args: { POSTGRES_IMAGE: s.image } } };
}

/** A repository's credentials as plain values, for its pgBackRest credentials file. */
const secretsOf = (c: RepositoryCredentials): pulumi.Output<RepositorySecrets> =>
    pulumi.all([c.cipherPass, c.s3Keys?.key, c.s3Keys?.secret]).apply(([cipherPass, key, secret]) => ({ cipherPass, s3: key && secret ? { key, secret } : undefined }));

function offsiteOf(s: StackConfig["postgres"], configDir: string): OffsiteInput | undefined {
    const o = s.backups.offsite;
    return o ? { type: "s3", ...o.s3, caFile: o.s3.caCert ? `${configDir}/${OFFSITE_CA}` : undefined, retentionDays: o.retentionDays } : undefined;
}

function repositoryOf(s: StackConfig["postgres"], repository: "posix" | "s3", configDir: string): RepositoryInput {
    if (repository === "posix") return { type: "posix", path: REPO_MOUNT };
    const s3 = s.backups.s3!;
    return { type: "s3", ...s3, caFile: s3.caCert ? `${configDir}/${S3_CA}` : undefined };
}

export function backupParts(a: BackupArgs, config: Pick<StackConfig, "platform" | "postgres">): BackupParts | undefined {
    const s = config.postgres;
    const repository = backupRepository(config);
    if (repository === "none") return undefined;
    const { image, build } = backupImage(s);
    const pg = { dataDir: PGDATA, port: POSTGRES_PORT, socketDir: SOCKET_DIR };
    const credentials: ServiceFile = {
        path: CREDENTIALS,
        content: pulumi.all([secretsOf(a), a.offsite && secretsOf(a.offsite)]).apply(([first, offsite]) => pgbackrestSecrets({ ...first, offsite })),
        secret: true,
    };
    /** pgbackrest.conf of a role in a config folder, with the credentials and the store's CA where it reaches the repository */
    const files = (dir: string, role: PgBackRestRole, lockPath: string, dataDir = PGDATA): ServiceFile[] => {
        const repo = role.kind === "server" ? ({ type: "none" } as const) : repositoryOf(s, repository, dir);
        const offsite = role.kind === "server" ? undefined : offsiteOf(s, dir);
        return [
            { path: CONF, content: pgbackrestConf({ ...pg, dataDir, lockPath, repository: repo, offsite }, role) },
            ...(repo.type === "none" ? [] : [credentials]),
            ...(repo.type === "s3" && s.backups.s3?.caCert ? [{ path: S3_CA, content: s.backups.s3.caCert }] : []),
            ...(offsite && s.backups.offsite?.s3.caCert ? [{ path: OFFSITE_CA, content: s.backups.offsite.s3.caCert }] : []),
        ];
    };
    const command = (dir: string) => pgbackrestCommand(`${dir}/${CONF}`, `${dir}/pgbackrest/conf.d`);
    const { current: data, kept } = dataVolumes(s);
    const volumes = [{ name: data, mountPath: DATA_MOUNT, size: s.storageSize }, ...(repository === "posix" ? [{ name: "repo", mountPath: REPO_MOUNT, size: s.backups.repositorySize }] : [])];
    const tlsIn = (dir: string, as: "server" | "client") => ({ cert: `${dir}/${as === "server" ? TLS_FILES.cert : TLS_FILES.clientCert}`, key: `${dir}/${as === "server" ? TLS_FILES.key : TLS_FILES.clientKey}`, ca: `${dir}/${TLS_FILES.ca}` });

    const server: Sidecar = {
        name: "postgres-backup-server",
        component: "backup",
        image,
        command: ["/bin/sh", `${DIR}/server.sh`],
        configDir: DIR,
        files: [
            ...files(DIR, { kind: "server", port: PGBACKREST_TLS_PORT, tls: tlsIn(DIR, "server"), client: BACKUP_RUNS }, LOCKS),
            ...certificateFiles(a.serverCertificate, "server"),
            // the client CAs: only a certificate they signed, with the runs' name, gets in
            caFile(a.clientCaPem),
            {
                path: "server.sh",
                content: certificateWatchScript({
                    psql: `psql -X -q -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -p ${POSTGRES_PORT} -U ${SUPERUSER} -d ${s.database}`,
                    endpoints: a.certificates,
                    everyMinutes: CERTIFICATES_EVERY_MINUTES,
                    exec: `pgbackrest --config=${DIR}/${CONF} server`,
                }),
            },
        ],
        mounts: [data],
        resources: { cpu: "1", memory: "512Mi" },
        runAs: a.runAs,
    };

    // what every reader of the repository has: the image, its own scratch folder for locks, the repository (a
    // borrowed posix volume, or the store and its credentials' source) and its identity there
    const readsRepository = {
        image,
        build,
        runAs: a.runAs,
        scratch: ["/tmp"],
        replicas: 1,
        borrowedVolumes: repository === "posix" ? [{ service: "postgres", name: "repo", mountPath: REPO_MOUNT }] : undefined,
        egress: a.egress,
        workloadIdentity: a.workloadIdentity,
    } satisfies Partial<ServiceSpec>;

    const runs: ServiceSpec = {
        ...readsRepository,
        name: BACKUP_RUNS,
        component: "backup",
        command: ["/bin/sh", `${DIR}/backup.sh`],
        configDir: DIR,
        files: [
            ...files(DIR, { kind: "repository", retention: s.backups.retention, holdExpiry: s.restore?.holdExpiry, postgres: { host: a.postgresHost, port: PGBACKREST_TLS_PORT, tls: tlsIn(DIR, "client") } }, SCRATCH_LOCKS),
            ...certificateFiles(a.runsCertificate, "client"),
            caFile(a.serverCaPem),
            { path: "backup.sh", content: backupRunScript({ command: command(DIR), awkFile: `${DIR}/wal-gaps.awk`, offsite: s.backups.offsite !== undefined }) },
            { path: "wal-gaps.awk", content: WAL_GAPS_AWK },
        ],
        workload: "scheduled",
        schedules: [
            { name: "first", args: ["first", ...(s.restore ? [s.restore.id] : [])], atDeploy: true },
            { name: "full", cron: s.backups.schedule.full, args: ["full"] },
            { name: "diff", cron: s.backups.schedule.diff, args: ["diff"] },
            { name: "verify", cron: s.backups.schedule.verify, args: ["verify"] },
            { name: "wal-check", cron: s.backups.schedule.walCheck, args: ["wal-check"] },
            ...(s.backups.offsite ? [{ name: "offsite", cron: s.backups.offsite.schedule, args: ["offsite"] }] : []),
        ],
        resources: { cpu: "1", memory: "512Mi" },
        dependsOn: ["postgres"],
    };

    // what the repository holds, read by pgBackRest itself (the image carries Debian's prometheus-pgbackrest-exporter)
    const exporter: ServiceSpec = {
        ...readsRepository,
        name: "pgbackrest-exporter",
        component: "exporter",
        command: [
            "prometheus-pgbackrest-exporter",
            `--backrest.config=${DIR}/${CONF}`,
            `--backrest.config-include-path=${DIR}/pgbackrest/conf.d`,
            listenFlag(a.listenAddress, FIXED_PORTS["pgbackrest-exporter"]),
            // a repository changes when a run ends; a minute is plenty, and each collection lists it
            "--collect.interval=60",
        ],
        configDir: DIR,
        files: files(DIR, { kind: "repository", retention: s.backups.retention }, SCRATCH_LOCKS),
        ...metricsEndpoint(PGBACKREST_EXPORTER.job, FIXED_PORTS["pgbackrest-exporter"]),
        // PostgreSQL's image has bash, not wget or nc: the port answers
        health: { exec: ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${FIXED_PORTS["pgbackrest-exporter"]}`] },
        resources: EXPORTER_RESOURCES,
        workload: "deployment",
    };

    // the restore drills: the newest backup of each repository, restored into scratch storage as large as the data volume
    const drill: ServiceSpec = {
        ...readsRepository,
        name: DRILL,
        component: "backup",
        command: ["/bin/sh", `${DIR}/drill.sh`],
        configDir: DIR,
        files: [
            ...files(DIR, { kind: "drill" }, SCRATCH_LOCKS, `${DRILL_SCRATCH}/pgdata`),
            { path: "drill_hba.conf", content: "# only the drill itself, on its own socket in its own scratch folder\nlocal all all trust\n" },
            {
                path: "drill.sh",
                content: drillScript({
                    command: command(DIR),
                    scratch: DRILL_SCRATCH,
                    repositories: s.backups.offsite ? [1, 2] : [1],
                    database: s.database,
                    tables: s.backups.drillTables,
                    pushgateway: a.pushgatewayUrl,
                    hbaFile: `${DIR}/drill_hba.conf`,
                }),
            },
        ],
        ephemeralVolumes: [{ name: "drill-scratch", mountPath: DRILL_SCRATCH, size: s.storageSize }],
        workload: "scheduled",
        schedules: [{ name: "drill", cron: s.backups.schedule.drill, args: [] }],
        resources: { cpu: "1", memory: "1Gi" },
        dependsOn: [PUSHGATEWAY],
    };
    const pushgatewayEndpoint = metricsEndpoint(RESTORE_DRILL.job, FIXED_PORTS.pushgateway);
    const pushgateway: ServiceSpec = {
        name: PUSHGATEWAY,
        component: "monitoring",
        image: a.pushgatewayImage,
        args: [listenFlag(a.listenAddress, FIXED_PORTS.pushgateway), "--persistence.file=/data/pushgateway.data", "--persistence.interval=1m"],
        ports: pushgatewayEndpoint.ports,
        // the drills' results keep the labels they were pushed with
        metrics: { ...pushgatewayEndpoint.metrics, honorLabels: true },
        health: { http: { path: "/-/ready", port: FIXED_PORTS.pushgateway }, liveHttpPath: "/-/healthy" },
        scratch: ["/data"],
        resources: EXPORTER_RESOURCES,
        runAs: EXPORTER_RUN_AS,
        replicas: 1,
        workload: "deployment",
        reachableFrom: [SCRAPER, DRILL],
    };

    return {
        image,
        build,
        command: ["/bin/sh"],
        args: [`${a.configDir}/start.sh`],
        archive: archiveSettings({ command: command(a.configDir), archiveTimeoutSeconds: durationSeconds(s.backups.archiveTimeout)!, socketDirs: ["/var/run/postgresql", SOCKET_DIR] }),
        files: [
            ...files(a.configDir, { kind: "archive", spoolPath: SPOOL, archivePushQueueMax: s.backups.archivePushQueueMax }, LOCKS),
            { path: "start.sh", content: postgresStartScript({ dirs: [SOCKET_DIR, SPOOL, LOCKS], entrypoint: a.entrypoint }) },
            ...(s.restore ? [{ path: "restore.sh", content: restoreScript({ command: command(a.configDir), dataDir: PGDATA, dataMount: DATA_MOUNT, restore: { ...s.restore, repository: { number: s.restore.from === "offsite" ? 2 : 1, asOf: s.restore.repositoryAsOf } } }) }] : []),
        ],
        prepare: s.restore ? { name: "postgres-restore", command: ["/bin/sh", `${a.configDir}/restore.sh`] } : undefined,
        volumes,
        retainedVolumes: kept.map((name) => ({ name, size: s.storageSize })),
        port: { name: "pgbackrest", port: PGBACKREST_TLS_PORT, from: { services: [BACKUP_RUNS] } },
        sidecar: server,
        runs,
        exporter,
        drill,
        pushgateway,
    };
}
