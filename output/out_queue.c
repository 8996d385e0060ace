/* The queue and thread every network sink shares: bounded queue, batches, delivery with retry,
 * backoff and deadlines, spill to the disk spool, counting of sent, dropped and rejected. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "out_sink.h"

void out_set_err(out_sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_err, sizeof s->last_err, fmt, ap);
    va_end(ap);
}

int64_t out_queue_deadline(out_sink *s) {
    return atomic_load_explicit(&s->deadline_ms, memory_order_acquire);
}

int64_t out_left_ms(out_sink *s, int64_t until_ms) {
    int64_t dl = out_queue_deadline(s);
    if (dl < until_ms) until_ms = dl;
    return until_ms - out_now_ms();
}

int out_attempt_ms(out_sink *s) {
    int64_t t = out_left_ms(s, out_now_ms() + s->cfg.timeout_ms);
    return t < 0 ? 0 : (int)t;
}

void out_abs_time(struct timespec *ts, int64_t mono_ms) {
    ts->tv_sec = mono_ms / 1000;
    ts->tv_nsec = (mono_ms % 1000) * 1000000;
}

static bool past_deadline(out_sink *s) {
    return out_now_ms() >= out_queue_deadline(s);
}

/* Above this the sink thread moves its queue to the spool while the collector is away. */
static bool over_spill_mark(const out_sink *s) {
    return s->count >= s->ring_cap / 2 || s->bytes >= s->cfg.queue_bytes / 2;
}

/* Nothing queued, nothing in flight, nothing to replay (or no time left to): what out_drain
 * and out_flush_ms wait for. Under mu. */
bool out_queue_idle(out_sink *s) {
    return s->count == 0 && !s->in_flight && (!s->spool_work || past_deadline(s));
}

/* Under mu: moves every queued item into items (allocated), returns how many. */
size_t out_queue_take_all(out_sink *s, out_item ***items) {
    *items = NULL;
    if (s->count == 0) return 0;
    out_item **v = malloc(s->count * sizeof *v);
    size_t n = 0;
    if (!v) { /* cannot even list them: they are dropped */
        while (s->count > 0) {
            out_item *it = s->ring[s->head];
            s->head = (s->head + 1) % s->ring_cap;
            s->count--;
            s->bytes -= it->len;
            free(it);
            atomic_fetch_add(&s->dropped, 1);
        }
    }
    while (v && s->count > 0) {
        v[n++] = s->ring[s->head];
        s->bytes -= s->ring[s->head]->len;
        s->head = (s->head + 1) % s->ring_cap;
        s->count--;
    }
    atomic_store(&s->queued, 0);
    *items = v;
    return n;
}

/* Gives up delivering items taken from the queue (not from the spool): into the spool when
 * there is one, else dropped; counted either way. Frees them. Not under mu. */
void out_queue_give_up(out_sink *s, out_item **items, size_t n) {
    size_t kept = 0;
    if (s->spool && n) {
        kept = out_spool_append(s->spool, items, n);
        atomic_fetch_add(&s->spooled, kept);
        atomic_fetch_add(&s->spool_pending, kept);
        if (kept < n) atomic_fetch_add(&s->spool_dropped, n - kept);
    }
    atomic_fetch_add(&s->dropped, n - kept);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
}

/* Not under mu: the queue into the spool (or dropped). */
static void spill_queue(out_sink *s) {
    out_item **v;
    pthread_mutex_lock(&s->mu);
    size_t n = out_queue_take_all(s, &v);
    pthread_mutex_unlock(&s->mu);
    out_queue_give_up(s, v, n);
    free(v);
    pthread_mutex_lock(&s->mu);
    s->spool_work = s->spool && out_spool_has_unread(s->spool);
    pthread_mutex_unlock(&s->mu);
}

static void note_failure(out_sink *s) {
    if (s->failing) return;
    s->failing = true;
    fprintf(stderr,
            "mitmwatch: output %s: cannot deliver: %s; retrying%s (said once until it "
            "recovers)\n",
            s->name, s->last_err[0] ? s->last_err : "failed", s->spool ? ", spooling" : "");
}

static void note_success(out_sink *s) {
    s->backoff_cur = s->cfg.backoff_ms;
    if (!s->failing) return;
    s->failing = false;
    fprintf(stderr, "mitmwatch: output %s: delivering again\n", s->name);
}

/* Frees the items of owned[0..n) that are no longer in batch[0..left) (delivered or refused).
 * Drivers keep the relative order of what they leave to resend, so one merge walk does. */
static void free_resolved(out_item **owned, size_t n, out_item *const *batch, size_t left) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (j < left && owned[i] == batch[j])
            j++;
        else
            free(owned[i]);
    }
}

/* Waits out a backoff of ms (cut by the deadline); wakes early when the queue passes the
 * spill mark (spool) or a shutdown begins. */
