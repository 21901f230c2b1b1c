/** valkey.conf: the Celery broker, TLS only, durable, with a least-privilege ACL user. */
import { createHash } from "node:crypto";
import { VALKEY_APP_CATEGORIES } from "../facts/valkey";
import { GENERATED } from "./format";

export interface ValkeyConfInput {
    listenAddress: string;
    port: number;
    /** the ACL user the app logs in as */
    user: string;
    password: string;
    /** absolute paths of the server certificate, its key, and the CA it chains to */
    tls: { certFile: string; keyFile: string; caFile: string };
}

/**
 * TLS only: the plaintext port is off (`port 0`) and the broker answers on `tls-port`;
 * clients verify the server against the stack CA and log in with a password (no client
 * certificate). The default user is off, so every client logs in as the app's ACL user,
 * which may run only the categories Celery and the rate limiter need (policy/services.ts
 * says why each); its password is stored as a SHA-256 hash. Queued tasks survive a
 * restart: append-only file, fsync every second (at most one second of writes lost in a crash).
 */
export function valkeyConf(i: ValkeyConfInput): string {
    const hash = createHash("sha256").update(i.password).digest("hex");
    return [
        `# ${GENERATED}`,
        `bind ${i.listenAddress}`,
        "port 0",
        `tls-port ${i.port}`,
        `tls-cert-file ${i.tls.certFile}`,
        `tls-key-file ${i.tls.keyFile}`,
        `tls-ca-cert-file ${i.tls.caFile}`,
        "tls-auth-clients no",
        'tls-protocols "TLSv1.2 TLSv1.3"',
        "protected-mode yes",
        "user default off",
        `user ${i.user} on #${hash} ~* &* ${VALKEY_APP_CATEGORIES.join(" ")}`,
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "dir /data",
        "",
    ].join("\n");
}
