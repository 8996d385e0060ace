#include "probe_sched.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/rand.h>

#include "bl_baseline.h"
#include "ev_probe.h"
#include "ev_sched.h"
#include "jarm.h"
#include "mw_hash.h"
#include "pol_policy.h"
#include "probe_cert.h"
#include "ev_trace.h"
#include "probe_trace.h"

#define PS_MAX_PROBES 64
#define PS_QUEUE_MAX 4096       /* finished events waiting for the capture thread */
#define PS_JARM_TIMEOUT_MS 2000 /* per probe: shutdown waits at most ten of them */

typedef enum { PS_JARM, PS_TRACE, PS_CERT } ps_type;

/* What one traced port is judged against. configured (the policy's expect_paths for the host
 * and --expect-hops) wins; learned (the first path that reached the target, or from the state
 * file) is used only when nothing is configured. Both are read and written under the
 * scheduler's mutex: the worker judges, the capture thread applies a reloaded policy and saves
 * the state. */
typedef struct {
    trace_pathset configured;
    trace_pathset learned;
} ps_trace_port;

typedef struct {
    ps_type type;
    char host[256];
    uint16_t port;
    uint16_t ports[TRACE_MAX_PORTS];
    unsigned nports;
    char expect_jarm[JARM_HASH_LEN + 1]; /* configured, else learned; "" none yet */
    bool jarm_configured;
    ps_trace_port *tports; /* trace: one per port (heap, ~47 KB each) */
    pcert_starttls starttls;
    uint64_t next_us;
} ps_probe;

typedef struct ps_item {
    struct ps_item *next;
    enum out_kind kind;
    const char *dataset;
    int severity;
    char rule_id[32];
    bool has_cert;
    ps_cert cert;
    size_t len;
    char json[];
} ps_item;

struct probe_sched {
    char observer[256];
    uint64_t interval_us;
    unsigned jitter_pct;
    ps_probe probes[PS_MAX_PROBES];
    unsigned n;
    trace_sockets socks;
    bool socks_open;
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ps_item *head, *tail;
    unsigned queued;
    uint64_t dropped;
    mw_buf ev;
    bool triggers; /* ps_enable_triggers: the worker runs without scheduled probes too */
    ps_trigger_req trig[PS_TRIGGER_QUEUE]; /* waiting triggered fetches, oldest first */
    unsigned ntrig;
};

static uint64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static uint32_t rnd32(void) {
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) r = (uint32_t)now_us();
    return r;
}

probe_sched *ps_new(const char *observer, uint64_t interval_us, unsigned jitter_pct) {
    probe_sched *ps = calloc(1, sizeof *ps);
    if (!ps) return NULL;
    snprintf(ps->observer, sizeof ps->observer, "%s", observer);
    ps->interval_us = interval_us;
    ps->jitter_pct = jitter_pct;
    ps->socks.tcp4 = ps->socks.icmp4 = ps->socks.tcp6 = ps->socks.icmp6 = -1;
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    mw_buf_init(&ps->ev, 1 << 20);
    return ps;
}

unsigned ps_count(const probe_sched *ps) {
    return ps ? ps->n : 0;
}

static bool parse_ports(const char *s, ps_probe *p) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        unsigned long v = strtoul(t, &end, 10);
        if (*end || v == 0 || v > 65535 || p->nports >= TRACE_MAX_PORTS) return false;
        for (unsigned i = 0; i < p->nports; i++)
            if (p->ports[i] == v) return false;
        p->ports[p->nports++] = (uint16_t)v;
    }
    return p->nports > 0;
}

