/* The events and the text view of a TCP traceroute; see ev_trace.h. */
#include "ev_trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ev_tls.h"
#include "mw_json.h"

const char *trace_hop_kind_name(unsigned kind) {
    static const char *const names[] = {"star", "time-exceeded", "unreachable", "syn-ack", "rst"};
    return kind < MW_ARRAY_LEN(names) ? names[kind] : "?";
}

static void endpoints(mw_json *j, const char *host, const trace_result *r, int port) {
    char a[TRACE_ADDR_STR];
    mw_json_kobj(j, "source");
    trace_addr_str(r->family, r->source, a);
    mw_json_kstr(j, "ip", a);
    mw_json_obj_end(j);
    mw_json_kobj(j, "destination");
    trace_addr_str(r->family, r->target, a);
    if (host) mw_json_kstr(j, "address", host);
    mw_json_kstr(j, "ip", a);
    if (port >= 0) mw_json_kuint(j, "port", (unsigned)port);
    mw_json_obj_end(j);
    mw_json_kobj(j, "network");
    mw_json_kstr(j, "transport", "tcp");
    mw_json_kstr(j, "type", r->family == AF_INET6 ? "ipv6" : "ipv4");
    mw_json_obj_end(j);
}

static void path_arr(mw_json *j, const trace_path *p) {
    mw_json_arr_begin(j);
    for (unsigned i = 0; i < p->n; i++)
        mw_json_str(j, p->hop[i]);
    mw_json_arr_end(j);
}

bool trace_event_path(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                      const trace_result *r, unsigned last_n) {
    static trace_path p, q;
    ev_ctx ctx = {observer};
    mw_json j;
    mw_json_init(&j, out);
    ev_head(&j, &ctx, ts_us, "event", "mitmwatch.path", 0);
    endpoints(&j, host, r, -1);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "path");
    mw_json_kuint(&j, "max_ttl", r->max_ttl);
    mw_json_kuint(&j, "last_n", last_n);
    mw_json_kuint(&j, "elapsed_ms", r->elapsed_us / 1000u);
    mw_json_karr(&j, "ports");
    for (unsigned i = 0; i < r->nports; i++) {
        const trace_port *tp = &r->ports[i];
        mw_json_obj_begin(&j);
        mw_json_kuint(&j, "port", tp->port);
        mw_json_kuint(&j, "source_port", tp->lport);
        mw_json_kbool(&j, "reached", tp->reached);
        mw_json_kstr(&j, "final", trace_hop_kind_name(tp->final_kind));
        mw_json_kuint(&j, "hop_count", tp->nhops);
        mw_json_kuint(&j, "probes", tp->probes);
        mw_json_kuint(&j, "resets", tp->resets);
        mw_json_karr(&j, "hops");
        for (unsigned h = 0; h < tp->nhops; h++) {
            const trace_hop *hp = &tp->hops[h];
            mw_json_obj_begin(&j);
            mw_json_kuint(&j, "ttl", h + 1);
            mw_json_kstr(&j, "kind", trace_hop_kind_name(hp->kind));
            if (hp->kind != TRACE_HOP_STAR) {
                char a[TRACE_ADDR_STR];
                trace_addr_str(r->family, hp->addr, a);
                mw_json_kstr(&j, "ip", a);
                mw_json_kuint(&j, "rtt_us", hp->rtt_us);
            }
            if (hp->kind == TRACE_HOP_UNREACH) mw_json_kuint(&j, "icmp_code", hp->icmp_code);
            mw_json_obj_end(&j);
        }
        mw_json_arr_end(&j);
        trace_path_of(r, i, &p);
        mw_json_key(&j, "path");
        path_arr(&j, &p);
        mw_json_obj_end(&j);
    }
    mw_json_arr_end(&j);
    unsigned pairs[TRACE_MAX_PORTS * TRACE_MAX_PORTS / 2][2];
    unsigned nd = trace_port_differences(r, last_n, pairs, MW_ARRAY_LEN(pairs));
    mw_json_kbool(&j, "ports_differ", nd > 0);
    mw_json_karr(&j, "differences");
    for (unsigned d = 0; d < nd; d++) {
        mw_json_obj_begin(&j);
        mw_json_karr(&j, "ports");
        mw_json_uint(&j, r->ports[pairs[d][0]].port);
        mw_json_uint(&j, r->ports[pairs[d][1]].port);
        mw_json_arr_end(&j);
        trace_path_of(r, pairs[d][0], &p);
        trace_path_of(r, pairs[d][1], &q);
        mw_json_key(&j, "a");
        path_arr(&j, &p);
        mw_json_key(&j, "b");
        path_arr(&j, &q);
        mw_json_obj_end(&j);
    }
    mw_json_arr_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

