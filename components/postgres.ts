import * as pulumi from "@pulumi/pulumi";
import { pgHbaConf, postgresqlConf, rolesSql, type RoleSpec } from "../configs/postgres";
import type { StackConfig } from "../stack/schema";
import { POSTGRES_PORT, SUPERUSER } from "../stack/fixed";
import type { Platform, ServiceSpec } from "./service";

const CONFIG_DIR = "/etc/postgresql";
/** uid/gid of `postgres` in the official Debian-based image */
const POSTGRES_UID = 999;

export interface PostgresArgs {
    /** the stack's `postgres` section */
    readonly settings: StackConfig["postgres"];
    readonly platform: Platform;
    /** password of the `postgres` superuser */
    readonly superuserPassword: pulumi.Input<string>;
    /** login roles the database must have, each with its SCRAM verifier */
    readonly roles: { [K in keyof RoleSpec]: pulumi.Input<RoleSpec[K]> }[];
    /** services allowed to connect (besides the roles job) */
    readonly clients: string[];
    /** Docker host port; none publishes nothing */
    readonly hostPort?: number;
}

/**
 * PostgreSQL with generated postgresql.conf and pg_hba.conf on a protected volume,
 * plus a one-shot `postgres-roles` job that applies the roles script on every change.
 */
export class Postgres extends pulumi.ComponentResource {
    /** host:port other services use */
    readonly host: string;
    readonly port = POSTGRES_PORT;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:database:Postgres", name, {}, opts);
        const s = args.settings;
        const runAs = { user: POSTGRES_UID, group: POSTGRES_UID, readOnlyRootFilesystem: true };
        const server: ServiceSpec = {
            name,
            component: "database",
            image: s.image,
            args: ["postgres", "-c", `config_file=${CONFIG_DIR}/postgresql.conf`, "-c", `hba_file=${CONFIG_DIR}/pg_hba.conf`],
            env: { PGDATA: "/var/lib/postgresql/data/pgdata", POSTGRES_INITDB_ARGS: "--auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8" },
            secretEnv: { POSTGRES_PASSWORD: args.superuserPassword },
            ports: [{ name: "postgres", port: POSTGRES_PORT, hostPort: args.hostPort }],
            configDir: CONFIG_DIR,
            files: [
                { path: "postgresql.conf", content: postgresqlConf({ port: POSTGRES_PORT, ...s }) },
                { path: "pg_hba.conf", content: pgHbaConf() },
            ],
            volumes: [{ name: "data", mountPath: "/var/lib/postgresql/data", size: s.storageSize }],
            scratch: ["/var/run/postgresql", "/tmp"],
            // crash recovery replays the WAL since the last checkpoint; it must not be cut short
            health: { exec: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", SUPERUSER], startSeconds: 30, maxStartSeconds: 1800 },
            resources: s.resources,
            replicas: 1,
            workload: "statefulset",
            // Fast shutdown (roll back sessions, write a checkpoint); the checkpoint needs time, a kill means crash recovery.
            stop: { signal: "SIGINT", graceSeconds: 120 },
            runAs,
            reachableFrom: [...args.clients, `${name}-roles`],
        };
        args.platform.deploy(server, this);
        this.host = args.platform.hostOf(name);

        const roles: ServiceSpec = {
            name: `${name}-roles`,
            component: "database-roles",
            image: s.image,
            command: ["psql"],
            args: ["-h", this.host, "-p", String(POSTGRES_PORT), "-U", SUPERUSER, "-d", "postgres", "-f", "/etc/flowviz/roles.sql"],
            secretEnv: { PGPASSWORD: args.superuserPassword },
            configDir: "/etc/flowviz",
            files: [{ path: "roles.sql", content: pulumi.output(args.roles).apply(rolesSql), secret: true }],
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
