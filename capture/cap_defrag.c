#include "cap_defrag.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATAGRAMS 512u
#define DEFAULT_BYTES (8ull << 20)
#define DEFAULT_TIMEOUT_US (30ull * 1000000)
#define MAX_PAYLOAD 65535u /* IPv4 total length, IPv6 payload length (no jumbograms) */
#define OUT_SIZE (MAX_PAYLOAD + 40)

typedef struct {
    cap_frag key;
    bool used, have_last, have_first;
    uint64_t first_us;
    uint8_t *buf;
    uint32_t cap;   /* bytes allocated in buf, charged to the budget */
    uint32_t total; /* payload length, known from the last fragment */
    uint32_t got;   /* payload bytes held (fragments never overlap) */
    uint32_t nfrag;
    struct {
        uint32_t off, len;
    } fr[CAP_DEFRAG_MAX_FRAGS];
} pend;

struct cap_defrag {
    cap_defrag_cfg cfg;
    pend *p;
    uint32_t npend;
    uint64_t bytes;
    uint8_t *out[2]; /* rebuilt datagrams, alternately: one may still be decoded from */
    unsigned turn;
};

cap_defrag *cap_defrag_new(const cap_defrag_cfg *cfg) {
    cap_defrag *df = calloc(1, sizeof *df);
    if (!df) return NULL;
    df->cfg = *cfg;
    if (!df->cfg.max_datagrams) df->cfg.max_datagrams = DEFAULT_DATAGRAMS;
    if (!df->cfg.max_bytes) df->cfg.max_bytes = DEFAULT_BYTES;
    if (!df->cfg.timeout_us) df->cfg.timeout_us = DEFAULT_TIMEOUT_US;
    df->p = calloc(df->cfg.max_datagrams, sizeof *df->p);
    df->out[0] = malloc(OUT_SIZE);
    df->out[1] = malloc(OUT_SIZE);
    if (!df->p || !df->out[0] || !df->out[1]) {
        cap_defrag_free(df);
        return NULL;
    }
    return df;
}

static void release(cap_defrag *df, pend *p) {
    free(p->buf);
    df->bytes -= p->cap;
    memset(p, 0, sizeof *p);
    df->npend--;
}

/* Drops a pending datagram: its fragments, and the one at hand (extra), were never decoded. */
static void drop(cap_defrag *df, pend *p, int why, uint32_t extra, cap_stats *st) {
    st->an[why]++;
    st->an[CAP_AN_ip_frag_dropped] += p->nfrag + extra;
    release(df, p);
}

void cap_defrag_free(cap_defrag *df) {
    if (!df) return;
    if (df->p)
        for (uint32_t i = 0; i < df->cfg.max_datagrams; i++)
            if (df->p[i].used) release(df, &df->p[i]);
    free(df->p);
    free(df->out[0]);
    free(df->out[1]);
    free(df);
}

void cap_defrag_expire(cap_defrag *df, uint64_t now_us, cap_stats *st) {
    for (uint32_t i = 0; i < df->cfg.max_datagrams && df->npend; i++) {
        pend *p = &df->p[i];
        if (p->used && now_us >= p->first_us + df->cfg.timeout_us)
            drop(df, p, CAP_AN_ip_frag_timeout, 0, st);
    }
}

uint32_t cap_defrag_pending(const cap_defrag *df) {
    return df->npend;
}
uint64_t cap_defrag_bytes(const cap_defrag *df) {
    return df->bytes;
}

static bool same_datagram(const cap_frag *a, const cap_frag *b) {
    return a->ip_ver == b->ip_ver && a->id == b->id && a->ctx == b->ctx &&
           (a->ip_ver == 6 || a->proto == b->proto) && memcmp(a->src, b->src, 16) == 0 &&
           memcmp(a->dst, b->dst, 16) == 0;
}

