/**
 * The CloudNativePG engine: the connections the operator keeps, and the invariants of a stack
 * that uses it (the pinned releases and the parameters the operator fixes: facts/cloudnative-pg.ts).
 */
import { setCommand as set } from "./commands";
import { imageTag } from "./images";
import { imageVersion } from "./versions";
import { backupRepository, usesCloudNativePg } from "./engine";
import type { Invariant } from "./invariant";




/**
 * Connections each instance's manager keeps open besides the clients' (pkg/management/postgres/pool:
 * at most 3 per database it uses): its own (roles, probes, slots) in `postgres`, and its metrics
 * exporter's in `postgres` and in the application database.
 */
export const CNPG_OWN_CONNECTIONS = { manager: 3, exporter: 2 * 3 } as const;
/** Connections postgres.adminConnections keeps besides the operator's: a migration and a person. */
const HUMAN_CONNECTIONS = 2;
/** The operator's own connections per instance, and what postgres.adminConnections must hold with them. */
export const OPERATOR_CONNECTIONS = CNPG_OWN_CONNECTIONS.manager + CNPG_OWN_CONNECTIONS.exporter;
const ADMIN_CONNECTIONS_NEEDED = OPERATOR_CONNECTIONS + HUMAN_CONNECTIONS;


export const CNPG_INVARIANTS: Invariant[] = [
    {
        title: "CloudNativePG runs on Kubernetes",
        rule: "postgres.engine cloudnative-pg (an operator's Cluster) needs platform kubernetes",
        check(c, ctx) {
            if (!usesCloudNativePg(c) || c.platform === "kubernetes") return [];
            return [{ key: "postgres.engine", message: `is cloudnative-pg, which is a Kubernetes operator; on ${c.platform} PostgreSQL runs as one container: ${set(ctx, "postgres.engine", "statefulset")}` }];
        },
    },
    {
        title: "the operand image runs postgres.image's PostgreSQL",
        rule: "postgres.cloudnativePg.image's tag starts with the PostgreSQL version of postgres.image (17.12-...): one version for the generated parameters, the tests and both engines",
        check(c, ctx) {
            if (!usesCloudNativePg(c)) return [];
            const image = c.postgres.cloudnativePg.image;
            const version = imageVersion(c.postgres.image);
            if (!version || imageTag(image).startsWith(version)) return [];
            return [{ key: "postgres.cloudnativePg.image", message: `is ${image}, whose tag does not start with ${version}, the version of postgres.image (${c.postgres.image}); use CloudNativePG's image of that version: ${set(ctx, "postgres.cloudnativePg.image", `ghcr.io/cloudnative-pg/postgresql:${version}-standard-trixie`)}` }];
        },
    },
    {
        title: "enough standbys for synchronous commits",
        rule: "postgres.cloudnativePg.synchronous.number <= instances - 1: a commit waits for that many standbys, and there must be that many",
        check(c, ctx) {
            const n = c.postgres.cloudnativePg;
            if (!usesCloudNativePg(c) || n.synchronous.number <= n.instances - 1) return [];
            return [{ key: "postgres.cloudnativePg.synchronous.number", message: `is ${n.synchronous.number}, but ${n.instances} instances have ${n.instances - 1} standbys: with dataDurability ${n.synchronous.dataDurability} no commit could ever return; lower it (${set(ctx, "postgres.cloudnativePg.synchronous.number", n.instances - 1)}) or raise postgres.cloudnativePg.instances` }];
        },
    },
    {
        title: "CloudNativePG's own connections fit the admin budget",
        rule: `with postgres.engine cloudnative-pg, postgres.adminConnections >= the instance manager's ${CNPG_OWN_CONNECTIONS.manager} + its metrics exporter's ${CNPG_OWN_CONNECTIONS.exporter} + ${HUMAN_CONNECTIONS} (a migration, a person); the standbys stream through WAL senders, which PostgreSQL counts in max_wal_senders (10, at least instances - 1 streaming + 1 cloning), not in max_connections; PgBouncer's pool is counted by the first invariant`,
        check(c, ctx) {
            const need = ADMIN_CONNECTIONS_NEEDED;
            if (!usesCloudNativePg(c) || c.platform !== "kubernetes" || c.postgres.adminConnections >= need) return [];
            return [{ key: "postgres.adminConnections", message: `is ${c.postgres.adminConnections}, but each CloudNativePG instance keeps up to ${CNPG_OWN_CONNECTIONS.manager} (instance manager) + ${CNPG_OWN_CONNECTIONS.exporter} (metrics exporter) connections open, and a migration and a person need ${HUMAN_CONNECTIONS}: raise it (${set(ctx, "postgres.adminConnections", need)}); PgBouncer's share of max_connections shrinks by as much` }];
        },
    },
    {
        title: "CloudNativePG backs up to an object store",
        rule: "with postgres.engine cloudnative-pg, postgres.backups.repository is s3 (the Barman Cloud plugin archives to object storage) or none with allowNone",
        check(c, ctx) {
            if (!usesCloudNativePg(c) || c.platform !== "kubernetes" || backupRepository(c) !== "posix") return [];
            return [{ key: "postgres.backups.repository", message: `is posix, a volume of one pod; CloudNativePG's Barman Cloud plugin archives to an object store: set postgres.backups.s3 (endpoint, bucket, region) and ${set(ctx, "postgres.backups.repository", "s3")}` }];
        },
    },
    {
        title: "a move from the StatefulSet engine is a move to a Cluster",
        rule: "postgres.cloudnativePg.fromStatefulSet only with postgres.engine cloudnative-pg on Kubernetes, and not with postgres.restore before `retired` (a Cluster is either cloned from the StatefulSet or recovered from an archive)",
        check(c, ctx) {
            const stage = c.postgres.cloudnativePg.fromStatefulSet;
            if (stage === undefined) return [];
            if (!usesCloudNativePg(c) || c.platform !== "kubernetes") {
                return [{ key: "postgres.cloudnativePg.fromStatefulSet", message: `is ${stage}, but postgres.engine is ${c.postgres.engine} on ${c.platform}: the move ends in a CloudNativePG Cluster on Kubernetes; ${set(ctx, "postgres.engine", "cloudnative-pg")} or remove the key` }];
            }
            if (c.postgres.restore && stage !== "retired") {
                return [{ key: "postgres.cloudnativePg.fromStatefulSet", message: `is ${stage} while postgres.restore (${c.postgres.restore.id}) recovers a new Cluster from the archive: finish the move first, then restore` }];
            }
            return [];
        },
    },
    {
        title: "operators installed only where something runs on them",
        rule: "kubernetes.operators.install (cluster-wide CRDs, webhooks and RBAC) only with postgres.engine cloudnative-pg",
        check(c, ctx) {
            if (c.platform !== "kubernetes" || !c.kubernetes.operators.install || usesCloudNativePg(c)) return [];
            return [{ key: "kubernetes.operators.install", message: `is true, but postgres.engine is ${c.postgres.engine}: nothing in this stack runs on CloudNativePG, and its operator brings cluster-wide webhooks and RBAC; ${set(ctx, "kubernetes.operators.install", false)} or ${set(ctx, "postgres.engine", "cloudnative-pg")}` }];
        },
    },
];
