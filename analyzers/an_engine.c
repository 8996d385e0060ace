#include "an_engine.h"

#include "an_ndpi.h"
#include "cap_defrag.h"
#include "mw_cursor.h"
#include "proxy.h"
#include "starttls.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_STREAM_MAX (128u * 1024)
#define DEFAULT_REASM_MAX (256ull << 20)
#define DEFAULT_CERT_CACHE 16384u
#define EXPIRE_EVERY_US 1000000u
/* Bytes needed to tell TLS and the STARTTLS protocols from the rest (PostgreSQL's SSLRequest
 * is the longest signature). */
#define DETECT_BYTES 8
/* Client bytes held while waiting for a server's first words. */
#define CLIENT_FIRST_MAX 4096u
/* Released flow states kept for the next flows (no allocation per flow in steady state). */
#define APP_POOL_MAX 1024u

/* The analyzer state of a flow: a proxy dialogue or a STARTTLS plaintext phase, then TLS. */
typedef struct an_app {
    bool tls_active;
    bool check_tls[2];    /* after an upgrade: each role's next bytes must be TLS records */
    bool proxy_active;    /* in the proxy dialogue */
    bool check_tunnel[2]; /* after a proxy's tunnel opened: each role's next bytes must be TLS */
    prx_state prx;
    bool dpi_done;
    bool alert_by_sh; /* an alert arrived no later than the ServerHello's packet */
    dpi_flow *dpi;
    stls_state stls;
    tls_session tls;
    struct an_app *next_free; /* in the engine's pool */
} an_app;

struct an_engine {
    an_engine_cfg cfg;
    cap_stats cst;
    an_stats ast;
    cap_flowtab *ft;
    cap_defrag *df;
    cap_reasm reasm;
    x509_cache *certs;
    dpi_ctx *dpi;
    uint64_t now_us, last_expire_us;
    an_app *free_apps; /* released flow states, reused by detect() */
    unsigned nfree_apps;
    an_overload_flow overload; /* the flow that hit a per-flow cap (an_engine_take_...) */
};

/* The caps one flow's own bytes hit (not the global budget, which every flow shares). */
static uint64_t flow_caps(const an_engine *e) {
    return e->cst.an[CAP_AN_tcp_stream_cap] + e->cst.an[CAP_AN_tcp_ooo_cap] +
           e->cst.an[CAP_AN_tcp_ooo_ranges_cap] + e->cst.an[CAP_AN_tcp_history_cap];
}

static void note_overload(an_engine *e, const cap_flow *f) {
    an_overload_flow *o = &e->overload;
    if (o->set) {
        o->several |= memcmp(&o->key, &f->key, sizeof o->key) != 0;
        return;
    }
    o->set = true;
    o->key = f->key;
    o->client_side = f->client_side;
    memcpy(o->ttl, f->ttl, sizeof o->ttl);
}

void an_engine_take_overload_flow(an_engine *e, an_overload_flow *out) {
    *out = e->overload;
    memset(&e->overload, 0, sizeof e->overload);
}

static void emit(an_engine *e, cap_flow *f, tls_session *s) {
    if (!s->hs.have_ch && !s->hs.have_sh)
        return;
    an_app *a = f->app;
    dpi_result(e->dpi, a->dpi, s->hs.ndpi_protocol, sizeof s->hs.ndpi_protocol, &s->hs.ndpi_risks);
    s->hs.ndpi_risks |= dpi_unseen_risks(a->dpi, s->hs.have_sh, s->hs.cipher,
                                         a->alert_by_sh && s->hs.alert_level == 2);
    if (e->cfg.on_handshake)
        e->cfg.on_handshake(&s->hs, f, s->client_side, e->cfg.user);
    e->ast.handshakes++;
}

static void release_app(an_engine *e, cap_flow *f) {
    an_app *a = f->app;
    if (a) {
        dpi_flow_release(e->dpi, a->dpi);
        if (e->nfree_apps < APP_POOL_MAX) {
            if (a->tls_active)
                tls_session_free_keep(&a->tls); /* its small buffers stay with the state */
            a->next_free = e->free_apps;
            e->free_apps = a;
            e->nfree_apps++;
        } else {
            tls_session_free(&a->tls); /* also the buffers a pooled state kept */
            free(a);
        }
        f->app = NULL;
    }
}

