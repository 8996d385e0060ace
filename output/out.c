/* The sink set: outputs added from their specs, filters, emit, reopen, flush and drain within
 * the budget, counters. The JSON-lines file/stdout writer is out_file.c; the queue and thread
 * every network sink shares out_queue.c; protocol drivers out_syslog.c, out_fluentd.c,
 * out_http.c, out_relp.c; the disk spool out_spool.c; the --output parser out_spec.c. */
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
#include "out_text.h"

#define OUT_MAX_SINKS 16
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
int64_t out_now_coarse_ms(void) {
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
    if (dl < out_queue_deadline(s))
        atomic_store_explicit(&s->deadline_ms, dl, memory_order_release);
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
        size_t n = out_queue_take_all(s, &v);
        pthread_mutex_unlock(&s->mu);
        out_queue_give_up(s, v, n);
        free(v);
        s->ops->close(s);
        if (s->spool) out_spool_close(s->spool);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv_work);
        pthread_cond_destroy(&s->cv_idle);
        free(s->ring);
    } else {
        out_file_close(s);
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
        if (!out_file_open(s, err, errlen)) {
            free(s);
            return false;
        }
        s->last_flush_ms = out_now_coarse_ms();
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
    int e = pthread_create(&s->thread, NULL, out_queue_thread, s);
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
        if (!s->ops && s->cfg.text) {
            char line[OUT_TEXT_LINE_MAX];
            out_event tev = *ev;
            tev.len = out_text_line(&s->cfg, ev, line, sizeof line);
            tev.json = line;
            if (!tev.len) continue; /* not in the text view: not offered to this output */
            atomic_fetch_add_explicit(&s->offered, 1, memory_order_relaxed);
            out_file_emit(s, &tev);
            continue;
        }
        atomic_fetch_add_explicit(&s->offered, 1, memory_order_relaxed);
        if (s->ops)
            out_queue_emit(s, ev);
        else
            out_file_emit(s, ev);
    }
    o->written++;
}

void out_give_files(out_set *o, unsigned uid, unsigned gid) {
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops || s->cfg.type != OUT_SINK_FILE || s->fd < 0 || !s->created) continue;
        if (fchown(s->fd, (uid_t)uid, (gid_t)gid) != 0)
            fprintf(stderr, "mitmwatch: output %s: cannot give %s to uid %u: %s\n", s->name,
                    s->cfg.path, uid, strerror(errno));
    }
}

void out_reopen(out_set *o) {
    char err[256];
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (s->ops || s->cfg.type != OUT_SINK_FILE) continue;
        out_file_close(s);
        if (!out_file_open(s, err, sizeof err)) {
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
            out_file_flush(s);
            continue;
        }
        struct timespec ts;
        out_abs_time(&ts, until);
        pthread_mutex_lock(&s->mu);
        while (!out_queue_idle(s) && s->thread_started)
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
        if (!o->sinks[i]->ops) out_file_flush(o->sinks[i]);
}

void out_tick(out_set *o) {
    int64_t now = out_now_coarse_ms();
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops && s->fbuf.len > 0 && now - s->last_flush_ms >= OUT_FILE_FLUSH_MS)
            out_file_flush(s);
    }
}

static void close_with(out_set *o, unsigned ms, bool per_sink) {
    if (!o) return;
    /* Deadlines set first for all, so the sinks deliver in parallel. */
    int64_t now = out_now_ms();
    for (int i = 0; i < o->nsinks; i++) {
        out_sink *s = o->sinks[i];
        if (!s->ops) {
            out_file_flush(s);
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
