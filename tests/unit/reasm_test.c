/* capture/cap_reasm: ordering, retransmission, overlaps (first data wins), holes, caps,
 * sequence wraparound. Every case checks the exact bytes delivered and the exact counters. */
#include <stdlib.h>

#include "cap_reasm.h"
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

    MW_TEST_END();
}
