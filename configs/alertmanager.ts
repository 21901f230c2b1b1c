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
    return `# ${GENERATED}\n` + stringify(alertmanagerConfig(i), { lineWidth: 0 });
}

/** alertmanager.yml as data. */
export function alertmanagerConfig(i: AlertmanagerInput) {
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
    return config;
}

const MATCHER = /^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)"(.*)"$/;

/** `severity="critical"` as the operator's structured matcher. */
function matcher(m: string) {
    const [, name, matchType, value] = MATCHER.exec(m) ?? [];
    if (!name) throw new Error(`not a matcher: ${m}`);
    return { name, value: value!, matchType: matchType! };
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The same routing as an AlertmanagerConfig (monitoring.coreos.com/v1alpha1) spec, for an
 * existing Alertmanager: credentials by reference to a Secret (key names in `secretKeys`).
 */
export function alertmanagerConfigSpec(i: Omit<AlertmanagerInput, "email" | "slack"> & { email?: Omit<NonNullable<AlertmanagerInput["email"]>, "password">; slack?: { channel: string } }, secret: { name: string; smtpPasswordKey: string; slackUrlKey: string }) {
    const c = alertmanagerConfig({ ...i, email: i.email ? { ...i.email, password: "" } : undefined, slack: i.slack ? { channel: i.slack.channel, apiUrl: "" } : undefined });
    const route = (r: Record<string, unknown>): Record<string, unknown> =>
        Object.fromEntries(
            Object.entries(r).map(([k, v]) => {
                if (k === "matchers") return ["matchers", (v as string[]).map(matcher)];
                if (k === "routes") return ["routes", (v as Record<string, unknown>[]).map(route)];
                return [camel(k), v];
            }),
        );
    const receivers = c.receivers.map((r) => {
        const out: Record<string, unknown> = { name: r.name };
        const rec = r as Record<string, unknown>;
        if (rec.email_configs && i.email) {
            out.emailConfigs = (rec.email_configs as { to: string }[]).map((e) => ({
                to: e.to,
                from: i.email!.from,
                smarthost: i.email!.smarthost,
                authUsername: i.email!.username ?? i.email!.from,
                authPassword: { name: secret.name, key: secret.smtpPasswordKey },
                requireTLS: true,
                sendResolved: true,
            }));
        }
        if (rec.slack_configs) {
            out.slackConfigs = (rec.slack_configs as Record<string, unknown>[]).map((s) => ({ ...Object.fromEntries(Object.entries(s).map(([k, v]) => [camel(k), v])), apiURL: { name: secret.name, key: secret.slackUrlKey } }));
        }
        if (rec.webhook_configs) out.webhookConfigs = (rec.webhook_configs as Record<string, unknown>[]).map((w) => Object.fromEntries(Object.entries(w).map(([k, v]) => [camel(k), v])));
        return out;
    });
    return {
        route: route(c.route as unknown as Record<string, unknown>),
        receivers,
        inhibitRules: c.inhibit_rules.map((r) => ({ sourceMatch: r.source_matchers.map(matcher), targetMatch: r.target_matchers.map(matcher), equal: r.equal })),
    };
}