/* A zeroed flow state, but for the session buffers a pooled one kept (tls_session_init_kept). */
static an_app *new_app(an_engine *e) {
    an_app *a = e->free_apps;
    if (!a)
        return calloc(1, sizeof *a);
    e->free_apps = a->next_free;
    e->nfree_apps--;
    mw_buf keep[3] = {a->tls.side[0].msg, a->tls.side[1].msg, a->tls.scratch};
    memset(a, 0, sizeof *a);
    a->tls.side[0].msg = keep[0];
    a->tls.side[1].msg = keep[1];
    a->tls.scratch = keep[2];
    return a;
}

static void release(an_engine *e, cap_flow *f) {
    release_app(e, f);
    cap_stream_release(&e->reasm, &f->stream[0]);
    cap_stream_release(&e->reasm, &f->stream[1]);
}

/* The flow is judged or given up: no more parsing. Streams that consumed bytes keep their
 * history for a while, so that a later, different copy of those bytes is still noticed. */
static void bypass(an_engine *e, cap_flow *f) {
    an_app *a = f->app;
    if (a && a->tls_active && a->tls.client_side >= 0)
        f->client_side = (uint8_t)a->tls.client_side; /* the ClientHello's sender, for later */
    release_app(e, f);
    for (int side = 0; side < 2; side++) {
        if (f->stream[side].hist)
            cap_stream_linger(&e->reasm, &f->stream[side]);
        else
            cap_stream_release(&e->reasm, &f->stream[side]);
    }
    f->watch_until_us = e->now_us + AN_WATCH_US;
    f->bypass = 1;
    e->cst.flows_bypassed++;
}

/* A payload segment of a bypassed flow whose streams still keep a history. */
static void watch(an_engine *e, cap_flow *f, int side, const cap_pkt *p) {
    if (e->now_us > f->watch_until_us) {
        cap_stream_release(&e->reasm, &f->stream[0]);
        cap_stream_release(&e->reasm, &f->stream[1]);
        return;
    }
    cap_stream *s = &f->stream[side];
    e->reasm.now_us = p->ts_us;
    if (cap_stream_late(&e->reasm, s, p->seq, p->payload, p->payload_len, p->ttl, &e->cst) &&
        e->cfg.on_conflict)
        e->cfg.on_conflict(s->conflict, f, side, f->client_side, e->cfg.user);
}

/* A STARTTLS candidate that ends without TLS. Not reported when a hole hides part of it: the
 * STARTTLS may be in the hole. */
static void plain_end(an_engine *e, cap_flow *f, bool stripped) {
    an_app *a = f->app;
    if (!e->cfg.on_plaintext || !a || a->stls.proto == STLS_UNKNOWN || f->stream[0].gap ||
        f->stream[1].gap || f->stream[0].nooo || f->stream[1].nooo)
        return;
    an_plain p = {.protocol = stls_proto_name(a->stls.proto),
                  .network_protocol = stls_network_protocol(a->stls.proto),
                  .offer_visible = stls_offer_visible(a->stls.proto),
                  .offered = a->stls.offered,
                  .requested = a->stls.asked,
                  .refused = a->stls.refused,
                  .stripped = stripped,
                  .session_cmds = a->stls.session_cmds,
                  .ts_us = e->now_us};
    e->cfg.on_plaintext(&p, f, f->client_side, e->cfg.user);
}

static void start_tls(an_engine *e, cap_flow *f, an_app *a, const char *starttls) {
    tls_session_init_kept(&a->tls, f->client_side, e->certs, &e->ast);
    a->tls.budget = &e->reasm;
    a->tls.hs.starttls = starttls;
    a->tls_active = true;
}

