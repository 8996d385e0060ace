/* Names for TLS registry values: cipher suites (IANA "TLS Cipher Suites" registry, RFC 8447)
 * and protocol versions in the ECS tls.version / tls.version_protocol form.
 * Everything here is a lookup in const tables: no allocation, safe from any thread. */
#ifndef TLS_NAMES_H
#define TLS_NAMES_H

#include <stdbool.h>
#include <stdint.h>

/* Per-suite flags, derived from the registry name by tools/gen-tls-names.py. */
enum {
    TLS_CF_NULL = 0x01,        /* no encryption: _WITH_NULL_, NULL_NULL, RFC 9150 integrity-only */
    TLS_CF_ANON = 0x02,        /* no server authentication: _anon_ (and NULL_WITH_NULL_NULL) */
    TLS_CF_EXPORT = 0x04,      /* export grade (40/56-bit keys) */
    TLS_CF_RC4 = 0x08,         /* RC4 stream cipher (RFC 7465 forbids it) */
    TLS_CF_DES = 0x10,         /* single DES or DES40 */
    TLS_CF_3DES = 0x20,        /* 3DES_EDE: 64-bit block, Sweet32 */
    TLS_CF_DISCOURAGED = 0x40, /* registry "Recommended" = D (RFC 9847) */
    TLS_CF_SCSV = 0x80,        /* signalling value, not a suite (RFC 5746, RFC 7507) */
};
/* The flags tls_cipher_is_weak() looks at. */
#define TLS_CF_WEAK_MASK                                                                           \
    (TLS_CF_NULL | TLS_CF_ANON | TLS_CF_EXPORT | TLS_CF_RC4 | TLS_CF_DES | TLS_CF_3DES)

/* Registry name of a cipher suite ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), or NULL when
 * the value is unassigned, reserved, private use or GREASE (RFC 8701). */
const char *tls_cipher_name(uint16_t id);

/* TLS_CF_* bits of an assigned suite; 0 for anything tls_cipher_name() has no name for. */
unsigned tls_cipher_flags(uint16_t id);

/* True when the suite gives no confidentiality or authentication worth the name: NULL
 * encryption, anonymous key exchange, export grade, RC4, single DES or 3DES. *why (if why is
 * not NULL) gets the most severe reason, in this order: "null", "anonymous", "export", "rc4",
 * "des", "3des"; NULL when the result is false. Unassigned values are not weak. */
bool tls_cipher_is_weak(uint16_t id, const char **why);

/* ECS tls.version for a wire version: 0x0002 "2.0", 0x0300 "3.0", 0x0301 "1.0" ... 0x0304 "1.3",
 * DTLS 0xFEFF "1.0", 0xFEFD "1.2", 0xFEFC "1.3"; NULL for anything else (GREASE included). */
const char *tls_version_name(uint16_t v);

/* ECS tls.version_protocol: "ssl" for 0x0002 and 0x0300, "tls" for 0x0301-0x0304, "dtls" for
 * the DTLS versions above; NULL when tls_version_name() is NULL. */
const char *tls_version_protocol(uint16_t v);

#endif