bool trace_event_hops_changed(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                              const trace_result *r, unsigned pi, const trace_pathset *set,
                              unsigned last_n, const char *source) {
    static trace_path p;
    char msg[256], a[TRACE_ADDR_STR], which[48];
    mw_json j;
    if (pi >= r->nports) return false;
    trace_path_of(r, pi, &p);
    trace_addr_str(r->family, r->target, a);
    ev_ctx ctx = {observer};
    mw_json_init(&j, out);
    ev_head(&j, &ctx, ts_us, "alert", "mitmwatch.alert", 3);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", "path.hops_changed");
    mw_json_kstr(&j, "name", "Network path to a service changed");
    mw_json_obj_end(&j);
    if (source && set->n == 1)
        snprintf(which, sizeof which, "do not match the %s path", source);
    else if (source)
        snprintf(which, sizeof which, "match none of the %u %s paths", set->n, source);
    if (source && last_n)
        snprintf(msg, sizeof msg, "The last %u hops to %s port %u (%u hops in all) %s.", last_n, a,
                 r->ports[pi].port, p.n, which);
    else if (source)
        snprintf(msg, sizeof msg, "The path to %s port %u (%u hops) %s.", a, r->ports[pi].port, p.n,
                 which);
    else if (last_n)
        snprintf(msg, sizeof msg,
                 "The last %u hops to %s port %u (%u hops in all) match none of the %u "
                 "expected paths.",
                 last_n, a, r->ports[pi].port, p.n, set->n);
    else
        snprintf(msg, sizeof msg,
                 "The path to %s port %u (%u hops) matches none of the %u expected paths.", a,
                 r->ports[pi].port, p.n, set->n);
    mw_json_kstr(&j, "message", msg);
    endpoints(&j, host, r, r->ports[pi].port);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_karr(&j, "expected");
    for (unsigned i = 0; i < set->n; i++)
        path_arr(&j, &set->paths[i]);
    mw_json_arr_end(&j);
    mw_json_key(&j, "observed");
    path_arr(&j, &p);
    mw_json_kobj(&j, "path");
    mw_json_kuint(&j, "last_n", last_n);
    mw_json_kbool(&j, "reached", r->ports[pi].reached);
    if (source) mw_json_kstr(&j, "source", source);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

static bool outf(mw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool outf(mw_buf *b, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    return mw_buf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The last last_n hops of p (0: all) as "A,B,C", the --expect-hops form. */
static void tail_str(const trace_path *p, unsigned last_n, char *out, size_t outlen) {
    unsigned from = last_n && p->n > last_n ? p->n - last_n : 0;
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = from; i < p->n && o < outlen; i++) {
        int k = snprintf(out + o, outlen - o, "%s%s", i > from ? "," : "", p->hop[i]);
        if (k < 0) break;
        o += (size_t)k;
    }
}

/* The hops (not stars) among the last last_n of a that b's whole path lacks: the hop(s) that
 * make the difference, named. */
static void only_in(const trace_path *a, const trace_path *b, unsigned last_n, char *out,
                    size_t outlen) {
    unsigned fa = last_n && a->n > last_n ? a->n - last_n : 0;
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = fa; i < a->n && o < outlen; i++) {
        if (strcmp(a->hop[i], "*") == 0) continue;
        bool found = false;
        for (unsigned k = 0; k < b->n && !found; k++)
            found = strcmp(a->hop[i], b->hop[k]) == 0;
        if (found) continue;
        int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", a->hop[i]);
        if (n < 0) break;
        o += (size_t)n;
    }
}

bool trace_text(mw_buf *out, const char *host, const trace_result *r, unsigned last_n) {
    char tgt[TRACE_ADDR_STR], a[TRACE_ADDR_STR];
    bool ok = true;
    trace_addr_str(r->family, r->target, tgt);
    for (unsigned i = 0; i < r->nports; i++) {
        const trace_port *p = &r->ports[i];
        ok &= outf(out, "%s (%s) port %u: %u hops, %s, %u probes, %u resets\n", host ? host : tgt,
                   tgt, p->port, p->nhops,
                   p->reached ? (p->final_kind == TRACE_HOP_RST ? "reached (closed: rst)"
                                                                : "reached (open: syn-ack)")
                              : "not reached",
                   p->probes, p->resets);
        for (unsigned h = 0; h < p->nhops; h++) {
            const trace_hop *hp = &p->hops[h];
            if (hp->kind == TRACE_HOP_STAR) {
                ok &= outf(out, "%3u  *\n", h + 1);
                continue;
            }
            trace_addr_str(r->family, hp->addr, a);
            ok &= outf(out, "%3u  %s  %u.%03u ms%s%s\n", h + 1, a, hp->rtt_us / 1000,
                       hp->rtt_us % 1000, hp->kind == TRACE_HOP_TIME_EXCEEDED ? "" : "  ",
                       hp->kind == TRACE_HOP_TIME_EXCEEDED ? "" : trace_hop_kind_name(hp->kind));
        }
    }
    unsigned pairs[TRACE_MAX_PORTS * TRACE_MAX_PORTS / 2][2];
    unsigned nd = trace_port_differences(r, last_n, pairs, MW_ARRAY_LEN(pairs));
    for (unsigned d = 0; d < nd; d++) {
        trace_path pa, pb;
        trace_path_of(r, pairs[d][0], &pa);
        trace_path_of(r, pairs[d][1], &pb);
        char ta[TRACE_PATH_MAX * (TRACE_ADDR_STR + 1)], tb[sizeof ta], only[2][sizeof ta];
        tail_str(&pa, last_n, ta, sizeof ta);
        tail_str(&pb, last_n, tb, sizeof tb);
        only_in(&pa, &pb, last_n, only[0], sizeof only[0]);
        only_in(&pb, &pa, last_n, only[1], sizeof only[1]);
        unsigned porta = r->ports[pairs[d][0]].port, portb = r->ports[pairs[d][1]].port;
        ok &= outf(
            out,
            "ports %u and %u take different paths (last %u hops compared): %u via %s; %u via %s\n",
            porta, portb, last_n, porta, ta, portb, tb);
        if (only[0][0]) ok &= outf(out, "  only port %u passes %s\n", porta, only[0]);
        if (only[1][0]) ok &= outf(out, "  only port %u passes %s\n", portb, only[1]);
    }
    return ok;
}
