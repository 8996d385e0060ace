/* capture/cap_reasm: ordering, retransmission, overlaps (first data wins), holes, caps,
 * sequence wraparound, waiting ranges (merging, the range cap, what the budget is charged), the
 * history of consumed bytes (a later different copy, before and after the verdict) and the
 * conflict record. Every case checks the exact bytes delivered and the exact counters. */
#include <stdlib.h>

#include "cap_reasm.h"
#include "mw_hash.h"
#include "mw_test.h"

static cap_reasm r;
static cap_stats st;
static cap_stream s;

static void reset(uint32_t stream_max, uint64_t global_max, uint32_t isn) {
    memset(&st, 0, sizeof st);
    cap_reasm_init(&r, stream_max, global_max);
    cap_stream_init(&s);
    cap_stream_syn(&s, isn);
}

static bool seg(uint32_t seq, const char *data) {
    return cap_stream_segment(&r, &s, seq, (const uint8_t *)data, (uint32_t)strlen(data), 64, &st);
}

static bool seg_ttl(uint32_t seq, const char *data, uint8_t ttl) {
    return cap_stream_segment(&r, &s, seq, (const uint8_t *)data, (uint32_t)strlen(data), ttl, &st);
}

static bool seg_n(uint32_t seq, const uint8_t *data, uint32_t n, uint8_t ttl) {
    return cap_stream_segment(&r, &s, seq, data, n, ttl, &st);
}

static bool sha_is(const uint8_t got[32], const void *data, size_t n) {
    uint8_t want[32];
    mw_sha256(data, n, want);
    return memcmp(got, want, 32) == 0;
}

static bool buf_is(const char *want) {
    return s.buf.len == strlen(want) && (s.buf.len == 0 || memcmp(s.buf.data, want, s.buf.len) == 0);
}

static void done(void) {
    cap_stream_release(&r, &s);
    CHECK_EQ_U(r.in_use, 0); /* every byte accounted for */
}

