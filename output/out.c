/* Sink set, filters, the JSON-lines file/stdout writer and the queue + thread that every network
 * sink shares. Protocol drivers live in out_syslog.c, out_fluentd.c and out_http.c; the
 * --output parser in out_spec.c. */
#include "out.h"

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

#include "out_sink.h"

#define OUT_MAX_SINKS 16
#define OUT_FILE_BUF (256u * 1024u)
#define OUT_FILE_FLUSH_MS 1000
#define OUT_DEFAULT_FLUSH_MS 5000

struct out_set {
    out_sink *sinks[OUT_MAX_SINKS];
    int nsinks;
    uint64_t written;
    unsigned flush_ms;
};

int64_t out_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Coarse clock for the emit path: one vDSO read, no syscall. */
static int64_t now_coarse_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void out_time_now(int64_t *sec, int32_t *usec) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *usec = (int32_t)(ts.tv_nsec / 1000);
}

static bool digits(const char *p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return true;
}

/* Our events begin with {"@timestamp":"2026-11-28T14:10:45.123456Z" (mw_json writes it first);
 * anything else falls back to the caller's clock. */
bool out_event_time(const char *json, size_t len, int64_t *sec, int32_t *usec) {
    static const char pre[] = "{\"@timestamp\":\"";
    size_t pl = sizeof pre - 1;
    if (len < pl + 20 || memcmp(json, pre, pl) != 0) return false;
    const char *p = json + pl;
    int Y, M, D, h, m, s;
    if (!digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) || p[7] != '-' ||
        !digits(p + 8, 2, &D) || p[10] != 'T' || !digits(p + 11, 2, &h) || p[13] != ':' ||
        !digits(p + 14, 2, &m) || p[16] != ':' || !digits(p + 17, 2, &s))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return false;
    int us = 0;
    size_t i = pl + 19;
    if (i < len && json[i] == '.') {
        int nd = 0;
        i++;
        while (i < len && json[i] >= '0' && json[i] <= '9') {
            if (nd < 6) {
                us = us * 10 + (json[i] - '0');
                nd++;
            }
            i++;
        }
        while (nd++ < 6)
            us *= 10;
    }
    if (i >= len || json[i] != 'Z') return false;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    *sec = (int64_t)timegm(&tm);
    *usec = us;
    return true;
}

out_set *out_set_new(void) {
    out_set *o = calloc(1, sizeof(out_set));
    if (o) o->flush_ms = OUT_DEFAULT_FLUSH_MS;
    return o;
}

void out_set_flush_ms(out_set *o, unsigned ms) {
    o->flush_ms = ms;
}

/* ---- files -------------------------------------------------------------------------------- */

static bool file_open(out_sink *s, char *err, size_t errlen) {
    if (s->cfg.type == OUT_SINK_STDOUT) {
        s->fd = STDOUT_FILENO;
        s->file_size = 0;
        return true;
    }
    int fd = open(s->cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s for writing: %s", s->cfg.path, strerror(errno));
        return false;
    }
    struct stat st;
    s->file_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    s->fd = fd;
    return true;
}

/* Writes iov fully. A write that fails part way is cut back (ftruncate to where it started) so a
 * regular file never ends in a torn line; the lines are dropped and counted by the caller. */
static bool file_writev(out_sink *s, struct iovec *iov, int iovcnt) {
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    uint64_t start = s->file_size;
    size_t done = 0;
    while (done < total) {
        ssize_t w = writev(s->fd, iov, iovcnt);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            atomic_fetch_add(&s->errors, 1);
            if (done > 0 && s->cfg.type == OUT_SINK_FILE && ftruncate(s->fd, (off_t)start) != 0)
                fprintf(stderr, "mitmwatch: output %s: cannot cut back a partial line: %s\n",
                        s->name, strerror(errno));
            return false;
        }
        done += (size_t)w;
        s->file_size += (uint64_t)w;
        size_t adv = (size_t)w;
        while (iovcnt > 0 && adv >= iov[0].iov_len) {
            adv -= iov[0].iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[0].iov_base = (char *)iov[0].iov_base + adv;
            iov[0].iov_len -= adv;
        }
    }
    return true;
}