/* RFC 1071 over an IPv4 header. */
static uint16_t ip_checksum(const uint8_t *h, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The datagram of a complete p, with a fresh header, into the next output buffer. */
static const uint8_t *rebuild(cap_defrag *df, const pend *p, uint32_t *out_len) {
    uint8_t *o = df->out[df->turn++ & 1];
    const cap_frag *k = &p->key;
    size_t hl = k->ip_ver == 4 ? 20 : 40;
    memset(o, 0, hl);
    if (k->ip_ver == 4) {
        uint32_t total = p->total + 20;
        o[0] = 0x45;
        o[2] = (uint8_t)(total >> 8);
        o[3] = (uint8_t)total;
        o[4] = (uint8_t)(k->id >> 8);
        o[5] = (uint8_t)k->id;
        o[8] = k->ttl;
        o[9] = k->proto;
        memcpy(o + 12, k->src, 4);
        memcpy(o + 16, k->dst, 4);
        uint16_t c = ip_checksum(o, 20);
        o[10] = (uint8_t)(c >> 8);
        o[11] = (uint8_t)c;
    } else {
        o[0] = 0x60;
        o[4] = (uint8_t)(p->total >> 8);
        o[5] = (uint8_t)p->total;
        o[6] = k->proto;
        o[7] = k->ttl;
        memcpy(o + 8, k->src, 16);
        memcpy(o + 24, k->dst, 16);
    }
    memcpy(o + hl, p->buf, p->total);
    *out_len = (uint32_t)(hl + p->total);
    return o;
}

mw_rc cap_defrag_add(cap_defrag *df, const cap_frag *f, uint32_t off, const uint8_t *data,
                     uint32_t len, bool more, uint64_t now_us, const uint8_t **out,
                     uint32_t *out_len, cap_stats *st) {
    cap_defrag_expire(df, now_us, st);
    uint32_t end = off + len;
    /* RFC 791/8200: all but the last fragment carry a multiple of 8 bytes; none reaches past
     * the largest datagram. An empty fragment says nothing. */
    uint32_t max = MAX_PAYLOAD - (f->ip_ver == 4 ? 20u : 0u);
    pend *p = NULL, *free_slot = NULL;
    for (uint32_t i = 0; i < df->cfg.max_datagrams; i++) {
        pend *q = &df->p[i];
        if (q->used && same_datagram(&q->key, f)) {
            p = q;
            break;
        }
        if (!q->used && !free_slot) free_slot = q;
    }
    if (len == 0 || end > max || (more && (len & 7) != 0)) {
        if (p) {
            drop(df, p, CAP_AN_ip_frag_overlap, 1, st);
        } else {
            st->an[CAP_AN_ip_frag_dropped]++;
        }
        return MW_MALFORMED;
    }
    if (!p) {
        if (!free_slot) {
            st->an[CAP_AN_ip_frag_cap]++;
            st->an[CAP_AN_ip_frag_dropped]++;
            return MW_MALFORMED;
        }
        p = free_slot;
        p->used = true;
        p->key = *f;
        p->first_us = now_us;
        df->npend++;
    }
    /* the last fragment fixes the length; nothing may contradict it */
    if ((p->have_last && (end > p->total || (!more && end != p->total))) || (!more && end < p->got))
        goto conflict;
    for (uint32_t i = 0; i < p->nfrag; i++) {
        uint32_t o = p->fr[i].off, e = o + p->fr[i].len;
        if (end <= o || off >= e) continue;
        if (o == off && e == end && memcmp(p->buf + off, data, len) == 0)
            return MW_NEED_MORE; /* exact duplicate: ignored, as the receiver does */
        goto conflict;
    }
    if (!more) {
        for (uint32_t i = 0; i < p->nfrag; i++)
            if (p->fr[i].off + p->fr[i].len > end) goto conflict;
        p->have_last = true;
        p->total = end;
    }
    if (p->nfrag == CAP_DEFRAG_MAX_FRAGS) {
        drop(df, p, CAP_AN_ip_frag_cap, 1, st);
        return MW_MALFORMED;
    }
    if (end > p->cap) {
        uint32_t want = (end + 2047) & ~2047u;
        if (want > MAX_PAYLOAD) want = MAX_PAYLOAD;
        uint8_t *nb = NULL;
        if (df->bytes + (want - p->cap) <= df->cfg.max_bytes) nb = realloc(p->buf, want);
        if (!nb) {
            drop(df, p, CAP_AN_ip_frag_cap, 1, st);
            return MW_MALFORMED;
        }
        df->bytes += want - p->cap;
        p->buf = nb;
        p->cap = want;
    }
    memcpy(p->buf + off, data, len);
    p->fr[p->nfrag].off = off;
    p->fr[p->nfrag].len = len;
    p->nfrag++;
    p->got += len;
    if (off == 0) {
        /* the rebuilt header takes the first fragment's fields (RFC 8200 4.5: the next header
         * of the fragment with offset 0) */
        p->have_first = true;
        p->key.ttl = f->ttl;
        p->key.proto = f->proto;
    }
    if (!p->have_last || !p->have_first || p->got != p->total) return MW_NEED_MORE;
    *out = rebuild(df, p, out_len);
    st->ip_reassembled++;
    release(df, p);
    return MW_OK;
conflict:
    drop(df, p, CAP_AN_ip_frag_overlap, 1, st);
    return MW_MALFORMED;
}
