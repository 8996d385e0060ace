/* The sensor's wiring (sensor.h): capture sources into the analysis engine, handshakes to the
 * verdicts, baselines and outputs, the stats timer, signals, the probe scheduler and the state
 * file. Events are built in output/; this file decides what goes out and when. */
#include "sensor.h"
#include "summary.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "an_engine.h"
#include "cap_source.h"
#include "ev_alert.h"
#include "ev_sched.h"
#include "ev_sensor.h"
#include "ev_stats.h"
#include "ev_tls.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "out.h"
#include "pol_cli.h"
#include "pol_config.h"
#include "probe_cert.h"
#include "probe_sched.h"
#include "probe_trace.h"
#include "probe_trigger.h"
#include "rule_engine.h"
#include "workers.h"

#define EVENT_MAX (4u << 20)
/* With workers the sensor's caps are shared out (the engines' defaults, an_engine.c) */
#define SENSOR_DEFAULT_FLOWS 131072u
#define SENSOR_DEFAULT_REASM (256ull << 20)
#define SENSOR_CERT_CACHE 16384u
#define MAX_PENDING_ALERTS 32

typedef struct {
    char *json;
    size_t len;
    const char *rule_id;
    int severity;
} pending_alert;

typedef struct sensor sensor;

/* What one worker owns: its engine (flow table) and the handshake it is judging. With
 * --workers 1 the one worker runs on the main thread; the main thread's own work (stats,
 * probes) has a context of its own (sensor.mainw, no engine). */
typedef struct {
    sensor *s;
    unsigned idx;
    an_engine *eng;
    mw_buf ev;
    uint64_t events_dropped; /* did not fit the event buffer */
    /* the handshake being judged, for alert events */
    const tls_hs *cur_hs;
    const cap_flow *cur_flow;
    int cur_client_side;
    /* event.id of the handshake being judged; its alerts carry it as mitmwatch.handshake_id */
    char hs_id[EV_ID_LEN];
    mw_buf abuf;
    pending_alert pending[MAX_PENDING_ALERTS];
    int npending;
    rule_verdict verdict; /* the rules that matched the handshake being judged */
    const char *link_id;  /* a triggered fetch's alerts: the triggering handshake's event.id */
    uint64_t judge_waits; /* the verdicts' lock was taken by another worker */
    /* live workers: counters published for the main thread's stats (snap_mu) */
    pthread_mutex_t snap_mu;
    cap_stats snap_cs;
    an_stats snap_as;
} sensor_worker;

/* -r with several workers: the judge stage. A worker does not judge; it hands each thing to
 * judge (a finished handshake, an injection found after the verdict, a STARTTLS flow without
 * TLS) to the judge thread as a copy that outlives the flow, tagged with the input record
 * that raised it, through its own bounded queue. The judge thread takes them in input order:
 * the smallest tag first, once every other worker has handled every record before it
 * (wk_pool_wait_passed). So the verdicts, baselines and suppression see the same sequence as
 * one worker would, event ids included, and no worker waits for another. */
typedef enum { JR_HS, JR_CONFLICT, JR_PLAIN } jr_type;

typedef struct {
    jr_type type;
    uint64_t idx; /* the record that raised it */
    int client_side, side;
    cap_flow flow; /* a copy: key, TTLs, counters, tunnel; its pointers cleared but conflict */
    cap_conflict conflict[2];
    tls_hs hs;      /* JR_HS: tls_hs_copy */
    an_plain plain; /* JR_PLAIN */
} judge_req;

#define JQ_CAP 4096u /* requests waiting per worker; a full queue makes its worker wait */

typedef struct {
    judge_req *slot[JQ_CAP];
    _Alignas(64) atomic_uint_fast64_t tail; /* the worker's */
    atomic_int prod_waiting;
    _Alignas(64) atomic_uint_fast64_t head; /* the judge's */
} judge_q;

/* Shared by the workers: the verdicts and baselines (judge: written by a judging worker, read
 * while an event is built, so that a reload or a SCT verdict never changes under a builder),
 * the outputs (out_mu: one writer at a time, so the events of a flow, all from its worker,
 * keep their order), the summary (sum_mu). Lock order: judge, then out_mu. */
struct sensor {
    out_set *outs;
    ev_ctx ctx;
    uint64_t stats_interval_us;
    uint64_t next_stats_us; /* capture time (files) or wall time (live) */
    cap_source *srcs;
    int nsrcs;
    bl_state *bl;
    probe_sched *ps;
    ev_sensor_counts last_drops, last_overload; /* for sensor.* alerts */
    uint64_t last_packets, last_undecoded[CAP_UNDEC_COUNT];
    uint64_t frames_read;    /* -r: frames read from the files (main thread) */
    uint64_t pcap_truncated; /* files that ended inside a record (anomalies.pcap_truncated) */
    /* verdicts */
    const sensor_opts *o;
    pol_policy *pol; /* heap: the engine points into it until the next reload */
    rule_engine *re;
    summary *sum;          /* the end-of-run summary, NULL when not shown */
    bool started;          /* a capture source opened: the run has a final stats event */
    uint64_t next_save_us; /* wall time of the next periodic --state save */
    bool save_failing;     /* the last save failed (said once until one succeeds) */
    ptrig *trig;           /* triggered certificate fetches (live), or NULL */
    /* workers */
    unsigned nw;
    sensor_worker w[WK_MAX]; /* nw of them */
    sensor_worker mainw;
    x509_cache *certs;   /* shared by the workers' engines (nw > 1) */
    wk_pool *pool;       /* -r with workers */
    wk_live *live;       /* -i with workers */
    void *users[WK_MAX]; /* &w[i], for the workers' callbacks */
    uint64_t reader_now_us, next_tick_us;
    pthread_rwlock_t judge;
    pthread_mutex_t out_mu, sum_mu;
    uint64_t hs_seq; /* handshakes judged (under judge): in event.id */
    /* the judge stage (-r, several workers, in input order) */
    bool judge_on; /* the judge thread runs: workers hand their judging to it */
    pthread_t judge_th;
    judge_q *jq;      /* nw of them */
    sensor_worker jw; /* the judge thread's context */
    pthread_mutex_t jmu;
    pthread_cond_t jcv;  /* the judge waits for work */
    pthread_cond_t jpcv; /* a worker waits for room in its queue */
    pthread_cond_t jdcv; /* the reader waits for the judge to finish what was handed */
    atomic_int judge_stop, judge_idle;
    atomic_uint_fast64_t jr_pushed, jr_done;
    bool judge_ran;                    /* the judge thread ran: its CPU time is reported */
    atomic_uint_fast64_t judge_cpu_ns; /* as of its last idle moment, every 64 requests, its end */
};

/* Judging is done alone: by the judge thread (-r with workers, in the order of the input),
 * by a live worker, or by the one worker. */
static void judge_wrlock(sensor_worker *w) {
    if (pthread_rwlock_trywrlock(&w->s->judge) != 0) {
        __atomic_fetch_add(&w->judge_waits, 1, __ATOMIC_RELAXED);
        pthread_rwlock_wrlock(&w->s->judge);
    }
}

static void judge_unlock(sensor *s) {
    pthread_rwlock_unlock(&s->judge);
}

static void emit_locked(sensor *s, const out_event *ev) {
    pthread_mutex_lock(&s->out_mu);
    out_emit(s->outs, ev);
    pthread_mutex_unlock(&s->out_mu);
}

static void sum_alert(sensor *s, const char *rule_id) {
    if (!s->sum) return;
    pthread_mutex_lock(&s->sum_mu);
    summary_alert(s->sum, rule_id);
    pthread_mutex_unlock(&s->sum_mu);
}

static volatile sig_atomic_t g_stop, g_hup, g_usr1;
static cap_source *g_current;

static void on_signal(int sig) {
    if (sig == SIGHUP) {
        g_hup = 1;
        return;
    }
    if (sig == SIGUSR1) {
        g_usr1 = 1;
        return;
    }
    g_stop = 1;
    if (g_current) cap_source_break(g_current);
}

/* Keeps a built alert (in s->abuf) until the handshake event has gone out. */
static void pend_alert(sensor_worker *s, const char *rule_id, int severity) {
    if (s->npending >= MAX_PENDING_ALERTS) {
        s->events_dropped++;
        return;
    }
    pending_alert *pa = &s->pending[s->npending];
    pa->json = malloc(s->abuf.len);
    if (!pa->json) {
        s->events_dropped++;
        return;
    }
    memcpy(pa->json, s->abuf.data, s->abuf.len);
    pa->len = s->abuf.len;
    pa->rule_id = rule_id;
    pa->severity = severity;
    s->npending++;
}

