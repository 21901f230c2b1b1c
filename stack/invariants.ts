/**
 * Cross-field invariants: a stack whose keys are each valid can still be wrong as a
 * whole. Each invariant states its rule (docs/CONFIG.md lists them), and reports every
 * violation with the key, the arithmetic and a concrete fix.
 */
import { BURN_RATES, SHORTEST_RATE_WINDOW } from "../configs/rules";
import { quantityValue } from "../configs/format";
import { connectionBudget, databaseCores, replicasOn } from "./capacity";
import { mib, postgresMemory, prometheusDisk, PROMETHEUS_WAL_BYTES, seconds } from "./budgets";
import { FIXED_PORTS, INTERNAL_ROLES, migratorRoleOf, ownerRoleOf, SYSTEM_DATABASES } from "./fixed";
import type { StackConfig } from "./schema";
import { BACKUP_INVARIANTS } from "./backups";
import { backupRepository } from "./engine";
import { PGBACKREST_TLS_PORT } from "../configs/pgbackrest";
import { CNPG_INVARIANTS } from "./cloudnative-pg";
import { GUARDRAIL_INVARIANTS } from "./guardrails";
import { imageTag } from "./images";
import { cidrsOverlap, inCidr, INSTANCE_METADATA, isPrivateOrLoopback, NOT_OUTSIDE } from "../facts/addresses";

export type { CheckContext, Invariant, Violation } from "./invariant";
import type { CheckContext, Invariant, Violation } from "./invariant";

export { setCommand } from "./commands";
import { setCommand } from "./commands";

const connections: Invariant[] = [
    {
        title: "PgBouncer's server connections fit PostgreSQL",
        rule: "(PgBouncer pods: its replicas, peered ones replaced one at a time; + 1 surge pod for a single replica on Kubernetes) x (pool + reserve) <= max_connections - superuser_reserved_connections - adminConnections",
        check(c, ctx) {
            const b = connectionBudget(c);
            if (b.serverConnections.value <= b.serverAvailable.value) return [];
            const pg = c.postgres;
            const need = b.serverConnections.value + pg.superuserReservedConnections + pg.adminConnections;
            return [
                {
                    key: "postgres.maxConnections",
                    message:
                        `PgBouncer may open ${b.serverConnections.arithmetic} = ${b.serverConnections.value} server connections, ` +
                        `but PostgreSQL leaves ${b.serverAvailable.arithmetic} = ${b.serverAvailable.value}; ` +
                        `raise it (${setCommand(ctx, "postgres.maxConnections", need)}) or lower pgbouncer.defaultPoolSize / reservePoolSize`,
                },
            ];
        },
    },
    {
        title: "the app's client connections fit one PgBouncer",
        rule: "(API replicas + 1 surge pod) x (dbPoolSize + dbMaxOverflow) + (worker replicas + 1 surge pod) x (dbPoolSize + dbMaxOverflow) <= max_client_conn of one replica (all of them must fit one replica while the others roll)",
        check(c, ctx) {
            const b = connectionBudget(c);
            if (b.clientConnections.value <= c.pgbouncer.maxClientConn) return [];
            return [
                {
                    key: "pgbouncer.maxClientConn",
                    message:
                        `the app may open ${b.clientConnections.arithmetic} = ${b.clientConnections.value} client connections, ` +
                        `more than max_client_conn ${c.pgbouncer.maxClientConn} of one PgBouncer replica (all of them must fit one replica while the others roll); ` +
                        `raise it (${setCommand(ctx, "pgbouncer.maxClientConn", b.clientConnections.value)}) or lower app.*.dbPoolSize / dbMaxOverflow`,
                },
            ];
        },
    },
    {
        title: "PgBouncer has the file descriptors it needs",
        rule: "Docker: max_client_conn + pool + reserve + 64 <= pgbouncer.fileDescriptorLimit (with too few, clients hang silently); on Kubernetes the container runtime's limit applies and the key does nothing",
        check(c, ctx) {
            if (c.platform !== "docker") return [];
            const fds = connectionBudget(c).fileDescriptors;
            if (fds.value <= c.pgbouncer.fileDescriptorLimit) return [];
            return [
                {
                    key: "pgbouncer.fileDescriptorLimit",
                    message:
                        `PgBouncer needs ${fds.arithmetic} = ${fds.value} file descriptors, more than the limit ${c.pgbouncer.fileDescriptorLimit}; ` +
                        `with too few, clients hang silently: ${setCommand(ctx, "pgbouncer.fileDescriptorLimit", fds.value)}`,
                },
            ];
        },
    },
    {
        title: "PgBouncer's version matches its image",
        rule: "the image tag of pgbouncer.image contains pgbouncer.version (settings are generated for the version)",
        check(c, ctx) {
            const tag = imageTag(c.pgbouncer.image);
            if (tag.includes(c.pgbouncer.version)) return [];
            return [
                {
                    key: "pgbouncer.version",
                    message: `is "${c.pgbouncer.version}" but the image tag is "${tag}"; they must agree (settings are generated for the version): set the version the image runs (${setCommand(ctx, "pgbouncer.version", "<x.y.z>")})`,
                },
            ];
        },
    },
];