/* Hands the in-order bytes of one side to the STARTTLS phase or the TLS session. */
static void parse_side(an_engine *e, cap_flow *f, int side) {
    an_app *a = f->app;
    cap_stream *st = &f->stream[side];
    int role = side == f->client_side ? 0 : 1;
    if (a->proxy_active) {
        size_t used = 0;
        prx_rc rc = st->gap ? PRX_NOT : prx_feed(&a->prx, role, st->buf.data, st->buf.len, &used);
        cap_stream_consume(&e->reasm, st, used, &e->cst);
        if (rc == PRX_PENDING) return;
        if (rc != PRX_TUNNEL) {
            if (rc == PRX_REFUSED)
                e->ast.proxy_refused++; /* no tunnel, so no TLS to expect */
            else
                e->ast.non_tls_flows++;
            bypass(e, f);
            return;
        }
        e->ast.proxy_tunnels++;
        a->proxy_active = false;
        start_tls(e, f, a, NULL);
        tls_hs *h = &a->tls.hs;
        h->proxy = prx_type_name(a->prx.type);
        h->proxy_host = strdup(a->prx.host);
        h->proxy_port = a->prx.port;
        h->proxy_host_is_name = a->prx.host_is_name;
        h->proxy_auth = a->prx.auth;
        a->check_tunnel[0] = a->check_tunnel[1] = true;
        parse_side(e, f, !side); /* the other side may already hold its first records */
        if (!f->app) return;
    }
    if (!a->tls_active) {
        size_t used = 0;
        stls_rc rc = st->gap ? STLS_NOT
                             : stls_feed(&a->stls, role, st->buf.data, st->buf.len, &used,
                                         &e->ast);
        cap_stream_consume(&e->reasm, st, used, &e->cst);
        if (rc == STLS_NOT) {
            plain_end(e, f, false);
            bypass(e, f);
            return;
        }
        if (rc == STLS_PENDING)
            return;
        e->ast.starttls_upgrades++;
        start_tls(e, f, a, stls_proto_name(a->stls.proto));
        a->tls.hs.app_protocol = stls_network_protocol(a->stls.proto);
        a->check_tls[0] = a->check_tls[1] = true;
        parse_side(e, f, !side); /* the other side may already hold its first records */
        if (!f->app)
            return;
    }
    tls_session *s = &a->tls;
    if (st->gap) {
        st->gap = 0;
        tls_session_gap(s, side);
    }
    if (s->ready || st->buf.len == 0)
        return;
    if (a->check_tls[role]) {
        if (st->buf.len < 3)
            return;
        mw_cur b = mw_cur_make(st->buf.data, st->buf.len);
        int type = mw_cur_at(&b, 0); /* the record's content type */
        if (!tls_looks_like_tls(st->buf.data, st->buf.len) && type != 20 && type != 21) {
            /* "Ready to start TLS", then more plaintext: something in the path stripped it. */
            e->ast.an[AN_AN_starttls_no_tls_after_upgrade]++;
            plain_end(e, f, true);
            bypass(e, f);
            return;
        }
        a->check_tls[role] = false;
    }
    if (a->check_tunnel[role]) {
        if (st->buf.len < 3) return;
        if (!tls_looks_like_tls(st->buf.data, st->buf.len) &&
            !(role == 0 && tls_is_sslv2_hello(st->buf.data, st->buf.len))) {
            e->ast.proxy_not_tls++; /* e.g. plain HTTP or SSH through the proxy */
            bypass(e, f);
            return;
        }
        a->check_tunnel[role] = false;
    }
    size_t used = tls_session_feed(s, side, st->buf.data, st->buf.len, e->now_us);
    cap_stream_consume(&e->reasm, st, used, &e->cst);
}

static void on_flow_end(cap_flow *f, enum cap_flow_end why, void *user) {
    an_engine *e = user;
    (void)why;
    an_app *a = f->app;
    if (a && a->tls_active && !a->tls.ready) {
        /* Segments still waiting behind a hole: deliver what can be, then finish. */
        for (int side = 0; side < 2 && f->app; side++) {
            if (cap_stream_flush_gaps(&e->reasm, &f->stream[side], &e->cst))
                parse_side(e, f, side);
        }
        a = f->app;
        if (a && a->tls_active)
            tls_session_finish(&a->tls);
    }
    if (a && a->tls_active && a->tls.ready)
        emit(e, f, &a->tls);
    if (a && !a->tls_active && !a->proxy_active)
        plain_end(e, f, false);
    if (a && a->proxy_active && a->prx.responses > 0)
        e->ast.proxy_refused++; /* refused (407) and never asked again */
    release(e, f);
}

an_engine *an_engine_new(const an_engine_cfg *cfg) {
    an_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = *cfg;
    cap_reasm_init(&e->reasm, cfg->stream_max_bytes ? cfg->stream_max_bytes : DEFAULT_STREAM_MAX,
                   cfg->reasm_max_bytes ? cfg->reasm_max_bytes : DEFAULT_REASM_MAX);
    e->reasm.st = &e->cst;
    cap_csum_init(&e->cst, cfg->checksum);
    cap_flowtab_cfg fc = {.max_flows = cfg->max_flows,
                          .idle_timeout_us = cfg->idle_timeout_us,
                          .on_end = on_flow_end,
                          .user = e};
    e->ft = cap_flowtab_new(&fc, &e->cst);
    cap_defrag_cfg dc = {0, 0, 0};
    e->df = cap_defrag_new(&dc);
    e->certs = cfg->shared_certs
                   ? cfg->shared_certs
                   : x509_cache_new_capped(
                         cfg->cert_cache_entries ? cfg->cert_cache_entries : DEFAULT_CERT_CACHE,
                         cfg->cert_cache_bytes, &e->ast);
    if (!cfg->no_ndpi)
        e->dpi = cfg->shared_dpi ? cfg->shared_dpi : dpi_new();
    if (!e->ft || !e->df || !e->certs || (!cfg->no_ndpi && !e->dpi)) {
        an_engine_free(e);
        return NULL;
    }
    return e;
}

