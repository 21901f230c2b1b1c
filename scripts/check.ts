/**
 * The stack's configuration: validates it (schema, values as the CLI writes them, every
 * invariant), on Kubernetes renders it in memory to judge the connections its files need
 * against its NetworkPolicies, and prints the derived budgets, or every problem.
 *
 *   npm run check -- --stack prod [--config-file Pulumi.prod.yaml]     exit 0 valid, 1 not
 */
import { resolve } from "node:path";
import { parseCli, USAGE_EXIT } from "./cli";
import { readStackFile, StackFileError, type StackFile } from "../render/stackfile";
import { runProgram } from "../render/program";
import { policyResource } from "../render/policy-check";
import { neededConnections, refusedConnections } from "../policy/connections";
import { ConfigError, loadStackConfig } from "../stack/load";
import { connectionBudget, databaseCores } from "../stack/capacity";
import { mib, postgresMemory, prometheusDisk } from "../stack/budgets";
import type { StackConfig } from "../stack/schema";
import { dataVolumes, guaranteedWindowSeconds, repositoryNeed } from "../stack/backups";
import { backupRepository, migrationStage, usesCloudNativePg } from "../stack/engine";
import { CNPG_OWN_CONNECTIONS, OPERATOR_CONNECTIONS } from "../stack/cloudnative-pg";
import { CNPG_RELEASES } from "../facts/cloudnative-pg";
import { longestGapSeconds } from "../stack/schedule";

const PROJECT = "flowviz";

function figures(c: StackConfig): string[] {
    const b = connectionBudget(c);
    const { poolSize, reserveSize, replicas } = b.sizing;
    const memory = postgresMemory(c);
    const disk = prometheusDisk(c);
    const derived = c.pgbouncer.defaultPoolSize === undefined ? ` (${databaseCores(c)} cores x ${c.app.roundTripsPerTransaction} round trips / ${replicas})` : "";
    return [
        `PgBouncer pool per replica: ${poolSize} + reserve ${reserveSize}, ${replicas} replica(s)${derived}`,
        `server connections: ${b.serverConnections.arithmetic} = ${b.serverConnections.value} of ${b.serverAvailable.arithmetic} = ${b.serverAvailable.value}`,
        `client connections: ${b.clientConnections.arithmetic} = ${b.clientConnections.value} of max_client_conn ${c.pgbouncer.maxClientConn}`,
        c.platform === "docker"
            ? `PgBouncer file descriptors: ${b.fileDescriptors.arithmetic} = ${b.fileDescriptors.value} of ${c.pgbouncer.fileDescriptorLimit}`
            : `PgBouncer file descriptors: ${b.fileDescriptors.arithmetic} = ${b.fileDescriptors.value}, under the container runtime's limit (pgbouncer.fileDescriptorLimit applies to Docker only)`,
        `PostgreSQL memory: ${memory.need.arithmetic} of ${c.postgres.resources.memory} (${mib(memory.limit)})`,
        // operator mode deploys no Prometheus of ours: kube-prometheus-stack's holds the data
        ...(c.platform === "docker" || c.monitoring.mode === "bundled" ? [`Prometheus disk: ${disk.need.arithmetic} of ${c.monitoring.prometheusStorageSize}`] : []),
        ...restoreFigures(c),
        ...backupFigures(c),
        ...(c.platform === "kubernetes" && c.monitoring.mode === "bundled"
            ? [
                  "note: bundled monitoring brings its own node-exporter on host port 9100 of every node: it is for a cluster with this one stack and no kube-prometheus-stack; " +
                      "with more than one stack, install kube-prometheus-stack and give every stack monitoring.mode: operator (docs/STACKS.md)",
              ]
            : []),
        ...(c.platform === "kubernetes" && !c.kubernetes.storageClassName
            ? [
                  "note: kubernetes.storageClassName is unset, so the claims take the cluster's default class; choose it before the first `pulumi up` " +
                      "(a claim's class cannot change later: npm run diff blocks it), ideally one with reclaimPolicy Retain (README, First-time setup)",
              ]
            : []),
    ];
}

/** CloudNativePG: the Cluster's shape and its Barman Cloud backups. */
function clusterFigures(c: StackConfig): string[] {
    const n = c.postgres.cloudnativePg;
    const b = c.postgres.backups;
    return [
        `PostgreSQL: CloudNativePG Cluster, ${n.instances} instances on different nodes${n.zoneSpread ? " and zones" : ""}; every commit waits for ${n.synchronous.number} standby (ANY ${n.synchronous.number}, dataDurability ${n.synchronous.dataDurability})`,
        ...moveFigures(c),
        operatorsLine(c),
        `operator's own connections: instance manager ${CNPG_OWN_CONNECTIONS.manager} + metrics exporter ${CNPG_OWN_CONNECTIONS.exporter} = ${OPERATOR_CONNECTIONS} of postgres.adminConnections ${c.postgres.adminConnections}`,
        backupRepository(c) === "none"
            ? "backups: none (postgres.backups.allowNone): the data is lost with its volumes"
            : `backups: Barman Cloud to s3 ${b.s3?.bucket} at ${b.s3?.endpoint}, server-side encrypted (AES256); WAL archived at least every ${b.archiveTimeout} (RPO), base backup "${b.schedule.full}" (UTC); recovery window ${b.retention.recoveryWindowDays} days`,
    ];
}

