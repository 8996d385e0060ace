#include "cap_reasm.h"

#include <stdlib.h>
#include <string.h>

struct cap_seg {
    cap_seg *next;
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
};

/* Sequence-space difference a - b (RFC 9293 modular comparison). */
static inline int32_t sdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

void cap_reasm_init(cap_reasm *r, uint32_t stream_max, uint64_t global_max) {
    r->stream_max = stream_max;
    r->global_max = global_max;
    r->in_use = 0;
}

void cap_stream_init(cap_stream *s) {
    memset(s, 0, sizeof *s);
    mw_buf_init(&s->buf, UINT32_MAX);
}

static void free_ooo(cap_reasm *r, cap_stream *s) {
    cap_seg *g = s->ooo;
    while (g) {
        cap_seg *n = g->next;
        free(g);
        g = n;
    }
    r->in_use -= s->ooo_bytes;
    s->ooo = NULL;
    s->ooo_bytes = 0;
}

void cap_stream_release(cap_reasm *r, cap_stream *s) {
    free_ooo(r, s);
    r->in_use -= s->buf.len;
    mw_buf_free(&s->buf);
    s->done = 1;
}

void cap_stream_syn(cap_stream *s, uint32_t isn) {
    if (s->seq_known)
        return;
    s->seq_known = 1;
    s->base_seq = s->next_seq = isn + 1;
}

static bool room(const cap_reasm *r, const cap_stream *s, uint32_t len, cap_stats *st) {
    if ((uint64_t)s->buf.len + s->ooo_bytes + len > r->stream_max) {
        st->an[CAP_AN_tcp_stream_cap]++;
        return false;
    }
    if (r->in_use + len > r->global_max) {
        st->an[CAP_AN_tcp_global_cap]++;
        return false;
    }
    return true;
}

/* Compares bytes of a segment at seq with what buf already holds there (first data wins). */
static void compare_buffered(const cap_stream *s, uint32_t seq, const uint8_t *data, uint32_t len,
                             cap_stats *st) {
    int32_t off = sdiff(seq, s->base_seq);
    uint32_t skip = 0;
    if (off < 0) {
        if ((uint32_t)-off >= len)
            return;
        skip = (uint32_t)-off;
        off = 0;
    }
    if ((uint32_t)off >= s->buf.len)
        return;
    uint32_t n = len - skip;
    if (n > s->buf.len - (uint32_t)off)
        n = (uint32_t)(s->buf.len - (uint32_t)off);
    if (memcmp(s->buf.data + off, data + skip, n) != 0)
        st->an[CAP_AN_tcp_overlap_mismatch]++;
}

static bool append(cap_reasm *r, cap_stream *s, const uint8_t *data, uint32_t len,
                   cap_stats *st) {
    if (!room(r, s, len, st) || !mw_buf_append(&s->buf, data, len)) {
        /* The analyzer cannot make progress within the cap: stop this direction. */
        s->done = 1;
        return false;
    }
    r->in_use += len;
    s->next_seq += len;
    return true;
}

/* Moves waiting segments that now touch next_seq into buf. */
static bool drain(cap_reasm *r, cap_stream *s, cap_stats *st) {
    bool grew = false;
    while (s->ooo && !s->done && sdiff(s->ooo->seq, s->next_seq) <= 0) {
        cap_seg *g = s->ooo;
        s->ooo = g->next;
        s->ooo_bytes -= g->len;
        r->in_use -= g->len;
        int32_t old = sdiff(s->next_seq, g->seq);
        if ((uint32_t)old < g->len) {
            compare_buffered(s, g->seq, g->data, g->len, st);
            grew |= append(r, s, g->data + old, g->len - (uint32_t)old, st);
        }
        free(g);
    }
    return grew;
}

static cap_seg *new_seg(uint32_t seq, const uint8_t *data, uint32_t len) {
    cap_seg *g = malloc(sizeof *g + len);
    if (g) {
        g->next = NULL;
        g->seq = seq;
        g->len = len;
        memcpy(g->data, data, len);
    }
    return g;
}

