/* Sink set, filters, the JSON-lines file/stdout writer and the queue + thread that every network
 * sink shares. Protocol drivers live in out_syslog.c, out_fluentd.c and out_http.c; the
 * --output parser in out_spec.c. */
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "out_sink.h"
#include "out_text.h"

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
        if (p[i] < '0' || p[i] > '9')
            return false;
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
    if (len < pl + 20 || memcmp(json, pre, pl) != 0)
        return false;
    const char *p = json + pl;
    int Y, M, D, h, m, s;
    if (!digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) || p[7] != '-' ||
        !digits(p + 8, 2, &D) || p[10] != 'T' || !digits(p + 11, 2, &h) || p[13] != ':' ||
        !digits(p + 14, 2, &m) || p[16] != ':' || !digits(p + 17, 2, &s))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60)
        return false;
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
    if (i >= len || json[i] != 'Z')
        return false;
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
    if (o)
        o->flush_ms = OUT_DEFAULT_FLUSH_MS;
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
        if (w < 0 && errno == EINTR)
            continue;
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
    if (s->fbuf.len == 0 || s->fd < 0)
        return;
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
    if (s->fd >= 0 && s->cfg.type == OUT_SINK_FILE)
        close(s->fd);
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
    if (s->fbuf.len + need > OUT_FILE_BUF)
        file_flush(s);
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
    if (now_coarse_ms() - s->last_flush_ms >= OUT_FILE_FLUSH_MS)
        file_flush(s);
}

/* ---- network sink queue and thread -------------------------------------------------------- */

int out_attempt_ms(out_sink *s) {
    int64_t t = s->cfg.timeout_ms;
    int64_t dl = __atomic_load_n(&s->deadline_ms, __ATOMIC_ACQUIRE);
    if (dl != INT64_MAX) {
        int64_t left = dl - out_now_ms();
        if (left < t)
            t = left;
    }
    return t < 0 ? 0 : (int)t;
}

static void abs_time(struct timespec *ts, int64_t mono_ms) {
    ts->tv_sec = mono_ms / 1000;
    ts->tv_nsec = (mono_ms % 1000) * 1000000;
}

static void drop_all_queued(out_sink *s) {
    while (s->count > 0) {
        out_item *it = s->ring[s->head];
        s->head = (s->head + 1) % s->ring_cap;
        s->count--;
        s->bytes -= it->len;
        free(it);
        atomic_fetch_add(&s->dropped, 1);
    }
    atomic_store(&s->queued, 0);
}

static void *sink_thread(void *arg) {
    out_sink *s = arg;
    /* batch is what a driver may reorder and shrink while retrying; owned keeps the pointers to
     * free. */
    out_item **batch = calloc(s->cfg.batch_max, sizeof *batch);
    out_item **owned = calloc(s->cfg.batch_max, sizeof *owned);
    if (!batch || !owned) {
        fprintf(stderr, "mitmwatch: output %s: out of memory, output disabled\n", s->name);
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->count == 0 && !s->stopping) {
            s->waiting = true;
            pthread_cond_wait(&s->cv_work, &s->mu);
            s->waiting = false;
        }
        if (!batch || !owned ||
            (s->stopping && (s->count == 0 || out_now_ms() >= s->deadline_ms))) {
            drop_all_queued(s);
            pthread_cond_broadcast(&s->cv_idle);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        size_t n = 0;
        while (n < s->cfg.batch_max && s->count > 0) {
            out_item *it = s->ring[s->head];
            s->head = (s->head + 1) % s->ring_cap;
            s->count--;
            s->bytes -= it->len;
            owned[n] = it;
            batch[n++] = it;
        }
        atomic_store(&s->queued, s->count);
        s->in_flight = true;
        pthread_mutex_unlock(&s->mu);

        unsigned backoff = s->cfg.backoff_ms;
        size_t total = n;
        for (;;) {
            size_t left = n;
            uint64_t rej = 0;
            out_send_rc rc = s->ops->send(s, batch, &left, &rej);
            if (rej)
                atomic_fetch_add(&s->rejected, rej);
            if (rc == OUT_SEND_OK) {
                atomic_fetch_add(&s->sent, n - rej);
                break;
            }
            if (rc == OUT_SEND_REJECTED)
                break;
            /* RETRY: the driver moved what is still to deliver to batch[0..left). */
            if (n > left + rej)
                atomic_fetch_add(&s->sent, n - left - rej);
            atomic_fetch_add(&s->errors, 1);
            s->ops->disconnect(s);
            n = left;
            int64_t now = out_now_ms();
            int64_t dl = __atomic_load_n(&s->deadline_ms, __ATOMIC_ACQUIRE);
            if (now >= dl) {
                atomic_fetch_add(&s->dropped, n);
                break;
            }
            atomic_fetch_add(&s->retried, n);
            /* Back off; a shutdown request shortens the wait to its deadline. */
            int64_t until = now + backoff;
            pthread_mutex_lock(&s->mu);
            for (;;) {
                int64_t u = until < s->deadline_ms ? until : s->deadline_ms;
                if (out_now_ms() >= u)
                    break;
                struct timespec ts;
                abs_time(&ts, u);
                pthread_cond_timedwait(&s->cv_work, &s->mu, &ts);
            }
            pthread_mutex_unlock(&s->mu);
            backoff = backoff * 2 > s->cfg.backoff_max_ms ? s->cfg.backoff_max_ms : backoff * 2;
        }
        for (size_t i = 0; i < total; i++)
            free(owned[i]);

        pthread_mutex_lock(&s->mu);
        s->in_flight = false;
        if (s->count == 0)
            pthread_cond_broadcast(&s->cv_idle);
        pthread_mutex_unlock(&s->mu);
    }
    free(batch);
    free(owned);
    return NULL;
}

