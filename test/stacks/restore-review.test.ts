/**
 * A restore as Kubernetes would run it, read from the render: the restore step is an init
 * container (no probe can kill it) with PostgreSQL's image, volume and files; what it restores
 * is closed to clients until promotion, which is what PostgreSQL's readiness waits for; the
 * first backup run after it backs the new timeline up; every earlier volume stays claimed.
 */
import { describe, expect, it } from "vitest";
import { renderedFiles } from "../../render/files";
import { runStack } from "../helpers";

const STACK = "test/fixtures/good/prod-restored.yaml";

describe("a restore on Kubernetes, read from the render", async () => {
    const run = await runStack(STACK, { stack: "prod" });
    const statefulSet = run.resources.find((r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.name === "postgres")!;
    const pod = (statefulSet.inputs as any).spec.template.spec;
    const files = renderedFiles(run.resources);
    const file = (service: string, path: string) => files.find((f) => f.service === service && f.path === path)?.content ?? "";

    it("restores in an init container with PostgreSQL's image, data volume and files, and no probe", () => {
        const [restore, ...others] = pod.initContainers;
        expect(others).toEqual([]);
        const postgres = pod.containers[0];
        expect(restore.name).toBe("postgres-restore");
        expect(restore.image).toBe(postgres.image);
        expect(restore.readinessProbe ?? restore.livenessProbe ?? restore.startupProbe).toBeUndefined();
        expect(restore.volumeMounts).toEqual(postgres.volumeMounts);
        expect(restore.securityContext).toEqual(postgres.securityContext);
        // the script it runs is one of the files both mount
        const script = restore.command.at(-1) as string;
        const configMount = postgres.volumeMounts.find((m: { name: string }) => m.name === "config").mountPath;
        expect(file("postgres", script.slice(configMount.length + 1))).toContain("restore recall-1206");
        // the data volume restored into is the restore's own claim
        const data = pod.volumes.find((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim);
        expect(restore.volumeMounts.map((m: { name: string }) => m.name)).toContain(data.name);
        expect(data.name).toBe("data-recall-1206");
    });

    it("keeps recovery closed to clients until promotion, and PostgreSQL's readiness is a check that fails until then", () => {
        expect(file("postgres", "restore.sh")).toContain("--recovery-option=hot_standby=off");
        // pg_isready answers 1 ("rejecting connections") while a server without hot standby recovers
        expect(pod.containers[0].readinessProbe.exec.command[0]).toBe("pg_isready");
    });

    it("backs the new timeline up at once after it, and expires nothing meanwhile", () => {
        const job = run.resources.find((r) => r.type === "kubernetes:batch/v1:Job" && r.name === "postgres-backup-first-deploy")!;
        expect((job.inputs as any).spec.template.spec.containers[0].args).toEqual(["first", "recall-1206"]);
        expect(file("postgres-backup", "pgbackrest/pgbackrest.conf")).toMatch(/^expire-auto=n$/m);
        expect(file("pgbackrest-exporter", "pgbackrest/pgbackrest.conf")).not.toMatch(/expire-auto/);
    });

    it("keeps every earlier volume claimed and protected: the original and the first restore's", () => {
        const claims = run.resources.filter((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim" && r.name.startsWith("postgres-data"));
        expect(claims.map((c) => c.name).sort()).toEqual(["postgres-data", "postgres-data-recall-1204", "postgres-data-recall-1206"]);
        for (const c of claims) expect(c.protect, c.name).toBe(true);
    });
});
