/* The certificate cache: one x509_info per distinct DER, keyed by its SHA-256
 * (docs/ARCHITECTURE.md: parse each distinct certificate once). Refcounted entries, capped by count
 * and by bytes.
 *
 * Every operation is O(1): buckets are doubly linked (hpprev), and the entries nobody references
 * sit on an idle list, least recently released first, so eviction takes its head without a walk.
 * A referenced entry is never evicted; when the caps leave no room and nothing is idle, the new
 * entry is handed out uncached and freed by its last unref, so hostile traffic with many
 * unfinished handshakes costs parse time but never grows the cache past its caps (issue 14). */
#include "x509_info.h"

#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"

#define NBUCKETS_MIN 1024u
/* What OpenSSL's decode of a certificate holds besides the DER itself (names, extensions, key),
 * measured at about 4-7 KiB for 1-2 KiB certificates; charged per entry with our strings. */
#define DECODED_OVERHEAD 4096u

struct x509_cache {
    x509_info **buckets;
    uint32_t mask;
    uint32_t count, capacity;
    size_t bytes, max_bytes;
    x509_info *idle_head, *idle_tail; /* unreferenced entries, least recently released first */
    an_stats *st;
};

x509_cache *x509_cache_new_capped(uint32_t capacity, size_t max_bytes, an_stats *st) {
    x509_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    uint32_t nb = NBUCKETS_MIN;
    while (nb < capacity && nb < (1u << 31))
        nb <<= 1;
    c->buckets = calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->mask = nb - 1;
    c->capacity = capacity ? capacity : 1;
    c->max_bytes = max_bytes ? max_bytes : X509_CACHE_DEFAULT_BYTES;
    c->st = st;
    return c;
}

x509_cache *x509_cache_new(uint32_t capacity, an_stats *st) {
    return x509_cache_new_capped(capacity, 0, st);
}

uint32_t x509_cache_count(const x509_cache *c) {
    return c->count;
}
size_t x509_cache_bytes(const x509_cache *c) {
    return c->bytes;
}

static uint32_t bucket_of(const x509_cache *c, const uint8_t sha[32]) {
    uint32_t h;
    memcpy(&h, sha, 4); /* a SHA-256 is already uniformly distributed */
    return h & c->mask;
}

static size_t str_len(const char *s) {
    return s ? strlen(s) + 1 : 0;
}

static size_t cost_of(const x509_info *e, size_t der_len) {
    return sizeof *e + DECODED_OVERHEAD + der_len + str_len(e->subject) + str_len(e->issuer) +
           str_len(e->sans_json);
}

static void idle_unlink(x509_cache *c, x509_info *e) {
    if (e->idle_prev)
        e->idle_prev->idle_next = e->idle_next;
    else
        c->idle_head = e->idle_next;
    if (e->idle_next)
        e->idle_next->idle_prev = e->idle_prev;
    else
        c->idle_tail = e->idle_prev;
    e->idle_prev = e->idle_next = NULL;
}

static void idle_push(x509_cache *c, x509_info *e) {
    e->idle_next = NULL;
    e->idle_prev = c->idle_tail;
    if (c->idle_tail)
        c->idle_tail->idle_next = e;
    else
        c->idle_head = e;
    c->idle_tail = e;
}

static void evict_head(x509_cache *c) {
    x509_info *e = c->idle_head;
    idle_unlink(c, e);
    *e->hpprev = e->hnext;
    if (e->hnext) e->hnext->hpprev = e->hpprev;
    c->count--;
    c->bytes -= e->cost;
    x509_info_free(e);
    c->st->an[AN_AN_x509_cache_evicted]++;
}

/* Makes room for an entry of cost bytes; false when the referenced entries leave none. */
static bool make_room(x509_cache *c, size_t cost) {
    if (cost > c->max_bytes) return false;
    while (c->count >= c->capacity || c->bytes + cost > c->max_bytes) {
        if (!c->idle_head) return false;
        evict_head(c);
    }
    return true;
}

x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len) {
    uint8_t sha[32];
    mw_sha256(der, len, sha);
    uint32_t b = bucket_of(c, sha);
    for (x509_info *e = c->buckets[b]; e; e = e->hnext) {
        if (memcmp(e->sha256, sha, 32) == 0) {
            c->st->cert_cache_hits++;
            if (e->refs++ == 0) idle_unlink(c, e);
            return e;
        }
    }
    c->st->cert_cache_misses++;
    x509_info *e = x509_info_parse_sha(der, len, sha, c->st);
    if (!e) return NULL;
    e->refs = 1;
    size_t cost = cost_of(e, len);
    if (!make_room(c, cost)) {
        c->st->an[AN_AN_x509_cache_full]++;
        return e; /* uncached: freed by its last unref */
    }
    e->cached = true;
    e->cost = cost;
    e->hnext = c->buckets[b];
    if (e->hnext) e->hnext->hpprev = &e->hnext;
    e->hpprev = &c->buckets[b];
    c->buckets[b] = e;
    c->count++;
    c->bytes += cost;
    return e;
}

void x509_info_ref(x509_info *e) {
    e->refs++;
}

void x509_info_unref(x509_cache *c, x509_info *e) {
    if (!e || e->refs == 0 || --e->refs > 0) return;
    if (e->cached && c)
        idle_push(c, e);
    else if (!e->cached)
        x509_info_free(e);
}

void x509_cache_free(x509_cache *c) {
    if (!c) return;
    for (uint32_t b = 0; b <= c->mask; b++) {
        x509_info *e = c->buckets[b];
        while (e) {
            x509_info *n = e->hnext;
            x509_info_free(e);
            e = n;
        }
    }
    free(c->buckets);
    free(c);
}