int main(void) {
    /* in order */
    reset(1000, 100000, 999);
    CHECK(seg(1000, "hello "));
    CHECK(seg(1006, "world"));
    CHECK(buf_is("hello world"));
    CHECK_EQ_U(s.next_seq, 1011);
    done();

    /* reordered: later segment waits, then both arrive in order */
    reset(1000, 100000, 0);
    CHECK(!seg(6, "world"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_out_of_order], 1);
    CHECK(buf_is(""));
    CHECK_EQ_U(s.ooo_bytes, 5);
    CHECK(seg(1, "hello"));
    CHECK(buf_is("helloworld"));
    CHECK_EQ_U(s.ooo_bytes, 0);
    done();

    /* full retransmission: dropped and counted; identical bytes are no mismatch */
    reset(1000, 100000, 0);
    CHECK(seg(1, "abcdef"));
    CHECK(!seg(1, "abcdef"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 0);
    /* retransmission with different bytes: first data wins, mismatch counted */
    CHECK(!seg(3, "XY"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 1);
    CHECK(buf_is("abcdef"));
    /* partial overlap: the new tail is appended, the old head compared */
    CHECK(seg(5, "efgh"));
    CHECK(buf_is("abcdefgh"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 1);
    done();

    /* overlapping out-of-order segments: first data wins inside the waiting list too */
    reset(1000, 100000, 0);
    CHECK(!seg(5, "EFGH"));   /* [5,9) */
    CHECK(!seg(3, "CDxxIJ")); /* [3,9): 5..8 differs from what waits */
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 1);
    CHECK(!seg(7, "GHIJKL")); /* [7,13): extends, same bytes where covered */
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 1);
    CHECK(seg(1, "AB"));
    CHECK(buf_is("ABCDEFGHIJKL"));
    done();

    /* one byte a segment, in reverse order */
    reset(1000, 100000, 41);
    const char *msg = "0123456789";
    for (int i = 9; i >= 1; i--) {
        char one[2] = {msg[i], 0};
        CHECK(!seg(42 + (uint32_t)i, one));
    }
    CHECK(seg(42, "0"));
    CHECK(buf_is(msg));
    done();

    /* consume keeps sequence bookkeeping */
    reset(1000, 100000, 0);
    CHECK(seg(1, "abcdef"));
    cap_stream_consume(&r, &s, 4, &st);
    CHECK(buf_is("ef"));
    CHECK_EQ_U(s.base_seq, 5);
    CHECK(!seg(2, "bcdef")); /* old data no longer buffered: just a retransmission */
    CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 1);
    CHECK_EQ_U(r.in_use, 2 + cap_stream_mem(&s) - s.buf.len); /* + the history */
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    done();

    /* a hole never filled: flushed at the end, gap flagged, later bytes delivered */
    reset(1000, 100000, 0);
    CHECK(seg(1, "abc"));
    CHECK(!seg(10, "xyz"));
    CHECK(cap_stream_flush_gaps(&r, &s, &st));
    CHECK(s.gap == 1);
    CHECK(buf_is("xyz"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_gap], 1);
    done();

    /* the per-stream cap: waiting bytes beyond it skip the hole */
    reset(8, 100000, 0);
    CHECK(!seg(10, "12345"));
    CHECK(seg(20, "6789")); /* 5 + 4 > 8: hole [1,10) skipped, "12345" delivered */
    CHECK_EQ_U(st.an[CAP_AN_tcp_ooo_cap], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_gap], 1);
    CHECK(buf_is("12345"));
    CHECK(s.gap == 1);
    done();

    /* the global cap holds too */
    reset(1000, 4, 0);
    CHECK(!seg(1, "abcdef"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_global_cap], 1);
    CHECK(s.done == 1); /* cannot make progress: the direction stops */
    CHECK(!seg(7, "g"));
    done();

    /* sequence numbers wrap around 2^32 */
    reset(1000, 100000, 0xfffffffd);
    CHECK(!seg(0x00000001, "DEF")); /* after the wrap, waits */
    CHECK(seg(0xfffffffe, "ABC"));  /* 0xfffffffe, 0xffffffff, 0x0 */
    CHECK(buf_is("ABCDEF"));
    CHECK_EQ_U(s.next_seq, 4);
    done();

    /* mid-stream pickup: no SYN, starts at the first data segment */
    memset(&st, 0, sizeof st);
    cap_reasm_init(&r, 1000, 100000);
    cap_stream_init(&s);
    CHECK(seg(5000, "mid"));
    CHECK(buf_is("mid"));
    done();

    /* UBSan reproducer: a segment exactly 2^31 behind next_seq (the difference is INT32_MIN,
     * which used to be negated as a signed int). It is a retransmission of nothing held. */
    reset(1000, 100000, 0);
    CHECK(seg(1, "ab"));
    cap_stream_consume(&r, &s, 2, &st);
    CHECK(!seg(0x80000003u, "xy"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 0);
    CHECK(!seg(3 + 0x7fffffffu, "zz")); /* the farthest ahead a segment can be: it waits */
    CHECK_EQ_U(st.an[CAP_AN_tcp_out_of_order], 1);
    CHECK_EQ_U(s.nooo, 1);
    done();

    mw_hash_init();

    /* A later copy of consumed bytes, in the verbatim partial block: found, counted once,
     * recorded with both versions' digests and TTLs. An identical copy is no conflict. */
    reset(1000, 100000, 0);
    r.now_us = 1700000000000001ull;
    CHECK(seg_ttl(1, "hello ", 60));
    CHECK(seg_ttl(7, "world", 61));
    cap_stream_consume(&r, &s, 11, &st);
    CHECK(s.conflict == NULL);
    CHECK(!seg_ttl(1, "hello", 64));
    CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 0);
    r.now_us = 1700000000000002ull;
    CHECK(!seg_ttl(7, "WORLD", 64));
    CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 2);
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 0);
    CHECK(s.conflict != NULL);
    if (s.conflict) {
        const cap_conflict *c = s.conflict;
        CHECK_EQ_U(c->count, 1);
        CHECK_EQ_U(c->offset, 6);
        CHECK_EQ_U(c->len, 5);
        CHECK_EQ_U(c->first_ttl, 61);
        CHECK_EQ_U(c->later_ttl, 64);
        CHECK(c->consumed);
        CHECK(sha_is(c->first_sha256, "world", 5));
        CHECK(sha_is(c->later_sha256, "WORLD", 5));
        CHECK_EQ_U(c->ts_us, 1700000000000002ull);
    }
    /* a second differing copy counts, the record keeps the first */
    CHECK(!seg_ttl(1, "J", 65));
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
    CHECK_EQ_U(s.conflict->count, 2);
    CHECK_EQ_U(s.conflict->offset, 6);
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    done();

    /* Whole blocks: 1200 bytes consumed (blocks [0,512) and [512,1024) digested, 176 kept).
     * The later copy differs at byte 600 and comes as 3 segments of 400: the third completes
     * block 1, whose digest differs. A copy starting mid-block skips to the next block. */
    {
        static uint8_t orig[1200], forged[1200];
        for (int i = 0; i < 1200; i++)
            orig[i] = forged[i] = (uint8_t)(i * 7 + 3);
        forged[600] ^= 0x55;
        reset(4096, 100000, 0);
        CHECK(seg_n(1, orig, 1200, 50));
        cap_stream_consume(&r, &s, 1200, &st);
        CHECK(!seg_n(1, forged, 400, 51));
        CHECK(!seg_n(401, forged + 400, 400, 51));
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 0);
        CHECK(!seg_n(801, forged + 800, 400, 52));
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 1);
        CHECK(s.conflict != NULL);
        if (s.conflict) {
            CHECK_EQ_U(s.conflict->offset, 512);
            CHECK_EQ_U(s.conflict->len, 512);
            CHECK_EQ_U(s.conflict->first_ttl, 50);
            CHECK_EQ_U(s.conflict->later_ttl, 52);
            CHECK(sha_is(s.conflict->first_sha256, orig + 512, 512));
            CHECK(sha_is(s.conflict->later_sha256, forged + 512, 512));
        }
        CHECK(!seg_n(101, forged + 100, 1100, 53)); /* block 0 skipped, block 1 differs */
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
        CHECK(!seg_n(1, orig, 1200, 50)); /* the same bytes again: nothing */
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
        CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 5);
        CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
        done();

        /* After the verdict: only the history lingers, and a later copy is still found; the
         * first conflict found then is reported once (cap_stream_late returns true once). */
        reset(4096, 100000, 0);
        CHECK(seg_n(1, orig, 1200, 50));
        cap_stream_consume(&r, &s, 1000, &st); /* 200 bytes left unconsumed */
        cap_stream_linger(&r, &s);
        CHECK_EQ_U(s.buf.len, 0);
        CHECK(s.done == 1);
        CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
        CHECK(!seg_n(1, forged, 1200, 60)); /* a lingering stream takes no segment */
        CHECK_EQ_U(st.an[CAP_AN_tcp_retransmission], 0);
        CHECK(cap_stream_late(&r, &s, 1, forged, 1200, 60, &st));
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 1);
        CHECK(s.conflict && s.conflict->offset == 512 && s.conflict->count == 1);
        CHECK(!cap_stream_late(&r, &s, 1, forged, 1200, 60, &st)); /* counted, not new */
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
        CHECK(!cap_stream_late(&r, &s, 1001, forged + 1000, 200, 60, &st)); /* not consumed */
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
        done();

        /* A gap stops the history (bytes after it are not contiguous with it). */
        reset(4096, 100000, 0);
        CHECK(seg(1, "abc"));
        cap_stream_consume(&r, &s, 3, &st);
        CHECK(!seg(10, "xyz"));
        CHECK(cap_stream_flush_gaps(&r, &s, &st));
        cap_stream_consume(&r, &s, 3, &st);
        CHECK(!seg(10, "XYZ")); /* consumed after the gap: not in the history */
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 0);
        CHECK(!seg(1, "aBc"));
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 1);
        done();
    }

    /* The history cap: CAP_HIST_MAX_BLOCKS whole blocks, then recording stops (counted once). */
    {
        static uint8_t big[(CAP_HIST_MAX_BLOCKS + 2) * CAP_HIST_BLOCK];
        uint32_t n = (uint32_t)sizeof big;
        reset(n, 10u << 20, 0);
        CHECK(seg_n(1, big, n, 64));
        cap_stream_consume(&r, &s, n, &st);
        CHECK_EQ_U(st.an[CAP_AN_tcp_history_cap], 1);
        big[n - 1] = 1; /* beyond the history: not compared */
        CHECK(!seg_n(n, big + n - 1, 1, 64));
        CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 0);
        big[n - 1] = 0;
        CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
        done();
    }

    /* Conflict with bytes still held: in buf, and among waiting ranges (TTL of each copy). */
    reset(1000, 100000, 0);
    CHECK(seg_ttl(1, "abcdef", 70));
    CHECK(!seg_ttl(3, "XY", 71));
    CHECK_EQ_U(st.an[CAP_AN_tcp_overlap_mismatch], 1);
    CHECK(s.conflict && s.conflict->offset == 2 && s.conflict->len == 2 &&
          s.conflict->first_ttl == 70 && s.conflict->later_ttl == 71 && !s.conflict->consumed);
    CHECK(sha_is(s.conflict->first_sha256, "cd", 2) && sha_is(s.conflict->later_sha256, "XY", 2));
    done();
    reset(1000, 100000, 0);
    CHECK(!seg_ttl(5, "EFGH", 80));
    CHECK(!seg_ttl(3, "CDxxIJ", 81));
    CHECK(s.conflict && s.conflict->offset == 4 && s.conflict->len == 4 &&
          s.conflict->first_ttl == 80 && s.conflict->later_ttl == 81);
    CHECK(sha_is(s.conflict->first_sha256, "EFGH", 4) &&
          sha_is(s.conflict->later_sha256, "xxIJ", 4));
    done();

    /* Waiting ranges: touching segments of the same TTL merge, in either direction; a
     * different TTL stays apart. What the budget is charged: data + overhead + descriptors. */
    reset(100000, 1000000, 0);
    CHECK(!seg_ttl(10, "j", 64));
    CHECK_EQ_U(s.nooo, 1);
    CHECK_EQ_U(s.ooo_mem, 1 + CAP_RANGE_OVERHEAD + 4 * sizeof(cap_range));
    CHECK_EQ_U(r.in_use, s.ooo_mem);
    CHECK(!seg_ttl(9, "i", 64));  /* prepended */
    CHECK(!seg_ttl(11, "k", 64)); /* appended */
    CHECK_EQ_U(s.nooo, 1);
    CHECK(!seg_ttl(13, "m", 64));
    CHECK_EQ_U(s.nooo, 2);
    CHECK(!seg_ttl(12, "l", 64)); /* fills the hole: the two merge */
    CHECK_EQ_U(s.nooo, 1);
    CHECK(!seg_ttl(14, "n", 99)); /* touches, other TTL: its own range */
    CHECK_EQ_U(s.nooo, 2);
    CHECK_EQ_U(s.ooo_bytes, 6);
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    CHECK(!seg_ttl(2, "bcdefgh", 64)); /* merges with the range at 9 */
    CHECK_EQ_U(s.nooo, 2);
    CHECK(seg_ttl(1, "a", 64));
    CHECK(buf_is("abcdefghijklmn"));
    CHECK_EQ_U(s.nooo, 0);
    CHECK_EQ_U(s.ooo_mem, 4 * sizeof(cap_range)); /* the descriptor array stays */
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    done();

    /* 10000 one-byte segments in reverse order: one range (small-into-large, room kept in
     * front), memory within 3 times the data. */
    {
        static uint8_t rev[10000];
        for (int i = 0; i < 10000; i++)
            rev[i] = (uint8_t)(i * 13);
        reset(20000, 1000000, 0);
        for (int i = 9999; i >= 1; i--)
            CHECK(!seg_n(1 + (uint32_t)i, rev + i, 1, 64));
        CHECK_EQ_U(s.nooo, 1);
        CHECK(s.ooo_mem <= 3 * 10000 + CAP_RANGE_OVERHEAD + 4 * sizeof(cap_range));
        CHECK(seg_n(1, rev, 1, 64));
        CHECK(s.buf.len == 10000 && memcmp(s.buf.data, rev, 10000) == 0);
        done();
    }

    /* The range cap: every other byte makes its own range. Past CAP_OOO_MAX_RANGES the
     * farthest gives way and the hole stays: a new farthest range is refused, a nearer one
     * evicts the farthest. Neither skips the hole. */
    reset(100000, 10000000, 0);
    for (uint32_t i = 0; i < CAP_OOO_MAX_RANGES + 72; i++)
        CHECK(!seg(3 + 4 * i, "x"));
    CHECK_EQ_U(s.nooo, CAP_OOO_MAX_RANGES);
    CHECK_EQ_U(st.an[CAP_AN_tcp_ooo_ranges_cap], 72);
    CHECK_EQ_U(s.ooo[CAP_OOO_MAX_RANGES - 1].seq, 3 + 4 * (CAP_OOO_MAX_RANGES - 1));
    CHECK(!seg(5, "y")); /* nearer, touches nothing: the farthest is evicted */
    CHECK_EQ_U(st.an[CAP_AN_tcp_ooo_ranges_cap], 73);
    CHECK_EQ_U(s.nooo, CAP_OOO_MAX_RANGES);
    CHECK_EQ_U(s.ooo[CAP_OOO_MAX_RANGES - 1].seq, 3 + 4 * (CAP_OOO_MAX_RANGES - 2));
    CHECK_EQ_U(s.ooo_bytes, CAP_OOO_MAX_RANGES);
    CHECK_EQ_U(st.an[CAP_AN_tcp_ooo_cap], 0);
    CHECK_EQ_U(st.an[CAP_AN_tcp_gap], 0);
    CHECK(seg(1, "ab")); /* the hole is filled: "ab" + the range at 3 */
    CHECK(buf_is("abx"));
    CHECK_EQ_U(s.nooo, CAP_OOO_MAX_RANGES - 1);
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    done();

    /* The global budget pays for a range's overhead too: 1 byte needs 1 + 16 + 4 descriptors. */
    reset(1000, 1 + CAP_RANGE_OVERHEAD + 4 * sizeof(cap_range) - 1, 0);
    CHECK(!seg(5, "x"));
    CHECK_EQ_U(st.an[CAP_AN_tcp_global_cap], 1);
    CHECK_EQ_U(s.nooo, 0);
    CHECK_EQ_U(r.in_use, cap_stream_mem(&s));
    done();

    /* The budget other holders take from counts its refusals in r->st. */
    reset(1000, 100, 0);
    r.st = &st;
    CHECK(cap_budget_take(&r, 60));
    CHECK(!cap_budget_take(&r, 41));
    CHECK_EQ_U(st.an[CAP_AN_tcp_global_cap], 1);
    CHECK_EQ_U(r.in_use, 60);
    cap_budget_give(&r, 60);
    done();

    mw_hash_cleanup();
    MW_TEST_END();
}
