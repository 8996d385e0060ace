#include "cap_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"

#define RANGE_OVERHEAD CAP_RANGE_OVERHEAD
#define FIRST_RANGES 4u

/* Digests of the bytes the analyzer consumed, from start_seq on. */
struct cap_hist {
    uint32_t start_seq;
    uint32_t nblocks, alloc_blocks; /* whole blocks digested */
    uint32_t tail_len;              /* consumed bytes after them, kept verbatim in tail */
    uint8_t closed;                 /* recording stopped: a hole, or the cap */
    uint32_t rp_block, rp_have;     /* a later copy being gathered: block, bytes from its start */
    uint8_t (*sha)[32];
    uint8_t *rp; /* CAP_HIST_BLOCK bytes, allocated with the first later copy */
    uint8_t tail[CAP_HIST_BLOCK];
};

/* Sequence-space difference a - b (RFC 9293 modular comparison). */
static inline int32_t sdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }
/* Offset of seq after the next expected byte; every waiting range lies within 2^31 of it. */
static inline uint32_t rel(const cap_stream *s, uint32_t seq) { return seq - s->next_seq; }

void cap_reasm_init(cap_reasm *r, uint32_t stream_max, uint64_t global_max) {
    memset(r, 0, sizeof *r);
    r->stream_max = stream_max;
    r->global_max = global_max;
}

void cap_stream_init(cap_stream *s) {
    memset(s, 0, sizeof *s);
    mw_buf_init(&s->buf, UINT32_MAX);
}

/* Takes n bytes of the global budget; a refusal is counted in st when there is one. */
static bool take(cap_reasm *r, uint64_t n, cap_stats *st) {
    if (n > r->global_max || r->in_use > r->global_max - n) {
        if (st)
            st->an[CAP_AN_tcp_global_cap]++;
        return false;
    }
    r->in_use += n;
    return true;
}

bool cap_budget_take(cap_reasm *r, uint64_t n) { return take(r, n, r->st); }

void cap_budget_give(cap_reasm *r, uint64_t n) { r->in_use -= n; }

static uint64_t hist_mem(const cap_hist *h) {
    if (!h)
        return 0;
    return sizeof *h + (uint64_t)h->alloc_blocks * 32 + (h->rp ? CAP_HIST_BLOCK : 0);
}

static inline uint32_t hist_len(const cap_hist *h) {
    return h->nblocks * CAP_HIST_BLOCK + h->tail_len;
}

uint64_t cap_stream_mem(const cap_stream *s) { return s->buf.len + s->ooo_mem + hist_mem(s->hist); }

static void free_ooo(cap_reasm *r, cap_stream *s) {
    for (uint32_t i = 0; i < s->nooo; i++)
        free(s->ooo[i].mem);
    free(s->ooo);
    r->in_use -= s->ooo_mem;
    s->ooo = NULL;
    s->nooo = s->ooo_alloc = 0;
    s->ooo_bytes = 0;
    s->ooo_mem = 0;
}

void cap_stream_release(cap_reasm *r, cap_stream *s) {
    free_ooo(r, s);
    r->in_use -= s->buf.len + hist_mem(s->hist);
    if (s->hist) {
        free(s->hist->sha);
        free(s->hist->rp);
        free(s->hist);
        s->hist = NULL;
    }
    free(s->conflict);
    s->conflict = NULL;
    mw_buf_free(&s->buf);
    s->done = 1;
}

/* Nothing of the direction arrived yet: its start may still move. */
static bool untouched(const cap_stream *s) {
    return s->buf.len == 0 && s->nooo == 0 && !s->hist && s->nruns == 0 &&
           s->base_seq == s->start_seq;
}

void cap_stream_syn(cap_stream *s, uint32_t isn) {
    if (s->seq_known) {
        /* The same SYN-ACK again with another ISN (a server that restarted its half of the
         * handshake): the peer's ACK will tell which one the connection follows. */
        if (isn + 1 != s->start_seq && untouched(s)) {
            s->alt_isn = isn;
            s->alt_known = 1;
        }
        return;
    }
    s->seq_known = 1;
    s->base_seq = s->next_seq = s->start_seq = isn + 1;
}

void cap_stream_peer_ack(cap_stream *s, uint32_t ack) {
    if (!s->alt_known || ack != s->alt_isn + 1 || !untouched(s)) return;
    uint32_t isn = s->start_seq - 1;
    s->base_seq = s->next_seq = s->start_seq = ack;
    s->alt_isn = isn; /* the other one stays the alternative: the ACK may have been stale */
}