static void file_flush(out_sink *s) {
    s->last_flush_ms = now_coarse_ms();
    if (s->fbuf.len == 0 || s->fd < 0) return;
    struct iovec iov = {s->fbuf.data, s->fbuf.len};
    if (file_writev(s, &iov, 1))
        atomic_fetch_add(&s->sent, s->fbuf_lines);
    else
        atomic_fetch_add(&s->dropped, s->fbuf_lines);
    mw_buf_reset(&s->fbuf);
    s->fbuf_lines = 0;
}

static void file_close(out_sink *s) {
    file_flush(s);
    if (s->fd >= 0 && s->cfg.type == OUT_SINK_FILE) close(s->fd);
    s->fd = -1;
}

/* path -> path.1 -> ... -> path.keep (the oldest falls off). */
static void file_rotate(out_sink *s) {
    file_close(s);
    size_t pl = strlen(s->cfg.path);
    char from[sizeof s->cfg.path + 16], to[sizeof s->cfg.path + 16];
    for (unsigned i = s->cfg.rotate_keep; i >= 1; i--) {
        if (i == 1)
            memcpy(from, s->cfg.path, pl + 1);
        else
            snprintf(from, sizeof from, "%s.%u", s->cfg.path, i - 1);
        snprintf(to, sizeof to, "%s.%u", s->cfg.path, i);
        if (rename(from, to) != 0 && errno != ENOENT)
            fprintf(stderr, "mitmwatch: output %s: rename %s: %s\n", s->name, from,
                    strerror(errno));
    }
    char err[256];
    if (!file_open(s, err, sizeof err)) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        s->fd = -1;
    }
}