/* A baseline finding matches the handshake (verdict.rules) on every connection that shows
 * it; its alert goes out under the same duplicate suppression as the verdicts'. */
static void on_bl_alert(const bl_alert *a, void *user) {
    sensor_worker *w = user;
    sensor *s = w->s;
    const char *rule_id = a->rule_id; /* a string literal of bl_baseline.c */
    rule_verdict_add(&w->verdict, rule_id);
    uint64_t prior = 0;
    if (s->re && !rule_engine_suppress(s->re, rule_id, a->key, w->cur_hs->ts_us, &prior)) return;
    ev_alert ea = {.rule_id = rule_id,
                   .severity = a->severity,
                   .message = a->message,
                   .expected = a->expected,
                   .observed = a->observed,
                   .suppressed = prior,
                   .handshake_id = w->hs_id};
    if (!ev_alert_build(&w->abuf, &s->ctx, w->cur_hs->ts_us, &ea, w->cur_hs, w->cur_flow,
                        w->cur_client_side)) {
        w->events_dropped++;
        return;
    }
    pend_alert(w, rule_id, a->severity);
}

/* Verdicts are judged before the handshake event is written (it carries their SCT statuses)
 * and their alerts go out after it. */
static void on_rule_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int client_side,
                          void *user) {
    sensor_worker *w = user;
    if (!ev_alert_verdict_build(&w->abuf, &w->s->ctx, a, hs, f, client_side, hs->ts_us, w->hs_id)) {
        w->events_dropped++;
        return;
    }
    pend_alert(w, a->rule_id, a->severity);
}

/* Every verdict, the rules' and the baselines', is judged before the handshake event is written
 * (it carries their SCT statuses and mitmwatch.verdict.rules); their alerts go out after it,
 * the rules' first, then the baselines', as before. */
static void judge_handshake(sensor_worker *w, const tls_hs *hs, const cap_flow *f,
                            int client_side) {
    sensor *s = w->s;
    judge_wrlock(w);
    ev_handshake_id(w->hs_id, &s->ctx, hs, f, client_side, s->hs_seq++);
    if (s->sum) {
        pthread_mutex_lock(&s->sum_mu);
        summary_handshake(s->sum, hs, f, client_side);
        pthread_mutex_unlock(&s->sum_mu);
    }
    w->verdict.n = 0;
    w->verdict.watched = false;
    if (s->re)
        rule_judge_verdict(s->re, hs, f, client_side, hs->ts_us, on_rule_alert, w, &w->verdict);
    for (int side = 0; s->re && side < 2; side++) {
        const cap_conflict *c = cap_flow_conflict(f, side);
        if (c)
            rule_judge_conflict(s->re, hs, f, client_side, side, c, on_rule_alert, w, &w->verdict);
    }
    w->cur_hs = hs;
    w->cur_flow = f;
    w->cur_client_side = client_side;
    if (s->bl) bl_observe(s->bl, hs, f, client_side, w->verdict.watched, on_bl_alert, w);
    if (s->trig) ptrig_handshake(s->trig, s->ps, s->re, hs, f, client_side, &w->verdict, w->hs_id);
    judge_unlock(s);
    /* built beside other workers, never beside a judge: its SCT statuses and log names */
    pthread_rwlock_rdlock(&s->judge);
    bool built = ev_tls_build(&w->ev, &s->ctx, hs, f, client_side, w->hs_id, &w->verdict);
    judge_unlock(s);
    pthread_mutex_lock(&s->out_mu);
    if (!built) {
        w->events_dropped++;
        fprintf(stderr, "mitmwatch: a handshake event exceeded %u bytes and was dropped\n",
                EVENT_MAX);
    } else {
        out_event ev = {.json = (const char *)w->ev.data,
                        .len = w->ev.len,
                        .kind = OUT_KIND_EVENT,
                        .dataset = "mitmwatch.tls"};
        out_emit(s->outs, &ev);
    }
    for (int i = 0; i < w->npending; i++) {
        out_event ev = {.json = w->pending[i].json,
                        .len = w->pending[i].len,
                        .kind = OUT_KIND_ALERT,
                        .dataset = "mitmwatch.alert",
                        .severity = w->pending[i].severity,
                        .rule_id = w->pending[i].rule_id};
        out_emit(s->outs, &ev);
    }
    pthread_mutex_unlock(&s->out_mu);
    for (int i = 0; i < w->npending; i++) {
        sum_alert(s, w->pending[i].rule_id);
        free(w->pending[i].json);
    }
    w->npending = 0;
}

/* An alert with no handshake event to wait for goes out at once: tls.starttls_missing, a
 * tls.injection found after the verdict, a scheduled fetch's certificate rules. */
static void on_alert_now(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int client_side,
                         void *user) {
    sensor_worker *w = user;
    sensor *s = w->s;
    if (!ev_alert_verdict_build(&w->abuf, &s->ctx, a, hs, f, client_side, a->ts_us, w->link_id)) {
        w->events_dropped++;
        return;
    }
    out_event ev = {.json = (const char *)w->abuf.data,
                    .len = w->abuf.len,
                    .kind = OUT_KIND_ALERT,
                    .dataset = "mitmwatch.alert",
                    .severity = a->severity,
                    .rule_id = a->rule_id};
    emit_locked(s, &ev);
    sum_alert(s, a->rule_id);
}

/* ---- the judge stage ---- */

/* On worker w's thread: is its judging handed to the judge thread? */
static bool handed(const sensor_worker *w) {
    return w->s->judge_on && w->idx < w->s->nw;
}

/* Out of memory for a request: what it would have judged is lost, counted and said. */
static void jr_lost(sensor_worker *w) {
    w->events_dropped++;
    fprintf(stderr, "mitmwatch: out of memory: something was not judged\n");
}

