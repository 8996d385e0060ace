/* Workers (workers.h): the reader's rings for files, the fanout sockets for live capture. */
#define _GNU_SOURCE
#include "workers.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cap_decode.h"
#include "cap_flow.h"
#include "mw_hash.h"

unsigned wk_default_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > WK_DEFAULT_MAX ? WK_DEFAULT_MAX : (unsigned)n;
}

/* FNV-1a: the flow's two endpoints in a fixed order, so that both directions hash alike. */
unsigned wk_flow_worker(int dlt, const uint8_t *data, uint32_t caplen, unsigned n) {
    if (n <= 1) return 0;
    cap_pkt p;
    cap_stats scratch; /* the worker counts the anomalies; this decode only routes */
    if (cap_decode(dlt, data, caplen, &p, &scratch) != MW_OK) return 0;
    /* the top bits pick the worker; the flow table indexes by the low ones */
    return (unsigned)(((uint64_t)cap_flow_pkt_hash(&p) * n) >> 32);
}

/* ---- files: one reader, a ring per worker ---- */

/* A record in a ring: this header, then caplen bytes, padded to 8. PAD fills the end of the
 * buffer when a record does not fit before it; an end of fewer than sizeof(rec) bytes is
 * skipped by both sides without a record. */
enum { REC_FRAME = 1, REC_TICK, REC_PAD };
typedef struct {
    uint32_t type, len; /* len: the whole record, header included */
    uint32_t caplen, wire_len;
    int32_t dlt;
    uint32_t pad_;
    uint64_t ts_us;
    uint64_t idx; /* the frame's place in the input (a tick: the next frame's) */
} rec;

#define IDLE WK_IDLE

#define RING_DEFAULT (4u << 20)
#define PUBLISH_BYTES (64u << 10)   /* the reader's batch: published at this size... */
#define PUBLISH_RECS 64u            /* ...or this many records */
#define HEAD_EVERY 32u              /* the worker frees space every this many records */
#define WAIT_MS 20                  /* a sleeper re-checks this often anyway */
#define LOW_WATER(r) ((r)->cap / 4) /* a waiting reader goes on once this much is free */
#define SPIN_TURN 256 /* wk_pool_wait_passed spins before it sleeps (a few microseconds) */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct {
    uint8_t *buf;
    size_t cap;
    _Alignas(64) atomic_uint_fast64_t tail; /* published by the reader */
    atomic_int cons_waiting;
    uint64_t ptail;                  /* the reader's, not yet published */
    unsigned unpub;                  /* records written since the last publication */
    atomic_uint_fast64_t pend_first; /* idx of the first unpublished record; IDLE: none */
    uint64_t full_waits;
    _Alignas(64) atomic_uint_fast64_t head; /* published by the worker after handling */
    atomic_int prod_waiting;
    atomic_uint_fast64_t idle_waits; /* the worker's */
    atomic_uint_fast64_t cur;        /* idx of the record the worker handles; IDLE: none */
    atomic_uint_fast64_t idle_head;  /* where the worker went idle */
    atomic_uint_fast64_t turn_waits;
    atomic_uint_fast64_t wake_at; /* a worker waits until this one reaches this idx */
    atomic_uint_fast64_t cpu_ns;  /* the worker's CPU time at the end of its last batch */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} ring;

typedef struct {
    wk_pool *pool;
    unsigned i;
    pthread_t th;
    bool started;
} wk_thread;

struct wk_pool {
    wk_pool_cfg cfg;
    ring *rings;
    wk_thread *th;
    atomic_int stop;
    uint64_t next_idx;    /* the reader's count of frames */
    atomic_int flush_req; /* a worker waits for its turn: publish everything */
    /* workers waiting for their turn sleep on turn_cv; a worker that moves on wakes them */
    pthread_mutex_t turn_mu;
    pthread_cond_t turn_cv;
};

/* Worker r has moved to record idx (IDLE: it went idle): wakes whoever waits for it to reach
 * that far (wk_pool_wait_passed sets wake_at under turn_mu, then checks again before sleeping). */
