/**
 * The stack's own certificate authority and the server certificates of the database hops
 * (PostgreSQL, PgBouncer), from @pulumi/tls. Private keys are Pulumi secrets; a
 * certificate is re-issued when its names change or it enters its renewal window
 * (the next `pulumi up` after `readyForRenewal`), which rotates it without a new CA.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/** Names a server answers to; its certificate must carry all of them for verify-full. */
export interface ServerNames {
    dnsNames: string[];
    ipAddresses: string[];
}

export interface ServerCertificate {
    certPem: pulumi.Output<string>;
    /** secret */
    keyPem: pulumi.Output<string>;
}

const YEAR = 24 * 365;

export class CertificateAuthority extends pulumi.ComponentResource {
    /** the CA certificate every client trusts (public) */
    readonly certPem: pulumi.Output<string>;
    private readonly keyPem: pulumi.Output<string>;

    constructor(name: string, args: { commonName: string }, opts?: pulumi.ComponentResourceOptions) {
        super("flowviz:tls:CertificateAuthority", name, {}, opts);
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const cert = new tls.SelfSignedCert(
            `${name}-cert`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: args.commonName, organization: "flowviz" },
                isCaCertificate: true,
                validityPeriodHours: 10 * YEAR,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem });
    }

    /** A server certificate for `service`, valid for one year and renewed in its last 30 days. */
    issue(service: string, names: ServerNames, parent: pulumi.Resource): ServerCertificate {
        const key = new tls.PrivateKey(`${service}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
        const request = new tls.CertRequest(
            `${service}-tls-request`,
            { privateKeyPem: key.privateKeyPem, subject: { commonName: names.dnsNames[0] ?? service, organization: "flowviz" }, dnsNames: names.dnsNames, ipAddresses: names.ipAddresses },
            { parent },
        );
        const cert = new tls.LocallySignedCert(
            `${service}-tls-cert`,
            {
                certRequestPem: request.certRequestPem,
                caPrivateKeyPem: this.keyPem,
                caCertPem: this.certPem,
                validityPeriodHours: YEAR,
                earlyRenewalHours: 30 * 24,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent },
        );
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }
}