/* A request for what worker w's current record raised, with a copy of the flow (NULL: lost). */
static judge_req *jr_new(sensor_worker *w, jr_type type, const cap_flow *f, int client_side) {
    judge_req *r = malloc(sizeof *r);
    if (!r) {
        jr_lost(w);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->type = type;
    r->idx = wk_pool_cur(w->s->pool, w->idx);
    r->client_side = client_side;
    r->flow = *f;
    for (int k = 0; k < 2; k++) {
        cap_stream *st = &r->flow.stream[k];
        const cap_conflict *c = cap_flow_conflict(f, k);
        memset(&st->buf, 0, sizeof st->buf);
        st->ooo = NULL;
        st->hist = NULL;
        st->conflict = NULL;
        if (c) {
            r->conflict[k] = *c;
            st->conflict = &r->conflict[k];
        }
    }
    r->flow.app = NULL;
    return r;
}

static void jr_free(sensor *s, judge_req *r) {
    tls_hs_release(&r->hs, s->certs); /* nothing but for JR_HS */
    free(r);
}

static void jq_push(sensor_worker *w, judge_req *r) {
    sensor *s = w->s;
    judge_q *q = &s->jq[w->idx];
    uint64_t t = atomic_load(&q->tail);
    while (t - atomic_load(&q->head) >= JQ_CAP) {
        pthread_mutex_lock(&s->jmu);
        atomic_store(&q->prod_waiting, 1);
        if (t - atomic_load(&q->head) >= JQ_CAP) {
            struct timespec ts;
            wk_deadline_ms(&ts, 1);
            pthread_cond_timedwait(&s->jpcv, &s->jmu, &ts);
        }
        atomic_store(&q->prod_waiting, 0);
        pthread_mutex_unlock(&s->jmu);
    }
    q->slot[t % JQ_CAP] = r;
    atomic_fetch_add(&s->jr_pushed, 1);
    atomic_store(&q->tail, t + 1); /* before the worker's next record is published as begun */
    if (atomic_load(&s->judge_idle)) {
        pthread_mutex_lock(&s->jmu);
        pthread_cond_signal(&s->jcv);
        pthread_mutex_unlock(&s->jmu);
    }
}

/* Different bytes at sequence numbers already judged (the handshake event is out): the
 * tls.injection alert goes out at once, with the flow fields only. */
static void judge_conflict(sensor_worker *w, const cap_conflict *c, const cap_flow *f, int side,
                           int client_side) {
    judge_wrlock(w);
    rule_judge_conflict(w->s->re, NULL, f, client_side, side, c, on_alert_now, w, NULL);
    judge_unlock(w->s);
}

static void judge_plain(sensor_worker *w, const an_plain *p, const cap_flow *f, int client_side) {
    judge_wrlock(w);
    rule_judge_plaintext(w->s->re, p, f, client_side, on_alert_now, w);
    judge_unlock(w->s);
}

/* What a request asks, judged on the judge thread exactly as a worker would have. */
static void jr_judge(sensor *s, judge_req *r) {
    sensor_worker *w = &s->jw;
    switch (r->type) {
    case JR_HS:
        judge_handshake(w, &r->hs, &r->flow, r->client_side);
        break;
    case JR_CONFLICT:
        judge_conflict(w, &r->conflict[r->side], &r->flow, r->side, r->client_side);
        break;
    case JR_PLAIN:
        judge_plain(w, &r->plain, &r->flow, r->client_side);
        break;
    }
}

/* The head of worker i's queue (NULL: empty). */
static judge_req *jq_head(sensor *s, unsigned i) {
    judge_q *q = &s->jq[i];
    uint64_t h = atomic_load(&q->head);
    return h == atomic_load(&q->tail) ? NULL : q->slot[h % JQ_CAP];
}

#define JUDGE_CPU_EVERY 64u /* the judge thread's CPU time is read every this many requests */

static void judge_cpu_note(sensor *s) {
    atomic_store_explicit(&s->judge_cpu_ns, wk_thread_cpu_ns(), memory_order_relaxed);
}

static void *judge_main(void *arg) {
    sensor *s = arg;
    unsigned judged = 0;
    for (;;) {
        unsigned from = 0;
        uint64_t best = WK_IDLE;
        for (unsigned i = 0; i < s->nw; i++) {
            judge_req *r = jq_head(s, i);
            if (r && r->idx < best) {
                best = r->idx;
                from = i;
            }
        }
        if (best == WK_IDLE) { /* nothing handed: wait for work, or the end */
            judge_cpu_note(s);
            pthread_mutex_lock(&s->jmu);
            pthread_cond_broadcast(&s->jdcv);
            atomic_store(&s->judge_idle, 1);
            bool stop = atomic_load(&s->judge_stop);
            if (!stop && atomic_load(&s->jr_done) == atomic_load(&s->jr_pushed)) {
                struct timespec ts;
                wk_deadline_ms(&ts, 1);
                pthread_cond_timedwait(&s->jcv, &s->jmu, &ts);
            }
            atomic_store(&s->judge_idle, 0);
            pthread_mutex_unlock(&s->jmu);
            if (stop && atomic_load(&s->jr_done) == atomic_load(&s->jr_pushed)) break;
            continue;
        }
        /* every other worker past record best: what it raised before it is in its queue */
        for (unsigned j = 0; j < s->nw; j++)
            if (j != from) wk_pool_wait_passed(s->pool, j, best);
        bool earlier = false;
        for (unsigned i = 0; i < s->nw && !earlier; i++) {
            judge_req *r = i == from ? NULL : jq_head(s, i);
            earlier = r && r->idx < best;
        }
        if (earlier) continue;
        judge_q *q = &s->jq[from];
        uint64_t h = atomic_load(&q->head);
        judge_req *r = q->slot[h % JQ_CAP];
        jr_judge(s, r);
        jr_free(s, r);
        if (++judged % JUDGE_CPU_EVERY == 0) judge_cpu_note(s);
        atomic_store(&q->head, h + 1);
        atomic_fetch_add(&s->jr_done, 1);
        if (atomic_load(&q->prod_waiting)) {
            pthread_mutex_lock(&s->jmu);
            pthread_cond_broadcast(&s->jpcv);
            pthread_mutex_unlock(&s->jmu);
        }
    }
    mw_hash_thread_cleanup(); /* the digest contexts this thread used */
    judge_cpu_note(s);
    return NULL;
}

/* After wk_pool_sync (nothing more is handed): returns once the judge has judged it all. */
static void judge_sync(sensor *s) {
    if (!s->judge_on) return;
    pthread_mutex_lock(&s->jmu);
    while (atomic_load(&s->jr_done) != atomic_load(&s->jr_pushed)) {
        pthread_cond_signal(&s->jcv);
        struct timespec ts;
        wk_deadline_ms(&ts, 1);
        pthread_cond_timedwait(&s->jdcv, &s->jmu, &ts);
    }
    pthread_mutex_unlock(&s->jmu);
}

static bool judge_start(sensor *s) {
    s->jq = calloc(s->nw, sizeof *s->jq);
    if (!s->jq) return false;
    sensor_worker *w = &s->jw;
    w->s = s;
    w->idx = WK_MAX + 1; /* no worker's: handed() is false for it */
    mw_buf_init(&w->ev, EVENT_MAX);
    mw_buf_init(&w->abuf, EVENT_MAX);
    pthread_mutex_init(&s->jmu, NULL);
    pthread_cond_init(&s->jcv, NULL);
    pthread_cond_init(&s->jpcv, NULL);
    pthread_cond_init(&s->jdcv, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals reach the main thread */
    bool ok = pthread_create(&s->judge_th, NULL, judge_main, s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        free(s->jq);
        s->jq = NULL;
        return false;
    }
    s->judge_on = true;
    s->judge_ran = true;
    return true;
}

/* After wk_pool_sync: judges what is left, ends the thread; judging is inline again. */
static void judge_stop(sensor *s) {
    if (!s->judge_on) return;
    judge_sync(s);
    atomic_store(&s->judge_stop, 1);
    pthread_mutex_lock(&s->jmu);
    pthread_cond_signal(&s->jcv);
    pthread_mutex_unlock(&s->jmu);
    pthread_join(s->judge_th, NULL);
    s->judge_on = false;
    mw_buf_free(&s->jw.ev);
    mw_buf_free(&s->jw.abuf);
    pthread_mutex_destroy(&s->jmu);
    pthread_cond_destroy(&s->jcv);
    pthread_cond_destroy(&s->jpcv);
    pthread_cond_destroy(&s->jdcv);
    free(s->jq);
    s->jq = NULL;
}

static void on_handshake(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    sensor_worker *w = user;
    if (!handed(w)) {
        judge_handshake(w, hs, f, client_side);
        return;
    }
    judge_req *r = jr_new(w, JR_HS, f, client_side);
    if (!r) return;
    if (!tls_hs_copy(&r->hs, hs)) {
        free(r);
        jr_lost(w);
        return;
    }
    jq_push(w, r);
}

static void on_conflict(const cap_conflict *c, const cap_flow *f, int side, int client_side,
                        void *user) {
    sensor_worker *w = user;
    if (!w->s->re) return;
    if (!handed(w)) {
        judge_conflict(w, c, f, side, client_side);
        return;
    }
    judge_req *r = jr_new(w, JR_CONFLICT, f, client_side);
    if (!r) return;
    r->side = side;
    r->conflict[side] = *c;
    r->flow.stream[side].conflict = &r->conflict[side];
    jq_push(w, r);
}

static void on_plaintext(const an_plain *p, const cap_flow *f, int client_side, void *user) {
    sensor_worker *w = user;
    if (!w->s->re) return;
    if (!handed(w)) {
        judge_plain(w, p, f, client_side);
        return;
    }
    judge_req *r = jr_new(w, JR_PLAIN, f, client_side);
    if (!r) return;
    r->plain = *p;
    jq_push(w, r);
}

/* The sensor admits blindness: packets the kernel dropped, flows evicted from a full table and
 * reassembly or handshake caps reached since the last report each raise an alert naming the
 * counters that moved (the tables of output/ev_sensor.c) and, for a per-flow cap, the flow. */
static void sensor_alert(sensor *s, uint64_t ts_us, ev_sensor_kind kind, const ev_sensor_src *src,
                         ev_sensor_counts *last, const an_overload_flow *flow) {
    ev_sensor_counts now;
    out_event ev;
    ev_sensor_read(kind, src, &now);
    if (ev_sensor_build(&s->mainw.ev, &s->ctx, ts_us, kind, last, &now, flow, &ev)) {
        emit_locked(s, &ev);
        sum_alert(s, ev.rule_id);
    }
    *last = now;
}

/* Under the judge lock (the verdicts' counters are read). flow: the one flow behind a per-flow
 * cap, or NULL. */
static void sensor_alerts(sensor *s, uint64_t ts_us, const cap_stats *cs, const an_stats *as,
                          const an_overload_flow *flow) {
    ev_sensor_src src = {.cs = cs, .as = as, .rs = s->re ? rule_engine_stats(s->re) : NULL};
    sensor_alert(s, ts_us, EV_SENSOR_DROPS, &src, &s->last_drops, NULL);
    sensor_alert(s, ts_us, EV_SENSOR_OVERLOAD, &src, &s->last_overload, flow);
    out_event ev;
    /* sensor.undecoded: over 1% of this interval's packets could not be decoded */
    uint64_t by[CAP_UNDEC_COUNT], d[CAP_UNDEC_COUNT], undec = 0;
    cap_stats_undecoded(cs, by);
    for (int i = 0; i < CAP_UNDEC_COUNT; i++) {
        d[i] = by[i] - s->last_undecoded[i];
        undec += d[i];
        s->last_undecoded[i] = by[i];
    }
    uint64_t packets = cs->packets - s->last_packets;
    s->last_packets = cs->packets;
    if (undec > 0 && undec * 100 > packets &&
        ev_sensor_undecoded_build(&s->mainw.ev, &s->ctx, ts_us, undec, packets, d, &ev)) {
        emit_locked(s, &ev);
        sum_alert(s, "sensor.undecoded");
    }
}

/* Sums the counters of b into a (the gauges too: the whole sensor's). */
static void add_cap_stats(cap_stats *a, const cap_stats *b) {
    a->packets += b->packets;
    a->bytes += b->bytes;
    a->tcp_packets += b->tcp_packets;
    a->tcp_payload_bytes += b->tcp_payload_bytes;
    a->non_tcp += b->non_tcp;
    a->tunneled += b->tunneled;
    a->ip_reassembled += b->ip_reassembled;
    a->flows_created += b->flows_created;
    a->flows_closed += b->flows_closed;
    a->flows_timed_out += b->flows_timed_out;
    a->flows_evicted += b->flows_evicted;
    a->flows_active += b->flows_active;
    a->flows_bypassed += b->flows_bypassed;
    a->reasm_bytes_in_use += b->reasm_bytes_in_use;
    a->pcap_recv += b->pcap_recv;
    a->pcap_drop += b->pcap_drop;
    a->pcap_ifdrop += b->pcap_ifdrop;
    /* checksums: the mode is everyone's; the first worker's sample tells the state */
    if (!a->csum.sampled && !a->csum.state) {
        a->csum.mode = b->csum.mode;
        a->csum.state = b->csum.state;
    }
    a->csum.sampled += b->csum.sampled;
    a->csum.sample_offload += b->csum.sample_offload;
    a->csum.sample_bad += b->csum.sample_bad;
    a->csum.unverified += b->csum.unverified;
    for (int i = 0; i < CAP_AN_COUNT; i++)
        a->an[i] += b->an[i];
}

/* an_stats is all uint64_t counters (asserted): summed field by field as an array, so a new
 * counter is summed without a line here. */
static void add_an_stats(an_stats *a, const an_stats *b) {
    _Static_assert(sizeof(an_stats) % sizeof(uint64_t) == 0, "an_stats: uint64_t counters only");
    uint64_t *pa = (uint64_t *)(void *)a;
    const uint64_t *pb = (const uint64_t *)(const void *)b;
    for (size_t i = 0; i < sizeof(an_stats) / sizeof(uint64_t); i++)
        pa[i] += pb[i];
}

/* The threads' CPU time, read on the main thread (emit_stats and emit_stats_workers run there). */
static ev_stats_cpu stats_cpu(sensor *s) {
    ev_stats_cpu c = {.main_ns = wk_thread_cpu_ns()};
    if (s->judge_ran) {
        c.judge = true;
        c.judge_ns = atomic_load_explicit(&s->judge_cpu_ns, memory_order_relaxed);
    }
    return c;
}

/* The stats of several workers: each one's share, summed, with the shared certificate
 * cache's counters. direct: the workers are idle (synced or joined) and their engines and
 * sockets are read here; else their last published counters (live). */
static void emit_stats_workers(sensor *s, uint64_t ts_us, bool final, bool direct) {
    cap_stats *wcs = calloc(s->nw, sizeof *wcs);
    an_stats *was = calloc(s->nw, sizeof *was);
    ev_stats_worker *ws = calloc(s->nw, sizeof *ws);
    if (!wcs || !was || !ws) {
        free(wcs);
        free(was);
        free(ws);
        return;
    }
    cap_stats cs;
    an_stats as;
    memset(&cs, 0, sizeof cs);
    memset(&as, 0, sizeof as);
    for (unsigned i = 0; i < s->nw; i++) {
        sensor_worker *w = &s->w[i];
        if (direct) {
            wcs[i] = *an_engine_cap_stats(w->eng);
            was[i] = *an_engine_stats(w->eng);
            wcs[i].pcap_recv = wcs[i].pcap_drop = wcs[i].pcap_ifdrop = 0;
            for (int k = 0; s->live && k < s->o->nifaces; k++)
                cap_source_stats(&wk_live_sources(s->live, i)[k], &wcs[i]);
        } else {
            pthread_mutex_lock(&w->snap_mu);
            wcs[i] = w->snap_cs;
            was[i] = w->snap_as;
            pthread_mutex_unlock(&w->snap_mu);
        }
        add_cap_stats(&cs, &wcs[i]);
        add_an_stats(&as, &was[i]);
        ws[i].cs = &wcs[i];
        ws[i].as = &was[i];
        ws[i].judge_waits = __atomic_load_n(&w->judge_waits, __ATOMIC_RELAXED);
        ws[i].ring_waits = s->pool ? wk_pool_idle_waits(s->pool, i) : 0;
        ws[i].turn_waits = s->pool ? wk_pool_turn_waits(s->pool, i) : 0;
        ws[i].cpu_ns = s->pool   ? wk_pool_cpu_ns(s->pool, i)
                       : s->live ? wk_live_cpu_ns(s->live, i)
                                 : 0;
    }
    ev_stats_cpu cpu = stats_cpu(s);
    x509_cache_stats(s->certs, &as);
    cs.an[CAP_AN_pcap_truncated] += s->pcap_truncated;
    /* The one flow behind a per-flow cap: read from the engines only while the workers are
     * idle (live workers keep theirs: the alert then carries no flow fields). */
    an_overload_flow flow, wf;
    memset(&flow, 0, sizeof flow);
    for (unsigned i = 0; direct && i < s->nw; i++) {
        an_engine_take_overload_flow(s->w[i].eng, &wf);
        if (!wf.set) continue;
        if (flow.set)
            flow.several = true;
        else
            flow = wf;
    }
    pthread_rwlock_wrlock(&s->judge); /* rule_engine_stats gathers the verdicts' counters */
    sensor_alerts(s, ts_us, &cs, &as, direct ? &flow : NULL);
    pthread_mutex_lock(&s->out_mu);
    if (ev_stats_build_workers(&s->mainw.ev, &s->ctx, ts_us, &cs, &as, s->outs,
                               s->re ? rule_engine_stats(s->re) : NULL,
                               s->trig ? ptrig_stats(s->trig) : NULL, final, &cpu, ws, s->nw)) {
        out_event ev = {.json = (const char *)s->mainw.ev.data,
                        .len = s->mainw.ev.len,
                        .kind = OUT_KIND_METRIC,
                        .dataset = "mitmwatch.stats"};
        out_emit(s->outs, &ev);
    }
    pthread_mutex_unlock(&s->out_mu);
    judge_unlock(s);
    free(wcs);
    free(was);
    free(ws);
}

static void emit_stats(sensor *s, uint64_t ts_us, bool final) {
    if (s->nw > 1) {
        emit_stats_workers(s, ts_us, final, true);
        return;
    }
    an_engine *eng = s->w[0].eng;
    cap_stats *cs = an_engine_cap_stats(eng);
    cs->pcap_recv = cs->pcap_drop = cs->pcap_ifdrop = 0;
    for (int i = 0; i < s->nsrcs; i++)
        cap_source_stats(&s->srcs[i], cs);
    cs->an[CAP_AN_pcap_truncated] = s->pcap_truncated;
    an_overload_flow flow;
    an_engine_take_overload_flow(eng, &flow);
    pthread_rwlock_wrlock(&s->judge); /* rule_engine_stats gathers the verdicts' counters */
    sensor_alerts(s, ts_us, cs, an_engine_stats(eng), &flow);
    pthread_mutex_lock(&s->out_mu);
    ev_stats_cpu cpu = stats_cpu(s);
    if (ev_stats_build_workers(&s->mainw.ev, &s->ctx, ts_us, cs, an_engine_stats(eng), s->outs,
                               s->re ? rule_engine_stats(s->re) : NULL,
                               s->trig ? ptrig_stats(s->trig) : NULL, final, &cpu, NULL, 0)) {
        out_event ev = {.json = (const char *)s->mainw.ev.data,
                        .len = s->mainw.ev.len,
                        .kind = OUT_KIND_METRIC,
                        .dataset = "mitmwatch.stats"};
        out_emit(s->outs, &ev);
    }
    pthread_mutex_unlock(&s->out_mu);
    judge_unlock(s);
}

static uint64_t wall_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void on_frame(void *user, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                     uint32_t wire_len) {
    sensor *s = user;
    s->frames_read++;
    if (s->o->debug_delay_us) usleep(s->o->debug_delay_us);
    an_engine_frame(s->w[0].eng, dlt, ts_us, data, caplen, wire_len);
    if (s->stats_interval_us && !s->srcs[0].live) {
        if (s->next_stats_us == 0)
            s->next_stats_us = ts_us + s->stats_interval_us;
        else if (ts_us >= s->next_stats_us) {
            emit_stats(s, ts_us, false);
            s->next_stats_us = ts_us + s->stats_interval_us;
        }
    }
}

/* Each line of text on stderr as "mitmwatch: PREFIXLINE"; returns the number of lines. */
static unsigned say_lines(const char *prefix, const char *text) {
    unsigned n = 0;
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int len = nl ? (int)(nl - text) : (int)strlen(text);
        fprintf(stderr, "mitmwatch: %s%.*s\n", prefix, len, text);
        n++;
        text = nl ? nl + 1 : text + len;
    }
    return n;
}

/* The policy: the file first, then the flags. */
static bool load_policy(const sensor_opts *o, pol_policy *p, char *err, size_t errlen) {
    pol_policy_init(p);
    if (o->config && !pol_load_file(p, o->config, err, errlen)) return false;
    for (int i = 0; i < o->npol_flags; i++)
        if (!pol_cli_apply(p, o->pol_flags[i].flag, o->pol_flags[i].arg, err, errlen)) return false;
    return true;
}

/* SIGHUP: the policy file, the known store, the anchors and the log list are read again; a
 * bad new policy leaves the running one in place. */
static void reload_policy(sensor *s) {
    pol_policy *np = malloc(sizeof *np);
    char err[4096] = "out of memory";
    pthread_rwlock_wrlock(&s->judge);
    if (!np || !load_policy(s->o, np, err, sizeof err) ||
        !ps_set_policy(s->ps, np, false, err, sizeof err) ||
        !rule_engine_reload(s->re, np, err, sizeof err)) {
        fprintf(stderr, "mitmwatch: reload failed, keeping the old policy:\n");
        say_lines("", err);
        if (np) pol_policy_free(np);
        free(np);
        judge_unlock(s);
        return;
    }
    (void)ps_set_policy(s->ps, np, true, err, sizeof err); /* checked above */
    say_lines("warning: ", rule_engine_warnings(s->re));
    pol_policy_free(s->pol);
    free(s->pol);
    s->pol = np;
    judge_unlock(s);
}

/* The fetched handshake as the rule engine sees a passive one: the probe's own connection is
 * the flow (client: the sensor's address; server: the target's), judged at the wall clock by
 * every certificate rule (issuer, chain, name, SCTs, pins, known store, CT cache), under the
 * same duplicate suppression as passive alerts. */
static void judge_fetched_hs(sensor *s, pcert_result *r) {
    if (!r->hs || !r->hs->have_sh) return;
    cap_flow f;
    memset(&f, 0, sizeof f);
    int fam = r->family == AF_INET6 ? AF_INET6 : AF_INET;
    f.key.ip_ver = fam == AF_INET6 ? 6 : 4;
    if (inet_pton(fam, r->local_ip, f.key.addr[0]) != 1 ||
        inet_pton(fam, r->peer_ip, f.key.addr[1]) != 1)
        return;
    f.key.port[0] = r->local_port;
    f.key.port[1] = r->peer_port;
    uint64_t now = wall_us();
    r->hs->ts_us = now;
    rule_judge_verdict(s->re, r->hs, &f, 0, now, on_alert_now, &s->mainw, NULL);
}

/* A fetched certificate not in the known store: someone else's certificate answers for the
 * service (probe.cert_mismatch, once per suppression window for a target and certificate).
 * Judged here, where the policy lives; then the whole fetch as a handshake (judge_fetched_hs). */
static void judge_fetched_cert(sensor *s, const ps_cert *c) {
    if (c->fetched && s->re) judge_fetched_hs(s, c->fetched);
    if (!c->has_leaf || rule_engine_known(s->re, c->sha256, c->tbs_sha256) != 0)
        return; /* known, or no store configured */
    char key[400], hex[65];
    mw_hex(hex, c->sha256, 32);
    snprintf(key, sizeof key, "%s %s", c->target, hex);
    uint64_t now = wall_us(), prior;
    if (!rule_engine_suppress(s->re, "probe.cert_mismatch", key, now, &prior)) return;
    ev_sched_target t = {
        .host = c->host, .port = c->port, .text = c->target, .handshake_id = s->mainw.link_id};
    out_event ev;
    if (ev_sched_cert_mismatch_build(&s->mainw.ev, &s->ctx, now, &t, c->subject, c->sha256,
                                     rule_engine_stats(s->re)->store_certs, &ev))
        emit_locked(s, &ev);
}

/* Probe alerts (probe.failed...) come finished from the worker: here they pass the duplicate
 * suppression of every other alert, keyed by probe kind and target. */
static void on_probe_event(void *user, const out_event *ev, const ps_cert *cert) {
    sensor *s = user;
    uint64_t prior;
    pthread_rwlock_wrlock(&s->judge);
    if (cert && cert->key[0] && ev->rule_id && s->re &&
        !rule_engine_suppress(s->re, ev->rule_id, cert->key, wall_us(), &prior)) {
        judge_unlock(s);
        return;
    }
    emit_locked(s, ev);
    if (cert && !cert->key[0]) {
        s->mainw.link_id = cert->triggered ? cert->trig.handshake_id : NULL;
        judge_fetched_cert(s, cert);
        s->mainw.link_id = NULL;
    }
    judge_unlock(s);
}

/* --state: the learned baselines (and the probes' learned paths) written atomically (bl_save:
 * write, fsync, rename). A failed save is said once and tried again at the next occasion. */
static bool save_state(sensor *s) {
    char err[512];
    if (!s->o->state_path) return true;
    pthread_rwlock_wrlock(&s->judge);    /* one view of every worker's learning */
    (void)ps_save_learned(s->ps, s->bl); /* a full trace table is said at exit */
    bool saved = bl_save(s->bl, s->o->state_path, err, sizeof err);
    judge_unlock(s);
    if (!saved) {
        if (!s->save_failing) fprintf(stderr, "mitmwatch: %s\n", err);
        s->save_failing = true;
        return false;
    }
    if (s->save_failing)
        fprintf(stderr, "mitmwatch: state file %s written again\n", s->o->state_path);
    s->save_failing = false;
    return true;
}

static uint64_t wall_us(void);

/* Every --state-interval (wall time, also while reading files): a crash or an OOM kill loses
 * at most that much learning. */
static void maybe_save_state(sensor *s) {
    if (!s->o->state_path || !s->o->state_interval_us) return;
    uint64_t now = wall_us();
    if (s->next_save_us == 0) s->next_save_us = now + s->o->state_interval_us;
    if (now < s->next_save_us) return;
    (void)save_state(s);
    s->next_save_us = now + s->o->state_interval_us;
}

static void service_signals(sensor *s) {
    if (g_hup) {
        g_hup = 0;
        pthread_mutex_lock(&s->out_mu);
        out_reopen(s->outs);
        pthread_mutex_unlock(&s->out_mu);
        reload_policy(s);
        (void)save_state(s);
    }
    if (g_usr1) {
        g_usr1 = 0;
        (void)save_state(s);
    }
    maybe_save_state(s);
}

/* The state file's folder must take a new file now (not only at exit, after the whole run),
 * and for --user NAME by that user, who writes it after privileges are dropped. */
static bool state_dir_ok(const char *path, const char *user, bool user_default, char *err,
                         size_t errlen) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.mitmwatch-state-check.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write state file %s: %s", path, strerror(errno));
        return false;
    }
    close(fd);
    unlink(probe);
    if (!user) return true;
    struct passwd *pw = getpwnam(user);
    struct stat st;
    if (!pw || pw->pw_uid == 0 || stat(dir, &st) != 0) return true; /* --user says the rest */
    mode_t need = S_IWOTH | S_IXOTH;
    if (st.st_uid == pw->pw_uid) {
        need = S_IWUSR | S_IXUSR;
    } else {
        gid_t groups[256];
        int ng = 256;
        bool member = st.st_gid == pw->pw_gid;
        if (!member && getgrouplist(user, pw->pw_gid, groups, &ng) >= 0)
            for (int i = 0; i < ng && !member; i++)
                member = groups[i] == st.st_gid;
        if (member) need = S_IWGRP | S_IXGRP;
    }
    if ((st.st_mode & need) != need) {
        snprintf(err, errlen, "cannot write state file %s: its folder %s is not writable by %s%s%s",
                 path, dir, user_default ? "" : "--user ", user,
                 user_default ? ", the user live capture drops to by default (--user NAME names "
                                "another)"
                              : "");
        return false;
    }
    return true;
}