void an_engine_flush(an_engine *e) {
    cap_flowtab_flush(e->ft);
    /* fragments of datagrams still incomplete were never decoded: counted as timed out */
    cap_defrag_expire(e->df, UINT64_MAX / 2, &e->cst);
}

void an_engine_free(an_engine *e) {
    if (!e)
        return;
    if (e->ft)
        cap_flowtab_free(e->ft); /* ends (and emits) every flow first */
    cap_defrag_free(e->df);
    if (e->certs != e->cfg.shared_certs)
        x509_cache_free(e->certs);
    if (e->dpi != e->cfg.shared_dpi)
        dpi_free(e->dpi);
    while (e->free_apps) {
        an_app *a = e->free_apps;
        e->free_apps = a->next_free;
        tls_session_free(&a->tls);
        free(a);
    }
    free(e);
}

cap_stats *an_engine_cap_stats(an_engine *e) {
    e->cst.reasm_bytes_in_use = e->reasm.in_use;
    return &e->cst;
}
an_stats *an_engine_stats(an_engine *e) { return &e->ast; }
uint64_t an_engine_now(const an_engine *e) { return e->now_us; }

uint64_t an_engine_oldest_us(const an_engine *e) { return cap_flowtab_oldest_us(e->ft); }

bool an_engine_flush_oldest(an_engine *e) { return cap_flowtab_end_oldest(e->ft); }

void an_engine_tick(an_engine *e, uint64_t ts_us) {
    if (ts_us > e->now_us)
        e->now_us = ts_us;
    if (e->now_us - e->last_expire_us >= EXPIRE_EVERY_US) {
        e->last_expire_us = e->now_us;
        cap_flowtab_expire(e->ft, e->now_us);
    }
}

/* First payload of a flow: a TLS connection opens with a handshake record from either side
 * (the server's when the capture missed the ClientHello); a STARTTLS protocol with its
 * greeting or first command. Anything else is bypassed. */
static void detect(an_engine *e, cap_flow *f, int side) {
    cap_stream *st = &f->stream[side];
    int role = side == f->client_side ? 0 : 1;
    bool tls = tls_looks_like_tls(st->buf.data, st->buf.len);
    /* A client's proxy dialogue (a SOCKS5 greeting is 3 bytes: no need to wait for more). */
    prx_type proxy = !tls && role == 0 ? prx_detect(st->buf.data, st->buf.len) : PRX_NONE;
    if (!tls && proxy == PRX_NONE && st->buf.len < DETECT_BYTES && !f->fin_seen[side]) return;
    if (!tls && role == 0 && tls_is_sslv2_hello(st->buf.data, st->buf.len)) {
        /* SSL 2.0-format hello (RFC 6176 prohibits SSL 2.0; a v3-capable client may still
         * open so): counted, and parsed by the TLS session. */
        e->ast.an[AN_AN_tls_sslv2_hello]++;
        tls = true;
        proxy = PRX_NONE;
    }
    bool stls = !tls && proxy == PRX_NONE && stls_candidate(role, st->buf.data, st->buf.len);
    if (!tls && !stls && proxy == PRX_NONE && role == 0 && f->stream[!side].buf.len == 0 &&
        !f->fin_seen[side] && st->buf.len <= CLIENT_FIRST_MAX) {
        /* IMAP and the like let clients speak before the greeting: let the server decide. */
        return;
    }
    if (!tls && !stls && proxy == PRX_NONE) {
        e->ast.non_tls_flows++;
        bypass(e, f);
        return;
    }
    an_app *a = new_app(e);
    if (!a) {
        bypass(e, f);
        return;
    }
    f->app = a;
    stls_init(&a->stls);
    if (tls) {
        start_tls(e, f, a, NULL);
        e->ast.tls_flows++;
    } else if (proxy != PRX_NONE) {
        prx_init(&a->prx);
        a->prx.type = proxy;
        a->proxy_active = true;
        e->ast.proxy_flows++;
    } else {
        e->ast.starttls_flows++;
    }
}