bool ps_add(probe_sched *ps, const char *spec, const pol_policy *pol, char *err, size_t errlen) {
    if (ps->n >= PS_MAX_PROBES) {
        snprintf(err, errlen, "--probe: at most %d probes", PS_MAX_PROBES);
        return false;
    }
    ps_probe *p = &ps->probes[ps->n];
    memset(p, 0, sizeof *p);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *colon = strchr(buf, ':');
    if (!colon) {
        snprintf(err, errlen, "--probe %s: expected jarm:HOST[:PORT][=JARM] or trace:HOST:PORTS",
                 spec);
        return false;
    }
    *colon = '\0';
    char *target = colon + 1;
    if (strcmp(buf, "jarm") == 0) {
        p->type = PS_JARM;
        char *eq = strchr(target, '=');
        if (eq) {
            *eq = '\0';
            if (strlen(eq + 1) != JARM_HASH_LEN) {
                snprintf(err, errlen, "--probe %s: a JARM is %d hex characters", spec,
                         JARM_HASH_LEN);
                return false;
            }
            snprintf(p->expect_jarm, sizeof p->expect_jarm, "%s", eq + 1);
            p->jarm_configured = true;
        }
        p->port = JARM_DEFAULT_PORT;
        if (jarm_parse_target(target, p->host, sizeof p->host, &p->port) != MW_OK) {
            snprintf(err, errlen, "--probe %s: expected HOST, HOST:PORT or [IPV6]:PORT", spec);
            return false;
        }
    } else if (strcmp(buf, "cert") == 0) {
        p->type = PS_CERT;
        char *slash = strchr(target, '/');
        if (slash) {
            *slash = '\0';
            if (!pcert_starttls_parse(slash + 1, &p->starttls)) {
                snprintf(err, errlen, "--probe %s: unknown STARTTLS protocol %s", spec, slash + 1);
                return false;
            }
        }
        if (pcert_parse_target(target, p->host, sizeof p->host, &p->port) != MW_OK) {
            snprintf(err, errlen, "--probe %s: expected cert:HOST[:PORT][/STARTTLS]", spec);
            return false;
        }
        const pol_service *svc = slash ? NULL : pol_starttls_service(pol, p->host, p->port);
        pcert_starttls svc_st;
        if (svc && pcert_starttls_parse(svc->starttls, &svc_st)) {
            p->starttls = svc_st;
            if (!p->port && svc->nports) p->port = svc->ports[0];
        }
        if (!p->port) p->port = pcert_default_port(p->starttls);
    } else if (strcmp(buf, "trace") == 0) {
        p->type = PS_TRACE;
        char *last = strrchr(target, ':');
        if (!last || !parse_ports(last + 1, p)) {
            snprintf(err, errlen, "--probe %s: expected trace:HOST:PORT[,PORT...]", spec);
            return false;
        }
        *last = '\0';
        if (target[0] == '[' && last > target && last[-1] == ']') { /* [v6]:ports */
            last[-1] = '\0';
            target++;
        }
        if (!*target || !pol_canon_host(target, p->host, sizeof p->host)) {
            snprintf(err, errlen, "--probe %s: expected trace:HOST:PORT[,PORT...]", spec);
            return false;
        }
        p->tports = calloc(p->nports, sizeof *p->tports);
        if (!p->tports) {
            snprintf(err, errlen, "--probe %s: out of memory", spec);
            return false;
        }
        for (unsigned i = 0; i < p->nports; i++)
            p->tports[i].configured.port = p->tports[i].learned.port = p->ports[i];
    } else {
        snprintf(err, errlen, "--probe %s: unknown probe type '%s' (jarm, cert, trace)", spec, buf);
        return false;
    }
    ps->n++;
    return true;
}

/* Queues the finished event ev for the capture thread; a full queue drops (counted). cert's
 * fetch (if any) goes with it and is freed after the capture thread had it. */
static void fetched_free(pcert_result *r) {
    if (r) {
        pcert_result_free(r);
        free(r);
    }
}

static void push_cert(probe_sched *ps, const out_event *ev, const ps_cert *cert) {
    ps_item *it = malloc(sizeof *it + ev->len + 1);
    if (!it) {
        if (cert) fetched_free(cert->fetched);
        return;
    }
    it->next = NULL;
    it->kind = ev->kind;
    it->dataset = ev->dataset;
    it->severity = ev->severity;
    snprintf(it->rule_id, sizeof it->rule_id, "%s", ev->rule_id ? ev->rule_id : "");
    it->has_cert = cert != NULL;
    if (cert) it->cert = *cert;
    it->len = ev->len;
    memcpy(it->json, ev->json, ev->len);
    it->json[it->len] = '\0';
    pthread_mutex_lock(&ps->mu);
    if (ps->queued >= PS_QUEUE_MAX) {
        ps->dropped++;
        if (it->has_cert) fetched_free(it->cert.fetched);
        free(it);
    } else {
        if (ps->tail)
            ps->tail->next = it;
        else
            ps->head = it;
        ps->tail = it;
        ps->queued++;
    }
    pthread_mutex_unlock(&ps->mu);
}

