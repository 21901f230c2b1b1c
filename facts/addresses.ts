/** Addresses the generators and the policy pack judge alike. */
import { isIP } from "node:net";

/** A container's own loopback addresses: where PgBouncer's console answers (its exporter beside it, port-forwards), and Valkey's exporter reaches it. */
export const LOOPBACK = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] } as const;

/** Where pgBackRest's `repo1-s3-key-type=auto` and Barman Cloud's IAM role without web identity get credentials: the instance metadata service. */
export const INSTANCE_METADATA = { ip: "169.254.169.254", port: 80 };
/** Where a web identity token is traded for credentials (pgBackRest's web-id calls the global endpoint, as the AWS SDKs do by default). */
export const STS = { host: "sts.amazonaws.com", port: 443 };

const PRIVATE_OR_LOOPBACK = [/^127\./, /^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^::1$/, /^f[cd][0-9a-f]{2}:/i];
/** A loopback or private (RFC 1918, unique local) address: where a Docker port may be published. */
export const isPrivateOrLoopback = (ip: string) => PRIVATE_OR_LOOPBACK.some((re) => re.test(ip));

const ipNumber = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
/** An IPv4 address inside a CIDR. */
export function inCidr(ip: string, cidr: string): boolean {
    if (isIP(ip) !== 4 || !cidr.includes(".")) return false;
    const [base, bits] = cidr.split("/");
    const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
    return (ipNumber(ip) & mask) >>> 0 === (ipNumber(base!) & mask) >>> 0;
}

/** Two IPv4 CIDRs share an address. */
export const cidrsOverlap = (a: string, b: string) => inCidr(a.split("/")[0]!, b) || inCidr(b.split("/")[0]!, a);

/** Ranges no outside service lives in: the node's link-local services, loopback, and the private ranges a cluster's pods, Services and nodes use. */
export const NOT_OUTSIDE = [
    { cidr: "169.254.0.0/16", what: "link-local addresses (the node's own services)" },
    { cidr: "127.0.0.0/8", what: "loopback" },
    { cidr: "10.0.0.0/8", what: "the private range 10.0.0.0/8 (the cluster's pods, Services and nodes)" },
    { cidr: "172.16.0.0/12", what: "the private range 172.16.0.0/12 (the cluster's pods, Services and nodes)" },
    { cidr: "192.168.0.0/16", what: "the private range 192.168.0.0/16 (the cluster's pods, Services and nodes)" },
] as const;
