import * as pulumi from "@pulumi/pulumi";
import { pgHbaConf, postgresqlConf, rolesSql, sharedMemorySize, type LoginRole, type RolesInput } from "../configs/postgres";
import type { StackConfig } from "../stack/schema";
import { FIXED_PORTS, POSTGRES_PORT, SECRET_FILE, SUPERUSER, TLS_FILES } from "../stack/fixed";
import { CERTIFICATE_LIFETIME } from "../configs/certificates";
import { caFile, certificateFiles, type Authorities } from "./tls";
import type { Platform, ServiceSpec } from "./service";
import { BACKUP_RUNS, backupImage, backupParts, DATA_MOUNT, PGDATA, PUSHGATEWAY, type RepositoryCredentials } from "./backups";
import { backupCredentialEgress, backupWorkloadIdentity, objectStorageEgress } from "./egress";
import type { CertificateEndpoint } from "../configs/certificates";
import { backupRepository, type MigrationStage } from "../stack/engine";
import { REPLICATION_ROLE } from "../facts/roles";
import { guardrailsOf } from "../stack/guardrails";

const CONFIG_DIR = "/etc/postgresql";
const ROLES_DIR = "/etc/flowviz";
/** uid/gid of `postgres` in the official Debian-based image */
const POSTGRES_UID = 999;

type LoginKind = "superuser" | "migrator" | "app" | "monitor";

export interface PostgresArgs {
    /** the stack's `postgres` section */
    readonly settings: StackConfig["postgres"];
    readonly platform: Platform;
    /** the TLS servers besides PostgreSQL whose certificates the certificate watch beside PostgreSQL reads (PgBouncer, Valkey) */
    readonly certificateEndpoints: CertificateEndpoint[];
    /** Kubernetes: the object store's addresses (kubernetes.egress.objectStorageCidrs) */
    readonly objectStorageCidrs?: string[];
    /** password of the `postgres` superuser (the image sets it when it creates the cluster; the roles job on every change) */
    readonly superuserPassword: pulumi.Input<string>;
    /** the superuser's and the application database's roles, each login with its SCRAM verifier */
    readonly roles: Omit<RolesInput, LoginKind> & Record<LoginKind, { [K in keyof LoginRole]: pulumi.Input<LoginRole[K]> }>;
    /** issues PostgreSQL's server certificate; its clients verify it */
    readonly ca: Authorities;
    /** services allowed to connect (besides the roles job) */
    readonly clients: string[];
    /** the Pushgateway the restore drills push to (monitoring.pushgatewayImage) */
    readonly pushgatewayImage: string;
    /** Docker host port; none publishes nothing */
    readonly hostPort?: number;
    /** the backup repository's passphrase and, for S3 with shared keys, the keys */
    readonly backupCredentials: RepositoryCredentials & { offsite?: RepositoryCredentials };
    /** a CloudNativePG Cluster moving from this server (postgres.cloudnativePg.fromStatefulSet): the Cluster's pods clone and stream as REPLICATION_ROLE; `switch` stops this server, `retired` keeps its volumes only */
    readonly migratingTo?: { service: string; stage: MigrationStage };
}

/**
 * PostgreSQL with generated postgresql.conf and pg_hba.conf on a protected volume,
 * plus a one-shot `postgres-roles` job that applies the roles script on every change,
 * logging in as the superuser with its client certificate (so a new superuser password
 * is applied like any other, never needed to get in).
 */
