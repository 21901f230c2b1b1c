/** The backup runs as Kubernetes and Docker would run them: CronJobs that never overlap, make up a missed run, retry and keep a few; a loop container on Docker. */
import { beforeAll, describe, expect, it } from "vitest";
import type { ProgramRun } from "../../render/program";
import { maskSecrets } from "../../render/files";
import { ofType, only, runStack } from "../helpers";

const sent = (inputs: unknown) => JSON.parse(JSON.stringify(maskSecrets(inputs, true)));

describe("the backup runs on Kubernetes (prod)", () => {
    let run: ProgramRun;
    beforeAll(async () => {
        run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
    });

    it("are a CronJob per run on the stack's schedules, never two at once, made up within an hour, retried three times, three of each kept", () => {
        const cronJobs = ofType(run, "kubernetes:batch/v1:CronJob").map((r) => sent(r.inputs)).filter((c) => c.metadata.name.startsWith("postgres-backup-"));
        expect(cronJobs.map((c) => [c.metadata.name, c.spec.schedule]).sort()).toEqual([
            ["postgres-backup-diff", "0 1 * * 1-6"],
            ["postgres-backup-full", "0 1 * * 0"],
            ["postgres-backup-verify", "30 3 * * *"],
            ["postgres-backup-wal-check", "*/10 * * * *"],
        ]);
        for (const c of cronJobs) {
            expect(c.spec).toMatchObject({ timeZone: "Etc/UTC", concurrencyPolicy: "Forbid", startingDeadlineSeconds: 3600, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3 });
            expect(c.spec.jobTemplate.spec.backoffLimit).toBe(3);
            const pod = c.spec.jobTemplate.spec.template.spec;
            // a failed attempt is a new pod (the Job's growing back-off), the run's name its argument
            expect(pod.restartPolicy).toBe("Never");
            expect(pod.containers[0].command).toEqual(["/bin/sh", "/etc/pgbackrest/backup.sh"]);
            expect(pod.containers[0].args).toEqual([c.metadata.name.replace("postgres-backup-", "")]);
            // the role the store's credentials come from (keyType web-id)
            expect(pod.serviceAccountName).toBe("postgres-backup");
        }
        expect(sent(only(run, "kubernetes:core/v1:ServiceAccount", "postgres-backup-sa").inputs).metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/flowviz-prod-backups" });
    });

    it("take the first backup at deploy with a Job that waits out PostgreSQL's start", () => {
        const first = sent(only(run, "kubernetes:batch/v1:Job", "postgres-backup-first-deploy").inputs);
        expect(first.spec.backoffLimit).toBe(6);
        expect(first.spec.template.spec.containers[0].args).toEqual(["first"]);
    });

    it("never mount PostgreSQL's data: the runs' pods hold their configuration and a scratch folder only", () => {
        const pod = sent(only(run, "kubernetes:batch/v1:CronJob", "postgres-backup-full").inputs).spec.jobTemplate.spec.template.spec;
        expect(pod.volumes.filter((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim)).toEqual([]);
    });
});

describe("the restore drill on Kubernetes (prod)", () => {
    it("is a CronJob of its own on schedule.drill, restoring into an ephemeral volume as large as the data volume, pushing to the Pushgateway it may reach", async () => {
        const run = await runStack("test/fixtures/good/prod-statefulset.yaml", { stack: "prod" });
        const drill = sent(only(run, "kubernetes:batch/v1:CronJob", "postgres-drill-drill").inputs);
        expect(drill.spec.schedule).toBe("0 5 * * 6");
        const pod = drill.spec.jobTemplate.spec.template.spec;
        const scratch = pod.volumes.find((v: { ephemeral?: unknown }) => v.ephemeral);
        expect(scratch.ephemeral.volumeClaimTemplate.spec.resources.requests.storage).toBe("100Gi");
        expect(pod.containers[0].volumeMounts).toContainEqual({ name: scratch.name, mountPath: "/drill" });
        // no claim of PostgreSQL's: it reads the repository only
        expect(pod.volumes.filter((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim)).toEqual([]);
        const script = sent(only(run, "kubernetes:core/v1:ConfigMap", "postgres-drill-config").inputs).data["drill.sh"] as string;
        const url = /push\(\) \{ perl -e [\s\S]*? "(http:\/\/[^/]+)\/metrics\/job\/restore-drill\/repo\/\$1"; \}/.exec(script)?.[1];
        expect(url).toBe("http://pushgateway.flowviz.svc.cluster.local:9091");
        // the Pushgateway lets the drill in, and Prometheus
        const ingress = sent(only(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "pushgateway-ingress").inputs);
        const from = JSON.stringify(ingress.spec.ingress);
        expect(from).toContain("postgres-drill");
        expect(from).toContain("prometheus");
    });
});

describe("the backup runs on Docker (dev)", () => {
    it("are one container running the cron loop over the same runs, the posix repository mounted, PostgreSQL's data not", async () => {
        const run = await runStack("Pulumi.dev.yaml", { stack: "dev" });
        const c = sent(only(run, "docker:index/container:Container", "postgres-backup-container").inputs);
        expect(c.entrypoints).toEqual(["/bin/sh", "/etc/pgbackrest/schedule.sh"]);
        const loop = c.uploads.find((u: { file: string }) => u.file === "/etc/pgbackrest/schedule.sh").content as string;
        for (const r of ["first", "full", "diff", "verify", "wal-check"]) expect(loop).toContain(`'/etc/pgbackrest/backup.sh' '${r}'`);
        expect(c.volumes).toEqual([{ volumeName: "flowviz-dev-postgres-repo", containerPath: "/var/lib/pgbackrest" }]);
        expect(c.restart).toBe("unless-stopped");
    });
});