void an_engine_frame(an_engine *e, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                     uint32_t wire_len) {
    cap_pkt p;
    e->cst.packets++;
    e->cst.bytes += wire_len;
    if (ts_us > e->now_us)
        e->now_us = ts_us;
    if (e->now_us - e->last_expire_us >= EXPIRE_EVERY_US) {
        e->last_expire_us = e->now_us;
        cap_flowtab_expire(e->ft, e->now_us);
        cap_defrag_expire(e->df, e->now_us, &e->cst);
    }
    mw_rc rc = cap_decode_df(e->df, ts_us, dlt, data, caplen, &p, &e->cst);
    if (rc == MW_MALFORMED)
        return;
    /* A packet the receiver would drop for its checksum must not reach a flow. */
    bool accepted = cap_csum_accept(&p, &e->cst);
    if (rc != MW_OK) {
        e->cst.non_tcp++;
        return;
    }
    if (!accepted)
        return;
    p.ts_us = ts_us;
    p.wire_len = wire_len;
    e->cst.tcp_packets++;
    e->cst.tcp_payload_bytes += p.payload_len;

    int side;
    bool create = p.payload_len > 0 || (p.tcp_flags & CAP_TH_SYN);
    cap_flow *f = cap_flowtab_get(e->ft, &p, &side, create);
    if (!f)
        return;
    f->pkts[side]++;
    f->bytes[side] += p.payload_len;
    if (f->ttl[side] == p.ttl && f->pkts[side] > 1) {
        if (f->ttl_stable[side] < UINT16_MAX)
            f->ttl_stable[side]++;
    } else {
        f->ttl[side] = p.ttl;
        f->ttl_stable[side] = 1;
    }
    if (p.tcp_flags & CAP_TH_FIN)
        f->fin_seen[side] = 1;
    if (p.tcp_flags & CAP_TH_RST)
        f->rst_seen = 1;

    uint64_t caps_before = flow_caps(e);
    if (f->bypass) {
        if (p.payload_len > 0 && (f->stream[0].hist || f->stream[1].hist))
            watch(e, f, side, &p);
    } else {
        const an_app *a0 = f->app;
        bool had_sh = a0 && a0->tls_active && a0->tls.hs.have_sh;
        bool had_alert = a0 && a0->tls_active && a0->tls.hs.alert_seen;
        e->reasm.now_us = ts_us;
        uint32_t seq = p.seq;
        if (p.tcp_flags & CAP_TH_SYN) {
            f->syn_seen[side] = 1;
            cap_stream_syn(&f->stream[side], p.seq);
            /* The SYN's sender is the client (set when the flow was created by it). Data in a
             * SYN or SYN-ACK (TCP Fast Open, RFC 7413) follows the ISN it consumes. */
            seq++;
        } else if (p.tcp_flags & CAP_TH_ACK) {
            cap_stream_peer_ack(&f->stream[!side], p.ack);
        }
        if (p.payload_len > 0 && cap_stream_segment(&e->reasm, &f->stream[side], seq, p.payload,
                                                    p.payload_len, p.ttl, &e->cst)) {
            if (!f->app && !f->bypass)
                detect(e, f, side);
            if (f->app)
                parse_side(e, f, side);
            /* bytes the other side sent before the protocol was known */
            if (f->app && f->stream[!side].buf.len)
                parse_side(e, f, !side);
        } else if (f->app && f->stream[side].gap) {
            parse_side(e, f, side);
        }
        an_app *a = f->app;
        if (a && a->tls_active && !had_sh && !had_alert && a->tls.hs.alert_seen)
            a->alert_by_sh = true; /* nDPI was fed packets up to the ServerHello's */
        if (a && !a->dpi_done && a->tls_active && a->tls.hs.have_ch && dpi_classified(a->dpi)) {
            /* nDPI has named the flow (from the ClientHello, or the plaintext before a
             * STARTTLS): the rest of the handshake is parsed by mitmwatch only. */
            dpi_stop(e->dpi, a->dpi);
            a->dpi_done = true;
        }
        if (a && !a->dpi_done) {
            a->dpi_done = !dpi_packet(e->dpi, &a->dpi, p.l3, p.l3_len, ts_us) ||
                          (dpi_classified(a->dpi) && a->tls_active && a->tls.hs.have_sh);
        }
        if (a && a->tls_active && a->tls.ready) {
            emit(e, f, &a->tls);
            bypass(e, f);
        }
    }
    if (flow_caps(e) != caps_before) note_overload(e, f);
    if (f->rst_seen || (f->fin_seen[0] && f->fin_seen[1]))
        cap_flowtab_end(e->ft, f, CAP_END_CLOSED);
}
