/**
 * Real certificates for a rendered stack: the render holds stand-ins for what @pulumi/tls
 * makes at deploy time, so this issues, with openssl, a CA and a certificate for every
 * certificate request in the plan (same subject, names, addresses and use: server or
 * client) and writes them where the render put the stand-ins. Nothing else in the render changes.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TLS_FILES } from "../../stack/fixed";
import { runServerBinary } from "../binaries";

const openssl = (args: string[], cwd: string) => runServerBinary("openssl", args, { cwd });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA in `dir` (ca.crt, ca.key). */
export function makeCa(dir: string, name: string): { cert: string; key: string } {
    mkdirSync(dir, { recursive: true });
    openssl(["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
    return { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

interface Request {
    subject: { commonName: string };
    dnsNames?: string[];
    ipAddresses?: string[];
}

/** A certificate as the plan asks for it: the request's subject and names, the signed certificate's use. */
export function issueCertificate(dir: string, ca: { cert: string; key: string }, request: Request, use: "serverAuth" | "clientAuth"): void {
    mkdirSync(dir, { recursive: true });
    const san = [...(request.dnsNames ?? []).map((n) => `DNS:${n}`), ...(request.ipAddresses ?? []).map((a) => `IP:${a}`)].join(",");
    writeFileSync(join(dir, "ext.cnf"), `${san ? `subjectAltName=${san}\n` : ""}extendedKeyUsage=${use}\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(["req", ...EC, "-keyout", "cert.key", "-out", "cert.csr", "-subj", `/CN=${request.subject.commonName}`], dir);
    openssl(["x509", "-req", "-in", "cert.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", "cert.crt", "-days", "7", "-extfile", "ext.cnf"], dir);
}

/**
 * The stack's CAs live in its state across deployments: every render in one test process
 * gets certificates from the same CA for the same CA resource (`ca-cert`, `client-ca-cert`,
 * `ca-g2-cert`...), as a re-rendered stack would.
 */
const stackCas = new Map<string, { cert: string; key: string }>();
const stackCaOf = (name: string) => {
    let ca = stackCas.get(name);
    if (!ca) stackCas.set(name, (ca = makeCa(join(tmpdir(), `flowviz-test-${name}-${process.pid}`), `flowviz test ${name}`)));
    return ca;
};

/** The CA resource a stand-in certificate PEM stands for ("render stand-in for <name>"). */
const STAND_IN = /-----BEGIN CERTIFICATE-----\nrender stand-in for ([\w-]+)\n-----END CERTIFICATE-----\n?/g;

/**
 * Replaces every stand-in certificate, key and CA of a render (at `files`) with real ones:
 * each certificate signed by a test CA standing for the CA the plan signs it with, each CA
 * file (a bundle during a rotation) made of those CAs. Returns the path of the server CA
 * clients verify against (generation 1's, `ca-cert`).
 */
export function realCertificates(plan: { resources: { type: string; name: string; inputs: Record<string, any> }[] }, files: string, work: string): string {
    const caNames = new Set(plan.resources.filter((x) => x.type === "tls:index/selfSignedCert:SelfSignedCert").map((x) => x.name));
    for (const r of plan.resources.filter((x) => x.type === "tls:index/certRequest:CertRequest")) {
        const service = r.name.replace(/-tls-request$/, "");
        const signed = plan.resources.find((x) => x.type === "tls:index/locallySignedCert:LocallySignedCert" && x.name === `${service}-tls-cert`)!;
        const client = (signed.inputs.allowedUses as string[]).includes("client_auth");
        const signer = [...String(signed.inputs.caCertPem).matchAll(STAND_IN)].map((m) => m[1]!)[0]!;
        const dir = join(work, service);
        mkdirSync(dir, { recursive: true });
        issueCertificate(dir, stackCaOf(signer), r.inputs as Request, client ? "clientAuth" : "serverAuth");
        // a certificate the platform hands over as a Secret (CloudNativePG's) has no folder of files in the render
        mkdirSync(join(files, service, "tls"), { recursive: true });
        execFileSync("cp", [join(dir, "cert.crt"), join(files, service, client ? TLS_FILES.clientCert : TLS_FILES.cert)]);
        execFileSync("cp", [join(dir, "cert.key"), join(files, service, client ? TLS_FILES.clientKey : TLS_FILES.key)]);
    }
    // a certificate another service presents too (PostgreSQL's, by pgBackRest's TLS server beside it): the same real pair
    const STAND_IN_PAIR = /^-----BEGIN (CERTIFICATE|PRIVATE KEY)-----\nrender stand-in for ([\w-]+)-tls-(cert|key)\n/;
    for (const service of readdirSync(files)) {
        const tlsDir = join(files, service, "tls");
        if (!existsSync(tlsDir)) continue;
        for (const f of readdirSync(tlsDir)) {
            const m = STAND_IN_PAIR.exec(readFileSync(join(tlsDir, f), "utf8"));
            if (m && existsSync(join(work, m[2]!, `cert.${m[3] === "cert" ? "crt" : "key"}`))) execFileSync("cp", [join(work, m[2]!, `cert.${m[3] === "cert" ? "crt" : "key"}`), join(tlsDir, f)]);
        }
    }
    for (const service of readdirSync(files)) {
        const file = join(files, service, TLS_FILES.ca);
        if (!existsSync(file)) continue;
        const text = readFileSync(file, "utf8");
        writeFileSync(file, text.replace(STAND_IN, (_, name: string) => (caNames.has(name) ? readFileSync(stackCaOf(name).cert, "utf8") : _)));
    }
    return stackCaOf("ca-cert").cert;
}

/** The test CA standing for one of the stack's CA resources (`client-ca-cert`, `ca-g2-cert`). */
export const testCaFor = (name: string) => stackCaOf(name);
