/**
 * CloudNativePG's operator and its Barman Cloud plugin as part of the stack
 * (kubernetes.operators.install): the pinned releases' objects (configs/operators.ts), and the
 * two certificates the plugin's manifest would have had cert-manager issue, issued here instead.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as tls from "@pulumi/tls";
import { operatorObjects, PLUGIN_SERVICE, PLUGIN_TLS_SECRETS, type ManifestObject } from "../configs/operators";
import { CERTIFICATE_LIFETIME } from "../configs/certificates";
import { CNPG_STATUS_PORT } from "./cloudnative-pg";
import { DNS_EGRESS } from "./platform/kubernetes";

/** The pods of each, as their manifests label them. */
const OPERATOR_PODS = { "app.kubernetes.io/name": "cloudnative-pg" };
const PLUGIN_PODS = { app: PLUGIN_SERVICE };
/** The operator's admission webhooks (the API server calls them) and the plugin's gRPC port (the operator calls it). */
const WEBHOOK_PORT = 9443;
const PLUGIN_PORT = 9090;
/**
 * The plugin's manifest asks for no resources; the pack requires them. Sized like the operator's own
 * requests, with room to burst: it only relays the operator's calls to the instances' sidecars.
 */
const PLUGIN_RESOURCES = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } };

export class Operators extends pulumi.ComponentResource {
    /** what a custom resource of theirs waits for: CRDs, webhooks and controllers in place */
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: { namespace: string; apiServerCidrs: string[] }, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:kubernetes:Operators", name, {}, opts);
        const { operator, plugin } = operatorObjects(args.namespace);
        // Deleting a CRD deletes every object of its kind in the cluster (every Cluster, and with it its
        // volumes): the definitions stay, protected, even when a stack stops installing them.
        const keepDefinitions = (o: ManifestObject, opts: pulumi.CustomResourceOptions) => {
            if (o.kind === "CustomResourceDefinition" || o.kind === "Namespace") Object.assign(opts, { protect: true, retainOnDelete: true });
        };
        const operatorGroup = new k8s.yaml.ConfigGroup("cloudnative-pg", { objs: operator, transformations: [keepDefinitions] }, { parent: this });
        this.networkPolicies(args.namespace, args.apiServerCidrs, operatorGroup);

        // The operator pins the plugin's server certificate and the plugin its client's (each the other's only
        // trusted certificate), as cert-manager's self-signed issuer would make them; auto-named, so a renewed
        // pair rolls the plugin and changes the Service the operator reads them from.
        const pair = (role: keyof typeof PLUGIN_TLS_SECRETS, commonName: string, use: "server_auth" | "client_auth") => {
            const key = new tls.PrivateKey(`barman-cloud-${role}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
            const cert = new tls.SelfSignedCert(
                `barman-cloud-${role}-cert`,
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName },
                    dnsNames: role === "server" ? [PLUGIN_SERVICE] : [],
                    validityPeriodHours: CERTIFICATE_LIFETIME.server.validity,
                    earlyRenewalHours: CERTIFICATE_LIFETIME.server.renewBefore,
                    allowedUses: ["digital_signature", "key_encipherment", use],
                },
                { parent: this },
            );
            return new k8s.core.v1.Secret(
                PLUGIN_TLS_SECRETS[role],
                { metadata: { namespace: args.namespace }, type: "kubernetes.io/tls", stringData: { "tls.crt": cert.certPem, "tls.key": key.privateKeyPem } },
                { parent: this, dependsOn: operatorGroup },
            ).metadata.name;
        };
        const secrets = { server: pair("server", PLUGIN_SERVICE, "server_auth"), client: pair("client", `${PLUGIN_SERVICE}-client`, "client_auth") };
        const withSecrets = (o: ManifestObject) => {
            if (o.metadata.name !== PLUGIN_SERVICE) return;
            if (o.kind === "Deployment") {
                o.spec.template.spec.containers[0].resources = PLUGIN_RESOURCES;
                for (const v of o.spec.template.spec.volumes) {
                    if (v.secret?.secretName === PLUGIN_TLS_SECRETS.server) v.secret.secretName = secrets.server;
                    if (v.secret?.secretName === PLUGIN_TLS_SECRETS.client) v.secret.secretName = secrets.client;
                }
            }
            if (o.kind === "Service") o.metadata.annotations = { ...(o.metadata.annotations as object), "cnpg.io/pluginServerSecret": secrets.server, "cnpg.io/pluginClientSecret": secrets.client };
        };
        const pluginGroup = new k8s.yaml.ConfigGroup("plugin-barman-cloud", { objs: plugin, transformations: [withSecrets, keepDefinitions] }, { parent: this, dependsOn: operatorGroup });
        this.ready = [operatorGroup, pluginGroup];
        this.registerOutputs({});
    }

    /**
     * Default deny in the operators' namespace, then what they need: the API server calls the operator's
     * webhooks; the operator calls the plugin and every instance's status port (in any namespace holding a
     * Cluster); both watch the API server.
     */
    private networkPolicies(namespace: string, apiServerCidrs: string[], after: pulumi.Resource) {
        const opts = { parent: this, dependsOn: after };
        const apiServer = { to: apiServerCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [443, 6443].map((port) => ({ port, protocol: "TCP" })) };
        const policy = (suffix: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
            new k8s.networking.v1.NetworkPolicy(`operators-${suffix}`, { metadata: { namespace }, spec }, opts);
        policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        policy("cloudnative-pg", {
            podSelector: { matchLabels: OPERATOR_PODS },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: apiServerCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: WEBHOOK_PORT, protocol: "TCP" }] }],
            egress: [
                DNS_EGRESS,
                apiServer,
                { to: [{ podSelector: { matchLabels: PLUGIN_PODS } }], ports: [{ port: PLUGIN_PORT, protocol: "TCP" }] },
                { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "cnpg.io/podRole": "instance" } } }], ports: [{ port: CNPG_STATUS_PORT, protocol: "TCP" }] },
            ],
        });
        policy("barman-cloud", {
            podSelector: { matchLabels: PLUGIN_PODS },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [{ podSelector: { matchLabels: OPERATOR_PODS } }], ports: [{ port: PLUGIN_PORT, protocol: "TCP" }] }],
            egress: [DNS_EGRESS, apiServer],
        });
    }
}
