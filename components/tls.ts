/**
 * The stack's own certificate authority, the server certificates of the database hops
 * (PostgreSQL, PgBouncer) and the roles job's client certificate, from @pulumi/tls.
 * Private keys are Pulumi secrets; a certificate is re-issued when its names change or it enters its renewal window
 * (the next `pulumi up` after `readyForRenewal`), which rotates it without a new CA.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { TLS_FILES } from "../stack/fixed";
import type { ServiceFile } from "./service";

/** Names a server answers to; its certificate must carry all of them for verify-full. */
export interface ServerNames {
    dnsNames: string[];
    ipAddresses: string[];
}

export interface Certificate {
    /** PEM, public */
    certPem: pulumi.Output<string>;
    /** secret */
    keyPem: pulumi.Output<string>;
}

const YEAR = 24 * 365;

/** A certificate and its key (secret) as a service's files: its server pair, or its client pair. */
export function certificateFiles(cert: Certificate, as: "server" | "client"): ServiceFile[] {
    const [certPath, keyPath] = as === "server" ? [TLS_FILES.cert, TLS_FILES.key] : [TLS_FILES.clientCert, TLS_FILES.clientKey];
    return [
        { path: certPath, content: cert.certPem },
        { path: keyPath, content: cert.keyPem, secret: true },
    ];
}

/** The stack CA's certificate as a service's file, where its clients look for it. */
export const caFile = (certPem: pulumi.Input<string>): ServiceFile => ({ path: TLS_FILES.ca, content: certPem });

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
    issue(service: string, names: ServerNames, parent: pulumi.Resource): Certificate {
        return this.sign(service, { commonName: names.dnsNames[0] ?? service, ...names }, "server_auth", parent);
    }

    /**
     * A client certificate whose common name is the database role it logs in as
     * (PostgreSQL's `cert` method maps CN to user); same lifetime and renewal.
     */
    issueClient(service: string, role: string, parent: pulumi.Resource): Certificate {
        return this.sign(service, { commonName: role, dnsNames: [], ipAddresses: [] }, "client_auth", parent);
    }

    private sign(service: string, subject: ServerNames & { commonName: string }, use: "server_auth" | "client_auth", parent: pulumi.Resource): Certificate {
        const key = new tls.PrivateKey(`${service}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
        const request = new tls.CertRequest(
            `${service}-tls-request`,
            { privateKeyPem: key.privateKeyPem, subject: { commonName: subject.commonName, organization: "flowviz" }, dnsNames: subject.dnsNames, ipAddresses: subject.ipAddresses },
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
                allowedUses: ["digital_signature", "key_encipherment", use],
            },
            { parent },
        );
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }
}
