/** A `scheduled` service on Kubernetes: a CronJob per run (and a Job for the runs due at deploy), all from the service's one pod template. */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type * as k8sIn from "@pulumi/kubernetes/types/input";
import { SCHEDULED_RUNS, type ServiceSpec } from "../service";

/** The pod template with the run's arguments for the main container; a failed attempt is a new pod (the Job's backoff). */
function runTemplate(template: k8sIn.core.v1.PodTemplateSpec & { spec: k8sIn.core.v1.PodSpec }, args: string[]): k8sIn.core.v1.PodTemplateSpec {
    const containers = template.spec.containers as k8sIn.core.v1.Container[];
    return { ...template, spec: { ...template.spec, restartPolicy: "Never", containers: containers.map((c, i) => (i === 0 ? { ...c, args } : c)) } };
}

export function scheduledRuns(
    spec: ServiceSpec,
    meta: { namespace: pulumi.Input<string>; labels: Record<string, string> },
    template: k8sIn.core.v1.PodTemplateSpec & { spec: k8sIn.core.v1.PodSpec },
    opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource[] {
    if ((spec.borrowedVolumes ?? []).length > 0) throw new Error(`${spec.name}: another service's volume cannot be mounted on Kubernetes (a ReadWriteOnce claim belongs to its pod)`);
    const runs = spec.schedules ?? [];
    if (runs.length === 0) throw new Error(`${spec.name}: a scheduled service needs at least one run`);
    const out: pulumi.CustomResource[] = [];
    for (const run of runs) {
        const name = `${spec.name}-${run.name}`;
        const job = { backoffLimit: SCHEDULED_RUNS.retries, template: runTemplate(template, run.args) };
        if (run.cron) out.push(
            new k8s.batch.v1.CronJob(
                name,
                {
                    metadata: { name, ...meta },
                    spec: {
                        schedule: run.cron,
                        timeZone: "Etc/UTC",
                        concurrencyPolicy: "Forbid",
                        startingDeadlineSeconds: SCHEDULED_RUNS.startingDeadlineSeconds,
                        successfulJobsHistoryLimit: SCHEDULED_RUNS.keptRuns,
                        failedJobsHistoryLimit: SCHEDULED_RUNS.keptRuns,
                        jobTemplate: { metadata: { labels: meta.labels }, spec: job },
                    },
                },
                opts,
            ),
        );
        if (run.atDeploy) {
            // created with the service it serves, which may take minutes to become ready: retried for about ten
            const deploy = { ...job, backoffLimit: SCHEDULED_RUNS.retriesAtDeploy, ttlSecondsAfterFinished: 86400 };
            out.push(new k8s.batch.v1.Job(`${name}-deploy`, { metadata: meta, spec: deploy }, { ...opts, deleteBeforeReplace: true }));
        }
    }
    return out;
}
