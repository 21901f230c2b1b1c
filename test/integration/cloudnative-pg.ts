/**
 * One CloudNativePG instance, as far as it runs without the operator: PostgreSQL 17 started with
 * the configuration CloudNativePG 1.30's instance manager writes (its defaults and mandatory
 * settings, then the Cluster's parameters, pg_hba and synchronous settings), bootstrapped as its
 * initdb job and managed roles do, archiving through the Barman Cloud tools its plugin's sidecar
 * runs. What comes from the operator is written down here from its source
 * (pkg/postgres/configuration.go, pkg/postgres/replication/explicit.go; docs/CLOUDNATIVE-PG.md).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { chownToServer, runServerBinary, type Binary } from "../binaries";
import { quoteIdent, quoteLiteral } from "../../configs/format";
import { issueCertificate, testCaFor } from "./certs";
import { LOCAL_FILE_LIMIT, PgBouncerServer, psql, waitFor, type Rendered } from "./servers";

/** The read-write Service's name, which clients verify the primary's certificate against. */
export const RW = "postgres-rw.flowviz.svc.cluster.local";

export type ClusterSpec = Record<string, any>;

/** The operator's defaults (a Cluster's parameters override them) and its mandatory settings (they override the Cluster's), paths under `dir`. */
function operatorSettings(dir: string, port: number): { defaults: Record<string, string>; mandatory: Record<string, string> } {
    return {
        defaults: {
            archive_timeout: "5min", dynamic_shared_memory_type: "posix", full_page_writes: "on", logging_collector: "on", log_destination: "csvlog",
            log_directory: `${dir}/log`, log_filename: "postgres", log_rotation_age: "0", log_rotation_size: "0", log_truncate_on_rotation: "false",
            max_parallel_workers: "32", max_worker_processes: "32", max_replication_slots: "32", shared_memory_type: "mmap",
            ssl_max_protocol_version: "TLSv1.3", ssl_min_protocol_version: "TLSv1.3", wal_keep_size: "512MB", wal_level: "logical", wal_log_hints: "on",
            wal_sender_timeout: "5s", wal_receiver_timeout: "5s",
        },
        mandatory: {
            hot_standby: "true",
            // '*' in a pod; loopback on a shared machine
            listen_addresses: "127.0.0.1",
            port: String(port),
            restart_after_crash: "false",
            ssl: "on",
            ssl_cert_file: `${dir}/tls/server.crt`,
            ssl_key_file: `${dir}/tls/server.key`,
            ssl_ca_file: `${dir}/tls/client-ca.crt`,
            unix_socket_directories: `${dir}/run`,
        },
    };
}

/** synchronous_standby_names as the operator derives it with dataDurability required: every instance's name, primary included (PostgreSQL ignores its own). */
export function synchronousStandbyNames(cluster: string, spec: ClusterSpec): string {
    const sync = spec.postgresql.synchronous;
    const names = Array.from({ length: spec.instances }, (_, i) => `"${cluster}-${i + 1}"`);
    return `${sync.method.toUpperCase()} ${sync.number} (${names.join(",")})`;
}

/** pg_hba.conf: the operator's fixed rules, the Cluster's, the operator's default last. */
export function operatorHba(spec: ClusterSpec): string {
    return [
        "local all cnpg_metrics_exporter peer map=cnpg_metrics_exporter",
        "local all all peer map=local",
        "hostssl postgres streaming_replica all cert map=cnpg_streaming_replica",
        "hostssl replication streaming_replica all cert map=cnpg_streaming_replica",
        "hostssl all cnpg_pooler_pgbouncer all cert map=cnpg_pooler_pgbouncer",
        ...spec.postgresql.pg_hba,
        "host all all all scram-sha-256",
        "",
    ].join("\n");
}

export interface InstanceFiles {
    /** server certificate and key, and the client CA (ssl_ca_file) */
    serverCert: string;
    serverKey: string;
    clientCa: string;
}

export interface BarmanCloud {
    /** the command line options of barman-cloud-wal-archive / -backup for the ObjectStore, and the environment the plugin's sidecar gives them */
    walArchive: string[];
    backup: string[];
    restore: string[];
    env: Record<string, string>;
    destination: string;
}

