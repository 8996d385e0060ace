#include "tls_session.h"

#include <openssl/ocsp.h>
#include <stdlib.h>
#include <string.h>

#include "mw_cursor.h"
#include "tls_hello.h"

#define TLS_RECORD_MAX (16384 + 2048) /* TLSCiphertext.length limit, RFC 5246 6.2.3 */

enum {
    CT_CHANGE_CIPHER_SPEC = 20,
    CT_ALERT = 21,
    CT_HANDSHAKE = 22,
    CT_APPLICATION_DATA = 23,
    CT_HEARTBEAT = 24,
};

enum {
    HT_CLIENT_HELLO = 1,
    HT_SERVER_HELLO = 2,
    HT_CERTIFICATE = 11,
    HT_CERTIFICATE_STATUS = 22,
};

bool tls_looks_like_tls(const uint8_t *p, size_t len) {
    mw_cur c = mw_cur_make(p, len);
    uint8_t h[3]; /* content type, version major, minor */
    return mw_cur_copy(&c, h, sizeof h) && h[0] == CT_HANDSHAKE && h[1] == 3 && h[2] <= 4;
}

bool tls_is_sslv2_hello(const uint8_t *p, size_t len) {
    mw_cur c = mw_cur_make(p, len);
    uint16_t hdr, version;
    uint8_t type;
    return mw_cur_get_u16(&c, &hdr) && (hdr & 0x8000) && mw_cur_get_u8(&c, &type) && type == 1 &&
           mw_cur_get_u16(&c, &version) && (version == 0x0002 || (version >> 8) == 3);
}

void tls_session_init(tls_session *s, int client_side_guess, x509_cache *certs, an_stats *st) {
    memset(s, 0, sizeof *s);
    s->client_side = client_side_guess;
    s->certs = certs;
    s->st = st;
    mw_buf_init(&s->side[0].msg, TLS_HS_MSG_MAX + 4);
    mw_buf_init(&s->side[1].msg, TLS_HS_MSG_MAX + 4);
    mw_buf_init(&s->scratch, 64 * 1024);
}

void tls_session_init_kept(tls_session *s, int client_side_guess, x509_cache *certs,
                           an_stats *st) {
    mw_buf keep[3] = {s->side[0].msg, s->side[1].msg, s->scratch};
    tls_session_init(s, client_side_guess, certs, st);
    s->side[0].msg.data = keep[0].data;
    s->side[0].msg.alloc = keep[0].alloc;
    s->side[1].msg.data = keep[1].data;
    s->side[1].msg.alloc = keep[1].alloc;
    s->scratch.data = keep[2].data;
    s->scratch.alloc = keep[2].alloc;
}

/* What mw_buf will have allocated to hold need bytes (its doubling, up to the cap). */
static size_t grown_alloc(const mw_buf *b, size_t need) {
    if (need <= b->alloc)
        return b->alloc;
    size_t na = b->alloc ? b->alloc : (b->max < 256 ? b->max : 256);
    while (na < need)
        na = na > b->max / 2 ? b->max : na * 2;
    return na;
}

static void free_msg(tls_session *s, tls_side *ts) {
    mw_buf_free(&ts->msg);
    if (s->budget)
        cap_budget_give(s->budget, ts->charged);
    ts->charged = 0;
}

/* A buffer kept for the next session: empty, small, and charged to nothing. */
static void keep_buf(tls_session *s, mw_buf *b, size_t *charged) {
    if (charged) {
        if (s->budget)
            cap_budget_give(s->budget, *charged);
        *charged = 0;
    }
    if (b->alloc > TLS_HS_KEEP_MAX)
        mw_buf_free(b);
    b->len = 0;
}

static void free_facts(tls_session *s);

/* The facts' strings live in the session's own small area when they fit (no allocation per
 * handshake), else on the heap. */
static bool in_strs(const tls_session *s, const char *p) {
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->strs;
    return a >= lo && a < lo + sizeof s->strs;
}

static void free_str(tls_session *s, char *p) {
    if (p && !in_strs(s, p))
        free(p);
}

void tls_session_free_keep(tls_session *s) {
    keep_buf(s, &s->side[0].msg, &s->side[0].charged);
    keep_buf(s, &s->side[1].msg, &s->side[1].charged);
    keep_buf(s, &s->scratch, NULL);
    free_facts(s);
}