static void file_emit(out_sink *s, const out_event *ev) {
    if (s->fd < 0) {
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    size_t need = ev->len + 1;
    if (s->cfg.rotate_bytes && s->file_size + s->fbuf.len > 0 &&
        s->file_size + s->fbuf.len + need > s->cfg.rotate_bytes) {
        file_rotate(s);
        if (s->fd < 0) {
            atomic_fetch_add(&s->dropped, 1);
            return;
        }
    }
    if (s->fbuf.len + need > OUT_FILE_BUF) file_flush(s);
    if (need > OUT_FILE_BUF) {
        /* Larger than the buffer: one writev of the line and its newline, still whole. */
        static char nl[] = "\n";
        struct iovec iov[2] = {{(void *)(uintptr_t)ev->json, ev->len}, {nl, 1}};
        if (file_writev(s, iov, 2))
            atomic_fetch_add(&s->sent, 1);
        else
            atomic_fetch_add(&s->dropped, 1);
        return;
    }
    size_t mark = s->fbuf.len;
    if (!mw_buf_append(&s->fbuf, ev->json, ev->len) || !mw_buf_putc(&s->fbuf, '\n')) {
        s->fbuf.len = mark; /* allocation failure: no half line stays behind */
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    s->fbuf_lines++;
    if (now_coarse_ms() - s->last_flush_ms >= OUT_FILE_FLUSH_MS) file_flush(s);
}

/* ---- network sink queue and thread -------------------------------------------------------- */

void out_set_err(out_sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_err, sizeof s->last_err, fmt, ap);
    va_end(ap);
}

static int64_t deadline_of(out_sink *s) {
    return atomic_load_explicit(&s->deadline_ms, memory_order_acquire);
}

int64_t out_left_ms(out_sink *s, int64_t until_ms) {
    int64_t dl = deadline_of(s);
    if (dl < until_ms) until_ms = dl;
    return until_ms - out_now_ms();
}

int out_attempt_ms(out_sink *s) {
    int64_t t = out_left_ms(s, out_now_ms() + s->cfg.timeout_ms);
    return t < 0 ? 0 : (int)t;
}

static void abs_time(struct timespec *ts, int64_t mono_ms) {
    ts->tv_sec = mono_ms / 1000;
    ts->tv_nsec = (mono_ms % 1000) * 1000000;
}

static bool past_deadline(out_sink *s) {
    return out_now_ms() >= deadline_of(s);
}

/* Above this the sink thread moves its queue to the spool while the collector is away. */
static bool over_spill_mark(const out_sink *s) {
    return s->count >= s->ring_cap / 2 || s->bytes >= s->cfg.queue_bytes / 2;
}

/* Nothing queued, nothing in flight, nothing to replay (or no time left to): what out_drain
 * and out_flush_ms wait for. Under mu. */
static bool sink_idle(out_sink *s) {
    return s->count == 0 && !s->in_flight && (!s->spool_work || past_deadline(s));
}

/* Under mu: moves every queued item into items (allocated), returns how many. */
static size_t take_all(out_sink *s, out_item ***items) {
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
static void give_up(out_sink *s, out_item **items, size_t n) {
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
    size_t n = take_all(s, &v);
    pthread_mutex_unlock(&s->mu);
    give_up(s, v, n);
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
        int64_t dl = deadline_of(s);
        int64_t u = until < dl ? until : dl;
        if (out_now_ms() >= u || (s->spool && over_spill_mark(s)) || s->stopping) break;
        struct timespec ts;
        abs_time(&ts, u);
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
        bool no_time = out_now_ms() + delay >= deadline_of(s);
        if (no_time || (spill && !from_spool)) {
            /* No time left to try again (or the queue behind it must go to disk: the batch
             * goes first, keeping the order). */
            if (from_spool) {
                for (size_t i = 0; i < n; i++)
                    free(batch[i]);
                out_spool_rewind(s->spool);
            } else {
                give_up(s, batch, n);
            }
            if (spill) spill_queue(s);
            /* The collector is failing and there is no time for another attempt: none before
             * the deadline (each would cost a connection), then the queue is given up. */
            if (no_time) backoff_wait(s, deadline_of(s) - out_now_ms());
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

static void *sink_thread(void *arg) {
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
            size_t n = take_all(s, &v);
            if (n) {
                pthread_mutex_unlock(&s->mu);
                give_up(s, v, n);
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
            deadline_of(s) == INT64_MAX && !s->stopping) {
            /* Let a batch fill: a collector is better served by one request of 100 events
             * than by 100 requests of one. */
            int64_t until = out_now_ms() + s->cfg.linger_ms;
            s->lingering = true;
            s->waiting = true;
            while (s->count < s->cfg.batch_max && !s->stopping && deadline_of(s) == INT64_MAX &&
                   out_now_ms() < until) {
                struct timespec ts;
                abs_time(&ts, until);
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
        if (sink_idle(s)) pthread_cond_broadcast(&s->cv_idle);
    }
    pthread_mutex_unlock(&s->mu);
    free(batch);
    free(owned);
    return NULL;
}

static void net_emit(out_sink *s, const out_event *ev) {
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

/* ---- the set ------------------------------------------------------------------------------ */

static const char *type_name(enum out_sink_type t) {
    switch (t) {
    case OUT_SINK_FILE:
        return "file";
    case OUT_SINK_STDOUT:
        return "stdout";
    case OUT_SINK_SYSLOG:
        return "syslog";
    case OUT_SINK_FLUENTD:
        return "fluentd";
    case OUT_SINK_HEC:
        return "hec";
    case OUT_SINK_BULK:
        return "bulk";
    case OUT_SINK_RELP:
        return "relp";
    }
    return "?";
}

static void stop_thread(out_sink *s, int64_t dl) {
    pthread_mutex_lock(&s->mu);
    if (dl < deadline_of(s)) atomic_store_explicit(&s->deadline_ms, dl, memory_order_release);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
}

static void sink_free(out_sink *s) {
    if (!s) return;
    if (s->ops) {
        if (s->thread_started) {
            stop_thread(s, out_now_ms());
            pthread_join(s->thread, NULL);
            s->thread_started = false;
        }
        out_item **v;
        pthread_mutex_lock(&s->mu);
        size_t n = take_all(s, &v);
        pthread_mutex_unlock(&s->mu);
        give_up(s, v, n);
        free(v);
        s->ops->close(s);
        if (s->spool) out_spool_close(s->spool);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv_work);
        pthread_cond_destroy(&s->cv_idle);
        free(s->ring);
    } else {
        file_close(s);
        mw_buf_free(&s->fbuf);
    }
    free(s);
}

bool out_add(out_set *o, const out_sink_cfg *cfg, char *err, size_t errlen) {
    if (o->nsinks >= OUT_MAX_SINKS) {
        snprintf(err, errlen, "too many outputs (at most %d)", OUT_MAX_SINKS);
        return false;
    }
    out_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->cfg = *cfg;
    s->fd = -1;
    s->deadline_ms = INT64_MAX;
    if (cfg->name[0])
        snprintf(s->name, sizeof s->name, "%s", cfg->name);
    else
        snprintf(s->name, sizeof s->name, "%s-%d", type_name(cfg->type), o->nsinks);
    for (int i = 0; i < o->nsinks; i++)
        if (strcmp(o->sinks[i]->name, s->name) == 0) {
            size_t l = strlen(s->name);
            snprintf(s->name + l, sizeof s->name - l, "#%d", o->nsinks);
            break;
        }

    switch (cfg->type) {
    case OUT_SINK_FILE:
    case OUT_SINK_STDOUT:
        if (cfg->type == OUT_SINK_FILE && !cfg->path[0]) {
            snprintf(err, errlen, "file output without a path");
            free(s);
            return false;
        }
        if (cfg->spool_dir[0]) {
            snprintf(err, errlen, "output %s: spool= is for network outputs", s->name);
            free(s);
            return false;
        }
        mw_buf_init(&s->fbuf, OUT_FILE_BUF);
        if (!file_open(s, err, errlen)) {
            free(s);
            return false;
        }
        s->last_flush_ms = now_coarse_ms();
        o->sinks[o->nsinks++] = s;
        return true;
    case OUT_SINK_SYSLOG:
        s->ops = &out_syslog_ops;
        break;
    case OUT_SINK_FLUENTD:
        s->ops = &out_fluentd_ops;
        break;
    case OUT_SINK_HEC:
        s->ops = &out_hec_ops;
        break;
    case OUT_SINK_BULK:
        s->ops = &out_bulk_ops;
        break;
    case OUT_SINK_RELP:
        s->ops = &out_relp_ops;
        break;
    default:
        snprintf(err, errlen, "unknown output type %d", (int)cfg->type);
        free(s);
        return false;
    }
    if (s->cfg.queue_max == 0 || s->cfg.batch_max == 0 || s->cfg.timeout_ms == 0) {
        snprintf(err, errlen, "output %s: queue, batch and timeout must be > 0", s->name);
        free(s);
        return false;
    }
    if (s->cfg.backoff_ms == 0) s->cfg.backoff_ms = 1;
    if (s->cfg.backoff_max_ms < s->cfg.backoff_ms) s->cfg.backoff_max_ms = s->cfg.backoff_ms;
    s->backoff_cur = s->cfg.backoff_ms;
    s->ring_cap = s->cfg.queue_max;
    s->ring = calloc(s->ring_cap, sizeof *s->ring);
    if (!s->ring) {
        snprintf(err, errlen, "output %s: cannot allocate a queue of %zu", s->name, s->ring_cap);
        free(s);
        return false;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv_work, &ca);
    pthread_cond_init(&s->cv_idle, &ca);
    pthread_condattr_destroy(&ca);
    if (s->cfg.spool_dir[0]) {
        uint64_t pending = 0;
        char serr[400];
        s->spool = out_spool_open(s->cfg.spool_dir, s->cfg.spool_max, &pending, serr, sizeof serr);
        if (!s->spool) {
            snprintf(err, errlen, "output %s: %s", s->name, serr);
            sink_free(s);
            return false;
        }
        s->spool_pending = pending;
        s->spool_start = pending;
        s->spool_work = pending > 0;
    }
    if (!s->ops->open(s, err, errlen)) {
        sink_free(s);
        return false;
    }
    int e = pthread_create(&s->thread, NULL, sink_thread, s);
    if (e != 0) {
        snprintf(err, errlen, "output %s: cannot start its thread: %s", s->name, strerror(e));
        sink_free(s);
        return false;
    }
    s->thread_started = true;
    o->sinks[o->nsinks++] = s;
    return true;
}

bool out_add_file(out_set *o, const char *path, char *err, size_t errlen) {
    out_sink_cfg cfg;
    out_sink_cfg_init(&cfg);
    if (strcmp(path, "-") == 0) {
        cfg.type = OUT_SINK_STDOUT;
        snprintf(cfg.name, sizeof cfg.name, "stdout");
    } else {
        cfg.type = OUT_SINK_FILE;
        if (strlen(path) >= sizeof cfg.path) {
            snprintf(err, errlen, "output path too long: %.64s...", path);
            return false;
        }
        snprintf(cfg.path, sizeof cfg.path, "%s", path);
        snprintf(cfg.name, sizeof cfg.name, "file:%s", path);
    }
    return out_add(o, &cfg, err, errlen);
}

static bool passes(const out_sink_cfg *c, const out_event *ev) {
    if (c->kinds_mask && !(c->kinds_mask & (1u << ev->kind))) return false;
    if (c->ndatasets == 0) return true;
    if (!ev->dataset) return false;
    for (int i = 0; i < c->ndatasets; i++)
        if (strncmp(ev->dataset, c->datasets[i], strlen(c->datasets[i])) == 0) return true;
    return false;
}

void out_emit(out_set *o, const out_event *ev) {
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!passes(&s->cfg, ev)) continue;
        atomic_fetch_add_explicit(&s->offered, 1, memory_order_relaxed);
        if (s->ops)
            net_emit(s, ev);
        else
            file_emit(s, ev);
    }
    o->written++;
}

void out_reopen(out_set *o) {
    char err[256];
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops || s->cfg.type != OUT_SINK_FILE) continue;
        file_close(s);
        if (!file_open(s, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            s->fd = -1;
        }
    }
}

/* Waits until every network sink is idle, or until (monotonic ms). */
static bool wait_idle(out_set *o, int64_t until) {
    bool all = true;
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops) {
            file_flush(s);
            continue;
        }
        struct timespec ts;
        abs_time(&ts, until);
        pthread_mutex_lock(&s->mu);
        while (!sink_idle(s) && s->thread_started)
            if (pthread_cond_timedwait(&s->cv_idle, &s->mu, &ts) != 0) break;
        if (s->count > 0 || s->in_flight || s->spool_work) all = false;
        pthread_mutex_unlock(&s->mu);
    }
    return all;
}