static void net_emit(out_sink *s, const out_event *ev) {
    /* Racy early look at the depth so a full queue costs no allocation on the packet path. */
    if (atomic_load_explicit(&s->queued, memory_order_relaxed) >= s->ring_cap) {
        atomic_fetch_add(&s->dropped, 1);
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
    if (dl)
        memcpy(it->data + off, ev->dataset, dl);
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
    bool wake = s->waiting;
    pthread_mutex_unlock(&s->mu);
    if (wake)
        pthread_cond_signal(&s->cv_work);
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
    }
    return "?";
}

static void sink_free(out_sink *s) {
    if (!s)
        return;
    if (s->ops) {
        if (s->thread_started) {
            pthread_mutex_lock(&s->mu);
            s->stopping = true;
            pthread_cond_broadcast(&s->cv_work);
            pthread_mutex_unlock(&s->mu);
            pthread_join(s->thread, NULL);
        }
        pthread_mutex_lock(&s->mu);
        drop_all_queued(s);
        pthread_mutex_unlock(&s->mu);
        s->ops->close(s);
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
    if (s->cfg.backoff_ms == 0)
        s->cfg.backoff_ms = 1;
    if (s->cfg.backoff_max_ms < s->cfg.backoff_ms)
        s->cfg.backoff_max_ms = s->cfg.backoff_ms;
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
    if (c->kinds_mask && !(c->kinds_mask & (1u << ev->kind)))
        return false;
    if (c->ndatasets == 0)
        return true;
    if (!ev->dataset)
        return false;
    for (int i = 0; i < c->ndatasets; i++)
        if (strncmp(ev->dataset, c->datasets[i], strlen(c->datasets[i])) == 0)
            return true;
    return false;
}

void out_emit(out_set *o, const out_event *ev) {
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!passes(&s->cfg, ev))
            continue;
        if (s->ops) {
            net_emit(s, ev);
        } else if (s->cfg.text) {
            char line[OUT_TEXT_LINE_MAX];
            out_event tev = *ev;
            tev.len = out_text_line(&s->cfg, ev, line, sizeof line);
            tev.json = line;
            if (tev.len)
                file_emit(s, &tev);
        } else {
            file_emit(s, ev);
        }
    }
    o->written++;
}

void out_reopen(out_set *o) {
    char err[256];
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops || s->cfg.type != OUT_SINK_FILE)
            continue;
        file_close(s);
        if (!file_open(s, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            s->fd = -1;
        }
    }
}

bool out_flush_ms(out_set *o, unsigned ms) {
    bool all = true;
    int64_t until = out_now_ms() + ms;
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops) {
            file_flush(s);
            continue;
        }
        struct timespec ts;
        abs_time(&ts, until);
        pthread_mutex_lock(&s->mu);
        while ((s->count > 0 || s->in_flight) && s->thread_started)
            if (pthread_cond_timedwait(&s->cv_idle, &s->mu, &ts) != 0)
                break;
        if (s->count > 0 || s->in_flight)
            all = false;
        pthread_mutex_unlock(&s->mu);
    }
    return all;
}

void out_flush(out_set *o) {
    for (int i = 0; i < o->nsinks; i++)
        if (!o->sinks[i]->ops)
            file_flush(o->sinks[i]);
}

void out_tick(out_set *o) {
    int64_t now = now_coarse_ms();
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops && s->fbuf.len > 0 && now - s->last_flush_ms >= OUT_FILE_FLUSH_MS)
            file_flush(s);
    }
}

void out_close(out_set *o) {
    if (!o)
        return;
    /* One shared deadline: every network sink gets the same bounded time, in parallel. */
    int64_t dl = out_now_ms() + o->flush_ms;
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops) {
            file_flush(s);
            continue;
        }
        if (!s->thread_started)
            continue;
        pthread_mutex_lock(&s->mu);
        __atomic_store_n(&s->deadline_ms, dl, __ATOMIC_RELEASE);
        s->stopping = true;
        pthread_cond_broadcast(&s->cv_work);
        pthread_mutex_unlock(&s->mu);
    }
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops && s->thread_started) {
            pthread_join(s->thread, NULL);
            s->thread_started = false;
        }
    }
}

void out_set_free(out_set *o) {
    if (!o)
        return;
    out_close(o);
    for (int i = 0; i < o->nsinks; i++)
        sink_free(o->sinks[i]);
    free(o);
}

uint64_t out_events_written(const out_set *o) {
    return o->written;
}

void out_stats_json(const out_set *o, mw_json *j) {
    mw_json_obj_begin(j);
    for (int i = 0; i < o->nsinks; i++) {
        const out_sink *s = o->sinks[i];
        mw_json_kobj(j, s->name);
        mw_json_kstr(j, "type", type_name(s->cfg.type));
        mw_json_kuint(j, "sent", atomic_load(&s->sent));
        mw_json_kuint(j, "retried", atomic_load(&s->retried));
        mw_json_kuint(j, "dropped", atomic_load(&s->dropped));
        mw_json_kuint(j, "rejected", atomic_load(&s->rejected));
        /* Files: lines buffered, not yet written (sent + queued = accepted). */
        mw_json_kuint(j, "queued", s->ops ? atomic_load(&s->queued) : s->fbuf_lines);
        mw_json_kuint(j, "errors", atomic_load(&s->errors));
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j);
}