/* ---- TTL of the bytes appended, by stream offset ---- */

static void note_ttl(cap_stream *s, uint32_t seq, uint8_t ttl) {
    if (s->nruns && s->run_ttl[s->nruns - 1] == ttl)
        return;
    if (s->nruns == CAP_TTL_RUNS) { /* too many changes: the rest is of unknown TTL */
        s->run_ttl[CAP_TTL_RUNS - 1] = 0;
        return;
    }
    s->run_off[s->nruns] = seq - s->start_seq;
    s->run_ttl[s->nruns++] = ttl;
}

static uint8_t ttl_at(const cap_stream *s, uint32_t seq) {
    uint32_t off = seq - s->start_seq;
    uint8_t t = 0;
    for (uint32_t i = 0; i < s->nruns && s->run_off[i] <= off; i++)
        t = s->run_ttl[i];
    return t;
}

/* ---- conflicts: two versions of the same bytes ---- */

/* Records the first conflict of the stream, with the digests of both versions. */
static void record(const cap_reasm *r, cap_stream *s, uint32_t seq, uint32_t n,
                   const uint8_t first_sha[32], const uint8_t later_sha[32], uint8_t first_ttl,
                   uint8_t later_ttl, bool consumed) {
    if (s->conflict)
        return;
    /* Not charged to the budget: one small record per direction, and it must not be lost. */
    cap_conflict *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->offset = seq - s->start_seq;
    c->len = n;
    c->first_ttl = first_ttl;
    c->later_ttl = later_ttl;
    c->consumed = consumed;
    memcpy(c->first_sha256, first_sha, 32);
    memcpy(c->later_sha256, later_sha, 32);
    c->ts_us = r->now_us;
    s->conflict = c;
}

static void record_bytes(const cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *first,
                         const uint8_t *later, uint32_t n, uint8_t first_ttl, uint8_t later_ttl,
                         bool consumed) {
    if (s->conflict)
        return;
    uint8_t a[32], b[32];
    mw_sha256(first, n, a);
    mw_sha256(later, n, b);
    record(r, s, seq, n, a, b, first_ttl, later_ttl, consumed);
}

/* Compares a segment at seq with what buf holds there (first data wins). True on a difference. */
static bool compare_buffered(const cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                             uint32_t len, uint8_t ttl) {
    int32_t off = sdiff(seq, s->base_seq);
    uint32_t skip = 0;
    if (off < 0) {
        uint32_t back = 0u - (uint32_t)off; /* no signed negation: off may be INT32_MIN */
        if (back >= len)
            return false;
        skip = back;
        off = 0;
    }
    if ((uint32_t)off >= s->buf.len)
        return false;
    uint32_t n = len - skip;
    if (n > s->buf.len - (uint32_t)off)
        n = (uint32_t)(s->buf.len - (uint32_t)off);
    const uint8_t *old = s->buf.data + off;
    if (memcmp(old, data + skip, n) == 0)
        return false;
    uint32_t at = s->base_seq + (uint32_t)off;
    record_bytes(r, s, at, old, data + skip, n, ttl_at(s, at), ttl, false);
    return true;
}

/* ---- history of consumed bytes ---- */

static void hist_stop(cap_stream *s, cap_stats *st) {
    s->hist->closed = 1;
    st->an[CAP_AN_tcp_history_cap]++;
}

/* n bytes at base_seq were consumed: digest them. */
static void hist_record(cap_reasm *r, cap_stream *s, const uint8_t *data, uint32_t n,
                        cap_stats *st) {
    cap_hist *h = s->hist;
    if (!h) {
        if (s->hist_off)
            return;
        if (take(r, sizeof *h, st) && !(h = calloc(1, sizeof *h)))
            r->in_use -= sizeof *h;
        if (!h) {
            s->hist_off = 1;
            st->an[CAP_AN_tcp_history_cap]++;
            return;
        }
        h->start_seq = s->base_seq;
        s->hist = h;
    }
    if (h->closed)
        return;
    if (h->start_seq + hist_len(h) != s->base_seq) { /* a hole was skipped: not contiguous */
        h->closed = 1;
        return;
    }
    while (n > 0) {
        uint32_t k = CAP_HIST_BLOCK - h->tail_len;
        if (k > n)
            k = n;
        memcpy(h->tail + h->tail_len, data, k);
        h->tail_len += k;
        data += k;
        n -= k;
        if (h->tail_len < CAP_HIST_BLOCK)
            break;
        if (h->nblocks == h->alloc_blocks) {
            uint32_t na = h->alloc_blocks ? h->alloc_blocks * 2 : 8;
            if (na > CAP_HIST_MAX_BLOCKS)
                na = CAP_HIST_MAX_BLOCKS;
            if (na == h->alloc_blocks || !take(r, (uint64_t)(na - h->alloc_blocks) * 32, st)) {
                hist_stop(s, st);
                return;
            }
            uint8_t(*p)[32] = realloc(h->sha, (size_t)na * 32);
            if (!p) {
                r->in_use -= (uint64_t)(na - h->alloc_blocks) * 32;
                hist_stop(s, st);
                return;
            }
            h->sha = p;
            h->alloc_blocks = na;
        }
        mw_sha256(h->tail, CAP_HIST_BLOCK, h->sha[h->nblocks++]);
        h->tail_len = 0;
    }
}