static void out_tick_locked(sensor *s) {
    pthread_mutex_lock(&s->out_mu);
    out_tick(s->outs);
    pthread_mutex_unlock(&s->out_mu);
}

/* ---- workers (--workers N > 1; workers.h) ---- */

static void worker_frame(void *user, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                         uint32_t wire_len) {
    sensor_worker *w = user;
    if (w->s->o->debug_delay_us) usleep(w->s->o->debug_delay_us);
    if (w->s->o->debug_reader_only) return; /* the reader's ceiling, for the bench */
    an_engine_frame(w->eng, dlt, ts_us, data, caplen, wire_len);
}

static void worker_tick(void *user, uint64_t ts_us) {
    sensor_worker *w = user;
    an_engine_tick(w->eng, ts_us);
}

/* A live worker's counters, published for the main thread's periodic stats. */
static void worker_poll(void *user, cap_source *srcs, int n) {
    sensor_worker *w = user;
    cap_stats cs = *an_engine_cap_stats(w->eng);
    cs.pcap_recv = cs.pcap_drop = cs.pcap_ifdrop = 0;
    for (int k = 0; k < n; k++)
        cap_source_stats(&srcs[k], &cs);
    pthread_mutex_lock(&w->snap_mu);
    w->snap_cs = cs;
    w->snap_as = *an_engine_stats(w->eng);
    pthread_mutex_unlock(&w->snap_mu);
}

