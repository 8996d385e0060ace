/* One trace: the probe loop, its timing and rounds; see trace_run.h. */
#define _GNU_SOURCE /* ppoll */
#include "trace_run.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "trace_reply.h"

#define TCP_SYN 0x02
#define TCP_RST 0x04

#define TRACE_MAX_ATTEMPTS 4

enum { SLOT_FREE = 0, SLOT_OUT, SLOT_DONE };

typedef struct {
    uint8_t ttl;
    uint8_t state;
    uint64_t sent_us;
} slot;

typedef struct {
    int resv; /* the bound TCP socket reserving lport */
    uint32_t seq0;
    unsigned nslots;
    slot slots[TRACE_MAX_TTL * TRACE_MAX_ATTEMPTS];
    uint8_t tries[TRACE_MAX_TTL + 1];
    bool answered[TRACE_MAX_TTL + 1];
    bool final[TRACE_MAX_TTL + 1];
    bool retry[TRACE_MAX_TTL + 1];
    unsigned next_ttl, dist, unreach, stop;
    bool done;
} port_state;

typedef struct {
    const trace_sockets *s;
    trace_opts o;
    trace_result *r;
    port_state ps[TRACE_MAX_PORTS];
    uint64_t max_rtt_us;
    char *err;
    size_t errlen;
} tracer;

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t alen(int family) {
    return family == AF_INET ? 4 : 16;
}

/* Sends one TCP header to the target from our source, with the given TTL / hop limit. */
static mw_rc send_tcp(tracer *t, uint16_t lport, uint16_t rport, uint32_t seq, uint8_t flags,
                      int ttl) {
    return trace_sock_send(t->s, t->o.family, t->r->source, t->o.addr, lport, rport, seq, flags,
                           ttl, t->err, t->errlen);
}

static unsigned port_limit(const tracer *t, const port_state *p) {
    unsigned lim = t->o.max_ttl;
    if (p->dist && p->dist < lim) lim = p->dist;
    if (p->unreach && p->unreach < lim) lim = p->unreach;
    if (p->stop && p->stop < lim) lim = p->stop;
    return lim;
}

static void on_reply(tracer *t, const trace_reply *rep, uint64_t now) {
    if (rep->kind == TRACE_R_IGNORE || rep->family != t->o.family) return;
    size_t al = alen(t->o.family);
    bool from_target = rep->kind == TRACE_R_SYNACK || rep->kind == TRACE_R_RST;
    if (memcmp(from_target ? rep->from : rep->peer, t->o.addr, al) != 0) return;
    for (unsigned i = 0; i < t->o.nports; i++) {
        trace_port *rp = &t->r->ports[i];
        port_state *p = &t->ps[i];
        if (rp->lport != rep->lport || rp->port != rep->rport) continue;
        uint32_t idx = rep->seq - p->seq0;
        if (idx >= p->nslots) return;
        slot *sl = &p->slots[idx];
        if (rep->kind == TRACE_R_SYNACK) {
            /* every SYN-ACK, also late or repeated ones: no half-open connection stays */
            if (send_tcp(t, rp->lport, rp->port, rep->rst_seq, TCP_RST, TRACE_RST_TTL) == MW_OK)
                rp->resets++;
        }
        unsigned ttl = sl->ttl;
        if (sl->state == SLOT_OUT) sl->state = SLOT_DONE;
        if (p->done || p->answered[ttl]) return;
        trace_hop *h = &rp->hops[ttl - 1];
        h->kind = rep->kind == TRACE_R_TIME_EXCEEDED ? TRACE_HOP_TIME_EXCEEDED
                  : rep->kind == TRACE_R_UNREACH     ? TRACE_HOP_UNREACH
                  : rep->kind == TRACE_R_SYNACK      ? TRACE_HOP_SYNACK
                                                     : TRACE_HOP_RST;
        h->icmp_code = rep->icmp_code;
        memcpy(h->addr, rep->from, al);
        uint64_t rtt = now - sl->sent_us;
        h->rtt_us = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
        if (rtt > t->max_rtt_us) t->max_rtt_us = rtt;
        p->answered[ttl] = p->final[ttl] = true;
        p->retry[ttl] = false;
        if (from_target && (!p->dist || ttl < p->dist)) p->dist = ttl;
        if (rep->kind == TRACE_R_UNREACH && (!p->unreach || ttl < p->unreach)) p->unreach = ttl;
        return;
    }
}

