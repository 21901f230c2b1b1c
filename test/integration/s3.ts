/** A real S3 server on loopback for the backup tests: Ceph's radosgw on its standalone dbstore backend, TLS with a test CA, one user and one bucket. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { makeCa } from "./certs";
import { runServerBinary, serverCommand } from "../binaries";
import { waitFor } from "./servers";

export const S3_PORT = 7443;
/** The endpoint as a stack names it: a DNS name the certificate carries (pgBackRest refuses one for an IP address only). */
export const S3_ENDPOINT = `localhost:${S3_PORT}`;

export interface S3Server {
    /** the test CA that signed the endpoint's certificate */
    ca: { cert: string; key: string };
    stop(): void;
}

/** Another user of the server with a bucket of its own, versioned when asked (objects deleted or overwritten stay readable by version). */
export interface S3Tenant {
    uid: string;
    keys: { access: string; secret: string };
    bucket: string;
    versioned?: boolean;
}

/**
 * `radosgw-admin user create`, done when it prints the user: Ceph 18's radosgw-admin on dbstore sometimes hangs on its way
 * out after writing the user (its threads wait on one another; 2 runs in 30 with the CPU busy), so a run that has printed
 * the user and not ended within a few seconds is killed. Whether the user is there, the bucket's creation with its keys shows.
 */
async function createUser(flags: string[], t: S3Tenant): Promise<void> {
    const argv = [...flags, "user", "create", `--uid=${t.uid}`, `--display-name=${t.uid}`, `--access-key=${t.keys.access}`, `--secret=${t.keys.secret}`];
    const child = spawn(...serverCommand("radosgw-admin", argv), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const printed = () => out.includes(`"user_id": "${t.uid}"`) && out.trimEnd().endsWith("}");
    const ended = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    const wait = (ms: number) => new Promise<"running">((r) => setTimeout(() => r("running"), ms).unref());
    let result: number | null | "running" = "running";
    for (const deadline = Date.now() + 60_000; result === "running" && Date.now() < deadline; ) {
        if (printed()) {
            result = await Promise.race([ended, wait(5_000)]);
            break;
        }
        result = await Promise.race([ended, wait(200)]);
    }
    if (result === "running") child.kill("SIGKILL");
    if (!printed() || (result !== "running" && result !== 0)) throw new Error(`radosgw-admin user create ${t.uid} failed (${result === "running" ? "no answer in 60 s" : `exit ${result}`}):\n${err}${out}`);
}

/** radosgw in `dir` with a user holding these keys and the bucket created, and any further users with their own buckets. */
export async function startS3(dir: string, keys: { access: string; secret: string }, bucket: string, others: S3Tenant[] = []): Promise<S3Server> {
    // every store of its own under `dir` (the config store's default is one file in the root, shared by every run)
    const flags = ["--no-mon-config", "-c", "/dev/null", "--rgw-backend-store", "dbstore", "--rgw-config-store", "dbstore", "--dbstore-db-dir", `${dir}/data`, "--dbstore-config-uri", `file:${dir}/data/config.db`];
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(`${dir}/data`, { recursive: true });
    const ca = makeCa(`${dir}/ca`, "test S3 CA");
    writeFileSync(`${dir}/ext.cnf`, "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n");
    runServerBinary("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "rgw.key", "-out", "rgw.csr", "-subj", "/CN=localhost"], { cwd: dir });
    runServerBinary("openssl", ["x509", "-req", "-in", "rgw.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", "rgw.crt", "-days", "7", "-extfile", "ext.cnf"], { cwd: dir });
    const tenants: S3Tenant[] = [{ uid: "flowviz", keys, bucket }, ...others];
    for (const t of tenants) await createUser(flags, t);
    const rgw: ChildProcess = spawn(...serverCommand("radosgw", ["-f", ...flags, "--rgw-data", `${dir}/data`, "--run-dir", `${dir}/data`, "--rgw-frontends", `beast ssl_port=${S3_PORT} ssl_certificate=${dir}/rgw.crt ssl_private_key=${dir}/rgw.key`]), { stdio: "ignore" });
    const create = [
        "import boto3, sys",
        `c = boto3.client("s3", endpoint_url="https://${S3_ENDPOINT}", aws_access_key_id=sys.argv[1], aws_secret_access_key=sys.argv[2], region_name="us-east-1", verify=sys.argv[3])`,
        "c.create_bucket(Bucket=sys.argv[4])",
        'if sys.argv[5] == "versioned": c.put_bucket_versioning(Bucket=sys.argv[4], VersioningConfiguration={"Status": "Enabled"})',
    ].join("\n");
    for (const t of tenants) await waitFor(`radosgw and the bucket ${t.bucket}`, () => (runServerBinary("python3", ["-c", create, t.keys.access, t.keys.secret, ca.cert, t.bucket, t.versioned ? "versioned" : "plain"]), true), 60);
    return { ca, stop: () => rgw.kill("SIGTERM") };
}
