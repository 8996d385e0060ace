/* The certificate cache: one x509_info per distinct DER, keyed by its SHA-256
 * (docs/ARCHITECTURE.md: parse each distinct certificate once). Refcounted entries, capped by count
 * and by bytes.
 *
 * Every operation is O(1): buckets are doubly linked (hpprev), and the entries nobody references
 * sit on an idle list, least recently released first, so eviction takes its head without a walk.
 * A referenced entry is never evicted; when the caps leave no room and nothing is idle, the new
 * entry is handed out uncached and freed by its last unref, so hostile traffic with many
 * unfinished handshakes costs parse time but never grows the cache past its caps (issue 14).
 *
 * Shared between workers (x509_cache_new_shared): the cache is split in shards by the DER's
 * hash, each a plain cache of its own behind a mutex, so that a certificate is decoded once in
 * the whole process and two workers only wait for each other on the same shard. Reference
 * counts are atomic; the transitions 0 -> 1 (get) and 1 -> 0 (unref: onto the idle list, or
 * freed when uncached) happen under the shard's lock, so the idle list stays consistent; a
 * holder's x509_info_ref (the count is at least 1) needs no lock. */
#include "x509_info.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"

#define NBUCKETS_MIN 1024u
/* What OpenSSL's decode of a certificate holds besides the DER itself (names, extensions, key),
 * with the allocator's overhead: measured as peak RSS over 16,000 distinct P-256 certificates
 * held by unfinished handshakes (tools/bench-hostile.sh certs), about 6.8 KiB each with a
 * 0.4 KiB DER; charged per entry with our strings. */
#define DECODED_OVERHEAD 6144u

struct x509_cache {
    x509_info **buckets;
    uint32_t mask;
    uint32_t count, capacity;
    size_t bytes, max_bytes;
    size_t uncached_bytes;            /* charged by entries handed out uncached, still referenced */
    x509_info *idle_head, *idle_tail; /* unreferenced entries, least recently released first */
    an_stats *st;
    /* shared: the shards (a power of two), each locking itself; NULL for a plain cache */
    struct x509_cache **shards;
    uint32_t nshards;
    pthread_mutex_t mu; /* a shard's lock */
    an_stats own_st;    /* a shard's counters */
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
    uint32_t n = c->count;
    for (uint32_t i = 0; i < c->nshards; i++)
        n += c->shards[i]->count;
    return n;
}
size_t x509_cache_bytes(const x509_cache *c) {
    size_t n = c->bytes;
    for (uint32_t i = 0; i < c->nshards; i++)
        n += c->shards[i]->bytes;
    return n;
}

static uint32_t refs_of(const x509_info *e) {
    return __atomic_load_n(&e->refs, __ATOMIC_ACQUIRE);
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
    /* the decoded SANs: about the size of their JSON plus OpenSSL's objects, each name a
     * GENERAL_NAME and an ASN1_STRING (64 bytes, rounded up) */
    size_t sans = e->sans ? str_len(e->sans_json) + 64u * (size_t)sk_GENERAL_NAME_num(e->sans) : 0;
    return sizeof *e + DECODED_OVERHEAD + der_len + str_len(e->subject) + str_len(e->issuer) +
           str_len(e->sans_json) + sans;
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

static x509_info *get_sha(x509_cache *c, const uint8_t *der, size_t len, const uint8_t sha[32]) {
    uint32_t b = bucket_of(c, sha);
    for (x509_info *e = c->buckets[b]; e; e = e->hnext) {
        if (memcmp(e->sha256, sha, 32) == 0) {
            c->st->cert_cache_hits++;
            if (__atomic_fetch_add(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) idle_unlink(c, e);
            return e;
        }
    }
    c->st->cert_cache_misses++;
    x509_info *e = x509_info_parse_sha(der, len, sha, c->st);
    if (!e) return NULL;
    __atomic_store_n(&e->refs, 1, __ATOMIC_RELEASE);
    size_t cost = cost_of(e, len);
    if (!make_room(c, cost)) {
        /* Everything cached is in use (unfinished handshakes hold their chains): uncached, up
         * to an eighth of the byte cap, so that hostile unfinished handshakes cannot grow
         * memory without bound. */
        if (c->uncached_bytes + cost > c->max_bytes / X509_CACHE_UNCACHED_DIV) {
            c->st->an[AN_AN_x509_cache_refused]++;
            x509_info_free(e);
            return NULL;
        }
        c->st->an[AN_AN_x509_cache_full]++;
        e->cost = cost;
        c->uncached_bytes += cost;
        return e; /* uncached: freed by its last unref, which gives its bytes back */
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

/* A shard by other bits of the hash than its buckets', so a shard's entries spread over all of
 * its buckets. */
static x509_cache *shard_of(const x509_cache *c, const uint8_t sha[32]) {
    return c->shards[((uint32_t)sha[30] << 8 | sha[31]) & (c->nshards - 1)];
}

x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len) {
    uint8_t sha[32];
    mw_sha256(der, len, sha);
    if (!c->shards) return get_sha(c, der, len, sha);
    x509_cache *sh = shard_of(c, sha);
    pthread_mutex_lock(&sh->mu);
    x509_info *e = get_sha(sh, der, len, sha);
    pthread_mutex_unlock(&sh->mu);
    return e;
}

void x509_info_ref(x509_info *e) {
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_ACQ_REL);
}

static void unref_locked(x509_cache *c, x509_info *e) {
    if (refs_of(e) == 0 || __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    if (e->cached && c) {
        idle_push(c, e);
    } else if (!e->cached) {
        if (c) c->uncached_bytes -= e->cost < c->uncached_bytes ? e->cost : c->uncached_bytes;
        x509_info_free(e);
    }
}

void x509_info_unref(x509_cache *c, x509_info *e) {
    if (!e) return;
    if (!c || !c->shards) {
        unref_locked(c, e);
        return;
    }
    x509_cache *sh = shard_of(c, e->sha256);
    pthread_mutex_lock(&sh->mu);
    unref_locked(sh, e);
    pthread_mutex_unlock(&sh->mu);
}

x509_cache *x509_cache_new_shared(uint32_t capacity, size_t max_bytes, uint32_t nshards) {
    uint32_t n = 1;
    while (n < nshards && n < 256)
        n <<= 1;
    if (!max_bytes) max_bytes = X509_CACHE_DEFAULT_BYTES;
    x509_cache *c = x509_cache_new(1, NULL);
    if (!c) return NULL;
    c->shards = calloc(n, sizeof *c->shards);
    if (!c->shards) {
        x509_cache_free(c);
        return NULL;
    }
    c->nshards = n;
    for (uint32_t i = 0; i < n; i++) {
        x509_cache *sh =
            x509_cache_new_capped((capacity + n - 1) / n, (max_bytes + n - 1) / n, NULL);
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
