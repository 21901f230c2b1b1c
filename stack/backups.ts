/** The backup settings a stack resolves to, and the invariants that keep them restorable. */
import { durationSeconds, quantityValue } from "../configs/format";
import { timeTarget } from "../configs/restore";
import { longestGapSeconds } from "./schedule";
import { imageTag } from "./images";
import { imageVersion } from "./versions";
import { setCommand as set } from "./commands";
import type { CheckContext, Invariant, Violation } from "./invariant";
import type { StackConfig } from "./schema";
import type { Thresholds } from "../configs/rules/model";
import { backupRepository, runsStatefulSet, servingEngine, usesCloudNativePg } from "./engine";


/** Whether the backup pods can get a store's credentials: the key type fits the platform and has what it reads. */
function credentialProblems(s3: S3Store, base: string, secrets: [string, string], c: StackConfig, ctx: CheckContext): Violation[] {
    const out: Violation[] = [];
    const key = (k: string) => `${base}.${k}`;
    const roleArn = `'${ctx.project}:${key("serviceAccountAnnotations")}["eks.amazonaws.com/role-arn"]'`;
    if (s3.keyType === "web-id" && c.platform !== "kubernetes")
        out.push({ key: key("keyType"), message: `is web-id, which needs Kubernetes' projected ServiceAccount tokens; on ${c.platform} use shared (${set(ctx, key("keyType"), "shared")} and the secrets ${secrets.join(", ")}) or auto` });
    if (s3.keyType === "web-id" && c.platform === "kubernetes" && Object.keys(s3.serviceAccountAnnotations ?? {}).length === 0)
        out.push({ key: key("serviceAccountAnnotations"), message: `is unset, but keyType web-id takes the store's credentials from the role bound to the backup pods' ServiceAccount; name it: pulumi config set --path ${roleArn} arn:aws:iam::<account>:role/<role> -s ${ctx.stack}` });
    if (s3.keyType === "auto" && c.platform === "kubernetes" && !s3.metadataEndpoint)
        out.push({
            key: key("metadataEndpoint"),
            message: `is unset, but keyType auto asks the instance metadata address for the node's role, and the backup pods' egress allows only the object store: every archive-push would fail. Prefer workload identity (${set(ctx, key("keyType"), "web-id")} with ${key("serviceAccountAnnotations")}), or let the backup pods alone reach the metadata address: ${set(ctx, key("metadataEndpoint"), "169.254.169.254:80")} (on EKS the node's IMDSv2 hop limit must be 2 or more)`,
        });
    if (s3.serviceAccountAnnotations && s3.keyType !== "web-id") out.push({ key: key("serviceAccountAnnotations"), message: `is set, but keyType is ${s3.keyType}: only web-id reads it; set ${set(ctx, key("keyType"), "web-id")} or remove it` });
    if (s3.metadataEndpoint && s3.keyType !== "auto") out.push({ key: key("metadataEndpoint"), message: `is set, but keyType is ${s3.keyType}: only auto reads it (and it opens the metadata address to the backup pods); remove it or set ${set(ctx, key("keyType"), "auto")}` });
    return out;
}
type S3Store = NonNullable<StackConfig["postgres"]["backups"]["s3"]>;

/**
 * PostgreSQL's data volumes under postgres.restore: the one it starts on (a restore's own), and
 * the earlier ones kept, protected and unmounted (the first, then each earlier restore's).
 */
export function dataVolumes(p: StackConfig["postgres"]): { current: string; kept: string[] } {
    if (!p.restore) return { current: "data", kept: [] };
    return { current: `data-${p.restore.id}`, kept: ["data", ...p.restore.previous.map((id) => `data-${id}`)] };
}

const DAY = 86400;
const days = (s: number) => `${+(s / DAY).toFixed(2)} days`;

/** The oldest point a restore can reach right after the newest full backup: (full backups kept - 1) x the longest gap between full backups. */
export function guaranteedWindowSeconds(c: StackConfig): number {
    const b = c.postgres.backups;
    return (b.retention.full - 1) * longestGapSeconds([b.schedule.full]);
}

