/** valkey.conf: the Celery broker, durable and with a least-privilege ACL user. */
import { createHash } from "node:crypto";
import { GENERATED } from "./format";

export interface ValkeyConfInput {
    listenAddress: string;
    port: number;
    /** the ACL user the app logs in as */
    user: string;
    password: string;
}

/**
 * The default user is off, so every client logs in as the app's ACL user, which may run
 * every command but the @dangerous ones (FLUSHALL, CONFIG, DEBUG, SHUTDOWN, KEYS, ...);
 * its password is stored as a SHA-256 hash. Queued tasks survive a restart: append-only
 * file, fsync every second (at most one second of writes lost in a crash).
 */
export function valkeyConf(i: ValkeyConfInput): string {
    const hash = createHash("sha256").update(i.password).digest("hex");
    return [
        `# ${GENERATED}`,
        `bind ${i.listenAddress}`,
        `port ${i.port}`,
        "protected-mode yes",
        "user default off",
        `user ${i.user} on #${hash} ~* &* +@all -@dangerous`,
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        "dir /data",
        "",
    ].join("\n");
}
