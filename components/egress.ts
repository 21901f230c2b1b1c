/** Outside addresses services connect to, as Kubernetes egress allowances (ExternalEgress). */
import { isIP } from "node:net";
import type { StackConfig } from "../stack/schema";
import { PUBLIC_INTERNET, type ExternalEgress } from "./service";
import { STS } from "../facts/addresses";

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

/** The backup object store, from archive_command in PostgreSQL's pod and the backup runs. */
export function objectStorageEgress(endpoint: string, cidrs: string[] | undefined): ExternalEgress {
    const [host, port = "443"] = endpoint.split(":");
    const reason = "backup repository (S3 over TLS)";
    return cidrs ? { cidrs, ports: [Number(port)], reason } : toward(host!, Number(port), reason);
}

/**
 * Where the backup pods get the store's credentials: STS over HTTPS (web-id), the instance
 * metadata address on its port and nothing else of the link-local range (auto); nowhere with shared keys.
 */
export function backupCredentialEgress(s3: NonNullable<StackConfig["postgres"]["backups"]["s3"]>): ExternalEgress[] {
    if (s3.keyType === "web-id") return [toward(STS.host, STS.port, "STS: the backup role's credentials for the projected token (keyType web-id)")];
    if (s3.keyType === "auto" && s3.metadataEndpoint) {
        const [ip, port] = s3.metadataEndpoint.split(":");
        return [{ cidrs: [`${ip}/32`], ports: [Number(port)], reason: "instance metadata: the node's IAM role for the backup repository (keyType auto)" }];
    }
    return [];
}

/** The backup pods' workload identity (keyType web-id): their ServiceAccount's annotations. */
export const backupWorkloadIdentity = (s3: StackConfig["postgres"]["backups"]["s3"]): Record<string, string> | undefined => (s3?.keyType === "web-id" ? s3.serviceAccountAnnotations : undefined);

/** The API's declared outside calls (app.egress). */
export const appEgress = (list: StackConfig["app"]["egress"]): ExternalEgress[] => list.map((e) => ({ cidrs: [e.cidr], ports: e.ports, reason: e.reason }));