/* -r with workers: this thread reads and routes. Capture time, a file's clock, reaches every
 * worker each second (their flows expire even when no packet of theirs comes); a stats event
 * waits until every worker has judged every packet before it. */
static void reader_frame(void *user, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                         uint32_t wire_len) {
    sensor *s = user;
    s->frames_read++;
    if (ts_us > s->reader_now_us) s->reader_now_us = ts_us;
    if (s->reader_now_us >= s->next_tick_us) {
        if (s->next_tick_us) wk_pool_tick(s->pool, s->reader_now_us);
        s->next_tick_us = s->reader_now_us + 1000000u;
    }
    wk_pool_frame(s->pool, dlt, ts_us, data, caplen, wire_len);
    if (s->stats_interval_us) {
        if (s->next_stats_us == 0)
            s->next_stats_us = ts_us + s->stats_interval_us;
        else if (ts_us >= s->next_stats_us) {
            wk_pool_sync(s->pool);
            judge_sync(s);
            emit_stats(s, ts_us, false);
            s->next_stats_us = ts_us + s->stats_interval_us;
        }
    }
}

static void start_event(sensor *s, const sensor_opts *o);

static int run_live_workers(sensor *s, const sensor_opts *o) {
    char err[512];
    wk_live_cfg lc = {.n = s->nw,
                      .ifaces = o->ifaces,
                      .nifaces = o->nifaces,
                      .bpf = o->bpf,
                      .snaplen = 65535,
                      .buffer_bytes = (int)o->capture_buffer,
                      .on_frame = worker_frame,
                      .on_poll = worker_poll,
                      .users = s->users};
    s->live = wk_live_open(&lc, err, sizeof err);
    if (!s->live) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        return 2;
    }
    /* Everything privileged is open now (the fanout sockets, the probes' raw sockets). */
    const struct passwd *pw = o->user && geteuid() == 0 ? getpwnam(o->user) : NULL;
    if (pw) out_give_files(s->outs, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
    if (o->user && trace_drop_privileges(o->user, err, sizeof err) != MW_OK) {
        fprintf(stderr, "mitmwatch: %s %s: %s\n", o->user_default ? "user" : "--user", o->user,
                err);
        return 1;
    }
    if (!wk_live_start(s->live, err, sizeof err)) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        return 1;
    }
    start_event(s, o);
    s->started = true;
    s->next_stats_us = wall_us() + s->stats_interval_us;
    int rc = 0;
    while (!g_stop) {
        (void)poll(NULL, 0, 200); /* a signal cuts it short */
        if (wk_live_failed(s->live, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            rc = 1;
            break;
        }
        service_signals(s);
        ps_drain(s->ps, on_probe_event, s);
        out_tick_locked(s);
        uint64_t now = wall_us();
        if (s->stats_interval_us && now >= s->next_stats_us) {
            emit_stats_workers(s, now, false, false);
            pthread_mutex_lock(&s->out_mu);
            out_flush(s->outs);
            pthread_mutex_unlock(&s->out_mu);
            s->next_stats_us = now + s->stats_interval_us;
        }
    }
    wk_live_stop(s->live);
    return rc;
}