const pooler: Invariant[] = [
    {
        title: "PgBouncer is given no more than the one core it can use",
        rule: "pgbouncer.resources.cpu <= 1: PgBouncer is one process on one thread; more throughput comes from pgbouncer.replicas (peered), not from a larger limit",
        check(c, ctx) {
            const cpu = quantityValue(c.pgbouncer.resources.cpu);
            if (cpu <= 1) return [];
            return [
                {
                    key: "pgbouncer.resources.cpu",
                    message:
                        `is ${c.pgbouncer.resources.cpu}: PgBouncer is one process and uses one core at most, so ${+(cpu - 1).toFixed(3)} core(s) would be reserved and never used ` +
                        `(a second process on the port with so_reuseport cost more CPU per transaction and served fewer: docs/BENCHMARKS.md); ` +
                        `${setCommand(ctx, "pgbouncer.resources.cpu", "1")} and raise pgbouncer.replicas for more`,
                },
            ];
        },
    },
];

const database: Invariant[] = [
    {
        title: "PostgreSQL's memory fits its container",
        rule:
            "shared_buffers + max_connections x workMemPerConnection x work_mem + (autovacuum_max_workers 3 + 1) x maintenance_work_mem <= postgres.resources.memory " +
            "(PostgreSQL documentation, Resource Consumption: work_mem is per sort or hash, maintenance_work_mem per autovacuum worker)",
        override: "postgres.workMemPerConnection",
        check(c) {
            const { need, limit } = postgresMemory(c);
            if (need.value <= limit) return [];
            return [
                {
                    key: "postgres.resources.memory",
                    message: `is ${c.postgres.resources.memory}, but PostgreSQL may take ${need.arithmetic}; the kernel kills it past its limit: raise the memory to at least ${mib(need.value)} or lower postgres.sharedBuffers, workMem or maxConnections`,
                },
            ];
        },
    },
    {
        title: "effective_cache_size describes memory the database has",
        rule: "shared_buffers <= effective_cache_size <= postgres.resources.memory (it estimates shared_buffers plus the kernel's page cache available to the database)",
        check(c) {
            const pg = c.postgres;
            const cache = quantityValue(pg.effectiveCacheSize);
            if (cache > quantityValue(pg.resources.memory)) {
                return [{ key: "postgres.effectiveCacheSize", message: `is ${pg.effectiveCacheSize}, more than the ${pg.resources.memory} the container has; the planner would expect cached data that is not: set it to about 75% of postgres.resources.memory` }];
            }
            if (cache < quantityValue(pg.sharedBuffers)) {
                return [{ key: "postgres.effectiveCacheSize", message: `is ${pg.effectiveCacheSize}, less than shared_buffers ${pg.sharedBuffers}, which it includes: set it to about 75% of postgres.resources.memory` }];
            }
            return [];
        },
    },
    {
        title: "one source for the database's cores",
        rule: "postgres.cpuCores, when set, equals postgres.resources.cpu; the pool size is derived from the CPU limit",
        check(c, ctx) {
            const set = c.postgres.cpuCores;
            if (set === undefined || set === databaseCores(c)) return [];
            return [
                {
                    key: "postgres.cpuCores",
                    message: `is ${set} but postgres.resources.cpu is "${c.postgres.resources.cpu}" (${databaseCores(c)} cores), and the pool is sized on the CPU limit: remove postgres.cpuCores (pulumi config rm --path ${ctx.project}:postgres.cpuCores -s ${ctx.stack}) or make the two agree`,
                },
            ];
        },
    },
    {
        title: "the app's identities are its own",
        rule: `postgres.appUser is none of ${INTERNAL_ROLES.join(", ")}, nor the database's owner or migration role (<database>_owner, <database>_migrator), and does not start with pg_; postgres.database is none of ${SYSTEM_DATABASES.join(", ")}`,
        check(c, ctx) {
            const out: Violation[] = [];
            const user = c.postgres.appUser;
            const db = c.postgres.database;
            const schemaRoles = [ownerRoleOf(db), migratorRoleOf(db)];
            if ((INTERNAL_ROLES as readonly string[]).includes(user) || schemaRoles.includes(user) || user.startsWith("pg_")) {
                const why = user.startsWith("pg_")
                    ? "names starting with pg_ are reserved by PostgreSQL"
                    : schemaRoles.includes(user)
                      ? `that is the ${user === ownerRoleOf(db) ? "owner" : "migration role"} of ${db}, which may change the schema: the API would run DDL`
                      : "the stack uses that role itself, with other rights";
                out.push({ key: "postgres.appUser", message: `is "${user}": ${why}; choose the app's own role: ${setCommand(ctx, "postgres.appUser", "flowviz_app")}` });
            }
            if ((SYSTEM_DATABASES as readonly string[]).includes(db)) {
                out.push({ key: "postgres.database", message: `is "${db}", a database every cluster keeps for itself; choose the app's own: ${setCommand(ctx, "postgres.database", "flowviz")}` });
            }
            return out;
        },
    },
];

