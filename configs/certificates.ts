/**
 * The servers' certificates as they present them, read off each server every few minutes
 * beside PostgreSQL (through `psql` on the socket, as the superuser) into
 * flowviz_ops.certificates, which postgres_exporter reads: the expiry alerts watch what runs,
 * not what was issued.
 */
import { shellScript } from "./format";

/** Certificate lifetimes in hours: a CA, a server certificate, the superuser's client certificate. */
export const CERTIFICATE_LIFETIME = {
    // kept at ten years: a CA's lifetime is part of it, and changing it would replace it (rotate instead: tls.caGeneration)
    ca: 10 * 24 * 365,
    // renewed by any `pulumi up` in its last 30 days
    server: { validity: 90 * 24, renewBefore: 30 * 24 },
    // used by one job run: re-issued on every `pulumi up` an hour or more after the last, useless a day later
    superuserClient: { validity: 24, renewBefore: 23 },
    // CloudNativePG's standbys log in to the primary as streaming_replica with it: a server certificate's lifetime
    replicationClient: { validity: 90 * 24, renewBefore: 30 * 24 },
    // the backup runs present it to pgBackRest's TLS server beside PostgreSQL on every run
    backupClient: { validity: 90 * 24, renewBefore: 30 * 24 },
} as const;
/** Days a server certificate may have left before an alert: 9 days into its renewal window without a deploy. */
export const CERTIFICATE_WARN_DAYS = 21;

/** The server certificates read off the servers beside PostgreSQL, by name. */
export const WATCHED_CERTIFICATES = ["postgres", "pgbouncer", "valkey"] as const;

/** A TLS server whose certificate is read: PostgreSQL's protocol negotiates TLS first (STARTTLS), Valkey speaks it directly. */
export interface CertificateEndpoint {
    name: string;
    host: string;
    port: number;
    protocol: "postgres" | "tls";
}

/** A loop that records each server's certificate expiry every `everyMinutes`, then (when given) `exec`s the container's own process alongside it. */
export function certificateWatchScript(i: { psql: string; endpoints: CertificateEndpoint[]; everyMinutes: number; exec?: string }): string {
    return shellScript(
        [
            `sql() { ${i.psql} "$@"; }`,
            "# the expiry of each server's certificate as it presents it (a failed read leaves checked_at behind)",
            "certificates() {",
            ...i.endpoints.map(
                (c) =>
                    `    end=$(openssl s_client -connect ${c.host}:${c.port} -servername ${c.host}${c.protocol === "postgres" ? " -starttls postgres" : ""} </dev/null 2>/dev/null | openssl x509 -noout -enddate) && ` +
                    `sql -c "INSERT INTO flowviz_ops.certificates (name, not_after) VALUES ('${c.name}', to_timestamp($(date -u -d "\${end#notAfter=}" +%s))) ON CONFLICT (name) DO UPDATE SET not_after = excluded.not_after, checked_at = now()" >/dev/null || echo "could not read the certificate of ${c.name}" >&2`,
            ),
            "}",
            "watch() {",
            "    until sql -At -c 'SELECT 1' >/dev/null 2>&1; do sleep 5; done",
            `    while :; do certificates; sleep ${i.everyMinutes * 60}; done`,
            "}",
            ...(i.exec ? ["watch &", `exec ${i.exec}`] : ["watch"]),
        ],
        { keepGoing: true },
    );
}