bool out_flush_ms(out_set *o, unsigned ms) {
    return wait_idle(o, out_now_ms() + ms);
}

static unsigned budget_of(const out_set *o, const out_sink *s) {
    return s->cfg.flush_ms ? s->cfg.flush_ms : o->flush_ms;
}

bool out_drain(out_set *o) {
    int64_t now = out_now_ms(), last = now;
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops || !s->thread_started) continue;
        int64_t dl = now + budget_of(o, s);
        last = dl > last ? dl : last;
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->deadline_set_ms, now);
        atomic_store_explicit(&s->deadline_ms, dl, memory_order_release);
        pthread_cond_broadcast(&s->cv_work);
        pthread_mutex_unlock(&s->mu);
    }
    /* Every wait of a sink ends at its deadline; the margin covers writing to a spool. */
    bool all = wait_idle(o, last + 5000);
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops || !s->thread_started) continue;
        pthread_mutex_lock(&s->mu);
        atomic_store_explicit(&s->deadline_ms, INT64_MAX, memory_order_release);
        pthread_cond_broadcast(&s->cv_work);
        pthread_mutex_unlock(&s->mu);
    }
    return all;
}

void out_flush(out_set *o) {
    for (int i = 0; i < o->nsinks; i++)
        if (!o->sinks[i]->ops) file_flush(o->sinks[i]);
}