static void wake_turn_waiters(wk_pool *p, ring *r, uint64_t idx) {
    uint64_t at = atomic_load(&r->wake_at);
    if (at == IDLE || (idx != IDLE && idx < at)) return;
    pthread_mutex_lock(&p->turn_mu);
    atomic_store(&r->wake_at, IDLE);
    pthread_cond_broadcast(&p->turn_cv);
    pthread_mutex_unlock(&p->turn_mu);
}

void wk_deadline_ms(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

static void publish(ring *r) {
    if (!r->unpub) return;
    atomic_store(&r->tail, r->ptail);
    atomic_store(&r->pend_first, IDLE);
    r->unpub = 0;
    if (atomic_load(&r->cons_waiting)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->not_empty);
        pthread_mutex_unlock(&r->mu);
    }
}

static void publish_all(wk_pool *p) {
    for (unsigned i = 0; i < p->cfg.n; i++)
        publish(&p->rings[i]);
}

/* The reader waits until the ring has room for need more bytes. Once it has to wait, it
 * sleeps until a quarter of the ring is free (LOW_WATER, and the worker wakes it only then),
 * not until the next HEAD_EVERY records are: the two would otherwise take turns every few
 * dozen records, a context switch each (50,000 a 9 s run on big.pcap). */
static void wait_space(wk_pool *p, ring *r, size_t need) {
    size_t want = need > LOW_WATER(r) ? need : LOW_WATER(r);
    while (r->ptail + need - atomic_load(&r->head) > r->cap) {
        /* every worker may be waiting for what is not yet published: this one for its
         * records, the judge for the other workers (wk_pool_wait_passed) */
        publish_all(p);
        r->full_waits++;
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->prod_waiting, 1);
        while (r->ptail + want - atomic_load(&r->head) > r->cap) {
            struct timespec ts;
            wk_deadline_ms(&ts, WAIT_MS);
            pthread_cond_timedwait(&r->not_full, &r->mu, &ts);
        }
        atomic_store(&r->prod_waiting, 0);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Room for a record of len bytes (a multiple of 8, at most cap / 2): the end of the buffer is
 * padded first when the record does not fit before it. */
static rec *reserve(wk_pool *p, ring *r, uint32_t len, uint64_t idx) {
    size_t off = (size_t)(r->ptail % r->cap), left = r->cap - off;
    if (left < len) {
        wait_space(p, r, left + len);
        if (r->unpub == 0) atomic_store(&r->pend_first, idx);
        if (left >= sizeof(rec)) {
            rec *pad = (rec *)(r->buf + off);
            pad->type = REC_PAD;
            pad->len = (uint32_t)left;
            pad->idx = idx;
        }
        r->ptail += left;
        r->unpub++;
        off = 0;
    } else {
        wait_space(p, r, len);
        if (r->unpub == 0) atomic_store(&r->pend_first, idx);
    }
    rec *h = (rec *)(r->buf + off);
    h->idx = idx;
    return h;
}

static void commit(ring *r, uint32_t len) {
    r->ptail += len;
    r->unpub++;
    if (r->unpub >= PUBLISH_RECS ||
        r->ptail - atomic_load_explicit(&r->tail, memory_order_relaxed) >= PUBLISH_BYTES)
        publish(r);
}

void wk_pool_frame(wk_pool *p, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                   uint32_t wire_len) {
    if (atomic_load_explicit(&p->flush_req, memory_order_relaxed)) {
        atomic_store(&p->flush_req, 0);
        publish_all(p);
    }
    uint64_t idx = p->next_idx++;
    unsigned w = wk_flow_worker(dlt, data, caplen, p->cfg.n);
    ring *r = &p->rings[w];
    uint32_t len = (uint32_t)((sizeof(rec) + caplen + 7u) & ~(size_t)7u);
    if (len > r->cap / 2) { /* larger than any snaplen we open; keep what fits */
        caplen = (uint32_t)(r->cap / 2 - sizeof(rec));
        len = (uint32_t)((sizeof(rec) + caplen + 7u) & ~(size_t)7u);
    }
    rec *h = reserve(p, r, len, idx);
    h->type = REC_FRAME;
    h->len = len;
    h->caplen = caplen;
    h->wire_len = wire_len;
    h->dlt = dlt;
    h->ts_us = ts_us;
    memcpy(h + 1, data, caplen);
    commit(r, len);
}

void wk_pool_tick(wk_pool *p, uint64_t ts_us) {
    for (unsigned i = 0; i < p->cfg.n; i++) {
        ring *r = &p->rings[i];
        rec *h = reserve(p, r, sizeof(rec), p->next_idx);
        memset(h, 0, sizeof *h);
        h->type = REC_TICK;
        h->len = sizeof(rec);
        h->ts_us = ts_us;
        h->idx = p->next_idx;
        commit(r, sizeof(rec));
        publish(r);
    }
}

void wk_pool_sync(wk_pool *p) {
    publish_all(p);
    for (unsigned i = 0; i < p->cfg.n; i++) {
        ring *r = &p->rings[i];
        if (atomic_load(&r->head) == r->ptail) continue;
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->prod_waiting, 1);
        while (atomic_load(&r->head) != r->ptail) {
            struct timespec ts;
            wk_deadline_ms(&ts, WAIT_MS);
            pthread_cond_timedwait(&r->not_full, &r->mu, &ts);
        }
        atomic_store(&r->prod_waiting, 0);
        pthread_mutex_unlock(&r->mu);
    }
}

