/**
 * The CloudNativePG engine judged across renders, as a reviewer reads it: what `npm run diff`
 * says of a change to the Cluster (each case renders the stack again), and the engine's
 * pgbouncer.ini against the StatefulSet engine's.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { maskSecrets } from "../../render/files";
import type { ProgramRun, RecordedResource } from "../../render/program";
import { readStackFile } from "../../render/stackfile";
import { compareResources, type Snapshot } from "../../diff/compare";
import { findings, type Finding } from "../../diff/consequences";
import { only, ROOT, runStack } from "../helpers";

const STACK = "Pulumi.prod.yaml";
const sent = (r: RecordedResource) => JSON.parse(JSON.stringify(maskSecrets(r.inputs, true)));

let run: ProgramRun;
beforeAll(async () => {
    run = await runStack(STACK, { stack: "prod" });
});

describe("npm run diff on a Cluster", () => {
    const postgres = () => JSON.parse(readStackFile(join(ROOT, STACK)).config["flowviz:postgres"]!);
    const review = async (change: Record<string, unknown>) => {
        const head = await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres(), ...change } } });
        return findings(compareResources(run.resources, head.resources).changes, { resources: head.resources } as Snapshot);
    };
    const about = (fs: Finding[], kind: Finding["kind"]) => fs.filter((f) => f.kind === kind && f.resource.includes("Cluster")).map((f) => f.message);

    it("blocks a storage shrink, and a deletion of the Cluster or its ObjectStore", async () => {
        expect(about(await review({ storageSize: "50Gi" }), "blocked")).toEqual([expect.stringContaining("would shrink from 100Gi to 50Gi")]);
        const gone = findings(compareResources(run.resources, run.resources.filter((r) => !/Cluster|ObjectStore/.test(r.type))).changes, { resources: [] } as unknown as Snapshot);
        expect(gone.filter((f) => f.kind === "blocked").map((f) => f.resource.split("::")[1]).sort()).toEqual(["postgres", "postgres-backups"]);
    });

    it("blocks a switch of engine: the new Cluster would start empty, the StatefulSet's data stays behind", async () => {
        const statefulset = await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres(), engine: "statefulset", backups: { ...postgres().backups, image: "registry.example.com/flowviz/postgres-pgbackrest:17.12-1" } } } });
        const fs = findings(compareResources(statefulset.resources, run.resources).changes, { resources: run.resources } as Snapshot);
        expect(fs.filter((f) => f.kind === "blocked").map((f) => f.message)).toEqual(expect.arrayContaining([expect.stringContaining("postgres.engine changes: Cluster postgres starts with an empty database, and the data of StatefulSet postgres does not move by itself")]));
    });

    it("lets a new password or a renamed app role through without touching the Cluster's bootstrap", async () => {
        const rotated = await runStack(STACK, { stack: "prod", secrets: { appDbPassword: "a-new-password-for-the-app-role-2026" } });
        const changes = compareResources(run.resources, rotated.resources).changes;
        // a new Secret (a new generated name at deploy time, which the Cluster then points at); the Cluster is never replaced
        expect(changes.find((c) => c.name === "postgres-app-password")?.action).toBe("replace");
        expect(changes.filter((c) => c.type === "kubernetes:postgresql.cnpg.io/v1:Cluster" && c.action !== "update")).toEqual([]);
        expect(findings(changes, { resources: [] } as unknown as Snapshot).filter((f) => f.kind === "blocked")).toEqual([]);
        const renamed = findings(compareResources(run.resources, (await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres(), appUser: "flowviz_app" } } })).resources).changes, { resources: [] } as unknown as Snapshot);
        expect(renamed.filter((f) => f.kind === "blocked")).toEqual([]);
    });

    it("says which changes roll the instances (with a switchover) and which are reloaded", async () => {
        expect(about(await review({ maxConnections: 300 }), "restart")).toEqual([expect.stringContaining("spec.postgresql.parameters.max_connections changed")]);
        expect(about(await review({ workMem: "16Mi" }), "restart")).toEqual([]);
        const both = await review({ sharedBuffers: "3Gi", cloudnativePg: { zoneSpread: true, image: "ghcr.io/cloudnative-pg/postgresql:17.13-standard-trixie" }, image: "postgres:17.13-trixie" });
        expect(about(both, "blocked")).toEqual([expect.stringContaining("the image and PostgreSQL parameters change together")]);
    });

    it("shows a restore as a new Cluster beside the hibernated one, never in place", async () => {
        const fs = await review({ restore: { id: "recall-1204", target: "2026-12-04T10:15:00Z", replaceData: true } });
        expect(about(fs, "note")).toEqual(
            expect.arrayContaining([expect.stringContaining("RESTORE into a new Cluster postgres-recall-1204, recovered from postgres's archive to 2026-12-04T10:15:00Z"), expect.stringContaining("Cluster postgres is hibernated")]),
        );
        expect(about(fs, "blocked")).toEqual([]);
    });

    it("never rewires or deletes the old Cluster's Secrets in a restore: its TLS and role Secrets and its certificates are as they were", async () => {
        const head = await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres(), restore: { id: "recall-1204", target: "2026-12-04T10:15:00Z", replaceData: true } } } });
        const changes = compareResources(run.resources, head.resources).changes;
        const secrets = changes.filter((c) => c.type === "kubernetes:core/v1:Secret");
        // nothing of the old Cluster's goes; the new Cluster's own TLS comes beside it
        expect(secrets.filter((c) => c.action !== "create").map((c) => `${c.action} ${c.name}`)).toEqual([]);
        expect(secrets.map((c) => c.name).sort()).toEqual(["postgres-recall-1204-client-ca", "postgres-recall-1204-replication-tls", "postgres-recall-1204-server-ca", "postgres-recall-1204-server-tls"]);
        const certificatesOf = (r: ProgramRun, name: string) => sent(only(r, "kubernetes:postgresql.cnpg.io/v1:Cluster", name)).spec.certificates;
        expect(certificatesOf(head, "postgres")).toEqual(certificatesOf(run, "postgres"));
        expect(certificatesOf(head, "postgres-recall-1204")).not.toEqual(certificatesOf(run, "postgres"));
    });
});

describe("PgBouncer in front of the Cluster", () => {
    it("is this stack's PgBouncer with every setting of the StatefulSet engine's but the host: the -rw Service", async () => {
        const ini = (r: ProgramRun) => sent(only(r, "kubernetes:core/v1:ConfigMap", "pgbouncer-config")).data["pgbouncer.ini"] as string;
        const postgres = JSON.parse(readStackFile(join(ROOT, STACK)).config["flowviz:postgres"]!);
        const statefulset = await runStack(STACK, { stack: "prod", override: { postgres: { ...postgres, engine: "statefulset", backups: { ...postgres.backups, image: "registry.example.com/flowviz/postgres-pgbackrest:17.12-1" } } } });
        const [a, b] = [ini(run).split("\n"), ini(statefulset).split("\n")];
        const differing = a.filter((line, i) => line !== b[i]);
        expect(a.length).toBe(b.length);
        expect(differing).toEqual(["flowviz = host=postgres-rw.flowviz.svc.cluster.local port=5432 dbname=flowviz"]);
        expect(ini(run)).toMatch(/^server_tls_sslmode = verify-full$/m);
        expect(run.resources.filter((r) => r.type === "kubernetes:postgresql.cnpg.io/v1:Pooler")).toEqual([]);
    });
});