/**
 * The Barman Cloud tools' options for an ObjectStore's spec, as the plugin passes them: the
 * provider and endpoint, compression and server-side encryption; credentials, region and the
 * endpoint's CA in the environment (boto3 reads AWS_*).
 */
export function barmanCloudOptions(store: ClusterSpec, secrets: { accessKey: string; secretKey: string; region: string; ca?: string }): BarmanCloud {
    const c = store.configuration;
    const provider = ["--cloud-provider", "aws-s3", "--endpoint-url", c.endpointURL];
    const compression = (v?: string) => (v ? [`--${v}`] : []);
    const encryption = (v?: string) => (v ? ["-e", v] : []);
    return {
        walArchive: [...provider, ...compression(c.wal?.compression), ...encryption(c.wal?.encryption)],
        backup: [...provider, ...compression(c.data?.compression), ...encryption(c.data?.encryption), ...(c.data?.jobs ? ["--jobs", String(c.data.jobs)] : [])],
        restore: provider,
        env: { AWS_ACCESS_KEY_ID: secrets.accessKey, AWS_SECRET_ACCESS_KEY: secrets.secretKey, AWS_DEFAULT_REGION: secrets.region, ...(secrets.ca ? { AWS_CA_BUNDLE: secrets.ca } : {}) },
        destination: c.destinationPath,
    };
}

/** One instance's folder: data, socket, log, TLS files. */
export class Instance {
    readonly data: string;
    constructor(readonly dir: string, readonly name: string, readonly port: number) {
        this.data = join(dir, "pgdata");
    }

    /** postgresql.conf and pg_hba.conf / pg_ident.conf as the instance manager writes them, plus what the test adds (archiving, recovery). */
    writeConfig(spec: ClusterSpec, files: InstanceFiles, extra: Record<string, string> = {}): void {
        for (const d of ["run", "log", "tls"]) mkdirSync(join(this.dir, d), { recursive: true });
        for (const [from, to] of [[files.serverCert, "server.crt"], [files.serverKey, "server.key"], [files.clientCa, "client-ca.crt"]] as const) {
            runServerBinary("sh", ["-c", `cp "$0" "$1" && chmod 600 "$1"`, from, join(this.dir, "tls", to)]);
        }
        const { defaults, mandatory } = operatorSettings(this.dir, this.port);
        const preload = [...spec.postgresql.shared_preload_libraries];
        const settings: Record<string, string> = {
            ...defaults,
            ...spec.postgresql.parameters,
            ...mandatory,
            shared_preload_libraries: preload.join(","),
            synchronous_standby_names: synchronousStandbyNames(this.name.replace(/-\d+$/, ""), spec),
            cluster_name: this.name.replace(/-\d+$/, ""),
            hba_file: join(this.dir, "pg_hba.conf"),
            ident_file: join(this.dir, "pg_ident.conf"),
            ...extra,
        };
        writeFileSync(join(this.dir, "postgresql.conf"), Object.entries(settings).map(([k, v]) => `${k} = ${quoteLiteral(v)}`).join("\n") + "\n");
        writeFileSync(join(this.dir, "pg_hba.conf"), operatorHba(spec));
        writeFileSync(join(this.dir, "pg_ident.conf"), ["local postgres postgres", "cnpg_streaming_replica streaming_replica streaming_replica", "cnpg_metrics_exporter postgres cnpg_metrics_exporter", ""].join("\n"));
        chownToServer(this.dir);
    }

    /** pg_ctl start; `env` reaches archive_command and restore_command (the sidecar's environment) */
    start(env: Record<string, string> = {}): void {
        runServerBinary("pg_ctl", ["-D", this.data, "-l", join(this.dir, "startup.log"), "-w", "-t", "180", "-o", `-c config_file=${join(this.dir, "postgresql.conf")}`, "start"], { asServerUser: true, env, timeout: 200_000 });
    }
    stop(mode: "fast" | "immediate" = "fast"): void {
        try {
            this.ctl(["-m", mode, "-w", "stop"]);
        } catch {
            /* not running */
        }
    }
    ctl(args: string[]): string {
        return runServerBinary("pg_ctl", ["-D", this.data, ...args], { asServerUser: true, timeout: 180_000 });
    }

