/* The certificate cache: one x509_info per distinct DER, keyed by its SHA-256 (docs/ARCHITECTURE.md:
 * parse each distinct certificate once). Refcounted entries; when full, the oldest
 * unreferenced entry goes (FIFO). */
#include "x509_info.h"

#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"

#define NBUCKETS_MIN 1024u

struct x509_cache {
    x509_info **buckets;
    uint32_t mask;
    uint32_t count, capacity;
    x509_info *fifo_head, *fifo_tail; /* oldest first */
    an_stats *st;
};

x509_cache *x509_cache_new(uint32_t capacity, an_stats *st) {
    x509_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    uint32_t nb = NBUCKETS_MIN;
    while (nb < capacity)
        nb <<= 1;
    c->buckets = calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->mask = nb - 1;
    c->capacity = capacity ? capacity : 1;
    c->st = st;
    return c;
}

static uint32_t bucket_of(const x509_cache *c, const uint8_t sha[32]) {
    uint32_t h;
    memcpy(&h, sha, 4); /* a SHA-256 is already uniformly distributed */
    return h & c->mask;
}

static void cache_remove(x509_cache *c, x509_info *e) {
    x509_info **pp = &c->buckets[bucket_of(c, e->sha256)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    if (e->fifo_prev)
        e->fifo_prev->fifo_next = e->fifo_next;
    else
        c->fifo_head = e->fifo_next;
    if (e->fifo_next)
        e->fifo_next->fifo_prev = e->fifo_prev;
    else
        c->fifo_tail = e->fifo_prev;
    c->count--;
}

static void evict_one(x509_cache *c) {
    for (x509_info *e = c->fifo_head; e; e = e->fifo_next) {
        if (e->refs == 0) {
            cache_remove(c, e);
            x509_info_free(e);
            c->st->cert_cache_evictions++;
            return;
        }
    }
}

x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len) {
    uint8_t sha[32];
    mw_sha256(der, len, sha);
    uint32_t b = bucket_of(c, sha);
    for (x509_info *e = c->buckets[b]; e; e = e->hnext) {
        if (memcmp(e->sha256, sha, 32) == 0) {
            c->st->cert_cache_hits++;
            e->refs++;
            return e;
        }
    }
    c->st->cert_cache_misses++;
    x509_info *e = x509_info_parse_sha(der, len, sha, c->st);
    if (!e) return NULL;
    if (c->count >= c->capacity) evict_one(c);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->fifo_prev = c->fifo_tail;
    if (c->fifo_tail)
        c->fifo_tail->fifo_next = e;
    else
        c->fifo_head = e;
    c->fifo_tail = e;
    c->count++;
    e->refs = 1;
    return e;
}

void x509_info_ref(x509_info *e) {
    e->refs++;
}

void x509_info_unref(x509_cache *c, x509_info *e) {
    (void)c;
    if (e && e->refs > 0) e->refs--;
}

void x509_cache_free(x509_cache *c) {
    if (!c) return;
    x509_info *e = c->fifo_head;
    while (e) {
        x509_info *n = e->fifo_next;
        x509_info_free(e);
        e = n;
    }
    free(c->buckets);
    free(c);
}
