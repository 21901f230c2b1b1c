/**
 * Real certificates for a rendered stack: the render holds stand-ins for what @pulumi/tls
 * makes at deploy time, so this issues, with openssl, a CA and a certificate for every
 * certificate request in the plan (same names and addresses) and writes them where the
 * render put the stand-ins. Nothing else in the render changes.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TLS_FILES } from "../../stack/fixed";
import { requireBinary } from "./servers";

const openssl = (args: string[], cwd: string) => execFileSync(requireBinary("openssl"), args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA in `dir` (ca.crt, ca.key). */
export function makeCa(dir: string, name: string): { cert: string; key: string } {
    mkdirSync(dir, { recursive: true });
    openssl(["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
    return { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

function issue(dir: string, ca: { cert: string; key: string }, names: { dnsNames?: string[]; ipAddresses?: string[] }): void {
    const san = [...(names.dnsNames ?? []).map((n) => `DNS:${n}`), ...(names.ipAddresses ?? []).map((a) => `IP:${a}`)].join(",");
    writeFileSync(join(dir, "ext.cnf"), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(["req", ...EC, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${names.dnsNames?.[0] ?? names.ipAddresses?.[0]}`], dir);
    openssl(["x509", "-req", "-in", "server.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", "server.crt", "-days", "7", "-extfile", "ext.cnf"], dir);
}

/** Replaces every stand-in certificate, key and CA of a render (at `files`) with real ones; returns the CA's path. */
export function realCertificates(plan: { resources: { type: string; name: string; inputs: Record<string, any> }[] }, files: string, work: string): string {
    const ca = makeCa(join(work, "ca"), "flowviz test CA");
    for (const r of plan.resources.filter((x) => x.type === "tls:index/certRequest:CertRequest")) {
        const service = r.name.replace(/-tls-request$/, "");
        const dir = join(work, service);
        mkdirSync(dir, { recursive: true });
        issue(dir, ca, r.inputs);
        execFileSync("cp", [join(dir, "server.crt"), join(files, service, TLS_FILES.cert)]);
        execFileSync("cp", [join(dir, "server.key"), join(files, service, TLS_FILES.key)]);
    }
    for (const service of readdirSync(files)) {
        if (existsSync(join(files, service, TLS_FILES.ca))) execFileSync("cp", [ca.cert, join(files, service, TLS_FILES.ca)]);
    }
    return ca.cert;
}
