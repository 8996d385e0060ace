/* TLS fingerprints: JA3 and JA3S (Salesforce), JA4 (FoxIO, the TLS-over-TCP "t" form).
 * Strings are written into caller buffers; the hash outputs are lowercase hex. */
#ifndef TLS_FP_H
#define TLS_FP_H

#include "mw_buf.h"
#include "tls_hello.h"

#define TLS_JA4_LEN 40 /* "t13d1516h2_8daaf6152771_e5627efa2ab1" + NUL, with room */

/* JA3: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats; decimal values
 * joined by '-'; GREASE values dropped from ciphers, extensions and curves. */
MW_WUR bool tls_ja3(const tls_client_hello *ch, mw_buf *str, char md5_hex[33]);
/* JA3 of an SSL 2.0-format ClientHello: its version and its 3-byte cipher specs, nothing
 * else ("769,65664-47,,,"), as Zeek's ja3 script computes it. */
MW_WUR bool tls_ja3_sslv2(uint16_t version, const uint32_t *specs, size_t n, mw_buf *str,
                          char md5_hex[33]);
/* JA3S: SSLVersion,Cipher,Extensions with the ServerHello's legacy_version (771 for TLS 1.3). */
MW_WUR bool tls_ja3s(const tls_server_hello *sh, mw_buf *str, char md5_hex[33]);
void tls_ja4(const tls_client_hello *ch, char out[TLS_JA4_LEN]);

#endif