/** Port each service listens on, on one host (Docker with host networking). */
function listeningPorts(c: StackConfig): [string, number][] {
    const ports: [string, number][] = [
        ["postgres", FIXED_PORTS.postgres],
        ["pgbouncer (pgbouncer.port)", c.pgbouncer.port],
        ["valkey", FIXED_PORTS.valkey],
        ["prometheus", FIXED_PORTS.prometheus],
        ["alertmanager", FIXED_PORTS.alertmanager],
        ["grafana", FIXED_PORTS.grafana],
        ["postgres-exporter", FIXED_PORTS["postgres-exporter"]],
        ["pgbouncer-exporter", FIXED_PORTS["pgbouncer-exporter"]],
        ["node-exporter", FIXED_PORTS["node-exporter"]],
    ];
    if (replicasOn(c.platform, c.app.api.replicas) > 0) ports.push(["api (app.apiPort)", c.app.apiPort]);
    // with backups: pgBackRest's TLS server beside PostgreSQL, the repository's exporter, the drills' Pushgateway
    if (backupRepository(c) !== "none") ports.push(["pgBackRest's TLS server", PGBACKREST_TLS_PORT], ["pgbackrest-exporter", FIXED_PORTS["pgbackrest-exporter"]], ["pushgateway", FIXED_PORTS.pushgateway]);
    return ports;
}

function collisions(entries: [string, number][]): [number, string[]][] {
    const by = new Map<number, string[]>();
    for (const [who, port] of entries) by.set(port, [...(by.get(port) ?? []), who]);
    return [...by].filter(([, who]) => who.length > 1).sort(([a], [b]) => a - b);
}

