/* Facts about one certificate, read once from its DER and cached by the SHA-256 of its DER.
 *
 * Judging a handshake needs the same few facts about the same few certificates again and
 * again (a server presents the same chain to every client), so each distinct DER is decoded
 * once (x509_decode, d2i_X509's decode with a shorter provider walk for the key; kept in the
 * entry for chain validation and SCT checks) and its facts are read with OpenSSL's
 * accessors. Entries are reference-counted: a handshake holds its chain
 * until its event is out; the cache (x509_cache.c) is capped by count and by bytes, evicts the
 * least recently released unreferenced entry in O(1), and when every entry is referenced
 * hands out an uncached entry instead of growing (docs/ARCHITECTURE.md, issue 14). */
#ifndef X509_INFO_H
#define X509_INFO_H

#include <openssl/ct.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdint.h>

#include "an_stats.h"

/* The certificate's event fragments (a mitmwatch.tls.chain element, the ECS x509 object),
 * rendered by output/ev_x509.c on first use and freed with the entry: analyzers hold the
 * facts, output owns the schema. Workers sharing the cache publish a slot with a
 * compare-and-swap (ev_x509.c). */
typedef struct {
    char *chain_json;
    char *x509_json;
} x509_render_slot;

typedef struct x509_info {
    uint8_t sha256[32];      /* of the DER */
    uint8_t tbs_sha256[32];  /* of the TBSCertificate without SCT-list and poison extensions */
    uint8_t spki_sha256[32]; /* of the SubjectPublicKeyInfo DER */
    X509 *x;                 /* OpenSSL's decode of the DER; never NULL in an entry */
    char *subject, *issuer;  /* RFC 4514 strings */
    int64_t not_before, not_after;
    bool is_precert;      /* carries the CT poison extension */
    bool self_issued;     /* subject == issuer */
    STACK_OF(SCT) * scts; /* embedded SCTs, source x509; NULL when none */
    char *sans_json;      /* JSON array of the subject alternative names (events, evidence) */
    GENERAL_NAMES *sans;  /* the decoded subjectAltName, for the name checks of every handshake;
                             NULL when absent, repeated or undecodable (X509_get_ext_d2i) */
    x509_render_slot render;
    /* cache bookkeeping */
    uint32_t refs;
    bool cached;                       /* in the cache; else freed by its last unref */
    size_t cost;                       /* bytes charged to the cache (DER + decoded estimate) */
    struct x509_info *hnext, **hpprev; /* hash bucket chain, unlinked in O(1) */
    struct x509_info *idle_prev, *idle_next; /* unreferenced entries, least recent first */
} x509_info;

/* ---- the cache (x509_cache.c) ---- */
typedef struct x509_cache x509_cache;

#define X509_CACHE_DEFAULT_BYTES (64u << 20)
/* Certificates handed out uncached (the cache full of entries in use) may hold at most this
 * share of the byte cap between them; past it a certificate is refused (x509_cache_refused). */
#define X509_CACHE_UNCACHED_DIV 8u

/* capacity: entries (0: 1); the byte cap is X509_CACHE_DEFAULT_BYTES. */
x509_cache *x509_cache_new(uint32_t capacity, an_stats *st);
/* max_bytes: the cap on the bytes charged for entries (0: X509_CACHE_DEFAULT_BYTES). */
x509_cache *x509_cache_new_capped(uint32_t capacity, size_t max_bytes, an_stats *st);
/* One cache for every worker of the process (thread-safe: get, ref and unref from any thread),
 * split in nshards locked shards (rounded up to a power of two) of capacity/nshards entries and
 * max_bytes/nshards bytes (0: X509_CACHE_DEFAULT_BYTES). Its counters (hits, misses, evictions,
 * x509 anomalies) are its own: x509_cache_stats adds them to sum. */
x509_cache *x509_cache_new_shared(uint32_t capacity, size_t max_bytes, uint32_t nshards);
void x509_cache_stats(x509_cache *c, an_stats *sum);
void x509_cache_free(x509_cache *c);
/* Returns the entry for this DER with a reference taken, parsing it on a miss; NULL when the
 * DER is not a certificate (counted as x509_malformed). A miss that would exceed a cap evicts
 * unreferenced entries (x509_cache_evicted); when they are not enough the new entry is handed
 * out uncached (x509_cache_full) and freed by its last x509_info_unref; when the uncached ones
 * already hold an eighth of the byte cap, the certificate is refused: NULL, counted as
 * x509_cache_refused (its handshake is judged without it, and sensor.overload says so). */
x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len);
void x509_info_ref(x509_info *e);
void x509_info_unref(x509_cache *c, x509_info *e);
/* Entries and bytes held by the cache (tests, stats). */
uint32_t x509_cache_count(const x509_cache *c);
size_t x509_cache_bytes(const x509_cache *c);

/* ---- the facts (x509_info.c) ---- */
/* Builds the facts of one certificate without caching (tests, active probes, stores). NULL
 * when OpenSSL does not decode all of the bytes as one certificate (counted). sha: the
 * SHA-256 of der when the caller has it already, else NULL. */
x509_info *x509_info_parse_sha(const uint8_t *der, size_t len, const uint8_t *sha, an_stats *st);
x509_info *x509_info_parse(const uint8_t *der, size_t len, an_stats *st);
/* OpenSSL's X509 for this entry (chain validation, SCT checks); owned by the entry. */
X509 *x509_info_x509(const x509_info *e);
void x509_info_free(x509_info *e);

/* SCT fields for events: source name and log id / timestamp accessors over OpenSSL's SCT. */
const char *x509_sct_source_name(const SCT *sct);

#endif
