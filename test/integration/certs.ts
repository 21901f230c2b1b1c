/**
 * Real certificates for a rendered stack: the render holds stand-ins for what @pulumi/tls
 * makes at deploy time, so this issues, with openssl, a CA and a certificate for every
 * certificate request in the plan (same subject, names, addresses and use: server or
 * client) and writes them where the render put the stand-ins. Nothing else in the render changes.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
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
function issue(dir: string, ca: { cert: string; key: string }, request: Request, use: "serverAuth" | "clientAuth"): void {
    const san = [...(request.dnsNames ?? []).map((n) => `DNS:${n}`), ...(request.ipAddresses ?? []).map((a) => `IP:${a}`)].join(",");
    writeFileSync(join(dir, "ext.cnf"), `${san ? `subjectAltName=${san}\n` : ""}extendedKeyUsage=${use}\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(["req", ...EC, "-keyout", "cert.key", "-out", "cert.csr", "-subj", `/CN=${request.subject.commonName}`], dir);
    openssl(["x509", "-req", "-in", "cert.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", "cert.crt", "-days", "7", "-extfile", "ext.cnf"], dir);
}

/**
 * The stack's CA lives in its state across deployments: every render in one test process
 * gets certificates from the same CA, as a re-rendered stack would.
 */
let stackCa: { cert: string; key: string } | undefined;
const stackCaOf = () => (stackCa ??= makeCa(join(tmpdir(), `flowviz-test-ca-${process.pid}`), "flowviz test CA"));

/** Replaces every stand-in certificate, key and CA of a render (at `files`) with real ones; returns the CA's path. */
export function realCertificates(plan: { resources: { type: string; name: string; inputs: Record<string, any> }[] }, files: string, work: string): string {
    const ca = stackCaOf();
    for (const r of plan.resources.filter((x) => x.type === "tls:index/certRequest:CertRequest")) {
        const service = r.name.replace(/-tls-request$/, "");
        const signed = plan.resources.find((x) => x.type === "tls:index/locallySignedCert:LocallySignedCert" && x.name === `${service}-tls-cert`);
        const client = (signed?.inputs.allowedUses as string[] | undefined)?.includes("client_auth") ?? false;
        const dir = join(work, service);
        mkdirSync(dir, { recursive: true });
        issue(dir, ca, r.inputs as Request, client ? "clientAuth" : "serverAuth");
        execFileSync("cp", [join(dir, "cert.crt"), join(files, service, client ? TLS_FILES.clientCert : TLS_FILES.cert)]);
        execFileSync("cp", [join(dir, "cert.key"), join(files, service, client ? TLS_FILES.clientKey : TLS_FILES.key)]);
    }
    for (const service of readdirSync(files)) {
        if (existsSync(join(files, service, TLS_FILES.ca))) execFileSync("cp", [ca.cert, join(files, service, TLS_FILES.ca)]);
    }
    return ca.cert;
}
