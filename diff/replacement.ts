/**
 * Which changed inputs make the provider replace a resource instead of updating it.
 * Kubernetes: pulumi-kubernetes' force-new properties (provider/pkg/provider/diff.go),
 * i.e. what the API server will not change in place. Docker: the inputs of
 * @pulumi/docker's container, volume, network and image that are not ForceNew in the
 * underlying Terraform provider are listed; every other input replaces.
 */

const SELECTOR = ["spec.selector"];
const CONTAINER_FIELDS = ["args", "command", "env", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "ports", "readinessProbe", "resources", "securityContext", "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts", "workingDir"];

/** Kubernetes force-new property prefixes by kind (metadata.name/namespace apply to every kind). */
const KUBERNETES: Record<string, string[]> = {
    Deployment: SELECTOR,
    DaemonSet: SELECTOR,
    StatefulSet: [...SELECTOR, "spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.serviceName", "spec.volumeClaimTemplates"],
    Job: [...SELECTOR, "spec.completions", "spec.parallelism", "spec.template"],
    PersistentVolumeClaim: ["spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
    // ConfigMaps and Secrets are immutable to the provider unless configured otherwise
    ConfigMap: ["data", "binaryData"],
    Secret: ["type", "data", "stringData"],
    Service: ["spec.clusterIP"],
    RoleBinding: ["roleRef"],
    ClusterRoleBinding: ["roleRef"],
    StorageClass: ["parameters", "provisioner"],
    // CloudNativePG's webhook refuses these on an existing Cluster: how it was created, where its volumes live
    Cluster: ["spec.bootstrap", "spec.storage.storageClass", "spec.walStorage.storageClass"],
    Pod: [
        ...["affinity", "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "nodeName", "nodeSelector", "restartPolicy", "securityContext", "serviceAccountName", "terminationGracePeriodSeconds", "volumes"].map((f) => `spec.${f}`),
        ...CONTAINER_FIELDS.map((f) => `spec.containers[*].${f}`),
    ],
};

/** Docker inputs updated in place; any other changed input replaces the resource. */
const DOCKER_IN_PLACE: Record<string, string[]> = {
    "docker:index/container:Container": ["rm", "start", "wait", "waitTimeout", "attach", "logs", "mustRun", "restart", "maxRetryCount", "removeVolumes", "destroyGraceSeconds", "memory", "memoryReservation", "memorySwap", "cpuShares", "cpuSet", "cpuPeriod", "cpuQuota", "containerReadRefreshTimeoutMilliseconds"],
    "docker:index/volume:Volume": [],
    "docker:index/network:Network": [],
    "docker:index/remoteImage:RemoteImage": ["keepLocally", "forceRemove", "build"],
};

/** `a.b[3].c` -> `a.b[*].c`, for matching list items. */
const generic = (path: string) => path.replace(/\[\d+\]/g, "[*]");

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/** The reason a changed input path replaces the resource, or undefined when it updates in place. */
export function replacementReason(type: string, path: string): string | undefined {
    if (type.startsWith("kubernetes:")) {
        const kind = type.split(":").pop()!;
        if (under(path, "metadata.name") || under(path, "metadata.namespace")) return `${path} is part of the object's identity`;
        const hit = (KUBERNETES[kind] ?? []).find((p) => under(generic(path), p));
        return hit ? `${kind} ${hit} cannot change in place` : undefined;
    }
    if (type in DOCKER_IN_PLACE) {
        const top = path.split(/[.[]/)[0]!;
        return DOCKER_IN_PLACE[type]!.includes(top) ? undefined : `Docker cannot change ${top} of an existing ${type.split(":").pop()!.toLowerCase()}`;
    }
    if (type.startsWith("random:")) return "a new random value is generated";
    return undefined;
}