static void push(probe_sched *ps, const out_event *ev) {
    push_cert(ps, ev, NULL);
}

/* An alert: kind and target name what its duplicate suppression is about. */
static void push_alert(probe_sched *ps, const out_event *ev, const char *kind, const char *target) {
    ps_cert c;
    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "%s %s", kind, target);
    push_cert(ps, ev, &c);
}

/* The event in ps->ev, from a builder that leaves its kind, dataset and rule to the caller. */
static out_event built(const probe_sched *ps, enum out_kind kind, const char *dataset, int severity,
                       const char *rule_id) {
    return (out_event){.json = (const char *)ps->ev.data,
                       .len = ps->ev.len,
                       .kind = kind,
                       .dataset = dataset,
                       .severity = severity,
                       .rule_id = rule_id};
}

static void run_jarm(probe_sched *ps, ps_probe *p) {
    jarm_opts o = {.host = p->host, .port = p->port, .timeout_ms = PS_JARM_TIMEOUT_MS};
    jarm_result *r = malloc(sizeof *r);
    if (!r) return;
    uint64_t t0 = now_us();
    mw_rc rc = jarm_probe(&o, r);
    uint64_t t1 = now_us();
    bool failed = rc != MW_OK || r->answered == 0;
    char target[300];
    snprintf(target, sizeof target, strchr(p->host, ':') ? "[%s]:%u" : "%s:%u", p->host, p->port);
    ev_ctx ctx = {ps->observer};
    ev_sched_target t = {.host = p->host, .port = p->port, .text = target};
    out_event ev;
    if (ev_sched_jarm_build(&ps->ev, &ctx, t1, &t, r, failed, (t1 - t0) / 1000, &ev)) push(ps, &ev);

    if (failed) {
        if (ev_sched_jarm_failed_build(&ps->ev, &ctx, now_us(), &t, rc, r, &ev))
            push_alert(ps, &ev, "jarm", target);
    } else if (!p->expect_jarm[0]) {
        snprintf(p->expect_jarm, sizeof p->expect_jarm, "%s", r->hash); /* learned */
    } else if (strcmp(p->expect_jarm, r->hash) != 0) {
        if (ev_sched_jarm_changed_build(&ps->ev, &ctx, now_us(), &t, p->expect_jarm,
                                        p->jarm_configured, r->hash, &ev))
            push(ps, &ev);
    }
    free(r);
}

