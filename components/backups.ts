/**
 * What continuous archiving and scheduled backups add to PostgreSQL's service: pgBackRest in
 * its image, its configuration beside postgresql.conf, a start script that restores a new data
 * volume when the stack asks for a restore, the repository's volume (posix), and the backup
 * sidecar that creates the stanza, takes the scheduled backups and checks the repository.
 */
import * as pulumi from "@pulumi/pulumi";
import { archiveSettings, backupSchedulerScript, pgbackrestCommand, pgbackrestConf, pgbackrestSecrets, postgresStartScript, STANZA, type CertificateEndpoint, type RepositoryInput } from "../configs/pgbackrest";
import { durationSeconds } from "../configs/format";
import { backupRepository } from "../stack/engine";
import { cronFields } from "../stack/schedule";
import { POSTGRES_PORT, SUPERUSER } from "../stack/fixed";
import type { StackConfig } from "../stack/schema";
import { imageTag } from "../stack/images";
import type { ServiceFile, ServiceSpec, Sidecar } from "./service";

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
const CONF = "pgbackrest/pgbackrest.conf";
const CREDENTIALS = "pgbackrest/conf.d/credentials.conf";
/** the Dockerfile Docker builds the image from (Kubernetes pulls postgres.backups.image) */
export const IMAGE_CONTEXT = "images/postgres-pgbackrest";
/** minutes between repository checks */
const CHECK_EVERY_MINUTES = 5;

export interface BackupArgs {
    cipherPass: pulumi.Input<string>;
    s3Keys?: { key: pulumi.Input<string>; secret: pulumi.Input<string> };
    superuserPassword: pulumi.Input<string>;
    /** where the service mounts its generated files */
    configDir: string;
    /** PostgreSQL's own start: the image's entrypoint and its arguments */
    entrypoint: string[];
    runAs: NonNullable<ServiceSpec["runAs"]>;
    /** the TLS servers whose certificates the sidecar reads (WATCHED_CERTIFICATES) */
    certificates: CertificateEndpoint[];
}

/** The parts of PostgreSQL's ServiceSpec that backups set. */
export interface BackupParts {
    image: string;
    build?: ServiceSpec["build"];
    command: string[];
    args: string[];
    files: ServiceFile[];
    archive: Record<string, string | number>;
    volumes: NonNullable<ServiceSpec["volumes"]>;
    retainedVolumes: NonNullable<ServiceSpec["retainedVolumes"]>;
    sidecar: Sidecar;
}

/** The data volume's name: a restore gets a new one, the old one is kept. */
export const dataVolumeName = (s: StackConfig["postgres"]) => (s.restore ? `data-${s.restore.id}` : "data");

/** The image with pgBackRest and pgAudit PostgreSQL runs: the one the stack names, else (Docker) one built from the Dockerfile on postgres.image. */
export function backupImage(s: StackConfig["postgres"]): { image: string; build?: ServiceSpec["build"] } {
    if (s.backups.image) return { image: s.backups.image };
    return { image: `flowviz/postgres-pgbackrest:${imageTag(s.image)}`, build: { context: IMAGE_CONTEXT, args: { POSTGRES_IMAGE: s.image } } };
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
    const files = (dir: string): ServiceFile[] => {
        const input = { dataDir: PGDATA, port: POSTGRES_PORT, socketDir: SOCKET_DIR, spoolPath: SPOOL, lockPath: LOCKS, repository: repositoryOf(s, repository, dir), retention: s.backups.retention, archivePushQueueMax: s.backups.archivePushQueueMax };
        return [
            { path: CONF, content: pgbackrestConf(input) },
            {
                path: CREDENTIALS,
                content: pulumi.all([a.cipherPass, a.s3Keys?.key, a.s3Keys?.secret]).apply(([cipherPass, key, secret]) => pgbackrestSecrets({ cipherPass, s3: key && secret ? { key, secret } : undefined })),
                secret: true,
            },
            ...(s.backups.s3?.caCert && repository === "s3" ? [{ path: S3_CA, content: s.backups.s3.caCert }] : []),
        ];
    };
    const command = (dir: string) => pgbackrestCommand(`${dir}/${CONF}`, `${dir}/pgbackrest/conf.d`);
    const data = dataVolumeName(s);
    const volumes = [{ name: data, mountPath: DATA_MOUNT, size: s.storageSize }, ...(repository === "posix" ? [{ name: "repo", mountPath: REPO_MOUNT, size: s.backups.repositorySize }] : [])];

    const sidecarDir = "/etc/pgbackrest";
    const scheduler = backupSchedulerScript({
        command: command(sidecarDir),
        psql: `psql -X -q -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -p ${POSTGRES_PORT} -U ${SUPERUSER} -d ${s.database}`,
        full: cronFields(s.backups.schedule.full),
        diff: cronFields(s.backups.schedule.diff),
        checkEveryMinutes: CHECK_EVERY_MINUTES,
        certificates: a.certificates,
    });
    return {
        image,
        build,
        command: ["/bin/sh"],
        args: [`${a.configDir}/start.sh`],
        archive: archiveSettings({ command: command(a.configDir), archiveTimeoutSeconds: durationSeconds(s.backups.archiveTimeout)!, socketDirs: ["/var/run/postgresql", SOCKET_DIR] }),
        files: [
            ...files(a.configDir),
            { path: "start.sh", content: postgresStartScript({ command: command(a.configDir), dataDir: PGDATA, dirs: [SOCKET_DIR, SPOOL, LOCKS], restore: s.restore, entrypoint: a.entrypoint }) },
        ],
        volumes,
        retainedVolumes: s.restore ? [{ name: "data", size: s.storageSize }] : [],
        sidecar: {
            name: "postgres-backup",
            component: "backup",
            image,
            command: ["/bin/sh", `${sidecarDir}/scheduler.sh`],
            configDir: sidecarDir,
            files: [...files(sidecarDir), { path: "scheduler.sh", content: scheduler }],
            secretEnv: {
                reason: `pgBackRest reaches PostgreSQL through libpq on the socket as ${SUPERUSER} (backup start and stop, the ${STANZA} stanza's check); libpq takes a password from the environment or a password file it refuses when the group can read it, as Kubernetes mounts Secrets`,
                values: { PGPASSWORD: a.superuserPassword },
            },
            mounts: volumes.map((v) => v.name),
            resources: { cpu: "1", memory: "512Mi" },
            runAs: a.runAs,
        },
    };
}
