/**
 * A service described once, independent of where it runs. A Platform turns it into
 * Docker or Kubernetes resources; nothing about a service is written twice.
 */
import type * as pulumi from "@pulumi/pulumi";
import { imageTag } from "../stack/images";

export interface ServicePort {
    /** port name (IANA-style, <= 15 chars): `postgres`, `http`, `metrics` */
    name: string;
    port: number;
    /** Docker: publish on the host at this port (bound to docker.bindAddress); never on Kubernetes */
    hostPort?: number;
    /**
     * Kubernetes: who may open this port, instead of the service's reachableFrom: services of the
     * stack, and whole namespaces (an operator's)
     */
    from?: { services?: string[]; namespaces?: string[] };
}

/** Whether a service may open a port of another (the port's own `from`, else the other's reachableFrom). */
export const opensPort = (target: Pick<ServiceSpec, "reachableFrom">, port: ServicePort, from: string) => (port.from ? (port.from.services ?? []).includes(from) : (target.reachableFrom ?? []).includes(from));

/** Docker container label naming the folder a service's generated files are uploaded to (renders list files relative to it). */
export const CONFIG_DIR_LABEL = "flowviz.io/config-dir";

/** File modes on Docker: secret files are readable by the service's user only. */
export const FILE_MODE = { plain: "0644", secret: "0600" } as const;

export interface ServiceFile {
    /** path relative to the service's `configDir` */
    path: string;
    content: pulumi.Input<string>;
    /** holds or derives from a credential: Kubernetes Secret instead of ConfigMap, mode 0600 */
    secret?: boolean;
}

export interface HealthCheck {
    /** command run inside the container (exit 0 = healthy) */
    exec?: string[];
    /** HTTP GET on the service's own port (used where the image has no shell tools) */
    http?: { path: string; port: number };
    /** plain TCP connect */
    tcpPort?: number;
    /** a cheaper "still alive" check for liveness where the service has one (readiness keeps the check above) */
    liveHttpPath?: string;
    /** grace before the first check, seconds (default 10) */
    startSeconds?: number;
    /**
     * longest a start may take (crash recovery, WAL replay) before the service counts as
     * failed; a service with persistent data gets a startup probe this long (default 300)
     */
    maxStartSeconds?: number;
    /** a check that costs more than a connect (a Python CLI's start): how often and how long it may take (defaults 10 and 5 seconds) */
    periodSeconds?: number;
    timeoutSeconds?: number;
}

/**
 * `operated`: pods an operator creates from a custom resource the service's component declares
 * (CloudNativePG's instances), carrying the service's selector labels; the platform declares
 * only what surrounds them (NetworkPolicies, the scrape target), never a workload or a Service.
 */
export type Workload = "deployment" | "statefulset" | "daemonset" | "job" | "scheduled" | "operated";

/** A run of a `scheduled` service: its cron schedule (UTC) and the arguments its command gets. */
export interface ScheduledRun {
    name: string;
    /** unset: only at deploy */
    cron?: string;
    args: string[];
    /** also once when deployed (Kubernetes: a Job, again when it changes; Docker: whenever the loop starts) */
    atDeploy?: boolean;
}

/**
 * How scheduled runs behave: never two of one run at once, a run missed (the cluster or the
 * loop down) still starts within the deadline, a failed one is retried with a growing pause,
 * and a few finished ones are kept to read.
 */
export const SCHEDULED_RUNS = { retries: 3, retriesAtDeploy: 6, startingDeadlineSeconds: 3600, keptRuns: 3 } as const;

/** How a service shuts down cleanly: the signal that starts its graceful shutdown, and how long that may take. */
export interface GracefulStop {
    signal: "SIGINT" | "SIGTERM" | "SIGQUIT";
    /** time from the signal until the platform kills the process */
    graceSeconds: number;
}

