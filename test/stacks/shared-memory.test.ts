/**
 * PostgreSQL's /dev/shm on every engine and platform: memory-backed, sized from the work_mem and maintenance_work_mem
 * the server is actually given (read from the rendered postgresql.conf or the Cluster's parameters), and inside the
 * container's memory limit (a tmpfs counts against it).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { quantityValue } from "../../configs/format";
import { isSecretBox } from "../../render/files";
import type { ProgramRun } from "../../render/program";
import { only, runStack } from "../helpers";

const inner = (v: any) => (isSecretBox(v) ? v.value : v);
const MiB = 1024 ** 2;
/** The size PostgreSQL's parallel queries may need there: 8 parallel workers and the leader, each up to work_mem x hash_mem_multiplier 2, and a parallel index build's maintenance_work_mem; never below the runtime's 64 MB. */
const expected = (workMem: string, maintenanceWorkMem: string) => Math.max(64 * MiB, 9 * 2 * quantityValue(workMem) + quantityValue(maintenanceWorkMem));
const setting = (conf: string, name: string) => {
    const value = new RegExp(`^${name} = '?([^'\\n]+)'?$`, "m").exec(conf)?.[1];
    if (!value) throw new Error(`no ${name} in postgresql.conf`);
    return value.replace(/B$/, "i");
};

describe("PostgreSQL's /dev/shm", () => {
    let dev: ProgramRun;
    let sts: ProgramRun;
    let cnpg: ProgramRun;
    beforeAll(async () => {
        dev = await runStack("Pulumi.dev.yaml", { stack: "dev" });
        sts = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
        cnpg = await runStack("Pulumi.prod.yaml", { stack: "prod" });
    });

    it("Docker: the container's shm size, from the uploaded postgresql.conf, within its memory limit", () => {
        const c = only(dev, "docker:index/container:Container", "postgres-container").inputs as any;
        const conf = (inner(c.uploads) as { file: string; content: string }[]).find((u) => u.file.endsWith("/postgresql.conf"))!.content;
        const want = expected(setting(conf, "work_mem"), setting(conf, "maintenance_work_mem"));
        expect(c.shmSize * MiB).toBeGreaterThanOrEqual(want);
        expect(c.shmSize * MiB - want).toBeLessThan(MiB);
        expect(c.shmSize).toBeLessThan(c.memory);
    });

    it("Kubernetes (StatefulSet engine): a memory-backed emptyDir at /dev/shm, sized from the ConfigMap's postgresql.conf, within the limit", () => {
        const pod = (only(sts, "kubernetes:apps/v1:StatefulSet", "postgres").inputs as any).spec.template.spec;
        const conf = (only(sts, "kubernetes:core/v1:ConfigMap", "postgres-config").inputs as any).data["postgresql.conf"] as string;
        const main = pod.containers.find((c: any) => c.name === "postgres");
        const mount = main.volumeMounts.find((m: any) => m.mountPath === "/dev/shm");
        expect(mount, "a mount at /dev/shm").toBeDefined();
        const volume = pod.volumes.find((v: any) => v.name === mount.name);
        expect(volume.emptyDir.medium).toBe("Memory");
        const size = quantityValue(volume.emptyDir.sizeLimit);
        const want = expected(setting(conf, "work_mem"), setting(conf, "maintenance_work_mem"));
        expect(size).toBeGreaterThanOrEqual(want);
        expect(size - want).toBeLessThan(MiB);
        expect(size).toBeLessThan(quantityValue(main.resources.limits.memory));
    });

    it("CloudNativePG: the Cluster's shm limit, from its own parameters, within the instances' limit", () => {
        const spec = (only(cnpg, "kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres").inputs as any).spec;
        const p = spec.postgresql.parameters as Record<string, string>;
        const size = quantityValue(spec.ephemeralVolumesSizeLimit.shm);
        const want = expected(p.work_mem!.replace(/B$/, "i"), p.maintenance_work_mem!.replace(/B$/, "i"));
        expect(size).toBeGreaterThanOrEqual(want);
        expect(size - want).toBeLessThan(MiB);
        expect(size).toBeLessThan(quantityValue(spec.resources.limits.memory));
    });
});