static void free_space(ring *r, uint64_t head) {
    atomic_store(&r->head, head);
    /* a waiting reader has published everything: tail is where it stands */
    if (atomic_load(&r->prod_waiting) && r->cap - (atomic_load(&r->tail) - head) >= LOW_WATER(r)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->not_full);
        pthread_mutex_unlock(&r->mu);
    }
}

static void *pool_main(void *arg) {
    wk_thread *t = arg;
    wk_pool *p = t->pool;
    ring *r = &p->rings[t->i];
    void *user = p->cfg.users[t->i];
    uint64_t head = atomic_load(&r->head);
    for (;;) {
        uint64_t tail = atomic_load(&r->tail);
        if (head == tail) {
            /* idle: nothing before the next published record is left here (wk_pool_wait_passed) */
            atomic_store(&r->idle_head, head);
            atomic_store(&r->cur, IDLE);
            wake_turn_waiters(p, r, IDLE);
            if (atomic_load(&p->stop)) break;
            atomic_fetch_add_explicit(&r->idle_waits, 1, memory_order_relaxed);
            pthread_mutex_lock(&r->mu);
            atomic_store(&r->cons_waiting, 1);
            while (atomic_load(&r->tail) == head && !atomic_load(&p->stop)) {
                struct timespec ts;
                wk_deadline_ms(&ts, WAIT_MS);
                pthread_cond_timedwait(&r->not_empty, &r->mu, &ts);
            }
            atomic_store(&r->cons_waiting, 0);
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        unsigned n = 0;
        while (head != tail) {
            size_t off = (size_t)(head % r->cap), left = r->cap - off;
            if (left < sizeof(rec)) {
                head += left;
                continue;
            }
            const rec *h = (const rec *)(r->buf + off);
            if (h->type != REC_PAD) {
                atomic_store(&r->cur, h->idx);
                wake_turn_waiters(p, r, h->idx);
            }
            if (h->type == REC_FRAME)
                p->cfg.on_frame(user, h->dlt, h->ts_us, (const uint8_t *)(h + 1), h->caplen,
                                h->wire_len);
            else if (h->type == REC_TICK && p->cfg.on_tick)
                p->cfg.on_tick(user, h->ts_us);
            head += h->len;
            if (++n % HEAD_EVERY == 0) free_space(r, head);
        }
        /* before the batch's head: a reader that synced on that head reads it current */
        atomic_store_explicit(&r->cpu_ns, wk_thread_cpu_ns(), memory_order_relaxed);
        free_space(r, head);
    }
    mw_hash_thread_cleanup(); /* the digest contexts this thread used */
    return NULL;
}

/* Worker threads take no signal: the main thread's poll and dispatch see them. */
static bool spawn(pthread_t *th, void *(*fn)(void *), void *arg) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(th, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static void pool_free(wk_pool *p) {
    for (unsigned i = 0; p->rings && i < p->cfg.n; i++) {
        free(p->rings[i].buf);
        pthread_mutex_destroy(&p->rings[i].mu);
        pthread_cond_destroy(&p->rings[i].not_empty);
        pthread_cond_destroy(&p->rings[i].not_full);
    }
    free(p->rings);
    free(p->th);
    pthread_mutex_destroy(&p->turn_mu);
    pthread_cond_destroy(&p->turn_cv);
    free(p);
}

void wk_pool_stop(wk_pool *p) {
    if (!p) return;
    wk_pool_sync(p);
    atomic_store(&p->stop, 1);
    for (unsigned i = 0; i < p->cfg.n; i++) {
        ring *r = &p->rings[i];
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->not_empty);
        pthread_mutex_unlock(&r->mu);
    }
    for (unsigned i = 0; i < p->cfg.n; i++)
        if (p->th[i].started) pthread_join(p->th[i].th, NULL);
    pool_free(p);
}

wk_pool *wk_pool_start(const wk_pool_cfg *cfg, char *err, size_t errlen) {
    wk_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    pthread_mutex_init(&p->turn_mu, NULL);
    pthread_cond_init(&p->turn_cv, NULL);
    size_t cap = cfg->ring_bytes ? (cfg->ring_bytes + 7u) & ~(size_t)7u : RING_DEFAULT;
    p->rings = calloc(cfg->n, sizeof *p->rings);
    p->th = calloc(cfg->n, sizeof *p->th);
    if (!p->rings || !p->th) {
        free(p->rings);
        free(p->th);
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < cfg->n; i++) {
        ring *r = &p->rings[i];
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->not_empty, NULL);
        pthread_cond_init(&r->not_full, NULL);
        r->cap = cap;
        atomic_store(&r->pend_first, IDLE);
        atomic_store(&r->cur, IDLE);
        atomic_store(&r->wake_at, IDLE);
        r->buf = malloc(cap);
        if (!r->buf) {
            snprintf(err, errlen, "cannot allocate %zu bytes for worker %u's ring", cap, i);
            pool_free(p);
            return NULL;
        }
    }
    for (unsigned i = 0; i < cfg->n; i++) {
        p->th[i].pool = p;
        p->th[i].i = i;
        if (!spawn(&p->th[i].th, pool_main, &p->th[i])) {
            snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(errno));
            wk_pool_stop(p);
            return NULL;
        }
        p->th[i].started = true;
    }
    return p;
}