export interface ServiceSpec {
    /** DNS-safe name, unique in the stack; other services reach it by this name */
    name: string;
    /** app.kubernetes.io/component: database, pooler, api, ... */
    component: string;
    image: string;
    /** Docker builds `image` from this folder of the repository (its Dockerfile, with these build arguments); Kubernetes pulls `image` */
    build?: { context: string; args: Record<string, string> };
    command?: string[];
    args?: pulumi.Input<string>[];
    workingDir?: string;
    env?: Record<string, pulumi.Input<string>>;
    /**
     * environment values that are or derive from credentials, for images that read them
     * nowhere else (a file is preferred wherever the image can read one); the reason is shown
     * to reviewers and checked by the policy pack
     */
    secretEnv?: { reason: string; values: Record<string, pulumi.Input<string>> };
    ports?: ServicePort[];
    /** where `files` are mounted */
    configDir?: string;
    files?: ServiceFile[];
    /** persistent data; protected against deletion on both platforms (replicas must be 1) */
    volumes?: { name: string; mountPath: string; size: string }[];
    /**
     * runs to completion before the service's container starts, with its image, files, volumes,
     * user and environment, and no probe to limit it (Kubernetes: an init container, at every
     * pod start; Docker: a one-shot container the service waits for)
     */
    prepare?: { name: string; command: string[] };
    /** a `scheduled` service's runs */
    schedules?: ScheduledRun[];
    /** Docker: volumes of another service this one mounts too (the backup runs and the posix repository); Kubernetes refuses them */
    borrowedVolumes?: { service: string; name: string; mountPath: string }[];
    /** volumes no longer mounted but kept (protected, as they were): a restore's previous data volume */
    retainedVolumes?: { name: string; size: string }[];
    /** writable scratch directories (tmpfs / emptyDir) for images run with a read-only root */
    scratch?: string[];
    /** /dev/shm of this size, memory-backed (Kubernetes: an emptyDir of medium Memory; Docker: the container's shm size) */
    sharedMemory?: string;
    /** scratch storage of a stated size, emptied with the pod (Kubernetes: a generic ephemeral volume of the stack's storage class; Docker: a tmpfs capped at the size) */
    ephemeralVolumes?: { name: string; mountPath: string; size: string }[];
    health?: HealthCheck;
    resources?: { cpu: string; memory: string };
    replicas: number;
    workload: Workload;
    /** graceful shutdown; unset: the platform's default (SIGTERM, then a kill after 10 s on Docker / 30 s on Kubernetes) */
    stop?: GracefulStop;
    /** non-root user and group the image supports; unset only for images that must start as root */
    runAs?: { user: number; group: number; readOnlyRootFilesystem: boolean };
    /** open-file limit (Docker ulimits; on Kubernetes the runtime's limit applies) */
    fileLimit?: number;
    /** a host daemon: sees the host's processes and its root filesystem read-only at this path */
    hostRootfs?: string;
    /** why the service needs the host (shown to reviewers and checked by the policy pack); required with hostRootfs */
    hostAccessReason?: string;
    /** services allowed to open connections to this one (Kubernetes NetworkPolicy); none when unset */
    reachableFrom?: string[];
    /** Kubernetes: connections the service makes beyond the stack's own services (egress NetworkPolicy), each with its reason */
    egress?: ExternalEgress[];
    /** services that must be up (and healthy) before this one starts */
    dependsOn?: string[];
    /** resources of other components the workload is updated only after (Pulumi dependsOn): PgBouncer moving to a Cluster once its promotion is asked for */
    startsAfter?: pulumi.Resource[];
    /** Prometheus scrapes this service; the platform discovers it and lets the scraper in */
    metrics?: ScrapeTarget;
    /** reads the Kubernetes API to discover pods (ServiceAccount + Role on Kubernetes; nothing on Docker) */
    discoversPods?: boolean;
    /** Kubernetes: annotations of the pods' own ServiceAccount that bind it to a cloud role (workload identity); no Kubernetes permission comes with them */
    workloadIdentity?: Record<string, string>;
    /** Kubernetes: the pod checks callers' tokens (TokenReview) and permissions (SubjectAccessReview): it gets a service account allowed exactly that */
    reviewsTokens?: boolean;
    /**
     * the replicas reach one another, each at a stable address of its own (Kubernetes: a StatefulSet
     * whose headless Service `<name>-peers` lists every pod, ready or not); on the service's own ports
     */
    peers?: boolean;
    /** containers that run beside every replica and reach it on loopback */
    sidecars?: Sidecar[];
}

/**
 * A container beside each replica of a service, sharing its network: on Kubernetes a
 * container in its pods, on Docker a container in its network namespace. It reaches
 * the service at 127.0.0.1 and is scraped (and reached) at the service's address. Its
 * name is unique in the stack, like a service's. Its health check restarts it but never
 * takes the service out of rotation.
 */
export type Sidecar = Pick<ServiceSpec, "name" | "component" | "image" | "command" | "args" | "workingDir" | "env" | "secretEnv" | "configDir" | "files" | "health" | "resources" | "runAs" | "metrics" | "ports"> & {
    /** never published on the host */
    ports?: Omit<ServicePort, "hostPort">[];
    /** the service's volumes it mounts too, by name, at the service's mount paths */
    mounts?: string[];
};

/**
 * The container a `prepare` step runs in, on either platform: the service's own (image, files,
 * volumes, user, environment) under the step's name and command, with nothing of a running
 * server (arguments, ports, probes).
 */
