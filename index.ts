/**
 * flowviz: the whole stack from typed configuration.
 * load + validate config -> pick the platform -> build the components -> export outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { currentStackConfig, poolSizing } from "./stack";
import { Credentials } from "./components/credentials";
import { DockerPlatform } from "./components/platform/docker";
import { KubernetesPlatform } from "./components/platform/kubernetes";
import { Postgres, POSTGRES_PORT } from "./components/postgres";
import { PgBouncer, PGBOUNCER_ADMIN_USER, PGBOUNCER_STATS_USER } from "./components/pgbouncer";
import { App } from "./components/app";
import type { Platform } from "./components/service";

const { config, secrets } = currentStackConfig();
const stack = pulumi.getStack();

const platform: Platform =
    config.platform === "docker"
        ? new DockerPlatform("docker", { prefix: `flowviz-${stack}`, ...config.docker })
        : new KubernetesPlatform("kubernetes", config.kubernetes);
const hostPorts = config.platform === "docker" ? config.docker.hostPorts : {};

const credentials = new Credentials("credentials", { provided: secrets });
const appUser = config.postgres.appUser;

const postgres = new Postgres("postgres", {
    settings: config.postgres,
    platform,
    superuserPassword: credentials.get("postgresPassword"),
    roles: [{ name: appUser, verifier: credentials.verifier("appDbPassword"), ownsDatabase: config.postgres.database }],
    clients: ["pgbouncer"],
    hostPort: hostPorts.postgres,
});

const sizing = poolSizing(config);
const pgbouncer = new PgBouncer("pgbouncer", {
    settings: config.pgbouncer,
    sizing,
    platform,
    database: { name: config.postgres.database, host: postgres.host, port: POSTGRES_PORT },
    verifiers: {
        [appUser]: credentials.verifier("appDbPassword"),
        [PGBOUNCER_ADMIN_USER]: credentials.verifier("pgbouncerAdminPassword"),
        [PGBOUNCER_STATS_USER]: credentials.verifier("pgbouncerStatsPassword"),
    },
    clients: ["api", "worker"],
    hostPort: hostPorts.pgbouncer,
});

const app = new App("app", {
    settings: config.app,
    platform,
    pooler: pgbouncer,
    database: config.postgres.database,
    user: appUser,
    dbPassword: credentials.get("appDbPassword"),
    valkeyPassword: credentials.get("valkeyPassword"),
    apiClients: [],
    apiHostPort: hostPorts.api,
});

export const platformKind = platform.kind;
export const pgbouncerEndpoint = `${pgbouncer.host}:${pgbouncer.port}`;
export const pgbouncerPool = sizing;
export const databaseUrl = app.databaseUrl;
export const appDbPassword = credentials.get("appDbPassword");
/** for the admin console: `pulumi stack output --show-secrets pgbouncerAdminPassword` */
export const pgbouncerAdminPassword = credentials.get("pgbouncerAdminPassword");