/** A move from the StatefulSet engine (postgres.cloudnativePg.fromStatefulSet): where this stage stands and what comes next. */
function moveFigures(c: StackConfig): string[] {
    const stage = migrationStage(c);
    if (!stage) return [];
    const now = {
        stream: "the StatefulSet serves (PgBouncer -> postgres); the Cluster is cloned from it and streams. Next, once `kubectl cnpg status postgres` shows it streaming: fromStatefulSet switch",
        switch: "the StatefulSet stops (0 replicas), then the Cluster is promoted and PgBouncer moves to postgres-rw; writes fail for those seconds. Next, once the Cluster serves: fromStatefulSet retired",
        retired: "the Cluster serves; of the StatefulSet only its claims are left (protected, kept on delete): delete them yourself once the Cluster's backups cover what you need. Keep the key set (the Cluster's bootstrap cannot change)",
    }[stage];
    return [`MOVE from the StatefulSet engine, stage ${stage}: ${now} (docs/CLOUDNATIVE-PG.md)`];
}

/** postgres settings only the StatefulSet engine reads (pgBackRest's image, its runs, its repository's counts). */
const STATEFULSET_ONLY = ["backups.image", "backups.schedule.diff", "backups.schedule.verify", "backups.schedule.walCheck", "backups.schedule.drill", "backups.retention.full", "backups.retention.diff", "backups.archivePushQueueMax"];

/** Settings the stack file sets that its engine ignores, each named (CloudNativePG reads none of the pgBackRest ones). */
function ignoredSettings(c: StackConfig, raw: Record<string, string>): string[] {
    // while the StatefulSet runs beside the Cluster (a move's stream and switch), its pgBackRest reads them
    const stage = migrationStage(c);
    if (c.postgres.engine !== "cloudnative-pg" || stage === "stream" || stage === "switch") return [];
    let postgres: unknown;
    try {
        postgres = JSON.parse(raw[`${PROJECT}:postgres`] ?? "{}");
    } catch {
        return [];
    }
    const set = STATEFULSET_ONLY.filter((path) => path.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), postgres) !== undefined);
    return set.length === 0 ? [] : [`note: ${set.map((k) => `postgres.${k}`).join(", ")} ${set.length === 1 ? "is" : "are"} set but ignored: postgres.engine cloudnative-pg backs up with the Barman Cloud plugin, which reads schedule.full and retention.recoveryWindowDays only`];
}

/** Which operator releases the stack declares, or expects on the cluster. */
function operatorsLine(c: StackConfig): string {
    const { operator, plugin } = CNPG_RELEASES;
    const releases = `${operator.name} ${operator.tag} and its ${plugin.name} ${plugin.tag} in namespace ${c.postgres.cloudnativePg.operatorNamespace}`;
    return c.kubernetes.operators.install
        ? `operators: installed by this stack: ${releases} (operators/; their CRDs stay when a stack stops installing them)`
        : `operators: expected on the cluster (kubernetes.operators.install false): ${releases}; the plugin's manifest needs cert-manager unless its two certificates come from elsewhere (docs/CLOUDNATIVE-PG.md, "Operators")`;
}

function credentialsOf(s3: NonNullable<StackConfig["postgres"]["backups"]["s3"]>): string {
    if (s3.keyType === "web-id") return `web identity (the backup pods' ServiceAccount: ${Object.entries(s3.serviceAccountAnnotations ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")}; STS on 443)`;
    if (s3.keyType === "auto") return `the node's role from the instance metadata address${s3.metadataEndpoint ? ` (${s3.metadataEndpoint}, the backup pods alone)` : ""}`;
    return "the secrets backupS3AccessKey and backupS3SecretKey";
}

/** A pending restore, said first: what the next `pulumi up` does to PostgreSQL's data. */
function restoreFigures(c: StackConfig): string[] {
    const r = c.postgres.restore;
    if (!r) return [];
    const volumes = dataVolumes(c.postgres);
    const kept = volumes.kept.map((v) => `postgres-${v}`).join(", ");
    const into = usesCloudNativePg(c) ? `a new Cluster postgres-${r.id}` : `a new volume postgres-${volumes.current}`;
    return [
        `RESTORE ${r.id}: PostgreSQL starts on ${into}, restored to ${r.target}; kept and protected: ${usesCloudNativePg(c) ? "the Cluster postgres (hibernated)" : kept}`,
        r.holdExpiry
            ? `  expiry held (postgres.restore.holdExpiry): no backup or WAL from before the incident expires until you set it false`
            : "  expiry resumed: backups and WAL from before the restore expire by retention",
    ];
}

