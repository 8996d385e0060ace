/* ClientHello and ServerHello parsers (RFC 8446 section 4.1.2-4.1.3, RFC 5246 section 7.4.1).
 * Results are views into the message body plus small fixed arrays; nothing is allocated.
 * Lists longer than the arrays, duplicate extensions, and blocks not consumed exactly are
 * MW_MALFORMED. */
#ifndef TLS_HELLO_H
#define TLS_HELLO_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_cursor.h"

#define TLS_MAX_CIPHERS 512
#define TLS_MAX_EXTS 128
#define TLS_MAX_GROUPS 128
#define TLS_MAX_SIGALGS 128
#define TLS_MAX_VERSIONS 32
#define TLS_MAX_POINT_FORMATS 32

/* Extension types used here (IANA TLS ExtensionType Values). */
enum {
    TLS_EXT_SERVER_NAME = 0,
    TLS_EXT_STATUS_REQUEST = 5,
    TLS_EXT_SUPPORTED_GROUPS = 10,
    TLS_EXT_EC_POINT_FORMATS = 11,
    TLS_EXT_SIGNATURE_ALGORITHMS = 13,
    TLS_EXT_ALPN = 16,
    TLS_EXT_SCT = 18,
    TLS_EXT_SESSION_TICKET = 35,
    TLS_EXT_PRE_SHARED_KEY = 41,
    TLS_EXT_SUPPORTED_VERSIONS = 43,
};

static inline bool tls_is_grease(uint16_t v) {
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); /* RFC 8701 */
}

typedef struct {
    uint16_t legacy_version;
    mw_cur random, session_id;
    uint16_t ciphers[TLS_MAX_CIPHERS];
    uint16_t nciphers;
    uint16_t exts[TLS_MAX_EXTS];
    uint16_t nexts;
    uint16_t groups[TLS_MAX_GROUPS];
    uint16_t ngroups;
    uint8_t point_formats[TLS_MAX_POINT_FORMATS];
    uint16_t npoint_formats;
    uint16_t sigalgs[TLS_MAX_SIGALGS];
    uint16_t nsigalgs;
    uint16_t versions[TLS_MAX_VERSIONS];
    uint16_t nversions;
    mw_cur sni;      /* first host_name, empty if none */
    mw_cur alpn;     /* the ProtocolNameList contents, empty if none */
    bool has_ticket; /* a non-empty session_ticket extension: resumption attempt */
    bool has_psk;
} tls_client_hello;

typedef struct {
    uint16_t legacy_version;
    uint16_t version; /* supported_versions if present, else legacy_version */
    uint16_t cipher;
    uint8_t compression;
    mw_cur random, session_id;
    uint16_t exts[TLS_MAX_EXTS];
    uint16_t nexts;
    mw_cur alpn;     /* the selected protocol name */
    mw_cur sct_list; /* signed_certificate_timestamp extension data (RFC 6962 3.3.1) */
    bool is_hrr;     /* HelloRetryRequest: the special random of RFC 8446 4.1.3 */
    bool has_psk;
} tls_server_hello;

MW_WUR mw_rc tls_parse_client_hello(mw_cur body, tls_client_hello *ch);
MW_WUR mw_rc tls_parse_server_hello(mw_cur body, tls_server_hello *sh);
/* Highest non-GREASE version the client offers (supported_versions, else legacy). */
uint16_t tls_client_max_version(const tls_client_hello *ch);

#endif