static void backoff_wait(out_sink *s, int64_t ms) {
    int64_t until = out_now_ms() + ms;
    pthread_mutex_lock(&s->mu);
    s->backing_off = true;
    for (;;) {
        int64_t dl = out_queue_deadline(s);
        int64_t u = until < dl ? until : dl;
        if (out_now_ms() >= u || (s->spool && over_spill_mark(s)) || s->stopping) break;
        struct timespec ts;
        out_abs_time(&ts, u);
        pthread_cond_timedwait(&s->cv_work, &s->mu, &ts);
    }
    s->backing_off = false;
    pthread_mutex_unlock(&s->mu);
}

/* Delivers one batch (from the queue, or read back from the spool) until every item is
 * delivered or refused, or the deadline passes. batch/owned have room for batch_max. */
static void deliver(out_sink *s, out_item **batch, out_item **owned, size_t n, bool from_spool) {
    size_t total = n;
    for (;;) {
        memcpy(owned, batch, n * sizeof *owned);
        size_t left = n;
        uint64_t rej = 0;
        s->retry_after_ms = 0;
        out_send_rc rc = s->ops->send(s, batch, &left, &rej);
        if (rc != OUT_SEND_RETRY) left = 0;
        if (rej > n - left) rej = n - left;
        uint64_t delivered = n - left - rej;
        atomic_fetch_add(&s->sent, delivered);
        atomic_fetch_add(&s->rejected, rej);
        if (from_spool) atomic_fetch_add(&s->replayed, delivered);
        if (delivered) note_success(s);
        free_resolved(owned, n, batch, left);
        n = left;
        if (n == 0) {
            if (from_spool) {
                out_spool_commit(s->spool);
                atomic_fetch_sub(&s->spool_pending, total);
            }
            return;
        }
        /* RETRY: the driver moved what is still to deliver to batch[0..n). */
        atomic_fetch_add(&s->errors, 1);
        s->ops->disconnect(s);
        note_failure(s);
        int64_t delay = s->backoff_cur;
        if (s->retry_after_ms > delay) /* the collector's own word, within reason */
            delay = s->retry_after_ms < 300000 ? s->retry_after_ms : 300000;
        s->backoff_cur =
            s->backoff_cur * 2 > s->cfg.backoff_max_ms ? s->cfg.backoff_max_ms : s->backoff_cur * 2;
        bool spill = false;
        if (s->spool) {
            pthread_mutex_lock(&s->mu);
            spill = over_spill_mark(s);
            pthread_mutex_unlock(&s->mu);
        }
        bool no_time = out_now_ms() + delay >= out_queue_deadline(s);
        if (no_time || (spill && !from_spool)) {
            /* No time left to try again (or the queue behind it must go to disk: the batch
             * goes first, keeping the order). */
            if (from_spool) {
                for (size_t i = 0; i < n; i++)
                    free(batch[i]);
                out_spool_rewind(s->spool);
            } else {
                out_queue_give_up(s, batch, n);
            }
            if (spill) spill_queue(s);
            /* The collector is failing and there is no time for another attempt: none before
             * the deadline (each would cost a connection), then the queue is given up. */
            if (no_time) backoff_wait(s, out_queue_deadline(s) - out_now_ms());
            return;
        }
        if (spill) spill_queue(s);
        atomic_fetch_add(&s->retried, n);
        backoff_wait(s, delay);
        if (!from_spool) {
            /* Top up: what was queued meanwhile rides along, up to a full batch. */
            pthread_mutex_lock(&s->mu);
            while (n < s->cfg.batch_max && s->count > 0) {
                out_item *it = s->ring[s->head];
                s->head = (s->head + 1) % s->ring_cap;
                s->count--;
                s->bytes -= it->len;
                batch[n++] = it;
            }
            atomic_store(&s->queued, s->count);
            pthread_mutex_unlock(&s->mu);
        }
    }
}

