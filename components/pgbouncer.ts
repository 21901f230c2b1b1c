import * as pulumi from "@pulumi/pulumi";
import { HBA_FILE, pgbouncerHba, pgbouncerIni, pgbouncerStartScript, userlist, USERLIST_FILE } from "../configs/pgbouncer";
import { pgpassLine } from "../configs/format";
import { PGBOUNCER_EXPORTER } from "../configs/metrics";
import { EXPORTER_RESOURCES, EXPORTER_RUN_AS, listenFlag, metricsEndpoint } from "./exporters";
import { IDLE_IN_TRANSACTION_TIMEOUT_SECONDS } from "../configs/postgres";
import type { PoolSizing } from "../stack/capacity";
import type { StackConfig } from "../stack/schema";
import { FIXED_PORTS, PGBOUNCER_ADMIN_USER, PGBOUNCER_STATS_USER, TLS_FILES } from "../stack/fixed";
import { LOOPBACK } from "../facts/addresses";
import { caFile, certificateFiles, type Authorities } from "./tls";
import type { Platform } from "./service";

const CONFIG_DIR = "/etc/pgbouncer";
/** a peered replica writes its pgbouncer.ini (with its peer_id) here */
const SCRATCH = "/tmp";
const EXPORTER = "pgbouncer-exporter";
const EXPORTER_DIR = `/etc/${EXPORTER}`;
const EXPORTER_PORT = FIXED_PORTS[EXPORTER];
/** the exporter's libpq password file */
const PASSWORD_FILE = "secrets/pgpass";
/** uid/gid of `postgres` in the Alpine-based PgBouncer image */
const PGBOUNCER_UID = 70;

export interface PgBouncerArgs {
    /** the stack's `pgbouncer` section, its queue wait resolved (stack/guardrails.ts) */
    readonly settings: StackConfig["pgbouncer"] & { queryWaitTimeoutSeconds: number };
    /** pool sizes per replica (stack/capacity.ts) */
    readonly sizing: PoolSizing;
    /** the replicas forward cancel requests to one another (stack/capacity.ts, pgbouncerPeered) */
    readonly peered: boolean;
    readonly platform: Platform;
    /** the database PgBouncer pools */
    readonly database: { name: string; host: string; port: number };
    /** SCRAM verifier per user: the roles that log in to the database (same verifiers PostgreSQL stores) */
    readonly databaseLogins: Record<string, pulumi.Input<string>>;
    /** the console's users: admin (operators) and stats (the exporter), each a password and its verifier */
    readonly console: Record<"admin" | "stats", { password: pulumi.Input<string>; verifier: pulumi.Input<string> }>;
    /** the exporter's image (prometheus-community pgbouncer_exporter), run beside every replica */
    readonly exporterImage: string;
    /** services allowed to connect */
    readonly clients: string[];
    /** Docker host port; none publishes nothing */
    readonly hostPort?: number;
    /** issues PgBouncer's certificate and signed PostgreSQL's */
    readonly ca: Authorities;
    /** what PgBouncer's pods change only after (a Cluster promoted when a stack moves to CloudNativePG) */
    readonly startsAfter?: pulumi.Resource[];
}

/**
 * PgBouncer in transaction mode with a generated pgbouncer.ini, a SCRAM-only userlist.txt
 * and an hba file that keeps the console on loopback, with its exporter beside every
 * replica (each replica's pools and counters are its own, so each is scraped).
 */
export class PgBouncer extends pulumi.ComponentResource {
    readonly host: string;
    readonly port: number;

    constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:pooler:PgBouncer", name, {}, opts);
        const s = args.settings;
        // peered: each replica at its own address, so that a cancel reaches the replica holding the query
        const peered = args.peered;
        const peers = peered ? args.platform.peerHostsOf(name, args.sizing.replicas) : [];
        const ini = pgbouncerIni({
            ...s,
            listenAddress: args.platform.listenAddress,
            poolSize: args.sizing.poolSize,
            reserveSize: args.sizing.reserveSize,
            database: args.database,
            adminUser: PGBOUNCER_ADMIN_USER,
            statsUser: PGBOUNCER_STATS_USER,
            tls: { certFile: TLS_FILES.cert, keyFile: TLS_FILES.key, caFile: TLS_FILES.ca },
            peers: peered ? peers.map((host) => ({ host, port: s.port })) : undefined,
        });
        // the console answers on PgBouncer's loopback, and a peer forwards cancels to each replica's own name, over TLS: its certificate names those too
        const names = args.platform.namesOf(name);
        const cert = args.ca.issue(name, { dnsNames: [...new Set([...names.dnsNames, ...(peered ? peers : []), ...LOOPBACK.dnsNames])], ipAddresses: [...new Set([...names.ipAddresses, ...LOOPBACK.ipAddresses])] }, this);
        const verifiers = pulumi.output({ ...args.databaseLogins, [PGBOUNCER_ADMIN_USER]: args.console.admin.verifier, [PGBOUNCER_STATS_USER]: args.console.stats.verifier });
        const hba = pgbouncerHba({ database: args.database.name, databaseLogins: Object.keys(args.databaseLogins), consoleUsers: [PGBOUNCER_ADMIN_USER, PGBOUNCER_STATS_USER] });
        args.platform.deploy(
            {
                name,
                component: "pooler",
                image: s.image,
                startsAfter: args.startsAfter,
                ...(peered
                    ? { command: ["/bin/sh", `${CONFIG_DIR}/start.sh`], scratch: [SCRATCH] }
                    : { command: ["/usr/bin/pgbouncer"], args: [`${CONFIG_DIR}/pgbouncer.ini`] }),
                // auth_file is relative: PgBouncer resolves it against its working directory.
                workingDir: CONFIG_DIR,
                ports: [{ name: "pgbouncer", port: s.port, hostPort: args.hostPort }],
                configDir: CONFIG_DIR,
                files: [
                    { path: "pgbouncer.ini", content: ini },
                    ...(peered ? [{ path: "start.sh", content: pgbouncerStartScript({ configDir: CONFIG_DIR, scratch: SCRATCH, binary: "/usr/bin/pgbouncer" }) }] : []),
                    { path: HBA_FILE, content: hba },
                    { path: USERLIST_FILE, content: verifiers.apply(userlist), secret: true },
                    ...certificateFiles(cert, "server"),
                    caFile(args.ca.certPem),
                ],
                health: { tcpPort: s.port, startSeconds: 5 },
                resources: s.resources,
                replicas: args.sizing.replicas,
                workload: peered ? "statefulset" : "deployment",
                peers: peered || undefined,
                // Safe shutdown: stop accepting, let running transactions finish, then exit.
                // PostgreSQL ends a transaction left idle after that timeout, which bounds the wait.
                stop: { signal: "SIGINT", graceSeconds: IDLE_IN_TRANSACTION_TIMEOUT_SECONDS + 10 },
                runAs: { user: PGBOUNCER_UID, group: PGBOUNCER_UID, readOnlyRootFilesystem: true },
                fileLimit: s.fileDescriptorLimit,
                // peers forward cancel requests to one another
                reachableFrom: peered ? [...args.clients, name] : args.clients,
                sidecars: [
                    {
                        name: EXPORTER,
                        component: "exporter",
                        image: args.exporterImage,
                        args: [listenFlag(args.platform.listenAddress, EXPORTER_PORT)],
                        // no password in its environment: its driver (lib/pq) reads the password file PGPASSFILE names
                        env: {
                            PGBOUNCER_EXPORTER_CONNECTION_STRING: `postgres://${PGBOUNCER_STATS_USER}@127.0.0.1:${s.port}/pgbouncer?sslmode=verify-full&sslrootcert=${EXPORTER_DIR}/${TLS_FILES.ca}`,
                            PGPASSFILE: `${EXPORTER_DIR}/${PASSWORD_FILE}`,
                        },
                        configDir: EXPORTER_DIR,
                        files: [
                            caFile(args.ca.certPem),
                            { path: PASSWORD_FILE, content: pulumi.output(args.console.stats.password).apply((password) => pgpassLine({ host: "127.0.0.1", port: s.port, database: "pgbouncer", user: PGBOUNCER_STATS_USER, password })), secret: true },
                        ],
                        ...metricsEndpoint(PGBOUNCER_EXPORTER.job, EXPORTER_PORT),
                        resources: EXPORTER_RESOURCES,
                        runAs: EXPORTER_RUN_AS,
                    },
                ],
            },
            this,
        );
        this.host = args.platform.hostOf(name);
        this.port = s.port;
        this.registerOutputs({ host: this.host });
    }
}
