/**
 * The stack's own certificate authorities, from @pulumi/tls: one signs server certificates
 * (PostgreSQL, PgBouncer, Valkey, node-exporter's proxy), another the one client certificate
 * (the roles job's, as the superuser), so a server certificate can never pass as a client's.
 * Private keys are Pulumi secrets; a certificate is re-issued when its names change or it
 * enters its renewal window (the next `pulumi up` after `readyForRenewal`). A CA is rotated
 * with an overlap (tls.caGeneration, tls.trustedCaGenerations; docs/SECURITY.md).
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { TLS_FILES } from "../stack/fixed";
import { CERTIFICATE_LIFETIME } from "../configs/certificates";
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
                validityPeriodHours: CERTIFICATE_LIFETIME.ca,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem });
    }

    /** A certificate signed by this CA. */
    sign(service: string, subject: ServerNames & { commonName: string }, use: "server_auth" | "client_auth", lifetime: { validity: number; renewBefore: number }, parent: pulumi.Resource): Certificate {
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
                validityPeriodHours: lifetime.validity,
                earlyRenewalHours: lifetime.renewBefore,
                allowedUses: ["digital_signature", "key_encipherment", use],
            },
            { parent },
        );
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }
}

export interface AuthoritiesArgs {
    stack: string;
    /** the generation that signs (tls.caGeneration) */
    generation: number;
    /** generations clients and servers trust (tls.trustedCaGenerations): the signing one, and during a rotation the one before */
    trusted: number[];
}

/**
 * The server and client CAs of every trusted generation. Generation 1 keeps the names the
 * stack always had (`ca`, `client-ca`); a rotation adds `ca-g2`, ... beside them.
 */
export class Authorities {
    private readonly server = new Map<number, CertificateAuthority>();
    private readonly client = new Map<number, CertificateAuthority>();
    /** every trusted server CA (PEM bundle): what clients verify servers against */
    readonly certPem: pulumi.Output<string>;
    /** every trusted client CA (PEM bundle): what PostgreSQL verifies client certificates against */
    readonly clientCertPem: pulumi.Output<string>;

    constructor(private readonly args: AuthoritiesArgs) {
        for (const g of args.trusted) {
            const suffix = g === 1 ? "" : `-g${g}`;
            this.server.set(g, new CertificateAuthority(`ca${suffix}`, { commonName: `flowviz ${args.stack} server CA${g === 1 ? "" : ` ${g}`}` }));
            this.client.set(g, new CertificateAuthority(`client-ca${suffix}`, { commonName: `flowviz ${args.stack} client CA${g === 1 ? "" : ` ${g}`}` }));
        }
        const bundle = (cas: Map<number, CertificateAuthority>) => pulumi.all([...cas.values()].map((c) => c.certPem)).apply((pems) => pems.map((p) => p.trim()).join("\n") + "\n");
        this.certPem = bundle(this.server);
        this.clientCertPem = bundle(this.client);
    }

    /** A server certificate for `service` from the signing generation's server CA. */
    issue(service: string, names: ServerNames, parent: pulumi.Resource): Certificate {
        return this.server.get(this.args.generation)!.sign(service, { commonName: names.dnsNames[0] ?? service, ...names }, "server_auth", CERTIFICATE_LIFETIME.server, parent);
    }

    /**
     * The superuser's client certificate for the roles job (PostgreSQL's `cert` method maps
     * its common name to the role), from the client CA, short-lived.
     */
    issueSuperuserClient(service: string, role: string, parent: pulumi.Resource): Certificate {
        return this.issueClient(service, role, CERTIFICATE_LIFETIME.superuserClient, parent);
    }

    /** A client certificate for a role (PostgreSQL's `cert` method maps its common name to the role), from the client CA. */
    issueClient(service: string, role: string, lifetime: { validity: number; renewBefore: number }, parent: pulumi.Resource): Certificate {
        return this.client.get(this.args.generation)!.sign(service, { commonName: role, dnsNames: [], ipAddresses: [] }, "client_auth", lifetime, parent);
    }
}