void tls_session_free(tls_session *s) {
    free_msg(s, &s->side[0]);
    free_msg(s, &s->side[1]);
    mw_buf_free(&s->scratch);
    free_facts(s);
}

static void free_facts(tls_session *s) {
    tls_hs *h = &s->hs;
    free_str(s, h->sni);
    free_str(s, h->alpn_offered);
    free_str(s, h->ja3_string);
    free_str(s, h->ja3s_string);
    free_str(s, h->alpn);
    free_str(s, h->proxy_host);
    for (int i = 0; i < h->nchain; i++)
        x509_info_unref(s->certs, h->chain[i]);
    SCT_LIST_free(h->tls_scts);
    SCT_LIST_free(h->ocsp_scts);
    memset(h, 0, sizeof *h);
    s->strs_used = 0;
}

/* ---- a handshake's facts outliving their session (the judge stage of several workers) ---- */

static bool copy_str(char **dst, const char *src) {
    *dst = NULL;
    return !src || (*dst = strdup(src)) != NULL;
}

static bool copy_scts(STACK_OF(SCT) **dst, const STACK_OF(SCT) *src) {
    *dst = NULL;
    if (!src) return true;
    unsigned char *der = NULL;
    int n = i2o_SCT_LIST(src, &der);
    if (n <= 0) return false;
    const unsigned char *p = der;
    *dst = o2i_SCT_LIST(NULL, &p, (size_t)n);
    OPENSSL_free(der);
    if (!*dst || sk_SCT_num(*dst) != sk_SCT_num(src)) return false;
    for (int i = 0; i < sk_SCT_num(src); i++)
        SCT_set_source(sk_SCT_value(*dst, i), SCT_get_source(sk_SCT_value(src, i)));
    return true;
}

bool tls_hs_copy(tls_hs *dst, const tls_hs *src) {
    *dst = *src;
    bool ok = copy_str(&dst->sni, src->sni) && copy_str(&dst->alpn_offered, src->alpn_offered) &&
              copy_str(&dst->ja3_string, src->ja3_string) &&
              copy_str(&dst->ja3s_string, src->ja3s_string) && copy_str(&dst->alpn, src->alpn) &&
              copy_str(&dst->proxy_host, src->proxy_host);
    dst->tls_scts = dst->ocsp_scts = NULL;
    dst->nchain = 0;
    ok = ok && copy_scts(&dst->tls_scts, src->tls_scts) &&
         copy_scts(&dst->ocsp_scts, src->ocsp_scts);
    if (!ok) {
        tls_hs_release(dst, NULL);
        return false;
    }
    for (int i = 0; i < src->nchain; i++)
        x509_info_ref(src->chain[i]);
    dst->nchain = src->nchain;
    return true;
}

void tls_hs_release(tls_hs *h, x509_cache *certs) {
    free(h->sni);
    free(h->alpn_offered);
    free(h->ja3_string);
    free(h->ja3s_string);
    free(h->alpn);
    free(h->proxy_host);
    for (int i = 0; i < h->nchain; i++)
        x509_info_unref(certs, h->chain[i]);
    SCT_LIST_free(h->tls_scts);
    SCT_LIST_free(h->ocsp_scts);
    memset(h, 0, sizeof *h);
}

static char *dup_view(tls_session *s, mw_cur v) {
    char *p;
    if (v.len < sizeof s->strs - s->strs_used) {
        p = s->strs + s->strs_used;
        s->strs_used += v.len + 1;
    } else if (!(p = malloc(v.len + 1))) {
        return NULL;
    }
    memcpy(p, v.data, v.len);
    p[v.len] = '\0'; /* mw-raw-ok: our own copy, not packet bytes */
    return p;
}

static char *dup_buf(tls_session *s, const mw_buf *b) {
    return dup_view(s, mw_cur_make(b->data, b->len));
}

static void stop_side(tls_session *s, int side, int anomaly) {
    s->st->an[anomaly]++;
    s->side[side].stopped = true;
    free_msg(s, &s->side[side]);
}