/* Inserts [seq, seq+len) into the sorted list, keeping only the parts no segment covers yet
 * and comparing the covered parts (first data wins). */
static bool insert_ooo(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                       uint32_t len, cap_stats *st) {
    cap_seg **pp = &s->ooo;
    uint32_t cur = seq, end = seq + len;
    while (sdiff(cur, end) < 0) {
        cap_seg *g = *pp;
        uint32_t piece_end = end;
        if (g && sdiff(g->seq + g->len, cur) <= 0) { /* g lies wholly before cur */
            pp = &g->next;
            continue;
        }
        if (g && sdiff(g->seq, cur) <= 0) { /* cur is inside g: compare, skip past it */
            uint32_t goff = cur - g->seq;
            uint32_t n = g->len - goff;
            if (sdiff(cur + n, end) > 0)
                n = end - cur;
            if (memcmp(g->data + goff, data + (cur - seq), n) != 0)
                st->an[CAP_AN_tcp_overlap_mismatch]++;
            cur += n;
            pp = &g->next;
            continue;
        }
        if (g && sdiff(g->seq, end) < 0)
            piece_end = g->seq;
        uint32_t n = piece_end - cur;
        if (!room(r, s, n, st))
            return false;
        cap_seg *ng = new_seg(cur, data + (cur - seq), n);
        if (!ng)
            return false;
        ng->next = g;
        *pp = ng;
        pp = &ng->next;
        s->ooo_bytes += n;
        r->in_use += n;
        cur = piece_end;
    }
    return true;
}

/* Skips the hole before the first waiting segment; what buf held can no longer be completed. */
static void skip_hole(cap_reasm *r, cap_stream *s, cap_stats *st) {
    st->an[CAP_AN_tcp_gap]++;
    r->in_use -= s->buf.len;
    mw_buf_reset(&s->buf);
    s->base_seq = s->next_seq = s->ooo->seq;
    s->gap = 1;
}

bool cap_stream_segment(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                        uint32_t len, cap_stats *st) {
    if (len == 0 || s->done)
        return false;
    if (!s->seq_known) { /* mid-stream pickup */
        s->seq_known = 1;
        s->base_seq = s->next_seq = seq;
    }
    int32_t d = sdiff(seq, s->next_seq);
    if (d < 0) {
        compare_buffered(s, seq, data, len, st);
        if ((uint32_t)-d >= len) {
            st->an[CAP_AN_tcp_retransmission]++;
            return false;
        }
        data += (uint32_t)-d;
        len -= (uint32_t)-d;
        seq = s->next_seq;
        d = 0;
    }
    if (d == 0) {
        bool grew = append(r, s, data, len, st);
        return drain(r, s, st) || grew;
    }
    st->an[CAP_AN_tcp_out_of_order]++;
    if (insert_ooo(r, s, seq, data, len, st))
        return false;
    /* Caps reached while waiting for a hole: the hole is lost. Skip it and retry once. */
    st->an[CAP_AN_tcp_ooo_cap]++;
    if (!s->ooo)
        return false;
    skip_hole(r, s, st);
    bool grew = drain(r, s, st);
    if (sdiff(seq, s->next_seq) >= 0 && insert_ooo(r, s, seq, data, len, st))
        grew |= drain(r, s, st);
    return grew;
}

void cap_stream_consume(cap_reasm *r, cap_stream *s, size_t n) {
    if (n > s->buf.len)
        n = s->buf.len;
    mw_buf_consume(&s->buf, n);
    s->base_seq += (uint32_t)n;
    r->in_use -= n;
}

bool cap_stream_flush_gaps(cap_reasm *r, cap_stream *s, cap_stats *st) {
    bool grew = false;
    while (s->ooo && !s->done) {
        skip_hole(r, s, st);
        grew |= drain(r, s, st);
    }
    return grew;
}
