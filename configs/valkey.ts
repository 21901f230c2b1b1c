/** valkey.conf: the Celery broker, TLS only, durable, with a least-privilege ACL user. */
import { createHash } from "node:crypto";
import { VALKEY_USERS } from "../facts/valkey";
import { GENERATED } from "./format";

export interface ValkeyConfInput {
    listenAddress: string;
    port: number;
    /** the passwords of the app's ACL user and the metrics exporter's (facts/valkey.ts VALKEY_USERS) */
    passwords: { app: string; exporter: string };
    /** the queues the exporter reads the length of (Celery's lists) */
    queues: string[];
    /** `maxmemory`: the broker refuses writes past it (noeviction) instead of dropping tasks or being killed */
    maxmemoryBytes: number;
    /** absolute paths of the server certificate, its key, and the CA it chains to */
    tls: { certFile: string; keyFile: string; caFile: string };
}

/**
 * TLS only: the plaintext port is off (`port 0`) and the broker answers on `tls-port`;
 * clients verify the server against the stack CA and log in with a password (no client
 * certificate). The default user is off, so every client logs in as the app's ACL user,
 * which may run only the categories Celery and the rate limiter need, or as the metrics
 * exporter's, which may read the queues' lengths and the server's statistics (facts/valkey.ts
 * says why each); passwords are stored as SHA-256 hashes. Memory is capped below the
 * container's limit, and a full broker refuses writes rather than evicting tasks. Queued tasks survive a
 * restart: append-only file, fsync every second (at most one second of writes lost in a crash).
 */
export function valkeyConf(i: ValkeyConfInput): string {
    const hash = (password: string) => createHash("sha256").update(password).digest("hex");
    const { app, exporter } = VALKEY_USERS;
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
        `user ${app.name} on #${hash(i.passwords.app)} ~* &* ${app.grants.join(" ")}`,
        // reads the queues' lengths, no other key, no channel
        `user ${exporter.name} on #${hash(i.passwords.exporter)} ${i.queues.map((q) => `%R~${q}`).join(" ")} resetchannels ${exporter.grants.join(" ")}`,
        // a broker full of tasks refuses new ones (the app sees an error) rather than evicting queued ones or growing until killed
        `maxmemory ${i.maxmemoryBytes}`,
        "maxmemory-policy noeviction",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "dir /data",
        "",
    ].join("\n");
}