void *out_queue_thread(void *arg) {
    out_sink *s = arg;
    /* batch is what a driver may reorder and shrink while retrying; owned keeps the pointers
     * of one attempt, to free what it resolved. */
    out_item **batch = calloc(s->cfg.batch_max, sizeof *batch);
    out_item **owned = calloc(s->cfg.batch_max, sizeof *owned);
    if (!batch || !owned)
        fprintf(stderr, "mitmwatch: output %s: out of memory, output disabled\n", s->name);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (!batch || !owned || past_deadline(s)) {
            /* Out of time (or memory): what is queued goes to the spool or is dropped. */
            out_item **v;
            size_t n = out_queue_take_all(s, &v);
            if (n) {
                pthread_mutex_unlock(&s->mu);
                out_queue_give_up(s, v, n);
                free(v);
                pthread_mutex_lock(&s->mu);
            }
            pthread_cond_broadcast(&s->cv_idle);
            if (s->stopping) break;
            s->waiting = true;
            if (past_deadline(s))
                pthread_cond_wait(&s->cv_work, &s->mu); /* until new work or a new deadline */
            s->waiting = false;
            continue;
        }
        if (s->count == 0 && !s->spool_work) {
            pthread_cond_broadcast(&s->cv_idle);
            if (s->stopping) break;
            s->waiting = true;
            pthread_cond_wait(&s->cv_work, &s->mu);
            s->waiting = false;
            continue;
        }
        bool from_spool = s->spool_work;
        if (from_spool && over_spill_mark(s)) {
            /* Replaying a backlog while new events pile up: they queue behind it on disk. */
            pthread_mutex_unlock(&s->mu);
            spill_queue(s);
            pthread_mutex_lock(&s->mu);
        }
        if (!from_spool && s->count < s->cfg.batch_max && s->cfg.linger_ms &&
            out_queue_deadline(s) == INT64_MAX && !s->stopping) {
            /* Let a batch fill: a collector is better served by one request of 100 events
             * than by 100 requests of one. */
            int64_t until = out_now_ms() + s->cfg.linger_ms;
            s->lingering = true;
            s->waiting = true;
            while (s->count < s->cfg.batch_max && !s->stopping &&
                   out_queue_deadline(s) == INT64_MAX && out_now_ms() < until) {
                struct timespec ts;
                out_abs_time(&ts, until);
                pthread_cond_timedwait(&s->cv_work, &s->mu, &ts);
            }
            s->waiting = false;
            s->lingering = false;
        }
        size_t n = 0;
        if (!from_spool) {
            while (n < s->cfg.batch_max && s->count > 0) {
                out_item *it = s->ring[s->head];
                s->head = (s->head + 1) % s->ring_cap;
                s->count--;
                s->bytes -= it->len;
                batch[n++] = it;
            }
            atomic_store(&s->queued, s->count);
        }
        s->in_flight = true;
        pthread_mutex_unlock(&s->mu);

        if (from_spool) n = out_spool_read(s->spool, batch, s->cfg.batch_max);
        if (n) deliver(s, batch, owned, n, from_spool);

        pthread_mutex_lock(&s->mu);
        s->in_flight = false;
        if (s->spool) s->spool_work = out_spool_has_unread(s->spool);
        if (out_queue_idle(s)) pthread_cond_broadcast(&s->cv_idle);
    }
    pthread_mutex_unlock(&s->mu);
    free(batch);
    free(owned);
    return NULL;
}

void out_queue_emit(out_sink *s, const out_event *ev) {
    /* Racy early look at the depth so a full queue costs no allocation on the packet path. */
    if (atomic_load_explicit(&s->queued, memory_order_relaxed) >= s->ring_cap) {
        atomic_fetch_add(&s->dropped, 1);
        if (!s->logged_full) {
            s->logged_full = true;
            fprintf(stderr,
                    "mitmwatch: output %s: queue full (%zu events), dropping (counted; said "
                    "once)\n",
                    s->name, s->ring_cap);
        }
        return;
    }
    size_t rl = ev->rule_id ? strlen(ev->rule_id) : 0;
    size_t dl = ev->dataset ? strlen(ev->dataset) : 0;
    if (ev->len > UINT32_MAX / 2 || rl > 1000 || dl > 1000) {
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    out_item *it = malloc(sizeof *it + ev->len + 1 + rl + 1 + dl + 1);
    if (!it) {
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    it->len = (uint32_t)ev->len;
    it->kind = (uint8_t)ev->kind;
    it->severity = (int8_t)(ev->severity < 0 ? 0 : ev->severity > 7 ? 7 : ev->severity);
    memcpy(it->data, ev->json, ev->len);
    it->data[ev->len] = '\0';
    size_t off = ev->len + 1;
    it->rule_off = 0;
    if (rl) {
        it->rule_off = (uint32_t)off;
        memcpy(it->data + off, ev->rule_id, rl);
    }
    it->data[off + rl] = '\0';
    off += rl + 1;
    it->ds_off = (uint32_t)off;
    if (dl) memcpy(it->data + off, ev->dataset, dl);
    it->data[off + dl] = '\0';

    pthread_mutex_lock(&s->mu);
    if (s->count >= s->ring_cap || s->bytes + it->len > s->cfg.queue_bytes || s->stopping) {
        pthread_mutex_unlock(&s->mu);
        free(it);
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    s->ring[(s->head + s->count) % s->ring_cap] = it;
    s->count++;
    s->bytes += it->len;
    atomic_store_explicit(&s->queued, s->count, memory_order_relaxed);
    bool wake = (s->waiting && (!s->lingering || s->count >= s->cfg.batch_max)) ||
                (s->backing_off && s->spool && over_spill_mark(s));
    pthread_mutex_unlock(&s->mu);
    if (wake) pthread_cond_signal(&s->cv_work);
}
