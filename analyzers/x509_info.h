/* Facts about one certificate, read once from its DER and cached by the SHA-256 of its DER.
 *
 * Judging a handshake needs the same few facts about the same few certificates again and
 * again (a server presents the same chain to every client), so each distinct DER is parsed
 * once and its event fragments are serialized once. Entries are reference-counted: a
 * handshake holds its chain until its event is out; the cache evicts unreferenced entries
 * in insertion order when it reaches its capacity. */
#ifndef X509_INFO_H
#define X509_INFO_H

#include <openssl/ct.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "an_stats.h"

typedef struct x509_info {
    uint8_t sha256[32];      /* of the DER */
    uint8_t tbs_sha256[32];  /* of the TBSCertificate without SCT-list and poison extensions */
    uint8_t spki_sha256[32]; /* of the SubjectPublicKeyInfo DER */
    uint8_t *der;            /* a copy of the certificate, for x509_info_x509 */
    size_t der_len;
    X509 *x;      /* NULL until x509_info_x509 is called: d2i_X509 is expensive in OpenSSL 3 */
    bool x_tried; /* x509_info_x509 ran d2i_X509 once (x stays NULL if OpenSSL refused) */
    char *subject, *issuer; /* RFC 4514 strings */
    int64_t not_before, not_after;
    bool is_precert;      /* carries the CT poison extension */
    bool self_issued;     /* subject == issuer */
    STACK_OF(SCT) * scts; /* embedded SCTs, source x509; NULL when none */
    char *chain_json;     /* {"sha256":..,"tbs_sha256":..,...}: a mitmwatch.tls.chain element */
    char *x509_json;      /* the ECS tls.server.x509 object */
    char *sans_json;      /* JSON array of the subject alternative names */
    /* cache bookkeeping */
    uint32_t refs;
    struct x509_info *hnext; /* hash bucket chain */
    struct x509_info *fifo_prev, *fifo_next;
} x509_info;

typedef struct x509_cache x509_cache;

x509_cache *x509_cache_new(uint32_t capacity, an_stats *st);
void x509_cache_free(x509_cache *c);
/* Returns the entry for this DER with a reference taken, parsing it on a miss; NULL when the
 * DER is not a certificate (counted as x509_malformed). */
x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len);
void x509_info_ref(x509_info *e);
void x509_info_unref(x509_cache *c, x509_info *e);

/* Builds the facts of one certificate without caching (tests, active probes), walking the
 * DER structurally (no d2i_X509). NULL when the DER is not a certificate (counted). */
x509_info *x509_info_parse(const uint8_t *der, size_t len, an_stats *st);
/* OpenSSL's X509 for this entry, decoded on first use (chain validation); NULL when OpenSSL
 * does not accept a DER that the walk accepted. Owned by the entry. The entry is logically
 * const: the decoded X509 is a cache of its DER, filled in on first use. */
X509 *x509_info_x509(const x509_info *e);
void x509_info_free(x509_info *e);

/* SCT fields for events: source name and log id / timestamp accessors over OpenSSL's SCT. */
const char *x509_sct_source_name(const SCT *sct);

#endif
