/**
 * SCRAM-SHA-256 password verifiers (RFC 5802 / RFC 7677), in the form PostgreSQL
 * stores in pg_authid and PgBouncer accepts in its auth_file:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
 * PgBouncer can log in to PostgreSQL with a client's SCRAM keys only when both hold
 * the same verifier, so the one string is written to userlist.txt and set as the
 * role's password.
 */
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

/** PostgreSQL's default (scram_iterations), and the RFC's minimum recommendation. */
export const SCRAM_ITERATIONS = 4096;

export function scramVerifier(password: string, saltBase64: string, iterations = SCRAM_ITERATIONS): string {
    if (!/^[\x20-\x7e]+$/.test(password)) {
        // Non-ASCII passwords need SASLprep normalisation, which this does not implement.
        throw new Error("SCRAM verifier: password must be printable ASCII");
    }
    const salt = Buffer.from(saltBase64, "base64");
    if (salt.length < 16) throw new Error("SCRAM verifier: salt must be at least 16 bytes");
    const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    const storedKey = createHash("sha256").update(clientKey).digest("base64");
    const serverKey = createHmac("sha256", salted).update("Server Key").digest("base64");
    return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey}:${serverKey}`;
}