/* Appends a fragment to the side's message buffer, its growth charged to the budget first. */
static bool msg_append(tls_session *s, int side, mw_cur frag) {
    tls_side *ts = &s->side[side];
    if (frag.len > TLS_HS_MSG_MAX + 4 - ts->msg.len) {
        stop_side(s, side, AN_AN_tls_handshake_too_large);
        return false;
    }
    size_t want = grown_alloc(&ts->msg, ts->msg.len + frag.len);
    if (s->budget && want > ts->charged) {
        if (!cap_budget_take(s->budget, want - ts->charged)) {
            stop_side(s, side, AN_AN_tls_handshake_budget);
            return false;
        }
        ts->charged = want;
    }
    if (!mw_buf_append(&ts->msg, frag.data, frag.len)) {
        stop_side(s, side, AN_AN_tls_handshake_too_large);
        return false;
    }
    if (s->budget && ts->msg.alloc > ts->charged) { /* mw_buf grew otherwise than predicted */
        s->budget->in_use += ts->msg.alloc - ts->charged;
        ts->charged = ts->msg.alloc;
    }
    return true;
}

/* The ClientHello's sender is the client, whatever the TCP handshake suggested (mid-stream
 * pickups guess by port). Only before any hello was attributed can the roles still swap. */
static bool claim_role(tls_session *s, int side, int role) {
    if (tls_role(s, side) == role)
        return true;
    if (s->hs.have_ch || s->hs.have_sh) {
        s->st->an[AN_AN_tls_role_conflict]++;
        return false;
    }
    s->client_side = role == 0 ? side : !side;
    return true;
}

static void on_client_hello(tls_session *s, int side, mw_cur body, uint64_t now) {
    tls_hs *h = &s->hs;
    if (!claim_role(s, side, 0))
        return;
    s->st->client_hellos++;
    if (h->have_ch) /* the second ClientHello after a HelloRetryRequest: keep the first */
        return;
    /* Large: off the stack, and not allocated per handshake; one per thread (the parse is
     * not reentrant, and each worker thread parses its own flows). */
    static _Thread_local tls_client_hello ch_storage;
    tls_client_hello *ch = &ch_storage;
    if (tls_parse_client_hello(body, ch) != MW_OK) {
        s->st->an[AN_AN_tls_client_hello_malformed]++;
        return;
    }
    h->have_ch = true;
    h->ch_version = tls_client_max_version(ch);
    if (ch->sni.len)
        h->sni = dup_view(s, ch->sni);
    mw_cur alpn = ch->alpn, first;
    if (mw_cur_get_u8_prefixed(&alpn, &first))
        h->alpn_offered = dup_view(s, first);
    if (tls_ja3(ch, &s->scratch, h->ja3))
        h->ja3_string = dup_buf(s, &s->scratch);
    tls_ja4(ch, h->ja4);
    h->ch_session_id_len = (uint8_t)ch->session_id.len;
    memcpy(h->ch_session_id, ch->session_id.data, ch->session_id.len);
    h->ch_ticket = ch->has_ticket;
    h->ch_psk = ch->has_psk;
    if (!h->have_sh)
        h->ts_us = now;
}

#define SSLV2_MAX_SPECS 256

/* struct { uint16 length (high bit set: no padding); uint8 msg_type = 1; uint16 version;
 *          uint16 cipher_spec_length; uint16 session_id_length; uint16 challenge_length;
 *          V2CipherSpec cipher_specs[cipher_spec_length / 3]; opaque session_id[...];
 *          opaque challenge[...]; }                                  RFC 6101 appendix E.2
 * Fingerprinted as Zeek's ja3 does: the version and the 3-byte cipher specs as decimal numbers,
 * no extensions. Returns the bytes consumed; 0 while the message is incomplete. */