uint64_t wk_thread_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t wk_pool_cpu_ns(const wk_pool *p, unsigned i) {
    return atomic_load_explicit(&p->rings[i].cpu_ns, memory_order_relaxed);
}

uint64_t wk_pool_idle_waits(const wk_pool *p, unsigned i) {
    return atomic_load_explicit(&p->rings[i].idle_waits, memory_order_relaxed);
}

/* Has worker r handled every record before idx k? Its current record says so while it works;
 * idle, it has handled everything published before it went idle, and what the reader holds
 * unpublished starts at pend_first. The loads go in the order that makes a publication between
 * them visible: pend_first before tail (publish stores tail, then pend_first). Records before k
 * were all written before the caller's record k was, so their pend_first is visible. */
static bool done_before(ring *r, uint64_t k) {
    uint64_t c = atomic_load(&r->cur);
    if (c != IDLE) return c >= k;
    uint64_t pf = atomic_load(&r->pend_first);
    uint64_t t = atomic_load(&r->tail);
    if (t != atomic_load(&r->idle_head)) return false; /* woken with work, or about to */
    return pf == IDLE || pf >= k;
}

bool wk_pool_wait_passed(wk_pool *p, unsigned j, uint64_t k) {
    ring *rj = &p->rings[j];
    if (done_before(rj, k)) return false;
    atomic_fetch_add_explicit(&rj->turn_waits, 1, memory_order_relaxed);
    atomic_store(&p->flush_req, 1); /* its records may sit in the reader's batch */
    /* j is behind, most often by part of one record: a short spin first */
    for (int n = 0; n < SPIN_TURN; n++) {
        if (done_before(rj, k)) return true;
        cpu_relax();
    }
    pthread_mutex_lock(&p->turn_mu);
    while (!done_before(rj, k)) {
        uint64_t at = atomic_load(&rj->wake_at);
        if (k < at) atomic_store(&rj->wake_at, k);
        if (done_before(rj, k)) break;
        struct timespec ts;
        wk_deadline_ms(&ts, 1);
        pthread_cond_timedwait(&p->turn_cv, &p->turn_mu, &ts);
    }
    pthread_mutex_unlock(&p->turn_mu);
    return true;
}

