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
import { chownToServer, runServerBinary, type Binary } from "../binaries";
import { quoteIdent, quoteLiteral } from "../../configs/format";

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