const ports: Invariant[] = [
    {
        title: "no two services on one port of the host",
        rule: "Docker: the published docker.hostPorts differ; with docker.hostNetwork every service's own port differs too (PostgreSQL, PgBouncer, Valkey, API, exporters, Prometheus, Alertmanager, Grafana)",
        check(c) {
            if (c.platform !== "docker") return [];
            if (c.docker.hostNetwork) {
                return collisions(listeningPorts(c)).map(([port, who]) => ({
                    key: who.some((w) => w.startsWith("api")) ? "app.apiPort" : "pgbouncer.port",
                    message: `${who.join(" and ")} would all listen on port ${port} of the host (docker.hostNetwork is true): give each its own port`,
                }));
            }
            const published = Object.entries(c.docker.hostPorts).filter((e): e is [string, number] => e[1] !== undefined);
            return collisions(published).map(([port, who]) => ({
                key: `docker.hostPorts.${who[1]}`,
                message: `is ${port}, which docker.hostPorts.${who[0]} publishes already; the second container would fail to start: give each service its own host port`,
            }));
        },
    },
    {
        title: "Docker publishes ports on loopback or a private address",
        rule: "docker.bindAddress is a loopback or private (RFC 1918) address: a published port on every interface or a public address is reachable from the internet",
        check(c, ctx) {
            if (c.platform !== "docker" || isPrivateOrLoopback(c.docker.bindAddress)) return [];
            return [{ key: "docker.bindAddress", message: `is ${c.docker.bindAddress}, which would publish PostgreSQL, PgBouncer and the rest ${c.docker.bindAddress === "0.0.0.0" ? "on every interface" : "on a public address"}; use 127.0.0.1 (the default) or a private address: ${setCommand(ctx, "docker.bindAddress", "127.0.0.1")}` }];
        },
    },
    {
        title: "the API's outside calls stay outside",
        rule: "no app.egress cidr covers the cloud instance metadata address (169.254.169.254), link-local or loopback addresses, the private ranges (the cluster's pods, Services, nodes), the API server (kubernetes.egress.apiServerCidrs), or is wider than a /8 (the internet at large)",
        check(c, ctx) {
            const apiServer = c.platform === "kubernetes" ? c.kubernetes.egress.apiServerCidrs : [];
            return c.app.egress.flatMap((e, i) => {
                const covered = [
                    ...(inCidr(INSTANCE_METADATA.ip, e.cidr) ? [`the cloud metadata address ${INSTANCE_METADATA.ip} (the node's cloud role)`] : []),
                    ...NOT_OUTSIDE.filter((r) => cidrsOverlap(e.cidr, r.cidr)).map((r) => r.what),
                    ...apiServer.filter((cidr) => cidrsOverlap(e.cidr, cidr)).map((cidr) => `the API server's ${cidr} (kubernetes.egress.apiServerCidrs)`),
                    ...(Number(e.cidr.split("/")[1]) < 8 ? [`more than a /8: the internet at large`] : []),
                ];
                if (covered.length === 0) return [];
                return [{ key: `app.egress[${i}].cidr`, message: `is ${e.cidr} (${e.reason}), which covers ${covered.join("; ")}. app.egress opens the API to one outside service: name its own public addresses (${setCommand(ctx, `app.egress[${i}].cidr`, "198.51.100.0/24")}); the cluster's own services are reached by name, never by an egress cidr` }];
            });
        },
    },
    {
        title: "PgBouncer's port is free beside it",
        rule: `pgbouncer.port differs from the port of the PgBouncer exporter (${FIXED_PORTS["pgbouncer-exporter"]}), which runs in PgBouncer's pod (Kubernetes) or network namespace (Docker)`,
        check(c) {
            const exporter = FIXED_PORTS["pgbouncer-exporter"];
            if (c.platform === "docker" && c.docker.hostNetwork) return []; // the host-wide check above names it
            return c.pgbouncer.port === exporter
                ? [{ key: "pgbouncer.port", message: `is ${exporter}, the port of the PgBouncer exporter that runs beside PgBouncer in the same network: one of them could not listen; choose another port` }]
                : [];
        },
    },
];