uint64_t wk_pool_cur(const wk_pool *p, unsigned i) {
    return atomic_load(&p->rings[i].cur);
}

uint64_t wk_pool_turn_waits(const wk_pool *p, unsigned i) {
    return atomic_load_explicit(&p->rings[i].turn_waits, memory_order_relaxed);
}

uint64_t wk_pool_full_waits(const wk_pool *p) {
    uint64_t n = 0;
    for (unsigned i = 0; i < p->cfg.n; i++)
        n += p->rings[i].full_waits;
    return n;
}

/* ---- live: a fanout socket per worker and interface ---- */

typedef struct {
    wk_live *l;
    unsigned i;
    pthread_t th;
    bool started;
    cap_source *srcs;            /* nifaces */
    atomic_uint_fast64_t cpu_ns; /* the thread's CPU time, as of its last round */
} wk_lthread;

struct wk_live {
    wk_live_cfg cfg;
    wk_lthread *th;
    atomic_int stop;
    atomic_int failed;
    pthread_mutex_t err_mu;
    char err[512];
};

static void live_fail(wk_live *l, const char *msg) {
    pthread_mutex_lock(&l->err_mu);
    if (!atomic_load(&l->failed)) snprintf(l->err, sizeof l->err, "%s", msg);
    atomic_store(&l->failed, 1);
    pthread_mutex_unlock(&l->err_mu);
}

static void *live_main(void *arg) {
    wk_lthread *t = arg;
    wk_live *l = t->l;
    void *user = l->cfg.users[t->i];
    int n = l->cfg.nifaces;
    struct pollfd pfd[WK_MAX_IFACES];
    char err[512];
    for (int k = 0; k < n; k++) {
        pfd[k].fd = pcap_get_selectable_fd(t->srcs[k].p);
        pfd[k].events = POLLIN;
        pcap_setnonblock(t->srcs[k].p, 1, err);
    }
    while (!atomic_load(&l->stop)) {
        int r = poll(pfd, (nfds_t)n, 200);
        if (r < 0 && errno != EINTR) {
            snprintf(err, sizeof err, "poll: %s", strerror(errno));
            live_fail(l, err);
            break;
        }
        for (int k = 0; k < n && !atomic_load(&l->stop); k++) {
            short ev = pfd[k].revents;
            if (r > 0 && !(ev & (POLLIN | POLLERR | POLLHUP | POLLNVAL))) continue;
            int got =
                cap_source_dispatch(&t->srcs[k], 4096, l->cfg.on_frame, user, err, sizeof err);
            if (got == -2) {
                live_fail(l, err);
                atomic_store(&l->stop, 1);
                break;
            }
            if (got <= 0 && (ev & (POLLERR | POLLHUP | POLLNVAL))) {
                snprintf(err, sizeof err, "%s: the capture interface is gone", t->srcs[k].name);
                live_fail(l, err);
                atomic_store(&l->stop, 1);
                break;
            }
        }
        atomic_store_explicit(&t->cpu_ns, wk_thread_cpu_ns(), memory_order_relaxed);
        if (l->cfg.on_poll) l->cfg.on_poll(user, t->srcs, n);
    }
    atomic_store_explicit(&t->cpu_ns, wk_thread_cpu_ns(), memory_order_relaxed);
    if (l->cfg.on_poll) l->cfg.on_poll(user, t->srcs, n);
    mw_hash_thread_cleanup();
    return NULL;
}