export class Postgres extends pulumi.ComponentResource {
    /** host:port other services use */
    readonly host: string;
    readonly port = POSTGRES_PORT;
    /** services of this database that read other servers' certificates (a TLS handshake, no login): PostgreSQL's pod (the watch beside pgBackRest's TLS server), when it backs up */
    readonly certificateReaders: string[];

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:database:Postgres", name, {}, opts);
        const s = args.settings;
        const moving = args.migratingTo;
        const replication = moving && moving.stage !== "retired" ? REPLICATION_ROLE : undefined;
        const runAs = { user: POSTGRES_UID, group: POSTGRES_UID, readOnlyRootFilesystem: true };
        const cert = args.ca.issue(name, args.platform.namesOf(name), this);
        const s3 = backupRepository({ platform: args.platform.kind, postgres: s }) === "s3" ? s.backups.s3 : undefined;
        const stores = [s3, s.backups.offsite?.s3].filter((x) => x !== undefined);
        // PostgreSQL's pod archives, the backup runs back up: both reach the stores and their credentials' source
        const storeEgress = stores.length > 0 ? stores.flatMap((store) => [objectStorageEgress(store.endpoint, args.objectStorageCidrs), ...backupCredentialEgress(store)]) : undefined;
        const workloadIdentity = stores.map(backupWorkloadIdentity).find((w) => w !== undefined);
        const serverArgs = ["postgres", "-c", `config_file=${CONFIG_DIR}/postgresql.conf`, "-c", `hba_file=${CONFIG_DIR}/pg_hba.conf`];
        const backups = backupParts(
            {
                ...args.backupCredentials,
                configDir: CONFIG_DIR,
                entrypoint: ["docker-entrypoint.sh", ...serverArgs],
                runAs,
                certificates: [{ name: name, host: "127.0.0.1", port: POSTGRES_PORT, protocol: "postgres" }, ...args.certificateEndpoints],
                serverCertificate: cert,
                clientCaPem: args.ca.clientCertPem,
                serverCaPem: args.ca.certPem,
                runsCertificate: args.ca.issueClient(BACKUP_RUNS, BACKUP_RUNS, CERTIFICATE_LIFETIME.backupClient, this),
                postgresHost: args.platform.namesOf(name).dnsNames[0]!,
                listenAddress: args.platform.listenAddress,
                egress: storeEgress,
                workloadIdentity,
                pushgatewayImage: args.pushgatewayImage,
                pushgatewayUrl: `http://${args.platform.hostOf(PUSHGATEWAY)}:${FIXED_PORTS.pushgateway}`,
            },
            { platform: args.platform.kind, postgres: s },
        );
        const server: ServiceSpec = {
            name,
            component: "database",
            // always the image with pgAudit (and pgBackRest): postgresql.conf preloads it
            ...backupImage(s),
            command: backups?.command,
            args: backups?.args ?? serverArgs,
            // the superuser's password, from a file; the image reads it when it creates the cluster
            env: { PGDATA, POSTGRES_INITDB_ARGS: "--auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --data-checksums", POSTGRES_PASSWORD_FILE: `${CONFIG_DIR}/${SECRET_FILE}` },
            ports: [{ name: "postgres", port: POSTGRES_PORT, hostPort: args.hostPort }, ...(backups ? [backups.port] : [])],
            configDir: CONFIG_DIR,
            files: [
                {
                    path: "postgresql.conf",
                    content: postgresqlConf({ port: POSTGRES_PORT, ...s, tls: { certFile: `${CONFIG_DIR}/${TLS_FILES.cert}`, keyFile: `${CONFIG_DIR}/${TLS_FILES.key}`, caFile: `${CONFIG_DIR}/${TLS_FILES.ca}` }, archive: backups?.archive }),
                },
                {
                    path: "pg_hba.conf",
                    content: pgHbaConf({ database: s.database, databaseLogins: [args.roles.app.name, args.roles.migrator.name, args.roles.monitor.name] as string[], superuser: SUPERUSER, replication }),
                },
                ...certificateFiles(cert, "server"),
                // the CAs client certificates must chain to (ssl_ca_file)
                caFile(args.ca.clientCertPem),
                { path: SECRET_FILE, content: args.superuserPassword, secret: true },
                ...(backups?.files ?? []),
            ],
            volumes: backups?.volumes ?? [{ name: "data", mountPath: DATA_MOUNT, size: s.storageSize }],
            retainedVolumes: backups?.retainedVolumes,
            prepare: backups?.prepare,
            sidecars: backups ? [backups.sidecar] : undefined,
            scratch: ["/var/run/postgresql", "/tmp"],
            sharedMemory: sharedMemorySize(s).quantity,
            // crash recovery replays the WAL since the last checkpoint; it must not be cut short
            health: { exec: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", SUPERUSER], startSeconds: 30, maxStartSeconds: 1800 },
            resources: s.resources,
            // switch: stopped (a fast shutdown sends the last WAL to the streaming Cluster) before the Cluster is promoted
            replicas: moving?.stage === "switch" ? 0 : 1,
            workload: "statefulset",
            // Fast shutdown (roll back sessions, write a checkpoint); the checkpoint needs time, a kill means crash recovery.
            stop: { signal: "SIGINT", graceSeconds: 120 },
            runAs,
            reachableFrom: [...args.clients, `${name}-roles`, ...(replication ? [moving!.service] : [])],
            egress: storeEgress,
            workloadIdentity,
        };
        this.host = args.platform.hostOf(name);
        if (moving?.stage === "retired") {
            args.platform.retire(server, this);
            this.certificateReaders = [];
            this.registerOutputs({ host: this.host });
            return;
        }
        args.platform.deploy(server, this);
        if (backups) {
            args.platform.deploy(backups.runs, this);
            args.platform.deploy(backups.exporter, this);
            args.platform.deploy(backups.pushgateway, this);
            args.platform.deploy(backups.drill, this);
        }
        this.certificateReaders = backups ? [name] : [];

        const rolesJob = `${name}-roles`;
        const client = args.ca.issueSuperuserClient(rolesJob, SUPERUSER, this);
        const tlsPath = (file: string) => `${ROLES_DIR}/${file}`;
        const roles: ServiceSpec = {
            name: rolesJob,
            component: "database-roles",
            image: s.image,
            command: ["psql"],
            args: ["-X", "-q", "-h", this.host, "-p", String(POSTGRES_PORT), "-U", SUPERUSER, "-d", "postgres", "-f", `${ROLES_DIR}/roles.sql`],
            // the superuser's certificate, no password: libpq reads these
            env: { PGSSLMODE: "verify-full", PGSSLROOTCERT: tlsPath(TLS_FILES.ca), PGSSLCERT: tlsPath(TLS_FILES.clientCert), PGSSLKEY: tlsPath(TLS_FILES.clientKey) },
            configDir: ROLES_DIR,
            files: [
                { path: "roles.sql", content: pulumi.output(args.roles).apply((r) => rolesSql({ ...(r as RolesInput), replication }, guardrailsOf(s))), secret: true },
                caFile(args.ca.certPem),
                ...certificateFiles(client, "client"),
            ],
            resources: { cpu: "250m", memory: "128Mi" },
            replicas: 1,
            workload: "job",
            runAs,
            dependsOn: [name],
        };
        args.platform.deploy(roles, this);
        this.registerOutputs({ host: this.host });
    }
}
