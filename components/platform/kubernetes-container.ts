/**
 * A Kubernetes container of a service or sidecar: its ConfigMap and Secret, mounts,
 * environment, probes and security context.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { input as k8sIn } from "@pulumi/kubernetes/types";
import type { HealthCheck, ServiceSpec, Sidecar } from "../service";

const fileKey = (path: string) => path.replace(/[^A-Za-z0-9._-]/g, "__");

/**
 * A container's files and credentials: a ConfigMap and a Secret of its own (auto-named,
 * so a content change rolls the pods), mounted read-only at its config folder;
 * secret environment values by reference.
 */
export function containerFiles(
    c: Pick<ServiceSpec, "name" | "files" | "env" | "secretEnv" | "configDir">,
    volumeName: string,
    ns: pulumi.Output<string>,
    labels: Record<string, string>,
    opts: pulumi.CustomResourceOptions,
): { volumes: k8sIn.core.v1.Volume[]; mounts: k8sIn.core.v1.VolumeMount[]; env: k8sIn.core.v1.EnvVar[] } {
    const files = c.files ?? [];
    const plainFiles = files.filter((f) => !f.secret);
    const secretFiles = files.filter((f) => f.secret);
    const secretEnv = c.secretEnv?.values ?? {};
    const configMap =
        plainFiles.length > 0
            ? new k8s.core.v1.ConfigMap(`${c.name}-config`, { metadata: { namespace: ns, labels }, data: Object.fromEntries(plainFiles.map((f) => [fileKey(f.path), f.content])) }, opts)
            : undefined;
    const secret =
        secretFiles.length + Object.keys(secretEnv).length > 0
            ? new k8s.core.v1.Secret(
                  `${c.name}-secret`,
                  {
                      metadata: { namespace: ns, labels },
                      stringData: pulumi.secret({
                          ...Object.fromEntries(secretFiles.map((f) => [fileKey(f.path), f.content])),
                          ...Object.fromEntries(Object.entries(secretEnv).map(([k, v]) => [`env-${k}`, v])),
                      }),
                  },
                  opts,
              )
            : undefined;
    const volumes: k8sIn.core.v1.Volume[] = [];
    const mounts: k8sIn.core.v1.VolumeMount[] = [];
    if (files.length > 0) {
        const sources: k8sIn.core.v1.VolumeProjection[] = [];
        if (configMap) sources.push({ configMap: { name: configMap.metadata.name, items: plainFiles.map((f) => ({ key: fileKey(f.path), path: f.path })) } });
        if (secret && secretFiles.length > 0) sources.push({ secret: { name: secret.metadata.name, items: secretFiles.map((f) => ({ key: fileKey(f.path), path: f.path, mode: 0o400 })) } });
        volumes.push({ name: volumeName, projected: { sources, defaultMode: 0o444 } });
        mounts.push({ name: volumeName, mountPath: c.configDir ?? "/config", readOnly: true });
    }
    const env: k8sIn.core.v1.EnvVar[] = [
        ...Object.entries(c.env ?? {}).map(([name, value]) => ({ name, value })),
        ...Object.keys(secretEnv).map((name) => ({ name, valueFrom: { secretKeyRef: { name: secret!.metadata.name, key: `env-${name}` } } })),
    ];
    return { volumes, mounts, env };
}

/**
 * A container of a service or sidecar: image, command, ports, probes, limits, no privileges.
 * A pod is ready only when every container is, so a sidecar gets liveness only (an exporter
 * slow while its service is loaded must never take the service out of its Service), and
 * its own user where it differs from the pod's.
 */
export function podContainer(
    c: Sidecar | ServiceSpec,
    env: k8sIn.core.v1.EnvVar[],
    mounts: k8sIn.core.v1.VolumeMount[],
    role: { hasData: boolean } | { sidecarOf: ServiceSpec },
): k8sIn.core.v1.Container {
    const probe = probeFor(c.health);
    const pod = "sidecarOf" in role ? role.sidecarOf : undefined;
    const ownUser = pod && c.runAs && c.runAs.user !== pod.runAs?.user ? { runAsUser: c.runAs.user, runAsGroup: c.runAs.group, runAsNonRoot: true } : {};
    return {
        name: c.name,
        image: c.image,
        command: c.command,
        args: c.args,
        workingDir: c.workingDir,
        env,
        ports: (c.ports ?? []).map((p) => ({ name: p.name, containerPort: p.port })),
        volumeMounts: mounts,
        resources: c.resources ? { requests: c.resources, limits: c.resources } : undefined,
        readinessProbe: pod ? undefined : probe,
        livenessProbe: probe ? livenessProbe(c.health!, probe) : undefined,
        // in a pod with data, its sidecars' liveness waits for a startup probe too (the pod's whole start, recovery included)
        startupProbe: ("hasData" in role && role.hasData) || (pod?.volumes ?? []).length > 0 ? startupProbe(c.health, probe) : undefined,
        securityContext: c.runAs ? { allowPrivilegeEscalation: false, readOnlyRootFilesystem: c.runAs.readOnlyRootFilesystem, capabilities: { drop: ["ALL"] }, ...ownUser } : undefined,
    };
}

/**
 * Liveness restarts a container, so it asks less than readiness (which only takes the pod
 * out of its Service): the service's "alive" endpoint where it has one, and twice the patience.
 */
function livenessProbe(h: HealthCheck, probe: k8sIn.core.v1.Probe): k8sIn.core.v1.Probe {
    const check = h.liveHttpPath && h.http ? { httpGet: { path: h.liveHttpPath, port: h.http.port } } : {};
    return { ...probe, ...check, failureThreshold: 6 };
}

/**
 * A service with persistent data may spend long in recovery before it answers; until
 * the startup probe passes, liveness does not run and cannot kill the recovery.
 */
function startupProbe(h: HealthCheck | undefined, probe: k8sIn.core.v1.Probe | undefined): k8sIn.core.v1.Probe | undefined {
    if (!probe) return undefined;
    const period = 10;
    return { ...probe, initialDelaySeconds: 0, periodSeconds: period, failureThreshold: Math.ceil((h?.maxStartSeconds ?? 300) / period) };
}

function probeFor(h: HealthCheck | undefined): k8sIn.core.v1.Probe | undefined {
    if (!h) return undefined;
    const timing = { initialDelaySeconds: h.startSeconds ?? 10, periodSeconds: h.periodSeconds ?? 10, timeoutSeconds: h.timeoutSeconds ?? 5, failureThreshold: 3 };
    // Native probes first: they need nothing inside the image.
    if (h.http) return { httpGet: { path: h.http.path, port: h.http.port }, ...timing };
    if (h.tcpPort !== undefined) return { tcpSocket: { port: h.tcpPort }, ...timing };
    if (h.exec) return { exec: { command: h.exec }, ...timing };
    return undefined;
}
