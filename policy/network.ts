/**
 * The rendered NetworkPolicies judged as a cluster would: a connection passes when the
 * source's egress and the destination's ingress both allow it (a pod no policy selects is
 * open; a default deny selects every pod; host-network pods are outside NetworkPolicy).
 */
import type { PolicyResource } from "@pulumi/policy";
import { K8S, podTemplate } from "./resources";
import { inCidr } from "../facts/addresses";

export interface Pod {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    hostNetwork: boolean;
}

/** A destination: a pod of the cluster, an address, or a name outside the cluster (it may resolve to any address but link-local and loopback ones). */
export type Destination = { pod: Pod } | { ip: string } | { externalName: string };

interface Selector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Peer {
    podSelector?: Selector;
    namespaceSelector?: Selector;
    ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
    to?: Peer[];
    from?: Peer[];
    ports?: { port?: number | string; endPort?: number; protocol?: string }[];
}
interface Policy {
    name: string;
    namespace: string;
    spec: { podSelector?: Selector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}

/** The address a host-network pod has as a peer: some node's. */
export const NODE_ADDRESS = "10.0.0.5";
/** Ranges a name outside the cluster never resolves to: where the node's own credentials and services live. */
const NEVER_RESOLVED = ["169.254.0.0/16", "127.0.0.0/8"];

const cidrInside = (cidr: string, outer: string) => inCidr(cidr.split("/")[0]!, outer) && Number(cidr.split("/")[1]) >= Number(outer.split("/")[1]);

function selects(s: Selector | undefined, labels: Record<string, string>): boolean {
    if (!s) return true;
    const byLabel = Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    const byExpression = (s.matchExpressions ?? []).every((e) => {
        const has = e.key in labels;
        const value = labels[e.key];
        if (e.operator === "In") return has && (e.values ?? []).includes(value!);
        if (e.operator === "NotIn") return !has || !(e.values ?? []).includes(value!);
        if (e.operator === "Exists") return has;
        if (e.operator === "DoesNotExist") return !has;
        return false;
    });
    return byLabel && byExpression;
}

export class NetworkModel {
    readonly policies: Policy[];
    constructor(readonly pods: Pod[], resources: PolicyResource[]) {
        this.policies = resources.filter((r) => r.type === K8S.networkPolicy).map((r) => ({ name: r.props.metadata?.name ?? r.name, namespace: r.props.metadata?.namespace ?? "default", spec: r.props.spec ?? {} }));
    }

    /** Every pod the render's workloads make, as the scheduler would label them. */
    static podsOf(resources: PolicyResource[]): Pod[] {
        return resources.flatMap((r) => {
            const t = podTemplate(r.type, r.props);
            return t ? [{ name: r.name, namespace: r.props.metadata?.namespace ?? "default", labels: t.metadata.labels ?? {}, hostNetwork: t.spec.hostNetwork === true }] : [];
        });
    }

    /** The policies that select a pod for a direction (none: the direction is open). */
    applying(pod: Pod, direction: "Egress" | "Ingress"): Policy[] {
        return this.policies.filter((p) => p.namespace === pod.namespace && (p.spec.policyTypes ?? (direction === "Ingress" ? ["Ingress"] : p.spec.egress ? ["Egress"] : [])).includes(direction) && selects(p.spec.podSelector, pod.labels));
    }

    private peerMatches(peer: Peer, self: Pod, other: Destination | { pod: Pod }): boolean {
        if (peer.ipBlock) {
            const block = peer.ipBlock;
            const outside = (ip: string) => inCidr(ip, block.cidr) && !(block.except ?? []).some((c) => inCidr(ip, c));
            if ("ip" in other) return outside(other.ip);
            if ("externalName" in other) return !NEVER_RESOLVED.some((r) => cidrInside(block.cidr, r));
            return other.pod.hostNetwork && outside(NODE_ADDRESS);
        }
        if (!("pod" in other) || other.pod.hostNetwork) return false;
        const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": other.pod.namespace }) : other.pod.namespace === self.namespace;
        return nsOk && (peer.podSelector === undefined || selects(peer.podSelector, other.pod.labels));
    }

    private portMatches(rule: Rule, port: number, protocol: string): boolean {
        return rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => (p.port === undefined || p.port === port || (typeof p.port === "number" && p.endPort !== undefined && port >= p.port && port <= p.endPort)) && (p.protocol ?? "TCP") === protocol);
    }

    private allowedBy(pod: Pod, direction: "Egress" | "Ingress", other: Destination | { pod: Pod }, port: number, protocol: string): boolean {
        if (pod.hostNetwork) return true;
        const applying = this.applying(pod, direction);
        if (applying.length === 0) return true;
        const rules = (p: Policy) => (direction === "Egress" ? p.spec.egress : p.spec.ingress) ?? [];
        const peers = (r: Rule) => (direction === "Egress" ? r.to : r.from);
        return applying.some((p) => rules(p).some((r) => (peers(r) === undefined || peers(r)!.length === 0 || peers(r)!.some((peer) => this.peerMatches(peer, pod, other))) && this.portMatches(r, port, protocol)));
    }

    /** Whether `from` can open a connection to the destination on a port; when not, which side refuses it and the policies on that side. */
    judge(from: Pod, to: Destination, port: number, protocol = "TCP"): { allowed: true } | { allowed: false; side: "egress" | "ingress"; policies: string[] } {
        if (!this.allowedBy(from, "Egress", to, port, protocol)) return { allowed: false, side: "egress", policies: this.applying(from, "Egress").map((p) => p.name) };
        if ("pod" in to && !this.allowedBy(to.pod, "Ingress", { pod: from }, port, protocol)) return { allowed: false, side: "ingress", policies: this.applying(to.pod, "Ingress").map((p) => p.name) };
        return { allowed: true };
    }

    allows(from: Pod, to: Destination, port: number, protocol = "TCP"): boolean {
        return this.judge(from, to, port, protocol).allowed;
    }
}