/* A later copy of bytes from [seq, seq + len) that may reach into the history: the part in the
 * verbatim tail is compared at once, whole blocks once a block's bytes are gathered from its
 * start (a copy starting mid-block skips to the next block). True on a difference. */
static bool hist_compare(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                         uint32_t len, uint8_t ttl, cap_stats *st) {
    cap_hist *h = s->hist;
    if (!h)
        return false;
    uint32_t hl = hist_len(h), off;
    int32_t lead = sdiff(h->start_seq, seq); /* bytes of the segment before the history */
    if (lead > 0) {
        if ((uint32_t)lead >= len)
            return false;
        data += (uint32_t)lead;
        len -= (uint32_t)lead;
        off = 0;
    } else {
        off = 0u - (uint32_t)lead;
    }
    if (off >= hl)
        return false;
    if (len > hl - off)
        len = hl - off;
    bool differs = false;
    while (len > 0) {
        uint32_t k = off / CAP_HIST_BLOCK, w = off % CAP_HIST_BLOCK;
        uint32_t n = CAP_HIST_BLOCK - w;
        if (n > len)
            n = len;
        uint32_t at = h->start_seq + off;
        if (k == h->nblocks) {
            if (memcmp(h->tail + w, data, n) != 0) {
                record_bytes(r, s, at, h->tail + w, data, n, ttl_at(s, at), ttl, true);
                differs = true;
            }
        } else {
            if (w == 0 && !(h->rp_block == k && h->rp_have == 0)) {
                h->rp_block = k;
                h->rp_have = 0;
            }
            if (h->rp_block == k && h->rp_have == w && !h->rp) {
                if (take(r, CAP_HIST_BLOCK, st) && !(h->rp = malloc(CAP_HIST_BLOCK)))
                    r->in_use -= CAP_HIST_BLOCK;
            }
            if (h->rp && h->rp_block == k && h->rp_have == w) {
                memcpy(h->rp + w, data, n);
                h->rp_have += n;
                if (h->rp_have == CAP_HIST_BLOCK) {
                    uint8_t d[32];
                    mw_sha256(h->rp, CAP_HIST_BLOCK, d);
                    if (memcmp(d, h->sha[k], 32) != 0) {
                        uint32_t bs = h->start_seq + k * CAP_HIST_BLOCK;
                        record(r, s, bs, CAP_HIST_BLOCK, h->sha[k], d, ttl_at(s, bs), ttl, true);
                        differs = true;
                    }
                    h->rp_block = k + 1;
                    h->rp_have = 0;
                }
            }
        }
        off += n;
        data += n;
        len -= n;
    }
    return differs;
}

/* ---- in-order bytes ---- */

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

static bool append(cap_reasm *r, cap_stream *s, const uint8_t *data, uint32_t len, uint8_t ttl,
                   cap_stats *st) {
    if (!room(r, s, len, st) || !mw_buf_append(&s->buf, data, len)) {
        /* The analyzer cannot make progress within the cap: stop this direction. */
        s->done = 1;
        return false;
    }
    note_ttl(s, s->next_seq, ttl);
    r->in_use += len;
    s->next_seq += len;
    return true;
}

/* ---- waiting ranges ---- */

static inline const uint8_t *range_data(const cap_range *g) { return g->mem + g->head; }

/* Charges n bytes of waiting-range memory to the budget (and to ooo_mem, which stays 32-bit). */
static bool ooo_take(cap_reasm *r, cap_stream *s, uint64_t n, cap_stats *st) {
    if (n > UINT32_MAX - s->ooo_mem || !take(r, n, st))
        return false;
    s->ooo_mem += (uint32_t)n;
    return true;
}