static size_t sslv2_client_hello(tls_session *s, int side, mw_cur c, uint64_t now) {
    tls_hs *h = &s->hs;
    uint16_t hdr, version, speclen, sidlen, chlen;
    uint8_t type;
    mw_cur msg, specs, sid, challenge;
    if (!mw_cur_get_u16(&c, &hdr)) return 0;
    if (!mw_cur_get_bytes(&c, hdr & 0x7fff, &msg)) return 0;
    size_t used = 2 + (size_t)(hdr & 0x7fff);
    if (!claim_role(s, side, 0)) return used;
    s->st->client_hellos++;
    if (!mw_cur_get_u8(&msg, &type) || type != 1 || !mw_cur_get_u16(&msg, &version) ||
        !mw_cur_get_u16(&msg, &speclen) || !mw_cur_get_u16(&msg, &sidlen) ||
        !mw_cur_get_u16(&msg, &chlen) || speclen % 3 != 0 || speclen / 3 > SSLV2_MAX_SPECS ||
        !mw_cur_get_bytes(&msg, speclen, &specs) || !mw_cur_get_bytes(&msg, sidlen, &sid) ||
        sidlen > sizeof h->ch_session_id || !mw_cur_get_bytes(&msg, chlen, &challenge) ||
        !mw_cur_empty(&msg)) {
        s->st->an[AN_AN_tls_client_hello_malformed]++;
        return used;
    }
    uint32_t v2[SSLV2_MAX_SPECS];
    size_t n = 0;
    tls_client_hello *ch = calloc(1, sizeof *ch); /* large: keep it off the stack */
    if (!ch) return used;
    ch->legacy_version = version;
    while (!mw_cur_empty(&specs)) {
        uint32_t spec;
        if (!mw_cur_get_u24(&specs, &spec)) break;
        v2[n++] = spec;
        if (spec <= 0xffff && ch->nciphers < TLS_MAX_CIPHERS) /* a TLS suite: JA4 counts it */
            ch->ciphers[ch->nciphers++] = (uint16_t)spec;
    }
    h->have_ch = true;
    h->sslv2_hello = true;
    h->ch_version = version;
    if (tls_ja3_sslv2(version, v2, n, &s->scratch, h->ja3)) h->ja3_string = dup_buf(s, &s->scratch);
    tls_ja4(ch, h->ja4);
    h->ch_session_id_len = (uint8_t)sid.len;
    memcpy(h->ch_session_id, sid.data, sid.len);
    if (!h->have_sh) h->ts_us = now;
    free(ch);
    return used;
}

static STACK_OF(SCT) *parse_sct_list(mw_cur list, sct_source_t source, an_stats *st) {
    const unsigned char *p = list.data;
    STACK_OF(SCT) *scts = o2i_SCT_LIST(NULL, &p, list.len);
    if (!scts || p != list.data + list.len) {
        SCT_LIST_free(scts);
        st->an[AN_AN_sct_list_malformed]++;
        return NULL;
    }
    for (int i = 0; i < sk_SCT_num(scts); i++)
        SCT_set_source(sk_SCT_value(scts, i), source);
    return scts;
}

static void on_server_hello(tls_session *s, int side, mw_cur body, uint64_t now) {
    tls_hs *h = &s->hs;
    tls_server_hello sh;
    if (!claim_role(s, side, 1))
        return;
    if (tls_parse_server_hello(body, &sh) != MW_OK) {
        s->st->an[AN_AN_tls_server_hello_malformed]++;
        return;
    }
    if (sh.is_hrr) {
        h->hrr = true;
        s->st->hello_retry_requests++;
        return;
    }
    if (h->have_sh)
        return;
    s->st->server_hellos++;
    h->have_sh = true;
    h->ts_us = now;
    h->sh_legacy_version = sh.legacy_version;
    h->version = sh.version;
    h->cipher = sh.cipher;
    if (tls_ja3s(&sh, &s->scratch, h->ja3s))
        h->ja3s_string = dup_buf(s, &s->scratch);
    if (sh.alpn.len)
        h->alpn = dup_view(s, sh.alpn);
    if (sh.sct_list.len)
        h->tls_scts = parse_sct_list(sh.sct_list, SCT_SOURCE_TLS_EXTENSION, s->st);
    if (h->version >= 0x0304) {
        /* RFC 8446 2: everything after the ServerHello is encrypted; a PSK means resumption. */
        h->resumed = sh.has_psk;
        s->side[side].encrypted = true;
    } else {
        /* RFC 5246 7.4.1.3: echoing the client's session id means the session is resumed. */
        h->resumed = sh.session_id.len > 0 && sh.session_id.len == h->ch_session_id_len &&
                     memcmp(sh.session_id.data, h->ch_session_id, sh.session_id.len) == 0;
    }
}

/* opaque ASN.1Cert<1..2^24-1>; struct { ASN.1Cert certificate_list<0..2^24-1>; } Certificate;
 *                                                                  RFC 5246 section 7.4.2 */