void out_tick(out_set *o) {
    int64_t now = now_coarse_ms();
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops && s->fbuf.len > 0 && now - s->last_flush_ms >= OUT_FILE_FLUSH_MS)
            file_flush(s);
    }
}

static void close_with(out_set *o, unsigned ms, bool per_sink) {
    if (!o) return;
    /* Deadlines set first for all, so the sinks deliver in parallel. */
    int64_t now = out_now_ms();
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops) {
            file_flush(s);
            continue;
        }
        if (s->thread_started) stop_thread(s, now + (per_sink ? budget_of(o, s) : ms));
    }
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops && s->thread_started) {
            pthread_join(s->thread, NULL);
            s->thread_started = false;
        }
    }
}

void out_close_ms(out_set *o, unsigned ms) {
    close_with(o, ms, false);
}

void out_close(out_set *o) {
    close_with(o, 0, true);
}

void out_set_free(out_set *o) {
    if (!o) return;
    out_close(o);
    for (int i = 0; i < o->nsinks; i++)
        sink_free(o->sinks[i]);
    free(o);
}

uint64_t out_events_written(const out_set *o) {
    return o->written;
}

unsigned out_get_flush_ms(const out_set *o) {
    return o->flush_ms;
}

void out_stats_json(const out_set *o, mw_json *j) {
    mw_json_obj_begin(j);
    for (int i = 0; i < o->nsinks; i++) {
        const out_sink *s = o->sinks[i];
        mw_json_kobj(j, s->name);
        mw_json_kstr(j, "type", type_name(s->cfg.type));
        mw_json_kuint(j, "offered", atomic_load(&s->offered));
        mw_json_kuint(j, "sent", atomic_load(&s->sent));
        mw_json_kuint(j, "retried", atomic_load(&s->retried));
        mw_json_kuint(j, "dropped", atomic_load(&s->dropped));
        mw_json_kuint(j, "rejected", atomic_load(&s->rejected));
        /* Files: lines buffered, not yet written (sent + queued = accepted). */
        mw_json_kuint(j, "queued", s->ops ? atomic_load(&s->queued) : s->fbuf_lines);
        mw_json_kuint(j, "errors", atomic_load(&s->errors));
        if (s->spool) {
            mw_json_kuint(j, "spooled", atomic_load(&s->spooled));
            mw_json_kuint(j, "replayed", atomic_load(&s->replayed));
            mw_json_kuint(j, "spool_dropped", atomic_load(&s->spool_dropped));
            mw_json_kuint(j, "spool_pending", atomic_load(&s->spool_pending));
            mw_json_kuint(j, "spool_start", atomic_load(&s->spool_start));
        }
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j);
}

