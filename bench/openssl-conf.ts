/**
 * The OpenSSL configuration the TLS bench forces a suite with (a process's OPENSSL_CONF): the TLS 1.3 cipher suites in
 * the order the server prefers them. The stack deploys none: OpenSSL's default order is already the cheapest within
 * the bench's noise (docs/BENCHMARKS.md). PgBouncer 1.24 has no setting of its own for them (its `*_tls_ciphers` are TLS 1.2's cipher list), and
 * PostgreSQL only from 18 (`ssl_tls13_ciphers`); OpenSSL reads this file when the process starts.
 */
import { GENERATED } from "../configs/format";

/** TLS 1.3's suites as OpenSSL names them; every one is an AEAD with forward secrecy, so an order is a cost choice only. */
export const TLS13_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] as const;
export type Tls13Suite = (typeof TLS13_SUITES)[number];

export interface OpensslConfInput {
    /** the suites offered and accepted, most preferred first */
    suites: readonly Tls13Suite[];
    /** the lowest protocol the process speaks */
    minProtocol: "TLSv1.2" | "TLSv1.3";
}

export function opensslConf(i: OpensslConfInput): string {
    if (i.suites.length === 0) throw new Error("opensslConf: at least one TLS 1.3 suite");
    return [
        `# ${GENERATED}`,
        "openssl_conf = flowviz_init",
        "",
        "[flowviz_init]",
        "ssl_conf = flowviz_ssl",
        "",
        "[flowviz_ssl]",
        "system_default = flowviz_tls",
        "",
        "[flowviz_tls]",
        `MinProtocol = ${i.minProtocol}`,
        // Debian's own default for TLS 1.2 and below, kept
        "CipherString = DEFAULT:@SECLEVEL=2",
        `Ciphersuites = ${i.suites.join(":")}`,
        // the server's order decides, not the client's (libpq offers OpenSSL's default order, AES-256 first)
        "Options = ServerPreference",
        "",
    ].join("\n");
}