static void on_certificate(tls_session *s, mw_cur body) {
    tls_hs *h = &s->hs;
    mw_cur list;
    if (h->cert_seen)
        return;
    h->cert_seen = true;
    if (!mw_cur_get_u24_prefixed(&body, &list) || !mw_cur_empty(&body)) {
        s->st->an[AN_AN_tls_certificate_malformed]++;
        return;
    }
    while (!mw_cur_empty(&list)) {
        mw_cur der;
        if (!mw_cur_get_u24_prefixed(&list, &der)) {
            s->st->an[AN_AN_tls_certificate_malformed]++;
            return;
        }
        s->st->certificates++;
        if (h->nchain >= TLS_MAX_CHAIN) {
            s->st->an[AN_AN_chain_too_long]++;
            continue;
        }
        x509_info *e = x509_cache_get(s->certs, der.data, der.len);
        if (e)
            h->chain[h->nchain++] = e;
    }
}

/* struct { CertificateStatusType status_type; select (status_type) { case ocsp:
 * OCSPResponse; } } CertificateStatus; opaque OCSPResponse<1..2^24-1>;   RFC 6066 section 8.
 * SCTs ride in the single responses' extension (RFC 6962 section 3.3). */
static void on_certificate_status(tls_session *s, mw_cur body) {
    tls_hs *h = &s->hs;
    uint8_t type;
    mw_cur resp;
    if (!mw_cur_get_u8(&body, &type) || type != 1 || !mw_cur_get_u24_prefixed(&body, &resp) ||
        !mw_cur_empty(&body)) {
        s->st->an[AN_AN_tls_certificate_status_malformed]++;
        return;
    }
    h->ocsp_stapled = true;
    const unsigned char *p = resp.data;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp.len);
    if (!r || p != resp.data + resp.len) {
        OCSP_RESPONSE_free(r);
        s->st->an[AN_AN_ocsp_malformed]++;
        return;
    }
    OCSP_BASICRESP *b = OCSP_response_get1_basic(r);
    for (int i = 0; b && i < OCSP_resp_count(b); i++) {
        STACK_OF(SCT) *scts =
            OCSP_SINGLERESP_get1_ext_d2i(OCSP_resp_get0(b, i), NID_ct_cert_scts, NULL, NULL);
        while (scts && sk_SCT_num(scts) > 0) {
            SCT *sct = sk_SCT_shift(scts);
            SCT_set_source(sct, SCT_SOURCE_OCSP_STAPLED_RESPONSE);
            if (!h->ocsp_scts)
                h->ocsp_scts = sk_SCT_new_null();
            if (!h->ocsp_scts || !sk_SCT_push(h->ocsp_scts, sct))
                SCT_free(sct);
        }
        SCT_LIST_free(scts);
    }
    OCSP_BASICRESP_free(b);
    OCSP_RESPONSE_free(r);
}

static void on_message(tls_session *s, int side, uint8_t type, mw_cur body, uint64_t now) {
    int role = tls_role(s, side);
    switch (type) {
    case HT_CLIENT_HELLO:
        on_client_hello(s, side, body, now);
        break;
    case HT_SERVER_HELLO:
        on_server_hello(s, side, body, now);
        break;
    case HT_CERTIFICATE:
        if (role == 1 && s->hs.have_sh)
            on_certificate(s, body);
        break;
    case HT_CERTIFICATE_STATUS:
        if (role == 1 && s->hs.have_sh)
            on_certificate_status(s, body);
        break;
    default:
        break;
    }
}

/* struct { HandshakeType msg_type; uint24 length; ... } Handshake;  RFC 8446 section 4 */
static void handshake_fragment(tls_session *s, int side, mw_cur frag, uint64_t now) {
    tls_side *ts = &s->side[side];
    /* An empty fragment adds nothing (RFC 8446 5.1 forbids it); and msg may have no storage. */
    if (frag.len == 0 || !msg_append(s, side, frag))
        return;
    size_t off = 0;
    while (!ts->stopped) {
        mw_cur c = mw_cur_make(ts->msg.data + off, ts->msg.len - off), body;
        uint8_t type;
        uint32_t mlen;
        if (!mw_cur_get_u8(&c, &type) || !mw_cur_get_u24(&c, &mlen))
            break;
        if (mlen > TLS_HS_MSG_MAX) {
            stop_side(s, side, AN_AN_tls_handshake_too_large);
            return;
        }
        if (!mw_cur_get_bytes(&c, mlen, &body))
            break;
        on_message(s, side, type, body, now);
        off += 4 + mlen;
        if (ts->encrypted) /* the rest of this record is not plaintext handshake (TLS 1.3) */
            off = ts->msg.len;
    }
    if (ts->stopped)
        return;
    mw_buf_consume(&ts->msg, off);
    if (ts->msg.len == 0 && ts->msg.alloc > TLS_HS_KEEP_MAX)
        free_msg(s, ts); /* a large message is done: its buffer is not kept for the session */
}

