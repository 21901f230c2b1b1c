/** Outside addresses services connect to, as Kubernetes egress allowances (ExternalEgress). */
import { isIP } from "node:net";
import type { StackConfig } from "../stack/schema";
import { PUBLIC_INTERNET, type ExternalEgress } from "./service";

/** Where a host:port goes: an address is itself (/32); a name resolves somewhere on the public internet. */
function toward(host: string, port: number, reason: string): ExternalEgress {
    return isIP(host) === 4 ? { cidrs: [`${host}/32`], ports: [port], reason } : { ...PUBLIC_INTERNET, ports: [port], reason };
}

const urlEgress = (url: string, reason: string) => {
    const u = new URL(url);
    return toward(u.hostname, Number(u.port || (u.protocol === "http:" ? 80 : 443)), reason);
};

/** Alertmanager's receivers: the SMTP smarthost, Slack's webhooks, the webhook and the dead man's switch. */
export function receiverEgress(r: StackConfig["monitoring"]["receivers"]): ExternalEgress[] {
    return [
        ...(r.email ? [toward(r.email.smarthost.split(":")[0]!, Number(r.email.smarthost.split(":")[1]), "e-mail receiver (SMTP smarthost)")] : []),
        ...(r.slack ? [{ ...PUBLIC_INTERNET, ports: [443], reason: "Slack receiver (incoming webhook, HTTPS)" }] : []),
        ...(r.webhook ? [urlEgress(r.webhook, "webhook receiver")] : []),
        ...(r.watchdogUrl ? [urlEgress(r.watchdogUrl, "dead man's switch")] : []),
    ];
}

/** The backup object store, from archive_command in PostgreSQL's pod and the backup sidecar beside it. */
export function objectStorageEgress(endpoint: string, cidrs: string[] | undefined): ExternalEgress {
    const [host, port = "443"] = endpoint.split(":");
    const reason = "backup repository (S3 over TLS)";
    return cidrs ? { cidrs, ports: [Number(port)], reason } : toward(host!, Number(port), reason);
}

/** The API's declared outside calls (app.egress). */
export const appEgress = (list: StackConfig["app"]["egress"]): ExternalEgress[] => list.map((e) => ({ cidrs: [e.cidr], ports: e.ports, reason: e.reason }));