const monitoring: Invariant[] = [
    {
        title: "operator mode runs on Kubernetes",
        rule: "monitoring.mode operator (PodMonitors, PrometheusRule, AlertmanagerConfig for kube-prometheus-stack) needs platform kubernetes",
        check(c, ctx) {
            if (c.monitoring.mode !== "operator" || c.platform === "kubernetes") return [];
            return [{ key: "monitoring.mode", message: `is operator, which needs a Prometheus Operator, i.e. platform kubernetes; on Docker the stack runs its own monitoring: ${setCommand(ctx, "monitoring.mode", "bundled")}` }];
        },
    },
    {
        title: "latency thresholds rise with severity",
        rule: "monitoring.alerts.latencyCriticalSeconds >= latencyP99Seconds",
        check(c, ctx) {
            const a = c.monitoring.alerts;
            if (a.latencyCriticalSeconds >= a.latencyP99Seconds) return [];
            return [
                {
                    key: "monitoring.alerts.latencyCriticalSeconds",
                    message: `is ${a.latencyCriticalSeconds}, below the warning threshold latencyP99Seconds ${a.latencyP99Seconds}: the page would come before the warning; raise it (${setCommand(ctx, "monitoring.alerts.latencyCriticalSeconds", a.latencyP99Seconds * 2)}) or lower the warning`,
                },
            ];
        },
    },
    {
        title: "the burn-rate alerts can fire",
        rule: `every burn-rate pair fires at error ratio factor x (1 - availabilitySlo), which must stay below 1: availabilitySlo > 1 - 1/${BURN_RATES.fast[0].factor}`,
        check(c) {
            const slo = c.monitoring.alerts.availabilitySlo;
            const factor = Math.max(...[...BURN_RATES.fast, ...BURN_RATES.slow].map((b) => b.factor));
            const threshold = +(factor * (1 - slo)).toPrecision(4);
            if (threshold < 1) return [];
            return [
                {
                    key: "monitoring.alerts.availabilitySlo",
                    message: `is ${slo}: the fast burn-rate alert fires at an error ratio of ${factor} x (1 - ${slo}) = ${threshold}, which no service can reach; use an SLO above ${+(1 - 1 / factor).toPrecision(4)} (e.g. 0.99)`,
                },
            ];
        },
    },
    {
        title: "every rate window holds enough scrapes",
        rule: `scrapeInterval and apiScrapeInterval <= ${SHORTEST_RATE_WINDOW} / 4 (the shortest rate() window of the rules; four samples survive a missed scrape), evaluationInterval <= ${SHORTEST_RATE_WINDOW}`,
        check(c, ctx) {
            const m = c.monitoring;
            const window = seconds(SHORTEST_RATE_WINDOW);
            const out: Violation[] = [];
            for (const key of ["scrapeInterval", "apiScrapeInterval"] as const) {
                if (seconds(m[key]) > window / 4) {
                    out.push({ key: `monitoring.${key}`, message: `is ${m[key]}: the rules take rate() over ${SHORTEST_RATE_WINDOW}, which needs at least 4 scrapes in it; use ${window / 4}s or less (${setCommand(ctx, `monitoring.${key}`, "15s")})` });
                }
            }
            if (seconds(m.evaluationInterval) > window) {
                out.push({ key: "monitoring.evaluationInterval", message: `is ${m.evaluationInterval}, longer than the ${SHORTEST_RATE_WINDOW} windows the rules evaluate: use 1m or less (${setCommand(ctx, "monitoring.evaluationInterval", "15s")})` });
            }
            return out;
        },
    },
    {
        title: "Prometheus' retention fits its volume",
        rule: "retentionSize x (1 + retentionHeadroomPercent/100) + WAL (3 segments of 128 MiB) <= prometheusStorageSize (the headroom holds the block being compacted, at most 10% of the retention: Robust Perception, \"Configuring Prometheus storage retention\"; the WAL minimum: Prometheus docs, \"Storage\")",
        override: "monitoring.retentionHeadroomPercent",
        check(c) {
            const { need, volume } = prometheusDisk(c);
            if (need.value <= volume) return [];
            const fits = Math.floor((volume - PROMETHEUS_WAL_BYTES) / (1 + c.monitoring.retentionHeadroomPercent / 100) / 1024 ** 3);
            return [
                {
                    key: "monitoring.retentionSize",
                    message: `needs ${need.arithmetic} on disk, more than prometheusStorageSize ${c.monitoring.prometheusStorageSize}: Prometheus would fill its volume and stop; lower the retention size (about ${fits}GB fits) or grow the volume`,
                },
            ];
        },
    },
    {
        title: "alerts reach someone in production",
        rule: "on Kubernetes, monitoring.receivers has a destination (email, slack or webhook) and a dead man's switch (watchdogUrl)",
        override: "monitoring.allowNoReceivers",
        check(c, ctx) {
            if (c.platform !== "kubernetes" || c.monitoring.allowNoReceivers) return [];
            const r = c.monitoring.receivers;
            const out: Violation[] = [];
            if (!r.email && !r.slack && !r.webhook) {
                out.push({
                    key: "monitoring.receivers",
                    message: `has no destination, so every alert stays in the Alertmanager UI: set one (${setCommand(ctx, "monitoring.receivers.webhook", "https://incidents.example.com/hook")}, or receivers.email / receivers.slack with their secret), or accept it with ${setCommand(ctx, "monitoring.allowNoReceivers", "true")}`,
                });
            }
            if (!r.watchdogUrl) {
                out.push({
                    key: "monitoring.receivers.watchdogUrl",
                    message: `is unset: nothing notices when Prometheus or Alertmanager itself is down; point it at a dead man's switch (${setCommand(ctx, "monitoring.receivers.watchdogUrl", "https://watchdog.example.com/ping/flowviz")}), or accept it with ${setCommand(ctx, "monitoring.allowNoReceivers", "true")}`,
                });
            }
            return out;
        },
    },
];