static int read_files(sensor *s, const sensor_opts *o) {
    char err[512];
    for (int i = 0; i < o->nfiles && !g_stop; i++) {
        cap_source *src = &s->srcs[0];
        s->nsrcs = 0;
        if (!cap_source_open_file(src, o->files[i], err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            return 2;
        }
        if (!src->ng && !cap_linktype_supported(src->dlt)) {
            fprintf(stderr, "mitmwatch: %s: link type %s (%d) is not supported\n", o->files[i],
                    pcap_datalink_val_to_name(src->dlt) ? pcap_datalink_val_to_name(src->dlt) : "?",
                    src->dlt);
            cap_source_close(src);
            return 2;
        }
        if (o->bpf && !cap_source_filter(src, o->bpf, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            cap_source_close(src);
            return 2;
        }
        s->started = true;
        g_current = src;
        uint64_t before = s->frames_read;
        int rc = 0;
        for (;;) {
            int n = cap_source_dispatch(src, 4096, s->pool ? reader_frame : on_frame, s, err,
                                        sizeof err);
            service_signals(s);
            out_tick_locked(s);
            if (n == -1 || n == -3 || g_stop) break;
            if (n == -2) {
                if (s->frames_read == before) {
                    /* nothing of it could be read: the caller must know it was skipped */
                    fprintf(stderr, "mitmwatch: cannot read %s\n", err);
                    rc = 2;
                } else {
                    /* A truncated file ends in an error after its good packets: counted,
                     * reported, and the next file read. */
                    s->pcap_truncated++;
                    fprintf(stderr,
                            "mitmwatch: %s (truncated or damaged: the %llu packets before it "
                            "were read)\n",
                            err, (unsigned long long)(s->frames_read - before));
                }
                break;
            }
        }
        g_current = NULL;
        cap_source_close(src);
        if (rc) return rc;
    }
    return 0;
}

const char *sensor_default_user(void) {
    if (getpwnam(SENSOR_DEFAULT_USER)) return SENSOR_DEFAULT_USER;
    return getpwnam("nobody") ? "nobody" : NULL;
}

/* mitmwatch.sensor "start": who the capture runs as, once privileges are dropped (or kept,
 * with a warning on stderr too). */
static void start_event(sensor *s, const sensor_opts *o) {
    char warning[300];
    const struct passwd *pw = getpwuid(getuid());
    ev_sensor_start st = {.user = pw ? pw->pw_name : NULL,
                          .uid = (unsigned)getuid(),
                          .gid = (unsigned)getgid(),
                          .dropped = o->user != NULL};
    if (!o->user) {
        snprintf(warning, sizeof warning,
                 "--no-drop-privileges: the capture keeps running as uid %u with its "
                 "capabilities; packets from the network are parsed with them",
                 st.uid);
        fprintf(stderr, "mitmwatch: warning: %s\n", warning);
        st.warning = warning;
    }
    out_event ev;
    if (ev_sensor_start_build(&s->mainw.ev, &s->ctx, wall_us(), &st, &ev))
        emit_locked(s, &ev);
    else
        s->mainw.events_dropped++;
}

static int run_files(sensor *s, const sensor_opts *o) {
    if (s->nw == 1) return read_files(s, o);
    char err[512];
    wk_pool_cfg pc = {.n = s->nw,
                      .on_frame = worker_frame,
                      .on_tick = worker_tick,
                      .users = s->users,
                      /* 64 MiB of rings in all, at most 4 MiB each */
                      .ring_bytes = s->nw <= 16 ? 4u << 20 : (64u << 20) / s->nw};
    /* in input order: the judge stage (judge_main); --debug-unordered: each worker judges */
    if (!o->debug_unordered && !judge_start(s)) {
        fprintf(stderr, "mitmwatch: cannot start the judge thread\n");
        return 1;
    }
    s->pool = wk_pool_start(&pc, err, sizeof err);
    if (!s->pool) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        judge_stop(s);
        return 1;
    }
    int rc = read_files(s, o);
    wk_pool_sync(s->pool); /* what was read is judged, also after an error */
    judge_stop(s);
    return rc;
}

static int run_live(sensor *s, const sensor_opts *o) {
    char err[512];
    struct pollfd pfd[SENSOR_MAX_SOURCES];
    for (int i = 0; i < o->nifaces; i++) {
        if (!cap_source_open_live(&s->srcs[i], o->ifaces[i], o->bpf, 65535, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            return 2;
        }
        s->nsrcs = i + 1;
        if (!cap_linktype_supported(s->srcs[i].dlt)) {
            fprintf(stderr, "mitmwatch: %s: link type %d is not supported\n", o->ifaces[i],
                    s->srcs[i].dlt);
            return 2;
        }
        pfd[i].fd = pcap_get_selectable_fd(s->srcs[i].p);
        pfd[i].events = POLLIN;
        pcap_setnonblock(s->srcs[i].p, 1, err);
    }
    /* Everything privileged is open now (pcap handles, the probes' raw sockets). */
    const struct passwd *pw = o->user && geteuid() == 0 ? getpwnam(o->user) : NULL;
    if (pw) out_give_files(s->outs, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
    if (o->user && trace_drop_privileges(o->user, err, sizeof err) != MW_OK) {
        fprintf(stderr, "mitmwatch: %s %s: %s\n", o->user_default ? "user" : "--user", o->user,
                err);
        return 1;
    }
    start_event(s, o);
    s->started = true;
    s->next_stats_us = wall_us() + s->stats_interval_us;
    while (!g_stop) {
        int r = poll(pfd, (nfds_t)s->nsrcs, 200);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "mitmwatch: poll: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < s->nsrcs && !g_stop; i++) {
            short ev = pfd[i].revents;
            if (r > 0 && !(ev & (POLLIN | POLLERR | POLLHUP | POLLNVAL))) continue;
            g_current = &s->srcs[i];
            int n = cap_source_dispatch(&s->srcs[i], 4096, on_frame, s, err, sizeof err);
            g_current = NULL;
            if (n == -2) {
                fprintf(stderr, "mitmwatch: %s\n", err);
                return 1;
            }
            if (n <= 0 && (ev & (POLLERR | POLLHUP | POLLNVAL))) {
                /* The interface went away (unplugged, deleted, its namespace gone): a sensor
                 * that spins on a dead socket sees nothing, so say so and stop. */
                fprintf(stderr, "mitmwatch: %s: the capture interface is gone\n", s->srcs[i].name);
                return 1;
            }
        }
        service_signals(s);
        ps_drain(s->ps, on_probe_event, s);
        out_tick_locked(s);
        uint64_t now = wall_us();
        if (s->stats_interval_us && now >= s->next_stats_us) {
            emit_stats(s, now, false);
            out_flush(s->outs);
            s->next_stats_us = now + s->stats_interval_us;
        }
    }
    return 0;
}

int sensor_run(sensor_opts *o) {
    if (!mw_hash_init()) {
        fprintf(stderr, "mitmwatch: OpenSSL has no SHA-256/MD5 (default provider missing)\n");
        return 1;
    }

    char err[4096];
    cap_source srcs[SENSOR_MAX_SOURCES];
    memset(srcs, 0, sizeof srcs);
    sensor s = {.stats_interval_us = o->stats_interval_us, .srcs = srcs, .o = o};
    s.nw = o->workers ? o->workers : wk_default_count();
    if (s.nw > WK_MAX) s.nw = WK_MAX;
    pthread_rwlock_init(&s.judge, NULL);
    pthread_mutex_init(&s.out_mu, NULL);
    pthread_mutex_init(&s.sum_mu, NULL);
    for (unsigned i = 0; i <= s.nw; i++) {
        sensor_worker *w = i < s.nw ? &s.w[i] : &s.mainw;
        w->s = &s;
        w->idx = i;
        mw_buf_init(&w->ev, EVENT_MAX);
        mw_buf_init(&w->abuf, EVENT_MAX);
        pthread_mutex_init(&w->snap_mu, NULL);
        if (i < s.nw) s.users[i] = w;
    }
    if (o->nfiles && (o->summary > 0 || (o->summary < 0 && isatty(STDERR_FILENO)))) {
        s.sum = summary_new();
        if (!s.sum) fprintf(stderr, "mitmwatch: no memory for the end-of-run summary\n");
    }
    s.pol = calloc(1, sizeof *s.pol);
    if (!s.pol || !load_policy(o, s.pol, err, sizeof err) ||
        !(s.re = rule_engine_new(s.pol, err, sizeof err))) {
        say_lines("", s.pol ? err : "out of memory");
        if (s.pol) pol_policy_free(s.pol);
        free(s.pol);
        return 2;
    }
    say_lines("warning: ", rule_engine_warnings(s.re));
    if (s.pol->observer && !o->observer_given)
        snprintf(o->observer, sizeof o->observer, "%s", s.pol->observer);
    char *state_from_policy = NULL; /* a copy: a reload frees the policy it came from */
    if (s.pol->state && !o->state_path) o->state_path = state_from_policy = strdup(s.pol->state);
    /* The probes and their expected paths are checked before anything else is opened. Live,
     * the scheduler's worker also runs the triggered certificate fetches. */
    bool triggers = o->nfiles == 0 && !o->no_triggers;
    if (o->nprobes || triggers) {
        s.ps = ps_new(o->observer, o->probe_interval_us ? o->probe_interval_us : 3600u * 1000000u,
                      o->probe_interval_us || o->probe_jitter ? o->probe_jitter : 10);
        bool ok = s.ps != NULL;
        snprintf(err, sizeof err, "out of memory");
        for (int i = 0; ok && i < o->nprobes; i++)
            ok = ps_add(s.ps, o->probes[i], s.pol, err, sizeof err);
        if (!ok || !ps_set_policy(s.ps, s.pol, true, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            ps_free(s.ps);
            rule_engine_free(s.re);
            pol_policy_free(s.pol);
            free(s.pol);
            free(state_from_policy);
            return 2;
        }
    }
    ev_tls_set_log_names(rule_engine_log_name, s.re);
    s.ctx.observer = o->observer;
    s.outs = out_set_new();
    if (!s.outs) {
        fprintf(stderr, "mitmwatch: out of memory\n");
        return 1;
    }
    out_set_flush_ms(s.outs, o->flush_ms);
    for (size_t i = 0; o->nouts == 0 && i < s.pol->noutputs && i < SENSOR_MAX_SOURCES; i++)
        o->out_paths[i] = s.pol->outputs[i]; /* the policy's outputs unless -o */
    if (o->nouts == 0 && s.pol->noutputs)
        o->nouts =
            (int)(s.pol->noutputs < SENSOR_MAX_SOURCES ? s.pol->noutputs : SENSOR_MAX_SOURCES);
    if (o->nouts == 0) o->out_paths[o->nouts++] = "-";
    for (int i = 0; i < o->nouts; i++) {
        out_sink_cfg c;
        out_sink_cfg_init(&c);
        if (!out_parse_spec(o->out_paths[i], &c, err, sizeof err) ||
            !out_add(s.outs, &c, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            ps_free(s.ps);
            out_set_free(s.outs);
            return 2;
        }
    }
    s.bl = bl_new(&o->bl);
    if (!s.bl) {
        fprintf(stderr, "mitmwatch: cannot allocate the baselines\n");
        ps_free(s.ps);
        out_set_free(s.outs);
        return 1;
    }
    if (o->state_path &&
        (!bl_load(s.bl, o->state_path, err, sizeof err) ||
         !state_dir_ok(o->state_path, o->user, o->user_default, err, sizeof err))) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        ps_free(s.ps);
        bl_free(s.bl);
        out_set_free(s.outs);
        return 2;
    }
    rule_engine_set_baselines(s.re, s.bl); /* learned TLS versions persist with --state */
    an_engine_cfg ec = {.max_flows = o->max_flows,
                        .no_ndpi = o->no_ndpi,
                        .checksum = o->checksum,
                        .on_conflict = on_conflict,
                        .on_handshake = on_handshake,
                        .on_plaintext = on_plaintext};
    if (s.nw > 1) {
        /* the caps are the sensor's: each worker holds its share of flows and reassembly */
        uint32_t flows = o->max_flows ? o->max_flows : SENSOR_DEFAULT_FLOWS;
        ec.max_flows = (flows + s.nw - 1) / s.nw;
        ec.reasm_max_bytes = SENSOR_DEFAULT_REASM / s.nw;
        ec.shared_certs = s.certs = x509_cache_new_shared(SENSOR_CERT_CACHE, 0, 64);
        if (!s.certs) {
            fprintf(stderr, "mitmwatch: cannot allocate the certificate cache\n");
            return 1;
        }
    }
    for (unsigned i = 0; i < s.nw; i++) {
        ec.user = &s.w[i];
        s.w[i].eng = an_engine_new(&ec);
        if (!s.w[i].eng) {
            fprintf(stderr, "mitmwatch: cannot allocate the flow table\n");
            ps_free(s.ps);
            out_set_free(s.outs);
            return 1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (triggers) {
        s.trig =
            ptrig_new(o->trigger_interval_us ? o->trigger_interval_us : PTRIG_DEFAULT_INTERVAL_US);
        if (!s.trig) {
            fprintf(stderr, "mitmwatch: out of memory\n");
            return 1;
        }
        ps_enable_triggers(s.ps);
    }
    if (o->nprobes || triggers) {
        ps_load_learned(s.ps, s.bl);
        if (!ps_start(s.ps, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            return 2;
        }
    }

    int rc = o->nfiles ? run_files(&s, o) : s.nw > 1 ? run_live_workers(&s, o) : run_live(&s, o);
    ps_stop(s.ps);
    ps_drain(s.ps, on_probe_event, &s);
    if (!ps_save_learned(s.ps, s.bl))
        fprintf(stderr, "mitmwatch: the state keeps at most %d learned trace paths\n",
                BL_MAX_TRACES);

    /* Whatever stopped us, every pending handshake goes out; then the outputs deliver (within
     * the flush budget), and only then are the final counters known: the final stats event
     * says them, and gets a short flush of its own. A run that never opened its input (an
     * unknown format, a bad filter or interface) has no stats to tell. */
    uint64_t last_ts = 0;
    /* the flows still open, least recently seen first across the workers, as one worker's
     * flush would end (and judge) them: the same events for any number of workers */
    for (;;) {
        unsigned oldest = 0;
        uint64_t at = UINT64_MAX;
        for (unsigned i = 0; i < s.nw; i++) {
            uint64_t t = an_engine_oldest_us(s.w[i].eng);
            if (t < at) {
                at = t;
                oldest = i;
            }
        }
        if (at == UINT64_MAX || !an_engine_flush_oldest(s.w[oldest].eng)) break;
    }
    for (unsigned i = 0; i < s.nw; i++) { /* the workers are idle or stopped */
        an_engine_flush(s.w[i].eng);
        if (an_engine_now(s.w[i].eng) > last_ts) last_ts = an_engine_now(s.w[i].eng);
    }
    if (o->state_path && s.started && !save_state(&s)) rc = rc ? rc : 1;
    ps_free(s.ps);
    /* the workers are idle (files: synced) or joined (live): this thread alone emits now */
    if (s.started) {
        uint64_t ts = o->nfiles ? last_ts : wall_us();
        if (ts == 0) ts = wall_us(); /* no packet read: not 1970 */
        out_drain(s.outs);
        emit_stats(&s, ts, true);
        unsigned fin = o->flush_ms < 1000 ? o->flush_ms : 1000;
        out_close_ms(s.outs, fin);
    } else {
        out_close_ms(s.outs, 0);
    }
    wk_pool_stop(s.pool);
    wk_live_close(s.live);
    if (s.sum && s.started) summary_print(s.sum, stderr);
    summary_free(s.sum);
    out_totals tot;
    out_get_totals(s.outs, &tot);
    uint64_t lost = out_report_losses(s.outs, "mitmwatch");
    if (lost) {
        fprintf(stderr,
                "mitmwatch: %llu of %llu event deliveries to the outputs failed (exit code %d)\n",
                (unsigned long long)lost, (unsigned long long)tot.offered, SENSOR_EXIT_LOST);
        if (rc == 0) rc = SENSOR_EXIT_LOST;
    }
    rule_engine_set_baselines(s.re, NULL);
    bl_free(s.bl);
    for (int i = 0; i < s.nsrcs; i++)
        cap_source_close(&srcs[i]);
    for (unsigned i = 0; i <= s.nw; i++) {
        sensor_worker *w = i < s.nw ? &s.w[i] : &s.mainw;
        an_engine_free(w->eng);
        mw_buf_free(&w->ev);
        mw_buf_free(&w->abuf);
        pthread_mutex_destroy(&w->snap_mu);
    }
    x509_cache_free(s.certs); /* after the engines: they drop their references first */
    out_set_free(s.outs);
    rule_engine_free(s.re);
    pol_policy_free(s.pol);
    free(s.pol);
    free(state_from_policy);
    ptrig_free(s.trig);
    pthread_rwlock_destroy(&s.judge);
    pthread_mutex_destroy(&s.out_mu);
    pthread_mutex_destroy(&s.sum_mu);
    mw_hash_cleanup();
    return rc;
}

/* -T: every problem of the configuration at once. The policy file's own syntax and keys stop
 * at the first error (its values depend on each other); everything it names is then checked. */
int sensor_test_config(sensor_opts *o) {
    if (!mw_hash_init()) {
        fprintf(stderr, "mitmwatch: OpenSSL has no SHA-256/MD5 (default provider missing)\n");
        return 1;
    }
    char err[8192], warn[4096], where[4200];
    unsigned problems = 0;
    pol_policy *p = calloc(1, sizeof *p);
    if (!p || !load_policy(o, p, err, sizeof err)) {
        say_lines("", p ? err : "out of memory");
        if (p) pol_policy_free(p);
        free(p);
        mw_hash_cleanup();
        return 2;
    }
    if (!rule_engine_check(p, err, sizeof err, warn, sizeof warn)) problems += say_lines("", err);
    say_lines("warning: ", warn);
    /* outputs: -o replaces the policy's */
    int nouts = o->nouts ? o->nouts : (int)p->noutputs;
    for (int i = 0; i < nouts && i < SENSOR_MAX_SOURCES; i++) {
        const char *spec = o->nouts ? o->out_paths[i] : p->outputs[i];
        if (o->nouts)
            snprintf(where, sizeof where, "--output %s", spec);
        else
            pol_where(p, p->outputs_line[i], "outputs", "output", spec, where, sizeof where);
        out_sink_cfg c;
        out_sink_cfg_init(&c);
        if (!out_parse_spec(spec, &c, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s: %s\n", where, err);
            problems++;
            continue;
        }
        if (c.type != OUT_SINK_FILE) continue;
        /* the file is appended to: it, or its folder for a new one, must be writable */
        char dir[sizeof c.path];
        const char *slash = strrchr(c.path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == c.path ? 1 : slash - c.path) : 1,
                 slash ? c.path : ".");
        const char *what = access(c.path, F_OK) == 0 ? c.path : dir;
        if (access(what, W_OK) != 0) {
            fprintf(stderr, "mitmwatch: %s: %s: %s\n", where, what, strerror(errno));
            problems++;
        }
    }
    /* the state file: readable in a known format, its folder writable */
    const char *state = o->state_path ? o->state_path : p->state;
    if (state) {
        if (o->state_path)
            snprintf(where, sizeof where, "--state %s", state);
        else
            pol_where(p, p->state_line, "state", "state", state, where, sizeof where);
        bl_state *bl = bl_new(&o->bl);
        if (bl && (!bl_load(bl, state, err, sizeof err) ||
                   !state_dir_ok(state, o->user, o->user_default, err, sizeof err))) {
            fprintf(stderr, "mitmwatch: %s: %s\n", where, err);
            problems++;
        }
        bl_free(bl);
    }
    if (o->nprobes) {
        probe_sched *ps = ps_new(o->observer, 3600u * 1000000u, 10);
        for (int i = 0; ps && i < o->nprobes; i++)
            if (!ps_add(ps, o->probes[i], p, err, sizeof err)) {
                fprintf(stderr, "mitmwatch: --probe %s: %s\n", o->probes[i], err);
                problems++;
            }
        if (ps && !ps_set_policy(ps, p, false, err, sizeof err)) problems += say_lines("", err);
        ps_free(ps);
    }
    pol_policy_free(p);
    free(p);
    mw_hash_cleanup();
    if (problems) {
        fprintf(stderr, "mitmwatch: %u problem%s in the configuration\n", problems,
                problems == 1 ? "" : "s");
        return 2;
    }
    printf("configuration OK\n");
    return 0;
}
