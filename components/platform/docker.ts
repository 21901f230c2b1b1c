/** Docker target: one network, pinned images, protected volumes, one container per service. */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { posix } from "node:path";
import { quantityValue } from "../../configs/format";
import { ENV_CREDENTIALS_LABEL, HOST_ACCESS_ANNOTATION } from "../../facts/annotations";
import { scheduleLoopScript } from "../../configs/schedule-loop";
import { cronFields } from "../../stack/schedule";
import { CONFIG_DIR_LABEL, FILE_MODE, prepareContainer, SCHEDULED_RUNS, scrapeTargetsOf, serviceLabels, sidecarMounts, type Deployed, type HealthCheck, type Platform, type ServiceSpec, type Sidecar } from "../service";

/** The cron loop's file in a scheduled service's config folder. */
const SCHEDULE_LOOP = "schedule.sh";

export interface DockerPlatformArgs {
    /** prefix of container, network and volume names on the host (one stack per prefix) */
    prefix: string;
    /** every container on the host network, listening on 127.0.0.1 */
    hostNetwork: boolean;
    /** host address published ports bind to */
    bindAddress: string;
}

export class DockerPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "docker" as const;
    readonly listenAddress: string;
    private readonly network?: docker.Network;
    private readonly images = new Map<string, pulumi.Output<string>>();
    private readonly containers = new Map<string, docker.Container>();
    /** every service's volumes, for the services that borrow one */
    private readonly volumes = new Map<string, Map<string, docker.Volume>>();
    readonly scraped: Platform["scraped"] = [];

    constructor(name: string, private readonly args: DockerPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:platform:Docker", name, {}, opts);
        this.listenAddress = args.hostNetwork ? "127.0.0.1" : "0.0.0.0";
        if (!args.hostNetwork) {
            this.network = new docker.Network(`${name}-network`, { name: args.prefix, driver: "bridge" }, { parent: this });
        }
        this.registerOutputs({ network: this.network?.name });
    }

    /** Docker has no egress policy: a bridge network's containers reach what the host reaches (dev only). */
    finish(): void {}

    retire(spec: ServiceSpec): void {
        throw new Error(`${spec.name}: retiring a service (a move to CloudNativePG) is for Kubernetes only`);
    }

    hostOf(service: string): string {
        return this.args.hostNetwork ? "127.0.0.1" : service;
    }

    peerHostsOf(): string[] {
        return [];
    }

    namesOf(service: string): { dnsNames: string[]; ipAddresses: string[] } {
        return this.args.hostNetwork ? { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] } : { dnsNames: [service, `${this.args.prefix}-${service}`], ipAddresses: [] };
    }

    discovery(service: string, port: number): Record<string, unknown> {
        return { static_configs: [{ targets: [`${this.hostOf(service)}:${port}`], labels: { service } }] };
    }

    /** The image's ID: pulled, or built from the repository's Dockerfile when the spec says so (kept local, never pushed). */
    private image(c: Pick<ServiceSpec, "image" | "build">): pulumi.Output<string> {
        let image = this.images.get(c.image);
        if (!image) {
            const resourceName = `image-${c.image.replace(/[^A-Za-z0-9]+/g, "-")}`;
            image = c.build
                ? new docker.Image(resourceName, { imageName: c.image, build: { context: c.build.context, args: c.build.args }, skipPush: true }, { parent: this }).imageName
                : new docker.RemoteImage(resourceName, { name: c.image, keepLocally: true }, { parent: this }).imageId;
            this.images.set(c.image, image);
        }
        return image;
    }

    deploy(declared: ServiceSpec, parent: pulumi.Resource): Deployed {
        const spec = declared.workload === "scheduled" ? withScheduleLoop(declared) : declared;
        if (spec.workload === "operated") throw new Error(`${spec.name}: an operator's pods run on Kubernetes only`);
        const p = this.args.prefix;
        const volume = (name: string) => new docker.Volume(`${spec.name}-${name}`, { name: `${p}-${spec.name}-${name}` }, { parent, protect: true, retainOnDelete: true });
        const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, volume(v.name)]));
        this.volumes.set(spec.name, volumes);
        for (const kept of spec.retainedVolumes ?? []) volume(kept.name);
        const mountsOf = (mounts: { name: string; mountPath: string }[]) => mounts.map((m) => ({ volumeName: volumes.get(m.name)!.name, containerPath: m.mountPath }));
        const borrowed = (spec.borrowedVolumes ?? []).map((b) => {
            const v = this.volumes.get(b.service)?.get(b.name);
            if (!v) throw new Error(`${spec.name} mounts volume ${b.name} of ${b.service}, which is not deployed yet`);
            return { volumeName: v.name, containerPath: b.mountPath };
        });
        const dependsOn = (spec.dependsOn ?? []).map((d) => {
            const c = this.containers.get(d);
            if (!c) throw new Error(`${spec.name} depends on ${d}, which is not deployed yet`);
            return c;
        });
        const prepare = prepareContainer(spec);
        const prepared = prepare
            ? new docker.Container(
                  `${prepare.name}-container`,
                  {
                      ...this.containerArgs(prepare),
                      networkMode: this.args.hostNetwork ? "host" : undefined,
                      networksAdvanced: this.network ? [{ name: this.network.name }] : undefined,
                      volumes: [...mountsOf(spec.volumes ?? []), ...borrowed],
                      ...this.lifecycle(true, undefined),
                  },
                  { parent, dependsOn, deleteBeforeReplace: true },
              )
            : undefined;
        const container = new docker.Container(
            `${spec.name}-container`,
            {
                ...this.containerArgs(spec),
                networkMode: this.args.hostNetwork ? "host" : undefined,
                networksAdvanced: this.network ? [{ name: this.network.name, aliases: [spec.name] }] : undefined,
                ports: this.args.hostNetwork
                    ? undefined
                    : (spec.ports ?? [])
                          .filter((port) => port.hostPort !== undefined)
                          .map((port) => ({ internal: port.port, external: port.hostPort, ip: this.args.bindAddress })),
                volumes: [...mountsOf(spec.volumes ?? []), ...borrowed],
                mounts: spec.hostRootfs
                    ? [{ type: "bind", source: "/", target: spec.hostRootfs, readOnly: true, bindOptions: { propagation: "rslave" } }]
                    : undefined,
                pidMode: spec.hostRootfs ? "host" : undefined,
                // scratch in memory; an ephemeral volume too (a size-capped tmpfs: a single host's stack restores small databases)
                tmpfs: spec.scratch || spec.ephemeralVolumes ? Object.fromEntries([...(spec.scratch ?? []).map((d) => [d, "rw,mode=1777"]), ...(spec.ephemeralVolumes ?? []).map((e) => [e.mountPath, `rw,mode=1777,size=${quantityValue(e.size)}`])]) : undefined,
                shmSize: spec.sharedMemory ? Math.ceil(quantityValue(spec.sharedMemory) / 1024 ** 2) : undefined,
                ulimits: spec.fileLimit ? [{ name: "nofile", soft: spec.fileLimit, hard: spec.fileLimit }] : undefined,
                // Pulumi removes a replaced container by force unless given a grace period.
                stopSignal: spec.stop?.signal,
                stopTimeout: spec.stop?.graceSeconds,
                destroyGraceSeconds: spec.stop?.graceSeconds,
                ...this.lifecycle(spec.workload === "job", spec.health),
            },
            // The replacement takes the same name, host ports and volumes: the old one must go first.
            { parent, dependsOn: prepared ? [...dependsOn, prepared] : dependsOn, deleteBeforeReplace: true },
        );
        for (const sidecar of spec.sidecars ?? []) {
            const c = new docker.Container(
                `${sidecar.name}-container`,
                {
                    ...this.containerArgs(sidecar),
                    // in the service's network namespace: its loopback, its address; a new service container means a new sidecar
                    networkMode: this.args.hostNetwork ? "host" : pulumi.interpolate`container:${container.id}`,
                    volumes: sidecar.mounts ? mountsOf(sidecarMounts(spec, sidecar)) : undefined,
                    ...this.lifecycle(false, sidecar.health),
                },
                { parent, dependsOn: [container], deleteBeforeReplace: true },
            );
            this.containers.set(sidecar.name, c);
        }
        this.containers.set(spec.name, container);
        this.scraped.push(...scrapeTargetsOf(spec, 1));
        return { readyWhen: [container] };
    }

    /** What every container of a service or sidecar has: image, command, environment, files, user, labels, limits, health check, logs. */
    private containerArgs(c: Sidecar | ServiceSpec): docker.ContainerArgs {
        const envs = [
            ...Object.entries(c.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`),
            ...Object.entries(c.secretEnv?.values ?? {}).map(([k, v]) => pulumi.secret(pulumi.interpolate`${k}=${v}`)),
        ];
        const owner = c.runAs ? String(c.runAs.user) : undefined;
        const group = c.runAs ? String(c.runAs.group) : undefined;
        const uploads = (c.files ?? []).map((f) => ({
            file: posix.join(c.configDir ?? "/", f.path),
            content: f.secret ? pulumi.secret(f.content) : f.content,
            permissions: f.secret ? FILE_MODE.secret : FILE_MODE.plain,
            owner,
            group,
        }));
        const labels = {
            ...serviceLabels(c),
            ...(c.files?.length ? { [CONFIG_DIR_LABEL]: c.configDir ?? "/" } : {}),
            ...(c.secretEnv ? { [ENV_CREDENTIALS_LABEL]: c.secretEnv.reason } : {}),
            ...this.hostAccess(c),
        };
        return {
            name: `${this.args.prefix}-${c.name}`,
            image: this.image(c),
            command: c.args,
            entrypoints: c.command,
            workingDir: c.workingDir,
            envs,
            uploads,
            user: c.runAs ? `${c.runAs.user}:${c.runAs.group}` : undefined,
            readOnly: c.runAs?.readOnlyRootFilesystem,
            labels: Object.entries(labels).map(([label, value]) => ({ label, value })),
            memory: c.resources ? Math.round(quantityValue(c.resources.memory) / 1024 ** 2) : undefined,
            cpus: c.resources ? String(quantityValue(c.resources.cpu)) : undefined,
            // no image here needs a capability: each runs as its own non-root user from the start
            capabilities: { drops: ["ALL"] },
            securityOpts: ["no-new-privileges:true"],
            healthcheck: this.healthcheck(c.health),
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
        };
    }

    /** Why a container shares a host namespace, where it does (the label the policy pack reads). */
    private hostAccess(c: Sidecar | ServiceSpec): Record<string, string> {
        const reasons = [
            ...(this.args.hostNetwork ? ["docker.hostNetwork: every container on the host's 127.0.0.1 (single-machine stack)"] : []),
            ...("hostAccessReason" in c && c.hostAccessReason ? [c.hostAccessReason] : []),
        ];
        return reasons.length > 0 ? { [HOST_ACCESS_ANNOTATION]: reasons.join("; ") } : {};
    }

    /**
     * Docker checks run inside the container: the spec's command first, else the shell
     * tools small images carry (busybox nc / wget).
     */
    private healthcheck(health: HealthCheck | undefined): docker.types.input.ContainerHealthcheck | undefined {
        const test = health?.exec
            ? ["CMD", ...health.exec]
            : health?.tcpPort !== undefined
              ? ["CMD-SHELL", `nc -z 127.0.0.1 ${health.tcpPort} || exit 1`]
              : health?.http
                ? ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${health.http.port}${health.http.path} || exit 1`]
                : undefined;
        return test ? { tests: test, interval: `${health?.periodSeconds ?? 10}s`, timeout: `${health?.timeoutSeconds ?? 5}s`, retries: 3, startPeriod: `${health?.startSeconds ?? 10}s` } : undefined;
    }

    /** A job runs once, attached, and is not restarted; a service restarts unless stopped and is waited for until healthy. */
    private lifecycle(isJob: boolean, health: HealthCheck | undefined): Pick<docker.ContainerArgs, "restart" | "mustRun" | "attach" | "wait" | "waitTimeout"> {
        return { restart: isJob ? "no" : "unless-stopped", mustRun: !isJob, attach: isJob, wait: !isJob && health !== undefined, waitTimeout: 120 };
    }
}

/** A `scheduled` service on Docker: one container running the cron loop over its runs (configs/schedule-loop.ts). */
function withScheduleLoop(spec: ServiceSpec): ServiceSpec {
    const dir = spec.configDir ?? "/etc/flowviz";
    const runs = (spec.schedules ?? []).map((r) => ({ name: r.name, cron: r.cron ? cronFields(r.cron) : undefined, atStart: r.atDeploy, command: [...(spec.command ?? []), ...r.args] }));
    return {
        ...spec,
        configDir: dir,
        command: ["/bin/sh", `${dir}/${SCHEDULE_LOOP}`],
        args: [],
        files: [...(spec.files ?? []), { path: SCHEDULE_LOOP, content: scheduleLoopScript(runs, SCHEDULED_RUNS.retries) }],
    };
}