static void uncharge(cap_reasm *r, cap_stream *s, uint64_t m) {
    r->in_use -= m;
    s->ooo_mem -= (uint32_t)m;
}

/* Moves waiting ranges that now touch next_seq into buf. */
static bool drain(cap_reasm *r, cap_stream *s, cap_stats *st) {
    bool grew = false;
    uint32_t k = 0;
    while (k < s->nooo && !s->done && sdiff(s->ooo[k].seq, s->next_seq) <= 0) {
        cap_range *g = &s->ooo[k++];
        s->ooo_bytes -= g->len;
        uncharge(r, s, (uint64_t)g->cap + RANGE_OVERHEAD);
        uint32_t old = s->next_seq - g->seq;
        if (old < g->len) {
            if (compare_buffered(r, s, g->seq, range_data(g), g->len, g->ttl))
                st->an[CAP_AN_tcp_overlap_mismatch]++;
            grew |= append(r, s, range_data(g) + old, g->len - old, g->ttl, st);
        }
        free(g->mem);
    }
    if (k) {
        memmove(s->ooo, s->ooo + k, (size_t)(s->nooo - k) * sizeof *s->ooo);
        s->nooo = (uint8_t)(s->nooo - k);
    }
    return grew;
}

/* Gives g at least front bytes of room before its data and back bytes after. The side that grows
 * gets as much again as the data holds, so a run of small additions costs amortized O(1) a
 * byte; without room for that in the budget, exactly what is needed. */
static bool range_room(cap_reasm *r, cap_stream *s, cap_range *g, uint32_t front, uint32_t back,
                       cap_stats *st) {
    uint32_t after = g->cap - g->head - g->len;
    if (g->head >= front && after >= back)
        return true;
    uint64_t nf = g->head >= front ? g->head : (uint64_t)front + g->len;
    uint64_t nb = after >= back ? after : (uint64_t)back + g->len;
    uint64_t ncap = nf + g->len + nb;
    if (ncap > UINT32_MAX || r->in_use + (ncap - g->cap) > r->global_max) {
        nf = g->head >= front ? g->head : front;
        nb = after >= back ? after : back;
        ncap = nf + g->len + nb;
    }
    if (ncap > UINT32_MAX || !ooo_take(r, s, ncap - g->cap, st))
        return false;
    uint8_t *m = malloc((size_t)ncap);
    if (!m) {
        uncharge(r, s, ncap - g->cap);
        return false;
    }
    memcpy(m + nf, range_data(g), g->len);
    free(g->mem);
    g->mem = m;
    g->head = (uint32_t)nf;
    g->cap = (uint32_t)ncap;
    return true;
}

/* Removes range i, whose data moved elsewhere or is given up. */
static void remove_range(cap_reasm *r, cap_stream *s, uint32_t i) {
    uncharge(r, s, (uint64_t)s->ooo[i].cap + RANGE_OVERHEAD);
    free(s->ooo[i].mem);
    memmove(&s->ooo[i], &s->ooo[i + 1], (size_t)(s->nooo - i - 1) * sizeof *s->ooo);
    s->nooo--;
}