export const prepareContainer = (spec: ServiceSpec): ServiceSpec | undefined => spec.prepare && { ...spec, ...spec.prepare, args: undefined, ports: undefined, health: undefined };

/** The service's volumes a sidecar mounts, at the service's mount paths. */
export function sidecarMounts(spec: ServiceSpec, sidecar: Sidecar): { name: string; mountPath: string }[] {
    return (sidecar.mounts ?? []).map((n) => {
        const v = (spec.volumes ?? []).find((x) => x.name === n);
        if (!v) throw new Error(`${spec.name}: sidecar ${sidecar.name} mounts ${n}, which is not one of its volumes`);
        return { name: v.name, mountPath: v.mountPath };
    });
}

/** The service that scrapes every `metrics` port. */
export const SCRAPER = "prometheus";

export interface ScrapeTarget {
    /** Prometheus job name, also the `job` label rules and dashboards select on */
    job: string;
    port: number;
    path: string;
    /** overrides the global scrape interval */
    interval?: string;
    /** keep the labels the scraped metrics carry (a Pushgateway's: the pushing job's), as Prometheus' docs advise for it */
    honorLabels?: boolean;
    /**
     * Kubernetes: the target sits behind an authenticating proxy (kube-rbac-proxy): Prometheus
     * scrapes it over TLS, verifying this name against the stack CA, with its service account token
     */
    authenticated?: { serverName: string };
}

/** What a platform hands back for a deployed service. */
export interface Deployed {
    /** resources other services' deployments should wait for */
    readyWhen: pulumi.Resource[];
}

/** Docker or Kubernetes; the only layer that knows which. */
/** Addresses and ports outside the stack a service connects to. */
export interface ExternalEgress {
    cidrs: string[];
    /** CIDRs carved out of `cidrs` (the cloud metadata address, private networks) */
    except?: string[];
    ports: number[];
    reason: string;
}

/** The public internet, without private networks and the link-local range (the cloud metadata address 169.254.169.254). */
export const PUBLIC_INTERNET = { cidrs: ["0.0.0.0/0"], except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"] };

export interface Platform {
    readonly kind: "docker" | "kubernetes";
    /** how one service addresses another: container alias, 127.0.0.1 or cluster DNS */
    hostOf(service: string): string;
    /** every name and address clients may use for a service (its certificate carries them all) */
    namesOf(service: string): { dnsNames: string[]; ipAddresses: string[] };
    /** Kubernetes: each replica's own stable address, for a service whose spec says `peers` (ordinal 0 first); none on Docker (one replica) */
    peerHostsOf(service: string, replicas: number): string[];
    /** address a service listens on */
    readonly listenAddress: string;
    deploy(spec: ServiceSpec, parent: pulumi.Resource): Deployed;
    /** every `metrics` target deployed so far, with its service */
    readonly scraped: {
        service: string;
        target: ScrapeTarget;
        /** targets expected up; unknown for a DaemonSet */
        replicas?: number;
        /** the container port's name (what a PodMonitor selects) */
        portName?: string;
    }[];
    /** how Prometheus finds a service's pods or containers (static_configs or kubernetes_sd_configs) */
    discovery(service: string, port: number): Record<string, unknown>;
    /** a service that no longer runs (the StatefulSet engine after a move to CloudNativePG): its volumes stay declared, nothing else */
    retire(spec: ServiceSpec, parent: pulumi.Resource): void;
    /** after every service is deployed: what needs all of them (Kubernetes: the egress NetworkPolicies) */
    finish(): void;
}

/** The metrics targets of a service and its sidecars, as a platform records them (all scraped at the service's address). */
export function scrapeTargetsOf(spec: ServiceSpec, replicas: number | undefined): Platform["scraped"] {
    return [spec, ...(spec.sidecars ?? [])].flatMap((c) =>
        c.metrics ? [{ service: spec.name, target: c.metrics, replicas, portName: (c.ports ?? []).find((p) => p.port === c.metrics!.port)?.name }] : [],
    );
}

/** The label carrying the image's tag. */
export const VERSION_LABEL = "app.kubernetes.io/version";

/** app.kubernetes.io labels and Docker labels, the same on both platforms. */
export function serviceLabels(spec: Pick<ServiceSpec, "name" | "component" | "image">): Record<string, string> {
    const tag = imageTag(spec.image);
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": spec.component,
        "app.kubernetes.io/part-of": "flowviz",
        [VERSION_LABEL]: tag.slice(0, 63),
        "app.kubernetes.io/managed-by": "pulumi",
    };
}
