/** alertmanager.yml: routing by severity, grouping, inhibition, receivers from the stack. */
import { stringify } from "yaml";
import { GENERATED } from "./format";

export interface AlertmanagerInput {
    email?: { to: string; from: string; smarthost: string; username?: string; password: string };
    slack?: { channel: string; apiUrl: string };
    webhook?: string;
    watchdogUrl?: string;
}

/** Receiver names are part of the routing contract the tests check. */
export const RECEIVERS = { critical: "critical", warning: "warning", info: "info", watchdog: "watchdog" } as const;

export function alertmanagerYml(i: AlertmanagerInput): string {
    const email = i.email ? [{ to: i.email.to, send_resolved: true }] : undefined;
    const slack = (titlePrefix: string) =>
        i.slack
            ? [{ channel: i.slack.channel, send_resolved: true, title: `${titlePrefix} {{ .CommonLabels.alertname }}`, text: "{{ range .Alerts }}{{ .Annotations.description }}\n{{ .Annotations.runbook_url }}\n{{ end }}" }]
            : undefined;
    const webhook = i.webhook ? [{ url: i.webhook, send_resolved: true }] : undefined;
    const receiver = (name: string, parts: Record<string, unknown[] | undefined>) => ({
        name,
        ...Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)),
    });
    const config = {
        global: {
            resolve_timeout: "5m",
            ...(i.email
                ? { smtp_smarthost: i.email.smarthost, smtp_from: i.email.from, smtp_require_tls: true, smtp_auth_username: i.email.username ?? i.email.from, smtp_auth_password: i.email.password }
                : {}),
            ...(i.slack ? { slack_api_url: i.slack.apiUrl } : {}),
        },
        route: {
            receiver: RECEIVERS.warning,
            group_by: ["alertname", "component"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [
                { receiver: RECEIVERS.watchdog, matchers: ['alertname="Watchdog"'], group_wait: "0s", group_interval: "1m", repeat_interval: "1m" },
                { receiver: RECEIVERS.critical, matchers: ['severity="critical"'], group_wait: "10s", repeat_interval: "1h" },
                { receiver: RECEIVERS.warning, matchers: ['severity="warning"'] },
                { receiver: RECEIVERS.info, matchers: ['severity="info"'], repeat_interval: "24h" },
            ],
        },
        inhibit_rules: [
            // A critical alert silences the warnings of the same component (and instance, where there is one).
            { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["component", "instance"] },
            { source_matchers: ['severity=~"critical|warning"'], target_matchers: ['severity="info"', 'alertname!="Watchdog"'], equal: ["component", "instance"] },
        ],
        receivers: [
            receiver(RECEIVERS.critical, { email_configs: email, slack_configs: slack("[CRITICAL]"), webhook_configs: webhook }),
            receiver(RECEIVERS.warning, { slack_configs: slack("[warning]"), webhook_configs: webhook }),
            receiver(RECEIVERS.info, { webhook_configs: webhook }),
            receiver(RECEIVERS.watchdog, { webhook_configs: i.watchdogUrl ? [{ url: i.watchdogUrl, send_resolved: false }] : undefined }),
        ],
    };
    return `# ${GENERATED}\n` + stringify(config, { lineWidth: 0 });
}
