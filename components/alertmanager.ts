import * as pulumi from "@pulumi/pulumi";
import { alertmanagerYml } from "../configs/alertmanager";
import type { StackConfig } from "../stack/schema";
import { NOBODY } from "./exporters";
import { ALERTMANAGER_PORT } from "../stack/fixed";
import { SCRAPER, type Platform } from "./service";
import { receiverEgress } from "./egress";

export interface AlertmanagerArgs {
    /** the stack's `monitoring` section */
    readonly settings: StackConfig["monitoring"];
    readonly platform: Platform;
    readonly smtpPassword?: pulumi.Input<string>;
    readonly slackWebhookUrl?: pulumi.Input<string>;
    readonly hostPort?: number;
}

/** Alertmanager with generated routing; its config file is a secret when a receiver holds a credential. */
export class Alertmanager extends pulumi.ComponentResource {
    constructor(name: string, args: AlertmanagerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:monitoring:Alertmanager", name, {}, opts);
        const s = args.settings;
        const r = s.receivers;
        const p = args.platform;
        const content = pulumi.all([args.smtpPassword ?? "", args.slackWebhookUrl ?? ""]).apply(([smtp, slack]) =>
            alertmanagerYml({
                email: r.email ? { ...r.email, password: smtp } : undefined,
                slack: r.slack ? { channel: r.slack.channel, apiUrl: slack } : undefined,
                webhook: r.webhook,
                watchdogUrl: r.watchdogUrl,
            }),
        );
        p.deploy(
            {
                name: "alertmanager",
                component: "monitoring",
                image: s.alertmanagerImage,
                args: [
                    "--config.file=/etc/alertmanager/alertmanager.yml",
                    "--storage.path=/alertmanager",
                    `--web.listen-address=${p.listenAddress}:${ALERTMANAGER_PORT}`,
                    // one replica: no gossip port to expose or secure
                    "--cluster.listen-address=",
                ],
                ports: [{ name: "http", port: ALERTMANAGER_PORT, hostPort: args.hostPort }],
                configDir: "/etc/alertmanager",
                files: [{ path: "alertmanager.yml", content, secret: r.email !== undefined || r.slack !== undefined }],
                volumes: [{ name: "data", mountPath: "/alertmanager", size: s.alertmanagerStorageSize }],
                health: { http: { path: "/-/ready", port: ALERTMANAGER_PORT }, liveHttpPath: "/-/healthy" },
                resources: { cpu: "250m", memory: "128Mi" },
                replicas: 1,
                workload: "statefulset",
                runAs: { user: NOBODY, group: NOBODY, readOnlyRootFilesystem: true },
                reachableFrom: [SCRAPER, "grafana"],
                egress: receiverEgress(r),
            },
            this,
        );
        this.registerOutputs({});
    }
}