wk_live *wk_live_open(const wk_live_cfg *cfg, char *err, size_t errlen) {
    if (cfg->nifaces < 1 || cfg->nifaces > WK_MAX_IFACES) {
        snprintf(err, errlen, "from 1 to %d interfaces", WK_MAX_IFACES);
        return NULL;
    }
    wk_live *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    pthread_mutex_init(&l->err_mu, NULL);
    l->th = calloc(cfg->n, sizeof *l->th);
    if (!l->th) {
        free(l);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int buf = cfg->buffer_bytes;
    if (buf <= 0) {
        buf = (int)((64u << 20) / cfg->n);
        if (buf < (8 << 20)) buf = 8 << 20;
    }
    unsigned base = cfg->fanout_base ? cfg->fanout_base : ((unsigned)getpid() & 0x7fffu) | 1u;
    for (unsigned i = 0; i < cfg->n; i++) {
        l->th[i].l = l;
        l->th[i].i = i;
        l->th[i].srcs = calloc((size_t)cfg->nifaces, sizeof(cap_source));
        if (!l->th[i].srcs) {
            snprintf(err, errlen, "out of memory");
            wk_live_close(l);
            return NULL;
        }
        for (int k = 0; k < cfg->nifaces; k++) {
            cap_source *src = &l->th[i].srcs[k];
            if (!cap_source_open_live_ex(src, cfg->ifaces[k], cfg->bpf, cfg->snaplen, buf,
                                         (base + (unsigned)k) & 0xffffu, err, errlen)) {
                wk_live_close(l);
                return NULL;
            }
            if (!cap_linktype_supported(src->dlt)) {
                snprintf(err, errlen, "%s: link type %d is not supported", cfg->ifaces[k],
                         src->dlt);
                wk_live_close(l);
                return NULL;
            }
        }
    }
    return l;
}

bool wk_live_start(wk_live *l, char *err, size_t errlen) {
    for (unsigned i = 0; i < l->cfg.n; i++) {
        if (!spawn(&l->th[i].th, live_main, &l->th[i])) {
            snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(errno));
            wk_live_stop(l);
            return false;
        }
        l->th[i].started = true;
    }
    return true;
}

bool wk_live_failed(wk_live *l, char *err, size_t errlen) {
    if (!atomic_load(&l->failed)) return false;
    pthread_mutex_lock(&l->err_mu);
    snprintf(err, errlen, "%s", l->err);
    pthread_mutex_unlock(&l->err_mu);
    return true;
}

void wk_live_stop(wk_live *l) {
    atomic_store(&l->stop, 1);
    for (unsigned i = 0; i < l->cfg.n; i++) /* a worker inside a long dispatch returns */
        for (int k = 0; l->th[i].started && k < l->cfg.nifaces; k++)
            cap_source_break(&l->th[i].srcs[k]);
    for (unsigned i = 0; i < l->cfg.n; i++)
        if (l->th[i].started) {
            pthread_join(l->th[i].th, NULL);
            l->th[i].started = false;
        }
}

uint64_t wk_live_cpu_ns(const wk_live *l, unsigned i) {
    return atomic_load_explicit(&l->th[i].cpu_ns, memory_order_relaxed);
}

cap_source *wk_live_sources(wk_live *l, unsigned i) {
    return l->th[i].srcs;
}

void wk_live_close(wk_live *l) {
    if (!l) return;
    wk_live_stop(l);
    for (unsigned i = 0; i < l->cfg.n; i++) {
        for (int k = 0; l->th[i].srcs && k < l->cfg.nifaces; k++)
            cap_source_close(&l->th[i].srcs[k]);
        free(l->th[i].srcs);
    }
    free(l->th);
    pthread_mutex_destroy(&l->err_mu);
    free(l);
}