    /** SQL as the postgres user over the socket (the operator's peer login). */
    sql(sql: string, db = "postgres"): string {
        return runServerBinary("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", join(this.dir, "run"), "-p", String(this.port), "-U", "postgres", "-d", db, "-c", sql], { asServerUser: true }).trim();
    }

    /** initdb as the Cluster's bootstrap.initdb asks. */
    initdb(spec: ClusterSpec): void {
        rmSync(this.dir, { recursive: true, force: true });
        mkdirSync(this.dir, { recursive: true });
        chownToServer(this.dir);
        const i = spec.bootstrap.initdb;
        const locale = i.localeProvider === "builtin" ? ["--locale-provider=builtin", `--builtin-locale=${i.builtinLocale}`] : [];
        runServerBinary("initdb", ["-D", this.data, "-U", "postgres", `--encoding=${i.encoding}`, ...(i.dataChecksums ? ["--data-checksums"] : []), ...locale], { asServerUser: true });
    }

    /**
     * What the initdb job and the instance manager then do: the owner and the application
     * database, streaming_replica, the Cluster's bootstrap SQL, and each managed role with its
     * Secret's password (a SCRAM verifier, stored as given).
     */
    bootstrap(spec: ClusterSpec, bootstrapSql: Record<string, string>, passwords: Record<string, string>): void {
        const i = spec.bootstrap.initdb;
        this.sql(`CREATE ROLE ${quoteIdent(i.owner)} LOGIN`);
        this.sql(`CREATE DATABASE ${quoteIdent(i.database)} OWNER ${quoteIdent(i.owner)}`);
        this.sql("CREATE ROLE streaming_replica LOGIN REPLICATION");
        const file = (name: string, text: string) => {
            writeFileSync(join(this.dir, name), text);
            chownToServer(join(this.dir, name));
            return join(this.dir, name);
        };
        for (const [ref, db] of [[i.postInitSQLRefs, "postgres"], [i.postInitApplicationSQLRefs, i.database]] as const) {
            for (const { key } of ref.configMapRefs) runServerBinary("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", join(this.dir, "run"), "-p", String(this.port), "-U", "postgres", "-d", db, "-f", file(key, bootstrapSql[key]!)], { asServerUser: true });
        }
        for (const r of spec.managed.roles) {
            const flag = (on: boolean, word: string) => `${on ? "" : "NO"}${word}`;
            const password = r.passwordSecret ? ` PASSWORD ${quoteLiteral(passwords[r.passwordSecret.name]!)}` : "";
            this.sql(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(r.name)}) THEN CREATE ROLE ${quoteIdent(r.name)}; END IF; END $$`);
            this.sql(
                `ALTER ROLE ${quoteIdent(r.name)} WITH ${flag(r.login, "LOGIN")} ${flag(r.inherit, "INHERIT")} ${flag(r.superuser, "SUPERUSER")} ${flag(r.createdb, "CREATEDB")} ${flag(r.createrole, "CREATEROLE")} ${flag(r.replication, "REPLICATION")} ${flag(r.bypassrls, "BYPASSRLS")} CONNECTION LIMIT ${r.connectionLimit ?? -1}${password}`,
            );
            for (const parent of r.inRoles ?? []) this.sql(`GRANT ${quoteIdent(parent)} TO ${quoteIdent(r.name)}`);
        }
    }

    /** A barman-cloud tool run as the sidecar runs it (the server user, the ObjectStore's environment). */
    barman(bin: Binary, args: string[], env: Record<string, string>): string {
        return runServerBinary(bin, args, { asServerUser: true, env, timeout: 300_000 });
    }
}

/** A recoveryTarget.targetTime (RFC 3339) as the operator hands it to PostgreSQL (api/v1/cluster_funcs.go: ConvertToPostgresFormat). */
export const postgresTime = (rfc3339: string) => rfc3339.replace("T", " ").replace(/Z$/, "+00");

/** A rendered CloudNativePG stack's objects, by kind and name. */
export const planned = (rendered: Rendered, kind: string, name: string) => rendered.plan.resources.find((r) => r.inputs.kind === kind && r.name === name)!.inputs;
const secretData = (rendered: Rendered, name: string) => rendered.plan.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === name)!.inputs.stringData;

export interface RunningCluster {
    spec: ClusterSpec;
    primary: Instance;
    standby: Instance;
    /** the instances' TLS files */
    files: InstanceFiles;
    /** the standby's connection to the primary (the replication certificate, application_name postgres-2) */
    replication: string;
}

/**
 * The rendered Cluster run as the operator would run its first two instances: the primary
 * initialised and bootstrapped alone (initdb job, bootstrap SQL, managed roles), a standby cloned
 * from it with pg_basebackup and the `streaming_replica` certificate, then the primary given the
 * Cluster's synchronous settings. `primaryExtra` adds settings (archiving); `env` reaches
 * archive_command. The server certificate is the plan's, issued again with 127.0.0.1 added:
 * PgBouncer, unlike libpq's hostaddr, cannot connect to one address and verify another name.
 */
export async function startCluster(base: string, rendered: Rendered, primaryExtra: Record<string, string> = {}, env: Record<string, string> = {}): Promise<RunningCluster> {
    const spec: ClusterSpec = planned(rendered, "Cluster", "postgres").spec;
    const request = rendered.plan.resources.find((r) => r.type === "tls:index/certRequest:CertRequest" && r.name === "postgres-tls-request")!.inputs;
    issueCertificate(`${base}/server`, testCaFor("ca-cert"), { ...request, subject: { commonName: RW }, ipAddresses: ["127.0.0.1"] } as never, "serverAuth");
    const files = { serverCert: `${base}/server/cert.crt`, serverKey: `${base}/server/cert.key`, clientCa: testCaFor("client-ca-cert").cert };
    chownToServer(base);

    const primary = new Instance(`${base}/postgres-1`, "postgres-1", 5432);
    primary.initdb(spec);
    primary.writeConfig(spec, files, { ...primaryExtra, synchronous_standby_names: "" });
    primary.start(env);
    const passwords = { [spec.managed.roles[1].passwordSecret.name]: secretData(rendered, "postgres-migrator-password").password, [spec.managed.roles[2].passwordSecret.name]: secretData(rendered, "postgres-app-password").password };
    primary.bootstrap(spec, planned(rendered, "ConfigMap", "postgres-bootstrap").data, passwords);

    const standby = new Instance(`${base}/postgres-2`, "postgres-2", 5433);
    const cert = join(rendered.files, "postgres-replication/tls");
    runServerBinary("sh", ["-c", `rm -rf "$0" && mkdir -p "$0/tls" && cp "$1/client.crt" "$1/client.key" "$0/tls/" && chmod 600 "$0/tls/client.key"`, standby.dir, cert]);
    chownToServer(standby.dir);
    const replication = `host=${RW} hostaddr=127.0.0.1 port=5432 user=streaming_replica sslmode=verify-full sslrootcert=${testCaFor("ca-cert").cert} sslcert=${standby.dir}/tls/client.crt sslkey=${standby.dir}/tls/client.key application_name=postgres-2`;
    runServerBinary("pg_basebackup", ["-d", replication, "-D", standby.data, "-X", "stream", "-c", "fast"], { asServerUser: true, timeout: 180_000 });
    runServerBinary("sh", ["-c", `touch "$0/standby.signal"`, standby.data], { asServerUser: true });
    standby.writeConfig(spec, files, { primary_conninfo: replication });
    standby.start();
    primary.writeConfig(spec, files, primaryExtra);
    primary.ctl(["reload"]);
    await waitFor("postgres-2 streaming as a synchronous candidate", () => primary.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'postgres-2'") === "quorum", 60);
    return { spec, primary, standby, files, replication };
}

/** The render's PgBouncer (its pgbouncer.ini as rendered, the server moved from the -rw Service's name to the primary's loopback address), answering. */
export async function startPgBouncer(rendered: Rendered): Promise<PgBouncerServer> {
    const ini = join(rendered.files, "pgbouncer/pgbouncer.ini");
    writeFileSync(ini, readFileSync(ini, "utf8").replace(`host=${RW}`, "host=127.0.0.1").replace(/^listen_addr = .*$/m, "listen_addr = 127.0.0.1"));
    const pgb = new PgBouncerServer(rendered, LOCAL_FILE_LIMIT);
    pgb.start();
    await waitFor("PgBouncer", () => psql({ port: 6432, user: "flowviz", password: rendered.plan.outputs.appDbPassword, db: "flowviz", sql: "select 1" }) === "1");
    return pgb;
}