/* First range that ends at or after offset off (relative to next_seq). */
static uint32_t lower_bound(const cap_stream *s, uint32_t off) {
    uint32_t lo = 0, hi = s->nooo;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rel(s, s->ooo[mid].seq) + s->ooo[mid].len < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

enum { PUT_OK, PUT_REFUSED, PUT_FULL };

/* Puts the free piece [seq, seq + n), which belongs at index i, into the waiting ranges: merged
 * with a touching neighbour of the same TTL, else as a new range. PUT_REFUSED: the range cap
 * keeps it out (the piece is the farthest); PUT_FULL: a byte cap. */
static int put_piece(cap_reasm *r, cap_stream *s, uint32_t i, uint32_t seq, const uint8_t *p,
                     uint32_t n, uint8_t ttl, cap_stats *st) {
    if ((uint64_t)s->buf.len + s->ooo_bytes + n > r->stream_max) {
        st->an[CAP_AN_tcp_stream_cap]++;
        return PUT_FULL;
    }
    cap_range *lft = i > 0 ? &s->ooo[i - 1] : NULL, *rgt = i < s->nooo ? &s->ooo[i] : NULL;
    if (lft && (lft->seq + lft->len != seq || lft->ttl != ttl))
        lft = NULL;
    if (rgt && (rgt->seq != seq + n || rgt->ttl != ttl))
        rgt = NULL;
    if (lft && rgt && lft->len >= rgt->len) { /* the smaller side is copied */
        if (!range_room(r, s, lft, 0, n + rgt->len, st))
            return PUT_FULL;
        memcpy(lft->mem + lft->head + lft->len, p, n);
        memcpy(lft->mem + lft->head + lft->len + n, range_data(rgt), rgt->len);
        lft->len += n + rgt->len;
        remove_range(r, s, i);
    } else if (lft && rgt) {
        if (!range_room(r, s, rgt, lft->len + n, 0, st))
            return PUT_FULL;
        rgt->head -= n;
        memcpy(rgt->mem + rgt->head, p, n);
        rgt->head -= lft->len;
        memcpy(rgt->mem + rgt->head, range_data(lft), lft->len);
        rgt->len += lft->len + n;
        rgt->seq = lft->seq;
        remove_range(r, s, i - 1);
    } else if (lft) {
        if (!range_room(r, s, lft, 0, n, st))
            return PUT_FULL;
        memcpy(lft->mem + lft->head + lft->len, p, n);
        lft->len += n;
    } else if (rgt) {
        if (!range_room(r, s, rgt, n, 0, st))
            return PUT_FULL;
        rgt->head -= n;
        memcpy(rgt->mem + rgt->head, p, n);
        rgt->seq -= n;
        rgt->len += n;
    } else {
        if (s->nooo == CAP_OOO_MAX_RANGES) {
            /* The farthest bytes are the likeliest junk: never give up the hole for them. */
            st->an[CAP_AN_tcp_ooo_ranges_cap]++;
            if (i == s->nooo)
                return PUT_REFUSED;
            s->ooo_bytes -= s->ooo[s->nooo - 1].len;
            remove_range(r, s, s->nooo - 1);
        }
        if (s->nooo == s->ooo_alloc) {
            uint32_t na = s->ooo_alloc ? s->ooo_alloc * 2 : FIRST_RANGES;
            if (na > CAP_OOO_MAX_RANGES)
                na = CAP_OOO_MAX_RANGES;
            uint64_t more = (uint64_t)(na - s->ooo_alloc) * sizeof *s->ooo;
            if (!ooo_take(r, s, more, st))
                return PUT_FULL;
            cap_range *a = realloc(s->ooo, (size_t)na * sizeof *a);
            if (!a) {
                uncharge(r, s, more);
                return PUT_FULL;
            }
            s->ooo = a;
            s->ooo_alloc = (uint8_t)na;
        }
        if (!ooo_take(r, s, (uint64_t)n + RANGE_OVERHEAD, st))
            return PUT_FULL;
        uint8_t *m = malloc(n);
        if (!m) {
            uncharge(r, s, (uint64_t)n + RANGE_OVERHEAD);
            return PUT_FULL;
        }
        memcpy(m, p, n);
        memmove(&s->ooo[i + 1], &s->ooo[i], (size_t)(s->nooo - i) * sizeof *s->ooo);
        s->ooo[i] = (cap_range){.seq = seq, .len = n, .head = 0, .cap = n, .mem = m, .ttl = ttl};
        s->nooo++;
    }
    s->ooo_bytes += n;
    return PUT_OK;
}

/* Inserts [seq, seq + len) among the waiting ranges, keeping only the parts none covers yet and
 * comparing the covered parts (first data wins). False when a byte cap refused a part. */
static bool insert_ooo(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data, uint32_t len,
                       uint8_t ttl, cap_stats *st) {
    uint32_t first = rel(s, seq), cur = first, end = first + len;
    uint32_t i = lower_bound(s, cur);
    bool differs = false, ok = true;
    while (cur < end) {
        cap_range *g = i < s->nooo ? &s->ooo[i] : NULL;
        uint32_t gs = g ? rel(s, g->seq) : UINT32_MAX;
        if (gs > cur) { /* a free piece up to the next range */
            uint32_t pe = gs < end ? gs : end;
            int rc = put_piece(r, s, i, s->next_seq + cur, data + (cur - first), pe - cur, ttl, st);
            if (rc != PUT_OK) {
                ok = rc == PUT_REFUSED;
                break;
            }
            cur = pe;
            i = lower_bound(s, cur);
            continue;
        }
        uint32_t ge = gs + g->len;
        if (cur < ge) { /* covered: compare */
            uint32_t n = (end < ge ? end : ge) - cur;
            const uint8_t *old = range_data(g) + (cur - gs);
            if (memcmp(old, data + (cur - first), n) != 0 && !differs) {
                differs = true;
                record_bytes(r, s, s->next_seq + cur, old, data + (cur - first), n, g->ttl, ttl,
                             false);
            }
            cur += n;
        }
        i++;
    }
    if (differs)
        st->an[CAP_AN_tcp_overlap_mismatch]++;
    return ok;
}

/* Skips the hole before the first waiting range; what buf held can no longer be completed. */
static void skip_hole(cap_reasm *r, cap_stream *s, cap_stats *st) {
    st->an[CAP_AN_tcp_gap]++;
    r->in_use -= s->buf.len;
    mw_buf_reset(&s->buf);
    s->base_seq = s->next_seq = s->ooo[0].seq;
    s->gap = 1;
}

static bool segment(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data, uint32_t len,
                    uint8_t ttl, cap_stats *st) {
    if (!s->seq_known) { /* mid-stream pickup */
        s->seq_known = 1;
        s->base_seq = s->next_seq = s->start_seq = seq;
    }
    int32_t d = sdiff(seq, s->next_seq);
    if (d < 0) {
        uint32_t back = 0u - (uint32_t)d; /* no signed negation: d may be INT32_MIN */
        if (compare_buffered(r, s, seq, data, len, ttl))
            st->an[CAP_AN_tcp_overlap_mismatch]++;
        if (sdiff(seq, s->base_seq) < 0 && hist_compare(r, s, seq, data, len, ttl, st))
            st->an[CAP_AN_tcp_consumed_mismatch]++;
        if (back >= len) {
            st->an[CAP_AN_tcp_retransmission]++;
            return false;
        }
        data += back;
        len -= back;
        seq = s->next_seq;
        d = 0;
    }
    if (d == 0) {
        bool grew = append(r, s, data, len, ttl, st);
        return drain(r, s, st) || grew;
    }
    st->an[CAP_AN_tcp_out_of_order]++;
    if (insert_ooo(r, s, seq, data, len, ttl, st))
        return false;
    /* A byte cap reached while waiting for a hole: the hole is lost. Skip it and retry once. */
    st->an[CAP_AN_tcp_ooo_cap]++;
    if (!s->nooo)
        return false;
    skip_hole(r, s, st);
    bool grew = drain(r, s, st);
    if (sdiff(seq, s->next_seq) >= 0 && insert_ooo(r, s, seq, data, len, ttl, st))
        grew |= drain(r, s, st);
    return grew;
}

bool cap_stream_segment(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                        uint32_t len, uint8_t ttl, cap_stats *st) {
    if (len == 0 || s->done)
        return false;
    uint64_t before = st->an[CAP_AN_tcp_overlap_mismatch] + st->an[CAP_AN_tcp_consumed_mismatch];
    bool grew = segment(r, s, seq, data, len, ttl, st);
    if (s->conflict &&
        st->an[CAP_AN_tcp_overlap_mismatch] + st->an[CAP_AN_tcp_consumed_mismatch] != before)
        s->conflict->count++;
    return grew;
}

void cap_stream_consume(cap_reasm *r, cap_stream *s, size_t n, cap_stats *st) {
    if (n > s->buf.len)
        n = s->buf.len;
    if (n == 0)
        return;
    hist_record(r, s, s->buf.data, (uint32_t)n, st);
    mw_buf_consume(&s->buf, n);
    s->base_seq += (uint32_t)n;
    r->in_use -= n;
}

void cap_stream_linger(cap_reasm *r, cap_stream *s) {
    free_ooo(r, s);
    r->in_use -= s->buf.len;
    mw_buf_free(&s->buf);
    s->done = 1;
}

bool cap_stream_late(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data, uint32_t len,
                     uint8_t ttl, cap_stats *st) {
    if (!s->hist || len == 0)
        return false;
    bool had = s->conflict != NULL;
    if (!hist_compare(r, s, seq, data, len, ttl, st))
        return false;
    st->an[CAP_AN_tcp_consumed_mismatch]++;
    if (s->conflict)
        s->conflict->count++;
    return !had && s->conflict != NULL;
}

bool cap_stream_flush_gaps(cap_reasm *r, cap_stream *s, cap_stats *st) {
    bool grew = false;
    while (s->nooo && !s->done) {
        skip_hole(r, s, st);
        grew |= drain(r, s, st);
    }
    return grew;
}