static void check_outcome(tls_session *s) {
    tls_hs *h = &s->hs;
    if (s->ready || !h->have_sh)
        return;
    if (h->version >= 0x0304)
        h->established = h->appdata[0];
    else
        h->established = h->ccs[0] && h->ccs[1];
    if (h->established)
        s->ready = true;
}

static void on_record(tls_session *s, int side, uint8_t type, mw_cur frag, uint64_t now) {
    tls_side *ts = &s->side[side];
    tls_hs *h = &s->hs;
    int role = tls_role(s, side);
    switch (type) {
    case CT_CHANGE_CIPHER_SPEC:
        h->ccs[role] = true;
        /* TLS 1.3's middlebox-compatibility CCS changes nothing (RFC 8446 D.4); after a
         * HelloRetryRequest it comes before the final ServerHello, so have_sh is not yet set. */
        if (!h->hrr && !(h->have_sh && h->version >= 0x0304)) {
            ts->encrypted = true;
            if (role == 1 && h->have_sh && !h->cert_seen)
                h->resumed = true; /* RFC 5077: abbreviated handshake with a ticket */
        }
        break;
    case CT_ALERT: {
        uint8_t level, desc;
        if (!ts->encrypted && mw_cur_get_u8(&frag, &level) && mw_cur_get_u8(&frag, &desc)) {
            h->alert_seen = true;
            h->alert_level = level;
            h->alert_desc = desc;
            h->alert_from_server = (uint8_t)role;
            if (level == 2 && (h->have_ch || h->have_sh))
                s->ready = true; /* fatal: the handshake failed */
        }
        break;
    }
    case CT_HANDSHAKE:
        if (!ts->encrypted)
            handshake_fragment(s, side, frag, now);
        break;
    case CT_APPLICATION_DATA:
        if (h->have_sh)
            h->appdata[role] = true;
        break;
    default:
        break;
    }
    check_outcome(s);
}

size_t tls_session_feed(tls_session *s, int side, const uint8_t *data, size_t len,
                        uint64_t now_us) {
    tls_side *ts = &s->side[side];
    mw_cur c = mw_cur_make(data, len);
    if (!ts->started && !ts->stopped && tls_is_sslv2_hello(data, len)) {
        size_t used = sslv2_client_hello(s, side, c, now_us);
        if (used == 0) return 0;
        ts->started = true;
        if (!mw_cur_skip(&c, used)) return len;
    }
    while (!ts->stopped && !s->ready) {
        mw_cur rec = c, frag;
        uint8_t type;
        uint16_t version, rlen;
        /* struct { ContentType type; ProtocolVersion legacy_record_version; uint16 length;
         *          opaque fragment[length]; } TLSPlaintext;              RFC 8446 5.1 */
        if (!mw_cur_get_u8(&rec, &type) || !mw_cur_get_u16(&rec, &version) ||
            !mw_cur_get_u16(&rec, &rlen))
            break;
        if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT || (version >> 8) != 3 ||
            rlen > TLS_RECORD_MAX) {
            stop_side(s, side, AN_AN_tls_record_malformed);
            break;
        }
        if (!mw_cur_get_bytes(&rec, rlen, &frag))
            break;
        ts->started = true;
        on_record(s, side, type, frag, now_us);
        c = rec;
    }
    if (ts->stopped)
        return len;
    return len - c.len;
}

void tls_session_gap(tls_session *s, int side) {
    if (s->side[side].stopped)
        return;
    stop_side(s, side, AN_AN_tls_stream_gap);
    if (!s->ready && (s->hs.have_ch || s->hs.have_sh)) {
        s->hs.incomplete = true;
        s->ready = true;
    }
}

void tls_session_finish(tls_session *s) {
    if (s->ready || !(s->hs.have_ch || s->hs.have_sh))
        return;
    s->hs.incomplete = true;
    s->ready = true;
}
