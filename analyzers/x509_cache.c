/* The certificate cache: one x509_info per distinct DER, keyed by its SHA-256 (docs/ARCHITECTURE.md:
 * parse each distinct certificate once). Refcounted entries; when full, the oldest
 * unreferenced entry goes (FIFO).
 *
 * Shared between workers (x509_cache_new_shared): the cache is split in shards by the DER's
 * hash, each a plain cache of its own behind a mutex, so that a certificate is decoded once in
 * the whole process and two workers only wait for each other on the same shard. References are
 * atomic: a worker drops its own without the lock; eviction, under the lock, takes only entries
 * nobody holds, and a reference is only ever taken from zero under the lock (x509_cache_get). */
#include "x509_info.h"

#include <pthread.h>
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
    /* shared: the shards (a power of two), each locking itself; NULL for a plain cache */
    struct x509_cache **shards;
    uint32_t nshards;
    pthread_mutex_t mu; /* a shard's lock */
    an_stats own_st;    /* a shard's counters */
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

static uint32_t refs_of(const x509_info *e) {
    return __atomic_load_n(&e->refs, __ATOMIC_ACQUIRE);
}

static void evict_one(x509_cache *c) {
    for (x509_info *e = c->fifo_head; e; e = e->fifo_next) {
        if (refs_of(e) == 0) {
            cache_remove(c, e);
            x509_info_free(e);
            c->st->cert_cache_evictions++;
            return;
        }
    }
}

static x509_info *get_sha(x509_cache *c, const uint8_t *der, size_t len, const uint8_t sha[32]) {
    uint32_t b = bucket_of(c, sha);
    for (x509_info *e = c->buckets[b]; e; e = e->hnext) {
        if (memcmp(e->sha256, sha, 32) == 0) {
            c->st->cert_cache_hits++;
            x509_info_ref(e);
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
    __atomic_store_n(&e->refs, 1, __ATOMIC_RELEASE);
    return e;
}

x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len) {
    uint8_t sha[32];
    mw_sha256(der, len, sha);
    if (!c->shards) return get_sha(c, der, len, sha);
    /* other bits than the buckets': a shard's entries spread over all its buckets */
    x509_cache *sh = c->shards[((uint32_t)sha[30] << 8 | sha[31]) & (c->nshards - 1)];
    pthread_mutex_lock(&sh->mu);
    x509_info *e = get_sha(sh, der, len, sha);
    pthread_mutex_unlock(&sh->mu);
    return e;
}

void x509_info_ref(x509_info *e) {
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_ACQ_REL);
}

void x509_info_unref(x509_cache *c, x509_info *e) {
    (void)c;
    if (!e) return;
    uint32_t r = refs_of(e);
    while (r > 0 && !__atomic_compare_exchange_n(&e->refs, &r, r - 1, false, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
        ;
}

x509_cache *x509_cache_new_shared(uint32_t capacity, uint32_t nshards) {
    uint32_t n = 1;
    while (n < nshards && n < 256)
        n <<= 1;
    x509_cache *c = x509_cache_new(NBUCKETS_MIN, NULL);
    if (!c) return NULL;
    c->shards = calloc(n, sizeof *c->shards);
    if (!c->shards) {
        x509_cache_free(c);
        return NULL;
    }
    c->nshards = n;
    for (uint32_t i = 0; i < n; i++) {
        x509_cache *sh = x509_cache_new((capacity + n - 1) / n, NULL);
        if (!sh) {
            x509_cache_free(c);
            return NULL;
        }
        sh->st = &sh->own_st;
        pthread_mutex_init(&sh->mu, NULL);
        c->shards[i] = sh;
    }
    return c;
}

void x509_cache_stats(x509_cache *c, an_stats *sum) {
    for (uint32_t i = 0; c && i < c->nshards; i++) {
        x509_cache *sh = c->shards[i];
        pthread_mutex_lock(&sh->mu);
        sum->cert_cache_hits += sh->own_st.cert_cache_hits;
        sum->cert_cache_misses += sh->own_st.cert_cache_misses;
        sum->cert_cache_evictions += sh->own_st.cert_cache_evictions;
        for (int k = 0; k < AN_AN_COUNT; k++)
            sum->an[k] += sh->own_st.an[k];
        pthread_mutex_unlock(&sh->mu);
    }
}

void x509_cache_free(x509_cache *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->nshards; i++)
        if (c->shards[i]) {
            pthread_mutex_destroy(&c->shards[i]->mu);
            x509_cache_free(c->shards[i]);
        }
    free(c->shards);
    x509_info *e = c->fifo_head;
    while (e) {
        x509_info *n = e->fifo_next;
        x509_info_free(e);
        e = n;
    }
    free(c->buckets);
    free(c);
}