static void drain(tracer *t, int fd, bool icmp, uint64_t *malformed) {
    uint8_t buf[4096];
    for (int n = 0; n < 256; n++) { /* bounded: a busy host cannot keep us here */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t len = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
        if (len < 0) return;
        uint64_t now = mono_us();
        trace_reply rep;
        mw_rc rc;
        if (t->o.family == AF_INET) {
            rc = icmp ? trace_parse_icmp4(buf, (size_t)len, &rep)
                      : trace_parse_tcp4(buf, (size_t)len, &rep);
        } else {
            uint8_t from[16];
            if (ss.ss_family != AF_INET6) continue;
            memcpy(from, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            rc = icmp ? trace_parse_icmp6(buf, (size_t)len, from, &rep)
                      : trace_parse_tcp6(buf, (size_t)len, from, &rep);
        }
        if (rc != MW_OK) {
            (*malformed)++;
            continue;
        }
        on_reply(t, &rep, now);
    }
}

/* Expires probes, schedules resends, turns silence into stars, applies the gap rule and marks
 * ports done. Returns the earliest pending deadline (UINT64_MAX: none). */
static uint64_t expire(tracer *t, uint64_t now) {
    uint64_t tmo = (uint64_t)t->o.timeout_ms * 1000u, next = UINT64_MAX;
    for (unsigned i = 0; i < t->o.nports; i++) {
        port_state *p = &t->ps[i];
        if (p->done) continue;
        for (unsigned k = 0; k < p->nslots; k++) {
            slot *sl = &p->slots[k];
            if (sl->state != SLOT_OUT) continue;
            if (now >= sl->sent_us + tmo) {
                sl->state = SLOT_DONE;
                if (!p->answered[sl->ttl]) {
                    if (p->tries[sl->ttl] < t->o.attempts)
                        p->retry[sl->ttl] = true;
                    else
                        p->final[sl->ttl] = true; /* a star */
                }
            } else if (sl->sent_us + tmo < next) {
                next = sl->sent_us + tmo;
            }
        }
        if (!p->dist && !p->unreach && !p->stop) {
            unsigned high = 0;
            for (unsigned ttl = 1; ttl < p->next_ttl; ttl++)
                if (p->answered[ttl]) high = ttl;
            unsigned silent = 0;
            for (unsigned ttl = high + 1; ttl < p->next_ttl && p->final[ttl]; ttl++)
                silent++;
            if (silent >= t->o.gap) p->stop = high + t->o.gap;
        }
        unsigned lim = port_limit(t, p);
        bool all = p->next_ttl > lim || p->dist || p->unreach;
        for (unsigned ttl = 1; ttl <= lim && all; ttl++)
            if (!p->final[ttl]) all = false;
        if (all) p->done = true;
    }
    return next;
}

/* The next TTL port i should send, or 0. */
static unsigned want_send(const tracer *t, unsigned i) {
    const port_state *p = &t->ps[i];
    if (p->done) return 0;
    unsigned lim = port_limit(t, p);
    for (unsigned ttl = 1; ttl <= lim && ttl < p->next_ttl; ttl++)
        if (p->retry[ttl]) return ttl;
    if (p->next_ttl > lim || p->nslots >= MW_ARRAY_LEN(p->slots)) return 0;
    unsigned out = 0;
    for (unsigned k = 0; k < p->nslots; k++)
        if (p->slots[k].state == SLOT_OUT && p->slots[k].ttl <= lim) out++;
    return out < t->o.window ? p->next_ttl : 0;
}

static void fill_result(tracer *t) {
    for (unsigned i = 0; i < t->o.nports; i++) {
        port_state *p = &t->ps[i];
        trace_port *rp = &t->r->ports[i];
        unsigned lim = port_limit(t, p);
        if (lim >= p->next_ttl) lim = p->next_ttl - 1;
        rp->nhops = lim;
        for (unsigned ttl = 1; ttl <= lim; ttl++)
            if (!p->answered[ttl]) memset(&rp->hops[ttl - 1], 0, sizeof rp->hops[ttl - 1]);
        rp->reached = p->dist != 0 && lim == p->dist;
        rp->final_kind = lim ? rp->hops[lim - 1].kind : TRACE_HOP_STAR;
    }
}

mw_rc trace_run(const trace_sockets *s, const trace_opts *o, trace_result *r, char *err,
                size_t errlen) {
    static tracer t; /* large; one trace at a time per process */
    memset(&t, 0, sizeof t);
    memset(r, 0, sizeof *r);
    t.s = s;
    t.o = *o;
    t.r = r;
    t.err = err;
    t.errlen = errlen;
    if (err && errlen) err[0] = '\0';
    if (!t.o.max_ttl) t.o.max_ttl = TRACE_DEFAULT_MAX_TTL;
    if (t.o.max_ttl > TRACE_MAX_TTL) t.o.max_ttl = TRACE_MAX_TTL;
    if (t.o.timeout_ms <= 0) t.o.timeout_ms = TRACE_DEFAULT_TIMEOUT_MS;
    if (!t.o.rate) t.o.rate = TRACE_DEFAULT_RATE;
    if (!t.o.attempts) t.o.attempts = TRACE_DEFAULT_ATTEMPTS;
    if (t.o.attempts > TRACE_MAX_ATTEMPTS) t.o.attempts = TRACE_MAX_ATTEMPTS;
    if (!t.o.window) t.o.window = TRACE_DEFAULT_WINDOW;
    if (!t.o.gap) t.o.gap = TRACE_DEFAULT_GAP;
    if (t.o.nports == 0 || t.o.nports > TRACE_MAX_PORTS) {
        snprintf(err, errlen, "between 1 and %d ports", TRACE_MAX_PORTS);
        return MW_ERR;
    }
    int fam = t.o.family;
    int tcpfd = fam == AF_INET ? s->tcp4 : fam == AF_INET6 ? s->tcp6 : -1;
    int icmpfd = fam == AF_INET ? s->icmp4 : s->icmp6;
    if (tcpfd < 0 || icmpfd < 0) {
        int e = fam == AF_INET ? s->err4 : s->err6;
        snprintf(err, errlen, "no raw %s sockets: %s", fam == AF_INET6 ? "IPv6" : "IPv4",
                 strerror(e ? e : EAFNOSUPPORT));
        return MW_ERR;
    }
    r->family = fam;
    memcpy(r->target, t.o.addr, alen(fam));
    r->max_ttl = t.o.max_ttl;
    r->nports = t.o.nports;
    if (!t.o.seq_base && getrandom(&t.o.seq_base, sizeof t.o.seq_base, 0) != sizeof t.o.seq_base)
        t.o.seq_base = (uint32_t)mono_us();
    for (unsigned i = 0; i < t.o.nports; i++)
        t.ps[i].resv = -1;
    mw_rc rc = trace_sock_source(fam, t.o.addr, t.o.ports[0], r->source, err, errlen);
    for (unsigned i = 0; rc == MW_OK && i < t.o.nports; i++) {
        r->ports[i].port = t.o.ports[i];
        t.ps[i].next_ttl = 1;
        t.ps[i].seq0 = t.o.seq_base + i * 0x10000u;
        rc = trace_sock_reserve(fam, r->source, &t.ps[i].resv, &r->ports[i].lport, err, errlen);
    }

    uint64_t start = mono_us(), next_send = start, interval = 1000000u / t.o.rate;
    unsigned rr = 0;
    uint64_t malformed = 0;
    /* Defensive bound: every TTL of every attempt timing out in turn, plus one timeout. */
    uint64_t hard_end =
        start + ((uint64_t)t.o.max_ttl * t.o.attempts + 1) * (uint64_t)t.o.timeout_ms * 1000u;
    while (rc == MW_OK) {
        uint64_t now = mono_us();
        if (now >= hard_end) break; /* what is unanswered by now is a star */
        uint64_t deadline = expire(&t, now);
        bool all_done = true;
        for (unsigned i = 0; i < t.o.nports; i++)
            all_done = all_done && t.ps[i].done;
        if (all_done) break;
        /* send at most one probe per turn, round robin over ports, within the rate */
        bool pending = false;
        for (unsigned k = 0; k < t.o.nports; k++) {
            unsigned i = (rr + k) % t.o.nports;
            unsigned ttl = want_send(&t, i);
            if (!ttl) continue;
            pending = true;
            if (now < next_send) break;
            port_state *p = &t.ps[i];
            slot *sl = &p->slots[p->nslots];
            sl->ttl = (uint8_t)ttl;
            sl->state = SLOT_OUT;
            sl->sent_us = mono_us();
            rc = send_tcp(&t, r->ports[i].lport, r->ports[i].port, p->seq0 + p->nslots, TCP_SYN,
                          (int)ttl);
            if (rc != MW_OK) break;
            p->nslots++;
            p->tries[ttl]++;
            p->retry[ttl] = false;
            if (ttl == p->next_ttl) p->next_ttl++;
            r->ports[i].probes++;
            next_send = now + interval;
            rr = i + 1;
            break;
        }
        if (rc != MW_OK) break;
        if (pending && next_send < deadline) deadline = next_send;
        now = mono_us();
        struct pollfd pf[2] = {{tcpfd, POLLIN, 0}, {icmpfd, POLLIN, 0}};
        uint64_t wait = deadline == UINT64_MAX ? 100000u : deadline > now ? deadline - now : 0;
        if (pending && now >= next_send) wait = 0;
        struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
        int n = ppoll(pf, 2, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = MW_ERR;
            break;
        }
        if (n > 0) {
            if (pf[0].revents & POLLIN) drain(&t, tcpfd, false, &malformed);
            if (pf[1].revents & POLLIN) drain(&t, icmpfd, true, &malformed);
        }
    }
    if (rc == MW_OK) {
        /* Probes sent past the target's distance may still bring SYN-ACKs: wait a little so
         * that each gets our RST (the kernel resets the rest once we stop listening). */
        uint64_t linger = 3 * t.max_rtt_us + 5000, end = mono_us() + linger;
        if (linger > (uint64_t)t.o.timeout_ms * 1000u)
            end = mono_us() + (uint64_t)t.o.timeout_ms * 1000u;
        for (uint64_t now = mono_us(); now < end; now = mono_us()) {
            struct pollfd pf = {tcpfd, POLLIN, 0};
            uint64_t wait = end - now;
            struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
            if (ppoll(&pf, 1, &ts, NULL) > 0) drain(&t, tcpfd, false, &malformed);
        }
        fill_result(&t);
    }
    r->malformed = malformed;
    for (unsigned i = 0; i < t.o.nports; i++)
        if (t.ps[i].resv >= 0) close(t.ps[i].resv);
    r->elapsed_us = mono_us() - start;
    return rc;
}

uint64_t trace_schedule_next(uint64_t now_us, uint64_t interval_us, unsigned jitter_pct,
                             uint32_t rnd) {
    if (jitter_pct > 100) jitter_pct = 100;
    uint64_t span = interval_us / 100u * jitter_pct; /* jitter either way */
    uint64_t next = now_us + interval_us;
    if (span) {
        /* offset in [-span, +span], uniform enough for scheduling */
        uint64_t off = (uint64_t)(((unsigned __int128)rnd * (2 * span + 1)) >> 32);
        next = next + off - span;
    }
    return next < now_us + 1000000u ? now_us + 1000000u : next;
}