void out_get_totals(const out_set *o, out_totals *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < o->nsinks; i++) {
        const out_sink *s = o->sinks[i];
        t->offered += atomic_load(&s->offered);
        t->sent += atomic_load(&s->sent);
        t->dropped += atomic_load(&s->dropped);
        t->rejected += atomic_load(&s->rejected);
        t->queued += s->ops ? atomic_load(&s->queued) : s->fbuf_lines;
        t->spool_pending += atomic_load(&s->spool_pending);
    }
}

uint64_t out_report_losses(const out_set *o, const char *prog) {
    uint64_t lost = 0;
    for (int i = 0; i < o->nsinks; i++) {
        const out_sink *s = o->sinks[i];
        uint64_t d = atomic_load(&s->dropped), r = atomic_load(&s->rejected);
        uint64_t sp = atomic_load(&s->spool_pending);
        if (d || r)
            fprintf(stderr,
                    "%s: output %s: %" PRIu64 " of %" PRIu64
                    " events not delivered (dropped %" PRIu64 ", rejected %" PRIu64
                    ", sent %" PRIu64 ")%s%s\n",
                    prog, s->name, d + r, atomic_load(&s->offered), d, r, atomic_load(&s->sent),
                    s->last_err[0] ? "; last error: " : "", s->last_err);
        if (sp)
            fprintf(stderr,
                    "%s: output %s: %" PRIu64 " events kept in the spool %s for the next run\n",
                    prog, s->name, sp, s->cfg.spool_dir);
        lost += d + r;
    }
    return lost;
}