/** The posix repository's worst case: every kept full backup as large as the data volume, plus the one being written before the oldest expires. */
export function repositoryNeed(c: StackConfig): { bytes: number; arithmetic: string } {
    const b = c.postgres.backups;
    const bytes = (b.retention.full + 1) * quantityValue(c.postgres.storageSize);
    return { bytes, arithmetic: `(retention.full ${b.retention.full} + 1 being written) x postgres.storageSize ${c.postgres.storageSize}` };
}

/** How long a backup may take before its absence is an alert. */
const slack = (gap: number) => Math.min(6 * 3600, Math.max(3600, gap / 2));

/** The alert thresholds of a stack: its alerts section, and what its backup settings imply. */
export function alertThresholds(c: StackConfig): Thresholds {
    const b = c.postgres.backups;
    const cloudnativePg = servingEngine(c) === "cloudnative-pg" ? { maxConnections: c.postgres.maxConnections, instances: c.postgres.cloudnativePg.instances, synchronous: c.postgres.cloudnativePg.synchronous.number } : undefined;
    const base = { ...c.monitoring.alerts, ...(cloudnativePg ? { cloudnativePg } : {}) };
    if (backupRepository(c) === "none") return base;
    const full = longestGapSeconds([b.schedule.full]);
    // Barman Cloud takes only base backups (schedule.full); pgBackRest differentials too
    const any = longestGapSeconds(cloudnativePg ? [b.schedule.full] : [b.schedule.full, b.schedule.diff]);
    return {
        ...base,
        backups: {
            archiveTimeoutSeconds: durationSeconds(b.archiveTimeout)!,
            fullMaxAgeSeconds: full + slack(full),
            anyMaxAgeSeconds: any + slack(any),
            walQueueBytes: quantityValue(b.archivePushQueueMax),
            ...(cloudnativePg ? {} : { drillMaxAgeSeconds: 2 * longestGapSeconds([b.schedule.drill]) }),
        },
    };
}