/** Every invariant, in the order docs/CONFIG.md lists them. */
const certificates: Invariant[] = [
    {
        title: "a CA rotation keeps an overlap",
        rule: "tls.trustedCaGenerations holds tls.caGeneration and at most the generation next to it: the signing CA is always trusted, and a rotation moves one generation at a time",
        check(c, ctx) {
            const g = c.tls.caGeneration;
            const trusted = c.tls.trustedCaGenerations ?? [g];
            if (!trusted.includes(g)) return [{ key: "tls.trustedCaGenerations", message: `is [${trusted.join(", ")}], without the signing generation ${g} (tls.caGeneration): nothing would trust the certificates it signs; ${setCommand(ctx, "tls.trustedCaGenerations", `[${[...new Set([...trusted, g])].sort().join(",")}]`)}` }];
            const other = trusted.find((t) => t !== g);
            if (other !== undefined && Math.abs(other - g) !== 1) return [{ key: "tls.trustedCaGenerations", message: `is [${trusted.join(", ")}]: a rotation trusts the signing generation ${g} and the one next to it (${g - 1} or ${g + 1}), one step at a time` }];
            return [];
        },
    },
];

export const INVARIANTS: Invariant[] = [...connections, ...pooler, ...database, ...GUARDRAIL_INVARIANTS, ...BACKUP_INVARIANTS, ...CNPG_INVARIANTS, ...ports, ...monitoring, ...certificates];

/** Every violation of every invariant, as `project:key: message`. */
export function checkInvariants(config: StackConfig, ctx: CheckContext): string[] {
    return INVARIANTS.flatMap((inv) => inv.check(config, ctx)).map((v) => `${ctx.project}:${v.key}: ${v.message}`);
}