/* One certificate fetch, scheduled (trig NULL) or triggered (sni: the triggering client's). */
static void fetch_cert(probe_sched *ps, const char *host, uint16_t port, pcert_starttls starttls,
                       const char *sni, const ev_probe_trigger *trig) {
    pcert_opts o = {.host = host,
                    .port = port,
                    .sni = sni,
                    .starttls = starttls,
                    .timeout_ms = PS_JARM_TIMEOUT_MS * 2};
    pcert_result *r = calloc(1, sizeof *r);
    if (!r) return;
    ps_cert c;
    memset(&c, 0, sizeof c);
    snprintf(c.target, sizeof c.target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    snprintf(c.host, sizeof c.host, "%s", host);
    c.port = port;
    if (trig) {
        c.triggered = true;
        c.trig = *trig;
    }
    bool ok = pcert_probe(&o, r) == MW_OK;
    ev_ctx ctx = {ps->observer};
    const x509_info *leaf = ok && r->hs->nchain ? r->hs->chain[0] : NULL;
    if (leaf) {
        c.has_leaf = true;
        memcpy(c.sha256, leaf->sha256, 32);
        memcpy(c.tbs_sha256, leaf->tbs_sha256, 32);
        snprintf(c.subject, sizeof c.subject, "%s", leaf->subject);
    }
    out_event ev;
    ev_sched_target t = {.host = host, .port = port, .text = c.target};
    if (!ok) {
        if (ev_probe_cert_build(&ps->ev, &ctx, c.target, r, trig)) {
            ev = built(ps, OUT_KIND_EVENT, "mitmwatch.probe", 0, NULL);
            push(ps, &ev);
        }
        if (ev_sched_cert_failed_build(&ps->ev, &ctx, now_us(), &t, r->error, &ev))
            push_alert(ps, &ev, "cert", c.target);
        fetched_free(r);
        return;
    }
    if (ev_probe_cert_build(&ps->ev, &ctx, c.target, r, trig)) {
        ev = built(ps, OUT_KIND_EVENT, "mitmwatch.probe", 0, NULL);
        c.fetched = r; /* the capture thread judges the handshake */
        push_cert(ps, &ev, &c);
    } else {
        fetched_free(r);
    }
}

static void run_cert(probe_sched *ps, ps_probe *p) {
    fetch_cert(ps, p->host, p->port, p->starttls, NULL, NULL);
}

static bool resolve(const char *host, trace_opts *o) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
    o->family = res->ai_family;
    if (res->ai_family == AF_INET)
        memcpy(o->addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    else
        memcpy(o->addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
    freeaddrinfo(res);
    return true;
}

static void run_trace(probe_sched *ps, ps_probe *p) {
    trace_opts o;
    memset(&o, 0, sizeof o);
    memcpy(o.ports, p->ports, sizeof o.ports);
    o.nports = p->nports;
    char err[256] = "";
    trace_result *r = calloc(1, sizeof *r);
    if (!r) return;
    if (!resolve(p->host, &o)) {
        snprintf(err, sizeof err, "%s does not resolve", p->host);
    } else if (trace_run(&ps->socks, &o, r, err, sizeof err) == MW_OK) {
        uint64_t t = now_us();
        mw_buf_reset(&ps->ev); /* the trace_event_* builders append */
        out_event ev;
        if (trace_event_path(&ps->ev, ps->observer, t, p->host, r, TRACE_DEFAULT_LAST_N)) {
            ev = built(ps, OUT_KIND_EVENT, "mitmwatch.path", 0, NULL);
            push(ps, &ev);
        }
        static trace_path obs_path; /* the worker's alone */
        static trace_pathset want;
        for (unsigned i = 0; i < r->nports && i < p->nports; i++) {
            trace_path_of(r, i, &obs_path);
            /* A copy to judge against, so that the lock is not held while building events
             * (push takes it). */
            pthread_mutex_lock(&ps->mu);
            ps_trace_port *tp = &p->tports[i];
            const char *source = tp->configured.n ? "configured" : "learned";
            want = tp->configured.n ? tp->configured : tp->learned;
            /* First trace of this port, nothing configured: learn it (into an empty set), but
             * only a path that reached the target: stars of a host that was down would
             * otherwise stay the baseline, across restarts too. */
            bool learn = want.n == 0 && r->ports[i].reached &&
                         trace_pathset_add(&tp->learned, &obs_path) == MW_OK;
            pthread_mutex_unlock(&ps->mu);
            if (learn || trace_compare(&want, &obs_path, TRACE_DEFAULT_LAST_N)) continue;
            mw_buf_reset(&ps->ev);
            if (trace_event_hops_changed(&ps->ev, ps->observer, t, p->host, r, i, &want,
                                         TRACE_DEFAULT_LAST_N, source)) {
                ev = built(ps, OUT_KIND_ALERT, "mitmwatch.alert", 3, "path.hops_changed");
                push(ps, &ev);
            }
        }
        free(r);
        return;
    }
    free(r);
    ev_ctx ctx = {ps->observer};
    out_event ev;
    if (ev_sched_trace_failed_build(&ps->ev, &ctx, now_us(), p->host, p->ports[0], err, &ev)) {
        char target[300];
        snprintf(target, sizeof target, strchr(p->host, ':') ? "[%s]:%u" : "%s:%u", p->host,
                 p->ports[0]);
        push_alert(ps, &ev, "trace", target);
    }
}

static void *worker(void *arg) {
    probe_sched *ps = arg;
    pthread_mutex_lock(&ps->mu);
    while (!ps->stop) {
        if (ps->ntrig) { /* a triggered fetch goes first: the interception is happening now */
            ps_trigger_req req = ps->trig[0];
            memmove(&ps->trig[0], &ps->trig[1], (ps->ntrig - 1) * sizeof ps->trig[0]);
            ps->ntrig--;
            pthread_mutex_unlock(&ps->mu);
            fetch_cert(ps, req.host, req.port, req.starttls, req.sni[0] ? req.sni : NULL,
                       &req.trig);
            pthread_mutex_lock(&ps->mu);
            continue;
        }
        ps_probe *due = NULL;
        for (unsigned i = 0; i < ps->n; i++)
            if (!due || ps->probes[i].next_us < due->next_us) due = &ps->probes[i];
        uint64_t now = now_us();
        if (!due || due->next_us > now) {
            uint64_t until = due ? due->next_us : now + 1000000;
            struct timespec ts = {.tv_sec = (time_t)(until / 1000000),
                                  .tv_nsec = (long)(until % 1000000) * 1000};
            pthread_cond_timedwait(&ps->cv, &ps->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&ps->mu);
        if (due->type == PS_JARM)
            run_jarm(ps, due);
        else if (due->type == PS_CERT)
            run_cert(ps, due);
        else
            run_trace(ps, due);
        pthread_mutex_lock(&ps->mu);
        due->next_us = trace_schedule_next(now_us(), ps->interval_us, ps->jitter_pct, rnd32());
    }
    pthread_mutex_unlock(&ps->mu);
    mw_hash_thread_cleanup();
    return NULL;
}

void ps_enable_triggers(probe_sched *ps) {
    if (ps) ps->triggers = true;
}

bool ps_trigger(probe_sched *ps, const ps_trigger_req *req) {
    if (!ps || !ps->triggers || ps->stop) return false; /* stopped: the run is ending */
    /* Without scheduled probes the worker starts with the first trigger: after the sensor
     * dropped its privileges (--user), so that no thread that parses a server's answers keeps
     * a capability. */
    if (!ps->running) {
        if (pthread_create(&ps->thread, NULL, worker, ps) != 0) return false;
        ps->running = true;
    }
    pthread_mutex_lock(&ps->mu);
    bool ok = ps->ntrig < PS_TRIGGER_QUEUE;
    if (ok) {
        ps->trig[ps->ntrig++] = *req;
        pthread_cond_signal(&ps->cv);
    }
    pthread_mutex_unlock(&ps->mu);
    return ok;
}

bool ps_start(probe_sched *ps, char *err, size_t errlen) {
    if (ps->n == 0) return true; /* triggered fetches alone: the worker starts with the first */
    bool traces = false;
    for (unsigned i = 0; i < ps->n; i++) {
        traces |= ps->probes[i].type == PS_TRACE;
        ps->probes[i].next_us = now_us(); /* first round at start */
    }
    if (traces) {
        if (trace_sockets_open(&ps->socks) != MW_OK) {
            snprintf(err, errlen, "%s",
                     trace_sockets_denied(&ps->socks)
                         ? "trace probes need CAP_NET_RAW (run as root or setcap cap_net_raw+ep)"
                         : "cannot open the raw sockets for trace probes");
            return false;
        }
        ps->socks_open = true;
    }
    if (pthread_create(&ps->thread, NULL, worker, ps) != 0) {
        snprintf(err, errlen, "cannot start the probe thread");
        return false;
    }
    ps->running = true;
    return true;
}

void ps_drain(probe_sched *ps, ps_emit_fn emit, void *user) {
    if (!ps) return;
    pthread_mutex_lock(&ps->mu);
    ps_item *it = ps->head;
    ps->head = ps->tail = NULL;
    ps->queued = 0;
    pthread_mutex_unlock(&ps->mu);
    while (it) {
        ps_item *next = it->next;
        out_event ev = {.json = it->json,
                        .len = it->len,
                        .kind = it->kind,
                        .dataset = it->dataset,
                        .severity = it->severity,
                        .rule_id = it->rule_id[0] ? it->rule_id : NULL};
        emit(user, &ev, it->has_cert ? &it->cert : NULL);
        if (it->has_cert) fetched_free(it->cert.fetched);
        free(it);
        it = next;
    }
}

void ps_stop(probe_sched *ps) {
    if (!ps || !ps->running) return;
    pthread_mutex_lock(&ps->mu);
    ps->stop = true;
    pthread_cond_signal(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    /* A probe under way finishes first (bounded by its timeouts), so that its result is
     * not lost and OpenSSL is not torn down under it at exit. */
    pthread_join(ps->thread, NULL);
    ps->running = false;
}

void ps_free(probe_sched *ps) {
    if (!ps) return;
    ps_stop(ps);
    for (unsigned i = 0; i < ps->n; i++)
        free(ps->probes[i].tports);
    ps_item *it = ps->head;
    while (it) {
        ps_item *n = it->next;
        if (it->has_cert) fetched_free(it->cert.fetched);
        free(it);
        it = n;
    }
    if (ps->socks_open) trace_sockets_close(&ps->socks);
    mw_buf_free(&ps->ev);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps);
}

/* ------------------------------------------------------------------------------------------
 * Expected and learned paths of the trace probes. */

void ps_load_learned(probe_sched *ps, const bl_state *bl) {
    if (!ps || !bl) return;
    pthread_mutex_lock(&ps->mu);
    for (unsigned i = 0; i < ps->n; i++) {
        ps_probe *p = &ps->probes[i];
        for (unsigned k = 0; p->type == PS_TRACE && k < p->nports; k++) {
            const trace_pathset *set = bl_trace_get(bl, p->host, p->ports[k]);
            if (set) {
                p->tports[k].learned = *set;
                p->tports[k].learned.port = p->ports[k];
            }
        }
    }
    pthread_mutex_unlock(&ps->mu);
}

bool ps_save_learned(probe_sched *ps, bl_state *bl) {
    bool ok = true;
    if (!ps || !bl) return true;
    pthread_mutex_lock(&ps->mu);
    for (unsigned i = 0; i < ps->n; i++) {
        const ps_probe *p = &ps->probes[i];
        for (unsigned k = 0; p->type == PS_TRACE && k < p->nports; k++)
            if (p->tports[k].learned.n)
                ok = bl_trace_put(bl, p->host, p->ports[k], &p->tports[k].learned) && ok;
    }
    pthread_mutex_unlock(&ps->mu);
    return ok;
}

bool ps_set_policy(probe_sched *ps, const pol_policy *pol, bool commit, char *err, size_t errlen) {
    static trace_pathset set; /* capture thread only */
    if (!ps) return true;
    /* Every --expect-hops must name a traced host and port: a typo would otherwise leave a
     * port judged against what it learns, silently. */
    for (size_t e = 0; e < pol->npath_expect; e++) {
        const pol_path_expect *x = &pol->path_expect[e];
        bool found = x->service >= 0;
        for (unsigned i = 0; i < ps->n && !found; i++) {
            const ps_probe *p = &ps->probes[i];
            for (unsigned k = 0; p->type == PS_TRACE && k < p->nports && !found; k++)
                found = p->ports[k] == x->port && strcmp(p->host, x->host) == 0;
        }
        if (!found) {
            snprintf(err, errlen, "--expect-hops %s:%u: no --probe trace:%s:... traces port %u",
                     x->host, x->port, x->host, x->port);
            return false;
        }
    }
    /* Everything is checked before anything changes. */
    for (unsigned i = 0; i < ps->n; i++) {
        const ps_probe *p = &ps->probes[i];
        for (unsigned k = 0; p->type == PS_TRACE && k < p->nports; k++) {
            if (!pol_expected_paths(pol, p->host, p->ports[k], &set)) {
                snprintf(err, errlen, "trace %s port %u: more than %d acceptable paths configured",
                         p->host, p->ports[k], TRACE_SET_MAX);
                return false;
            }
        }
    }
    if (!commit) return true;
    pthread_mutex_lock(&ps->mu);
    for (unsigned i = 0; i < ps->n; i++) {
        ps_probe *p = &ps->probes[i];
        for (unsigned k = 0; p->type == PS_TRACE && k < p->nports; k++) {
            (void)pol_expected_paths(pol, p->host, p->ports[k], &p->tports[k].configured);
            p->tports[k].configured.port = p->ports[k];
        }
    }
    pthread_mutex_unlock(&ps->mu);
    return true;
}
