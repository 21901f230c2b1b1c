/** Docker target: one network, pinned images, protected volumes, one container per service. */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { posix } from "node:path";
import { quantityValue } from "../../configs/format";
import { CONFIG_DIR_LABEL, FILE_MODE, serviceLabels, type Deployed, type Platform, type ServiceSpec } from "../service";

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
    private readonly images = new Map<string, docker.RemoteImage>();
    private readonly containers = new Map<string, docker.Container>();
    readonly scraped: Platform["scraped"] = [];

    constructor(name: string, private readonly args: DockerPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:platform:Docker", name, {}, opts);
        this.listenAddress = args.hostNetwork ? "127.0.0.1" : "0.0.0.0";
        if (!args.hostNetwork) {
            this.network = new docker.Network(`${name}-network`, { name: args.prefix, driver: "bridge" }, { parent: this });
        }
        this.registerOutputs({ network: this.network?.name });
    }

    hostOf(service: string): string {
        return this.args.hostNetwork ? "127.0.0.1" : service;
    }

    namesOf(service: string): { dnsNames: string[]; ipAddresses: string[] } {
        return this.args.hostNetwork ? { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] } : { dnsNames: [service, `${this.args.prefix}-${service}`], ipAddresses: [] };
    }

    discovery(service: string, port: number): Record<string, unknown> {
        return { static_configs: [{ targets: [`${this.hostOf(service)}:${port}`], labels: { service } }] };
    }

    private image(ref: string): docker.RemoteImage {
        let image = this.images.get(ref);
        if (!image) {
            const resourceName = `image-${ref.replace(/[^A-Za-z0-9]+/g, "-")}`;
            image = new docker.RemoteImage(resourceName, { name: ref, keepLocally: true }, { parent: this });
            this.images.set(ref, image);
        }
        return image;
    }

    deploy(spec: ServiceSpec, parent: pulumi.Resource): Deployed {
        const p = this.args.prefix;
        const volumes = (spec.volumes ?? []).map(
            (v) =>
                new docker.Volume(`${spec.name}-${v.name}`, { name: `${p}-${spec.name}-${v.name}` }, { parent, protect: true, retainOnDelete: true }),
        );
        const dependsOn = (spec.dependsOn ?? []).map((d) => {
            const c = this.containers.get(d);
            if (!c) throw new Error(`${spec.name} depends on ${d}, which is not deployed yet`);
            return c;
        });
        const envs = [
            ...Object.entries(spec.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`),
            ...Object.entries(spec.secretEnv ?? {}).map(([k, v]) => pulumi.secret(pulumi.interpolate`${k}=${v}`)),
        ];
        const owner = spec.runAs ? String(spec.runAs.user) : undefined;
        const group = spec.runAs ? String(spec.runAs.group) : undefined;
        const uploads = (spec.files ?? []).map((f) => ({
            file: posix.join(spec.configDir ?? "/", f.path),
            content: f.secret ? pulumi.secret(f.content) : f.content,
            permissions: f.secret ? FILE_MODE.secret : FILE_MODE.plain,
            owner,
            group,
        }));
        const isJob = spec.workload === "job";
        const health = spec.health;
        // Docker checks run inside the container: the spec's command first, else the
        // shell tools small images carry (busybox nc / wget).
        const healthTest = health?.exec
            ? ["CMD", ...health.exec]
            : health?.tcpPort !== undefined
              ? ["CMD-SHELL", `nc -z 127.0.0.1 ${health.tcpPort} || exit 1`]
              : health?.http
                ? ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${health.http.port}${health.http.path} || exit 1`]
                : undefined;

        const container = new docker.Container(
            `${spec.name}-container`,
            {
                name: `${p}-${spec.name}`,
                image: this.image(spec.image).imageId,
                command: spec.args,
                entrypoints: spec.command,
                workingDir: spec.workingDir,
                envs,
                uploads,
                user: spec.runAs ? `${spec.runAs.user}:${spec.runAs.group}` : undefined,
                readOnly: spec.runAs?.readOnlyRootFilesystem,
                tmpfs: spec.scratch ? Object.fromEntries(spec.scratch.map((d) => [d, "rw,mode=1777"])) : undefined,
                labels: Object.entries({ ...serviceLabels(spec), ...(spec.files?.length ? { [CONFIG_DIR_LABEL]: spec.configDir ?? "/" } : {}) }).map(([label, value]) => ({ label, value })),
                networkMode: this.args.hostNetwork ? "host" : undefined,
                networksAdvanced: this.network ? [{ name: this.network.name, aliases: [spec.name] }] : undefined,
                ports: this.args.hostNetwork
                    ? undefined
                    : (spec.ports ?? [])
                          .filter((port) => port.hostPort !== undefined)
                          .map((port) => ({ internal: port.port, external: port.hostPort, ip: this.args.bindAddress })),
                volumes: volumes.map((v, i) => ({ volumeName: v.name, containerPath: spec.volumes![i]!.mountPath })),
                mounts: spec.hostRootfs
                    ? [{ type: "bind", source: "/", target: spec.hostRootfs, readOnly: true, bindOptions: { propagation: "rslave" } }]
                    : undefined,
                pidMode: spec.hostRootfs ? "host" : undefined,
                ulimits: spec.fileLimit ? [{ name: "nofile", soft: spec.fileLimit, hard: spec.fileLimit }] : undefined,
                memory: spec.resources ? Math.round(quantityValue(spec.resources.memory) / 1024 ** 2) : undefined,
                cpus: spec.resources ? String(quantityValue(spec.resources.cpu)) : undefined,
                healthcheck: healthTest
                    ? { tests: healthTest, interval: "10s", timeout: "5s", retries: 3, startPeriod: `${health?.startSeconds ?? 10}s` }
                    : undefined,
                // Pulumi removes a replaced container by force unless given a grace period.
                stopSignal: spec.stop?.signal,
                stopTimeout: spec.stop?.graceSeconds,
                destroyGraceSeconds: spec.stop?.graceSeconds,
                restart: isJob ? "no" : "unless-stopped",
                mustRun: !isJob,
                attach: isJob,
                wait: !isJob && healthTest !== undefined,
                waitTimeout: 120,
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "3" },
            },
            // The replacement takes the same name, host ports and volumes: the old one must go first.
            { parent, dependsOn, deleteBeforeReplace: true },
        );
        this.containers.set(spec.name, container);
        if (spec.metrics) this.scraped.push({ service: spec.name, target: spec.metrics, replicas: 1 });
        return { readyWhen: [container] };
    }
}