function backupFigures(c: StackConfig): string[] {
    const b = c.postgres.backups;
    const repository = backupRepository(c);
    if (usesCloudNativePg(c)) return clusterFigures(c);
    if (repository === "none") return ["backups: none (postgres.backups.allowNone): the data is lost with its volume"];
    const gap = longestGapSeconds([b.schedule.full]) / 86400;
    const where = repository === "posix" ? `posix volume ${b.repositorySize}` : `s3 ${b.s3?.bucket} at ${b.s3?.endpoint}`;
    const o = b.offsite;
    return [
        `backups: ${where}, encrypted; a lost volume loses the WAL segment still filling: up to ${b.archiveTimeout} or 16 MiB of writes (RPO, docs/BACKUPS.md), full "${b.schedule.full}", differential "${b.schedule.diff}", verify "${b.schedule.verify}", WAL gap check "${b.schedule.walCheck}" (UTC), each run outside PostgreSQL's pod`,
        o
            ? `off-site: s3 ${o.s3.bucket} at ${o.s3.endpoint} (${o.s3.region}), its own credentials (${o.s3.keyType}) and passphrase; WAL to both, full "${o.schedule}" (UTC), kept ${o.retentionDays} days; give the bucket versioning and object lock (docs/BACKUPS.md, "Off-site")`
            : "note: one repository only: a compromised backup pod, a leaked key or a lifecycle rule can end every copy; add postgres.backups.offsite (docs/BACKUPS.md, \"Off-site\")",
        b.passphraseEscrow
            ? `passphrases escrowed in: ${b.passphraseEscrow}`
            : `warning: the repositories' passphrases live only in this stack's state: lose the state and every backup is unreadable; export them (pulumi stack output --show-secrets backupCipherPassphrase${o ? ", backupOffsiteCipherPassphrase" : ""}) to your vault, then set postgres.backups.passphraseEscrow (docs/BACKUPS.md, "Escrow")`,
        ...(repository === "s3" ? [`backup credentials: ${credentialsOf(b.s3!)}`] : []),
        `recovery window: (retention.full ${b.retention.full} - 1) x ${+gap.toFixed(2)} days between full backups = ${+((guaranteedWindowSeconds(c)) / 86400).toFixed(2)} days of ${b.retention.recoveryWindowDays} required`,
        ...(repository === "posix" ? [`backup repository: ${repositoryNeed(c).arithmetic} = ${Math.ceil(repositoryNeed(c).bytes / 1024 ** 3)}Gi of ${b.repositorySize}`] : []),
    ];
}

/** Kubernetes: the connections the rendered files need, judged against the rendered NetworkPolicies (a render in memory, under the mocks). */
async function connectionFindings(stack: string, stackFile: StackFile): Promise<{ needed: number; refused: string[] }> {
    const run = await runProgram({ stack, config: stackFile.config, secretKeys: stackFile.secretKeys });
    const resources = run.resources.map(policyResource);
    return { needed: neededConnections(resources).needs.length, refused: refusedConnections(resources) };
}

async function main(): Promise<number> {
    const usage = "usage: npm run check -- --stack <name> [--config-file Pulumi.<stack>.yaml]\n" +
        "  Validates the stack file (schema, invariants, the connections its render implies) without creating anything, and prints\n" +
        "  what the stack deploys and its budgets. Exit 0: valid; 1: not (every problem named, with the command that fixes it).";
    const values = parseCli({ stack: { type: "string" }, "config-file": { type: "string" } }, usage);
    if (!values.stack) {
        console.error(usage);
        return USAGE_EXIT;
    }
    const file = resolve(values["config-file"] ?? `Pulumi.${values.stack}.yaml`);
    try {
        const stackFile = readStackFile(file);
        const { config } = loadStackConfig(PROJECT, values.stack, stackFile.config, (k) => stackFile.secretKeys.includes(k));
        const connections = config.platform === "kubernetes" ? await connectionFindings(values.stack, stackFile) : undefined;
        if (connections && connections.refused.length > 0) {
            console.error(`Stack "${values.stack}" needs ${connections.refused.length} connection(s) its own NetworkPolicies refuse; nothing was created:`);
            for (const r of connections.refused) console.error(`  - ${r}`);
            return 1;
        }
        console.log(`${values.stack} (${config.platform}): configuration valid`);
        for (const line of [...figures(config), ...ignoredSettings(config, stackFile.config)]) console.log(`  ${line}`);
        if (connections) console.log(`  connections: ${connections.needed} read from the rendered files (repository, credentials, receivers, scrapes, DNS), each allowed by its NetworkPolicies`);
        return 0;
    } catch (e) {
        if (!(e instanceof ConfigError || e instanceof StackFileError)) throw e;
        console.error(e.message);
        return 1;
    }
}

main().then(
    (code) => (process.exitCode = code),
    (e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exitCode = 1;
    },
);