export const BACKUP_INVARIANTS: Invariant[] = [
    {
        title: "the database has a backup repository",
        rule: "postgres.backups.repository is posix or s3 (defaults: posix on Docker, s3 on Kubernetes); `none` only with postgres.backups.allowNone (the data is then lost with its volume)",
        override: "postgres.backups.allowNone",
        check(c, ctx) {
            if (backupRepository(c) !== "none" || c.postgres.backups.allowNone) return [];
            return [{ key: "postgres.backups.repository", message: `is none: no WAL archive and no backup, a lost volume or a bad migration loses the data for good; name a repository (${set(ctx, "postgres.backups.repository", "s3")} with postgres.backups.s3) or accept it with ${set(ctx, "postgres.backups.allowNone", "true")}` }];
        },
    },
    {
        title: "an S3 repository says where it is",
        rule: "repository s3 needs postgres.backups.s3 (endpoint, bucket, region) and the secrets backupS3AccessKey, backupS3SecretKey",
        check(c, ctx) {
            if (backupRepository(c) !== "s3" || c.postgres.backups.s3) return [];
            const why = c.postgres.backups.repository ? "" : ` (the default on ${c.platform})`;
            return [{ key: "postgres.backups.s3", message: `is unset, but the repository is s3${why}: set endpoint, bucket and region (${set(ctx, "postgres.backups.s3.endpoint", "s3.eu-central-1.amazonaws.com")}, ...bucket, ...region), or choose another repository (postgres.backups.repository)` }];
        },
    },
    {
        title: "Kubernetes backs up into an object store",
        rule: "statefulset engine on Kubernetes: the repository is s3 (or none with allowNone): the backup runs are CronJobs of their own, and a posix volume is one pod's (ReadWriteOnce) and in the same cluster as the data",
        check(c, ctx) {
            if (c.platform !== "kubernetes" || usesCloudNativePg(c) || backupRepository(c) !== "posix") return [];
            return [{ key: "postgres.backups.repository", message: `is posix, but on Kubernetes the backup runs (CronJobs) cannot mount PostgreSQL's ReadWriteOnce volumes, and a copy in the same cluster is no copy; use an object store: ${set(ctx, "postgres.backups.repository", "s3")} with postgres.backups.s3 (any S3-compatible store)` }];
        },
    },
    {
        title: "the backup pods can get the object store's credentials",
        rule: "keyType web-id: Kubernetes only, with s3.serviceAccountAnnotations (the cloud role); keyType auto on Kubernetes: with s3.metadataEndpoint (the one address the backup pods may reach beyond the store); each of those keys only with its key type",
        check(c, ctx) {
            const s3 = c.postgres.backups.s3;
            const offsite = c.postgres.backups.offsite?.s3;
            return [
                ...(backupRepository(c) === "s3" && s3 ? credentialProblems(s3, "postgres.backups.s3", ["backupS3AccessKey", "backupS3SecretKey"], c, ctx) : []),
                ...(offsite ? credentialProblems(offsite, "postgres.backups.offsite.s3", ["backupOffsiteS3AccessKey", "backupOffsiteS3SecretKey"], c, ctx) : []),
            ];
        },
    },
    {
        title: "the off-site repository is another place, with an identity and a passphrase of its own, kept long enough",
        rule: "postgres.backups.offsite: with a first repository and the statefulset engine; another endpoint or bucket than postgres.backups.s3; keyType shared or web-id, and web-id only when the first repository does not use it (one ServiceAccount binds one role); auto never (the node's role is every pod's); retentionDays >= retention.recoveryWindowDays",
        check(c, ctx) {
            const o = c.postgres.backups.offsite;
            if (!o) return [];
            const out: Violation[] = [];
            const key = (k: string) => `postgres.backups.offsite.${k}`;
            if (usesCloudNativePg(c)) out.push({ key: "postgres.backups.offsite", message: "is set, but the cloudnative-pg engine backs up through Barman Cloud, which this stack gives one ObjectStore: a second one and a replica cluster in another region are planned (docs/CLOUDNATIVE-PG.md, \"Off-site\"); remove it" });
            else if (backupRepository(c) === "none") out.push({ key: "postgres.backups.offsite", message: "is set, but postgres.backups.repository is none: WAL reaches the off-site repository only through archiving; choose a first repository" });
            const first = c.postgres.backups.s3;
            if (backupRepository(c) === "s3" && first && first.endpoint === o.s3.endpoint && first.bucket === o.s3.bucket)
                out.push({ key: key("s3.bucket"), message: `is ${o.s3.bucket} at ${o.s3.endpoint}, the first repository's own bucket: a copy in the same bucket goes with it; name a bucket in another region or account` });
            if (o.s3.keyType === "auto") out.push({ key: key("s3.keyType"), message: `is auto: the node's role is every pod's, not an identity of the off-site repository's own; use ${set(ctx, key("s3.keyType"), "shared")} with the secrets backupOffsiteS3AccessKey, backupOffsiteS3SecretKey` });
            if (o.s3.keyType === "web-id" && first?.keyType === "web-id" && backupRepository(c) === "s3")
                out.push({ key: key("s3.keyType"), message: `is web-id, as is postgres.backups.s3.keyType: the backup pods' one ServiceAccount binds one role, so both repositories would share it; give the off-site one its own keys: ${set(ctx, key("s3.keyType"), "shared")} and the secrets backupOffsiteS3AccessKey, backupOffsiteS3SecretKey` });
            if (o.retentionDays < c.postgres.backups.retention.recoveryWindowDays)
                out.push({ key: key("retentionDays"), message: `is ${o.retentionDays}, less than retention.recoveryWindowDays ${c.postgres.backups.retention.recoveryWindowDays}: the off-site copy must reach back as far as a restore must; ${set(ctx, key("retentionDays"), String(c.postgres.backups.retention.recoveryWindowDays))} or more` });
            return out;
        },
    },
    {
        title: "Kubernetes names the PostgreSQL image with pgBackRest and pgAudit",
        rule: "on Kubernetes with postgres.engine statefulset, postgres.backups.image is set: the image built from images/postgres-pgbackrest/Dockerfile and pushed to a registry the cluster pulls from (Docker builds it itself); PostgreSQL runs it whether or not it backs up, since postgresql.conf preloads pgAudit",
        check(c, ctx) {
            if (c.platform !== "kubernetes" || !runsStatefulSet(c) || c.postgres.backups.image) return [];
            return [{ key: "postgres.backups.image", message: `is unset: PostgreSQL's container runs pgBackRest (archive_command) and preloads pgAudit, and ${c.postgres.image} has neither; build and push images/postgres-pgbackrest (README, "Backups"), then ${set(ctx, "postgres.backups.image", "registry.example.com/flowviz/postgres-pgbackrest:17.12-1")}` }];
        },
    },
    {
        title: "the pgBackRest image is built on postgres.image",
        rule: "postgres.backups.image's tag starts with the PostgreSQL version of postgres.image's tag (17.12-...): the image that runs is that one, so a PostgreSQL upgrade changes both, and the diff sees a major upgrade",
        check(c, ctx) {
            const image = c.postgres.backups.image;
            const version = imageVersion(c.postgres.image);
            if (!image || !version || imageTag(image).startsWith(version)) return [];
            return [{ key: "postgres.backups.image", message: `is ${image}, whose tag does not start with ${version}, the version of postgres.image (${c.postgres.image}); build it from that image (images/postgres-pgbackrest, --build-arg POSTGRES_IMAGE=${c.postgres.image}) and tag it ${version}-...: ${set(ctx, "postgres.backups.image", `<registry>/postgres-pgbackrest:${version}-1`)}` }];
        },
    },
    {
        title: "a restore replays at most retention.maxReplayHours of WAL",
        rule: "the longest gap between the backups a restore starts from (full or differential with pgBackRest; base backups with CloudNativePG) <= retention.maxReplayHours (default 24): replay is the slow part of a restore, WAL applied one record after another",
        check(c, ctx) {
            const b = c.postgres.backups;
            if (backupRepository(c) === "none") return [];
            const cnpg = usesCloudNativePg(c);
            const gap = longestGapSeconds(cnpg ? [b.schedule.full] : [b.schedule.full, b.schedule.diff]);
            const limit = b.retention.maxReplayHours * 3600;
            if (gap <= limit) return [];
            const which = cnpg ? `schedule.full "${b.schedule.full}" (base backups)` : `schedule.full "${b.schedule.full}" with schedule.diff "${b.schedule.diff}"`;
            return [{ key: "postgres.backups.schedule.full", message: `leaves up to ${+(gap / 3600).toFixed(1)} hours between backups (${which}): a restore could replay that much WAL, over retention.maxReplayHours ${b.retention.maxReplayHours}; back up at least daily (${set(ctx, "postgres.backups.schedule.full", "'0 1 * * *'")}) or raise retention.maxReplayHours` }];
        },
    },
    {
        title: "retention covers the recovery window",
        rule: "statefulset engine: (retention.full - 1) x the longest gap between full backups (schedule.full) >= retention.recoveryWindowDays: right after a new full backup, the oldest kept one must still reach back that far",
        override: "postgres.backups.retention.recoveryWindowDays",
        check(c, ctx) {
            const b = c.postgres.backups;
            // Barman Cloud keeps a recovery window (retentionPolicy), not a count of full backups
            if (backupRepository(c) === "none" || !runsStatefulSet(c)) return [];
            const gap = longestGapSeconds([b.schedule.full]);
            const window = guaranteedWindowSeconds(c);
            if (window >= b.retention.recoveryWindowDays * DAY) return [];
            const need = Math.ceil((b.retention.recoveryWindowDays * DAY) / gap) + 1;
            return [{ key: "postgres.backups.retention.full", message: `is ${b.retention.full}: (${b.retention.full} - 1) x ${days(gap)} between full backups ("${b.schedule.full}") = ${days(window)}, less than the recovery window of ${b.retention.recoveryWindowDays} days; keep more (${set(ctx, "postgres.backups.retention.full", need)}), take full backups more often, or shorten the window` }];
        },
    },
    {
        title: "the posix repository holds what it keeps",
        rule: "repository posix: (retention.full + 1) x postgres.storageSize <= repositorySize (every full backup at most the data volume, one more while the next is written; compression, differentials and WAL share what that leaves)",
        check(c, ctx) {
            if (backupRepository(c) !== "posix") return [];
            const need = repositoryNeed(c);
            if (need.bytes <= quantityValue(c.postgres.backups.repositorySize)) return [];
            return [{ key: "postgres.backups.repositorySize", message: `is ${c.postgres.backups.repositorySize}, but ${need.arithmetic} = ${Math.ceil(need.bytes / 1024 ** 3)}Gi; raise it (${set(ctx, "postgres.backups.repositorySize", `${Math.ceil(need.bytes / 1024 ** 3)}Gi`)}) or keep fewer full backups` }];
        },
    },
    {
        title: "the WAL queue fits PostgreSQL's volume",
        rule: "statefulset engine: archivePushQueueMax <= postgres.storageSize / 4: WAL waiting for an unreachable repository must never fill the data volume",
        check(c, ctx) {
            const b = c.postgres.backups;
            const limit = quantityValue(c.postgres.storageSize) / 4;
            if (backupRepository(c) === "none" || !runsStatefulSet(c) || quantityValue(b.archivePushQueueMax) <= limit) return [];
            return [{ key: "postgres.backups.archivePushQueueMax", message: `is ${b.archivePushQueueMax}, more than a quarter of postgres.storageSize ${c.postgres.storageSize}: a long repository outage would fill the data volume and stop PostgreSQL; lower it (${set(ctx, "postgres.backups.archivePushQueueMax", `${Math.floor(limit / 1024 ** 2)}Mi`)})` }];
        },
    },
    {
        title: "a restore is explicit and has something to restore from",
        rule: "postgres.restore needs replaceData: true (PostgreSQL starts on a new volume restored to the target; later writes stay on the kept old volume) and a repository",
        check(c, ctx) {
            const r = c.postgres.restore;
            if (!r) return [];
            const out: Violation[] = [];
            if (!r.replaceData) out.push({ key: "postgres.restore.replaceData", message: `is false: restoring to ${r.target} starts PostgreSQL on a new volume without the writes after the target; confirm with ${set(ctx, "postgres.restore.replaceData", "true")} (runbook RestoreToPointInTime)` });
            if (backupRepository(c) === "none") out.push({ key: "postgres.restore", message: "has no repository to restore from (postgres.backups.repository is none)" });
            return out;
        },
    },
    {
        title: "a restore reaches back, never forward",
        rule: "postgres.restore.target is `latest`, an LSN, or a time before now (recovery cannot replay WAL that does not exist yet: PostgreSQL would stop short of it and never start); its id is not one of postgres.restore.previous",
        check(c) {
            const r = c.postgres.restore;
            if (!r) return [];
            const out: Violation[] = [];
            const t = timeTarget(r.target);
            if (t !== undefined && t * 1000 > Date.now())
                out.push({ key: "postgres.restore.target", message: `is ${r.target}, in the future (now is ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}): a restore reaches only what was archived; choose the last good moment before the incident, or \`latest\`` });
            if (r.from === "offsite" && !c.postgres.backups.offsite)
                out.push({ key: "postgres.restore.from", message: "is offsite, but postgres.backups.offsite is unset: there is no off-site repository to restore from" });
            const readFrom = r.from === "offsite" ? "s3" : backupRepository(c);
            if (r.repositoryAsOf && readFrom !== "s3")
                out.push({ key: "postgres.restore.repositoryAsOf", message: `is set, but the repository restored from is ${readFrom}: reading a repository as it was needs an object store with versioning; remove it` });
            const asOf = r.repositoryAsOf ? timeTarget(r.repositoryAsOf) : undefined;
            if (asOf !== undefined && asOf * 1000 > Date.now()) out.push({ key: "postgres.restore.repositoryAsOf", message: `is ${r.repositoryAsOf}, in the future: name the moment before the repository was damaged` });
            if (r.previous.includes(r.id))
                out.push({ key: "postgres.restore.id", message: `is ${r.id}, which postgres.restore.previous lists as an earlier restore: each restore needs a new id (its volume is postgres-data-<id>); keep ${r.id} in previous and name this one anew` });
            return out;
        },
    },
];
