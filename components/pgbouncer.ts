import * as pulumi from "@pulumi/pulumi";
import { pgbouncerIni, userlist, USERLIST_FILE } from "../configs/pgbouncer";
import { IDLE_IN_TRANSACTION_TIMEOUT_SECONDS } from "../configs/postgres";
import type { PoolSizing } from "../stack/capacity";
import type { StackConfig } from "../stack/schema";
import { PGBOUNCER_ADMIN_USER, PGBOUNCER_STATS_USER, TLS_FILES } from "../stack/fixed";
import type { CertificateAuthority } from "./tls";
import type { Platform } from "./service";

const CONFIG_DIR = "/etc/pgbouncer";
/** uid/gid of `postgres` in the Alpine-based PgBouncer image */
const PGBOUNCER_UID = 70;

export interface PgBouncerArgs {
    /** the stack's `pgbouncer` section */
    readonly settings: StackConfig["pgbouncer"];
    /** pool sizes per replica (stack/capacity.ts) */
    readonly sizing: PoolSizing;
    readonly platform: Platform;
    /** the database PgBouncer pools */
    readonly database: { name: string; host: string; port: number };
    /** SCRAM verifier per user: the app role (same verifier PostgreSQL stores), admin and stats users */
    readonly verifiers: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** services allowed to connect */
    readonly clients: string[];
    /** Docker host port; none publishes nothing */
    readonly hostPort?: number;
    /** issues PgBouncer's certificate and signed PostgreSQL's */
    readonly ca: CertificateAuthority;
}

/** PgBouncer in transaction mode with a generated pgbouncer.ini and a SCRAM-only userlist.txt. */
export class PgBouncer extends pulumi.ComponentResource {
    readonly host: string;
    readonly port: number;

    constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:pooler:PgBouncer", name, {}, opts);
        const s = args.settings;
        const ini = pgbouncerIni({
            ...s,
            listenAddress: args.platform.listenAddress,
            poolSize: args.sizing.poolSize,
            reserveSize: args.sizing.reserveSize,
            database: args.database,
            adminUser: PGBOUNCER_ADMIN_USER,
            statsUser: PGBOUNCER_STATS_USER,
            tls: { certFile: TLS_FILES.cert, keyFile: TLS_FILES.key, caFile: TLS_FILES.ca },
        });
        const cert = args.ca.issue(name, args.platform.namesOf(name), this);
        args.platform.deploy(
            {
                name,
                component: "pooler",
                image: s.image,
                command: ["/usr/bin/pgbouncer"],
                args: [`${CONFIG_DIR}/pgbouncer.ini`],
                // auth_file is relative: PgBouncer resolves it against its working directory.
                workingDir: CONFIG_DIR,
                ports: [{ name: "pgbouncer", port: s.port, hostPort: args.hostPort }],
                configDir: CONFIG_DIR,
                files: [
                    { path: "pgbouncer.ini", content: ini },
                    { path: USERLIST_FILE, content: pulumi.output(args.verifiers).apply(userlist), secret: true },
                    { path: TLS_FILES.cert, content: cert.certPem },
                    { path: TLS_FILES.key, content: cert.keyPem, secret: true },
                    { path: TLS_FILES.ca, content: args.ca.certPem },
                ],
                health: { tcpPort: s.port, startSeconds: 5 },
                resources: s.resources,
                replicas: args.sizing.replicas,
                workload: "deployment",
                // Safe shutdown: stop accepting, let running transactions finish, then exit.
                // PostgreSQL ends a transaction left idle after that timeout, which bounds the wait.
                stop: { signal: "SIGINT", graceSeconds: IDLE_IN_TRANSACTION_TIMEOUT_SECONDS + 10 },
                runAs: { user: PGBOUNCER_UID, group: PGBOUNCER_UID, readOnlyRootFilesystem: true },
                fileLimit: s.fileDescriptorLimit,
                reachableFrom: args.clients,
            },
            this,
        );
        this.host = args.platform.hostOf(name);
        this.port = s.port;
        this.registerOutputs({ host: this.host });
    }
}
