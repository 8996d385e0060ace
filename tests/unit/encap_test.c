/* capture/cap_decode's encapsulations and capture/cap_defrag: the tunnel context is the same in
 * both directions and differs between tunnels; refusals are counted by cause (unsupported,
 * truncated at every length, too deep; control protocols are not); the reassembler's bounds,
 * duplicates, conflicting overlaps and timeouts. The end-to-end cases with real handshakes are
 * tests/pcap/make_encap.py. */
#include <pcap/dlt.h>
#include <stdlib.h>

#include "cap_decode.h"
#include "cap_defrag.h"
#include "mw_test.h"

static uint8_t buf[512];
static size_t blen;

static void put(const void *p, size_t n) {
    memcpy(buf + blen, p, n);
    blen += n;
}

static void put16(uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, 2);
}

static void eth(uint16_t et) {
    put("\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    put16(et);
}

/* an IPv4 header (checksum right) for proto and len payload bytes, addresses a -> b */
static void ip4(uint8_t proto, uint8_t a, uint8_t b, size_t len) {
    uint8_t h[20] = {0x45,
                     0,
                     (uint8_t)((20 + len) >> 8),
                     (uint8_t)(20 + len),
                     0,
                     1,
                     0,
                     0,
                     64,
                     proto,
                     0,
                     0,
                     10,
                     0,
                     0,
                     a,
                     10,
                     0,
                     0,
                     b};
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    h[10] = (uint8_t)(~s >> 8);
    h[11] = (uint8_t)~s;
    put(h, 20);
}

/* TCP 40000 -> 443 (reversed when back), "hi" */
static void tcp(bool back) {
    uint8_t t[20] = {0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 100, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff};
    if (back) {
        t[0] = 0x01, t[1] = 0xbb, t[2] = 0x9c, t[3] = 0x40;
    }
    put(t, 20);
    put("hi", 2);
}

/* Ethernet / IPv4 a->b / GRE (key) / IPv4 1->2 / TCP */
static void gre_frame(uint8_t a, uint8_t b, uint32_t key, bool back) {
    blen = 0;
    eth(0x0800);
    ip4(47, a, b, 8 + 20 + 22);
    put("\x20\x00\x08\x00", 4); /* K, IPv4 */
    put16((uint16_t)(key >> 16));
    put16((uint16_t)key);
    ip4(6, back ? 2 : 1, back ? 1 : 2, 22);
    tcp(back);
}

static mw_rc dec(cap_pkt *p, cap_stats *st) {
    return cap_decode(DLT_EN10MB, buf, (uint32_t)blen, p, st);
}

static void test_context(void) {
    cap_pkt p;
    cap_stats st;
    memset(&st, 0, sizeof st);
    gre_frame(7, 8, 5, false);
    CHECK(dec(&p, &st) == MW_OK);
    uint32_t fwd = p.ctx;
    CHECK(fwd != 0);
    CHECK_EQ_U(p.tunneled, 1);
    CHECK_EQ_U(p.nencap, 1);
    CHECK_EQ_U(p.encap[0].kind, CAP_ENC_GRE);
    CHECK_EQ_U(p.encap[0].id, 5);
    CHECK_EQ_U(p.dport, 443);
    CHECK(p.src[3] == 1 && p.dst[3] == 2);
    char name[32];
    cap_encap_name(&p.encap[0], name, sizeof name);
    CHECK_STR(name, "gre:key=5");
    gre_frame(8, 7, 5, true); /* the reply: outer addresses swapped */
    CHECK(dec(&p, &st) == MW_OK);
    CHECK_EQ_U(p.ctx, fwd);
    gre_frame(7, 8, 6, false); /* another key */
    CHECK(dec(&p, &st) == MW_OK);
    CHECK(p.ctx != fwd);
    gre_frame(7, 9, 5, false); /* another tunnel endpoint */
    CHECK(dec(&p, &st) == MW_OK);
    CHECK(p.ctx != fwd);
    /* a plain frame: no context */
    blen = 0;
    eth(0x0800);
    ip4(6, 1, 2, 22);
    tcp(false);
    CHECK(dec(&p, &st) == MW_OK);
    CHECK_EQ_U(p.ctx, 0);
    CHECK_EQ_U(p.tunneled, 0);
    CHECK_EQ_U(st.tunneled, 4);
    /* MPLS labels differ per direction: the same context */
    blen = 0;
    eth(0x8847);
    put("\x00\x06\x41\x40", 4); /* label 100, bottom */
    ip4(6, 1, 2, 22);
    tcp(false);
    CHECK(dec(&p, &st) == MW_OK);
    fwd = p.ctx;
    buf[14] = 0x00, buf[15] = 0x12; /* label 300 */
    CHECK(dec(&p, &st) == MW_OK);
    CHECK_EQ_U(p.encap[0].id, 0x12 << 4 | 4);
    CHECK_EQ_U(p.ctx, fwd);
}

static void test_refusals(void) {
    cap_pkt p;
    cap_stats st;
    memset(&st, 0, sizeof st);
    /* every truncation of the GRE frame before its payload is refused and counted, never OK */
    gre_frame(7, 8, 5, false);
    size_t full = blen - 2;
    int oks = 0;
    for (size_t k = 0; k < full; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        memcpy(copy, buf, k);
        oks += cap_decode(DLT_EN10MB, copy, (uint32_t)k, &p, &st) == MW_OK;
        free(copy);
    }
    CHECK_EQ_U(oks, 0);
    CHECK_EQ_U(st.an[CAP_AN_encap_truncated], 8); /* the GRE header and key */
    /* GRE version 1 (PPTP) and source routing: not decoded, counted */
    memset(&st, 0, sizeof st);
    gre_frame(7, 8, 5, false);
    buf[14 + 20 + 1] = 0x01;
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    buf[14 + 20 + 1] = 0x00;
    buf[14 + 20] = 0x60;
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(st.an[CAP_AN_encap_unsupported], 2);
    uint64_t by[CAP_UNDEC_COUNT];
    CHECK_EQ_U(cap_stats_undecoded(&st, by), 2);
    CHECK_EQ_U(by[CAP_UNDEC_tunnel], 2);
    /* an unknown EtherType counts, ARP and an 802.3 length field do not */
    memset(&st, 0, sizeof st);
    blen = 0;
    eth(0x88b5);
    put("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 36);
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    buf[12] = 0x08, buf[13] = 0x06;
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    buf[12] = 0x00, buf[13] = 0x26;
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(st.an[CAP_AN_ethertype_unsupported], 1);
    /* PPPoE: LCP is control, not counted; an unknown PPP protocol is */
    memset(&st, 0, sizeof st);
    blen = 0;
    eth(0x8864);
    put("\x11\x00\x12\x34\x00\x06\xc0\x21\x01\x01\x00\x04", 12);
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(p.encap[0].kind, CAP_ENC_PPPOE);
    CHECK_EQ_U(p.encap[0].id, 0x1234);
    buf[14 + 6] = 0x00, buf[14 + 7] = 0x3d;
    CHECK(dec(&p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(st.an[CAP_AN_ethertype_unsupported], 1);
    /* nine MPLS labels: too deep; eight are decoded */
    for (int n = 8; n <= 9; n++) {
        memset(&st, 0, sizeof st);
        blen = 0;
        eth(0x8847);
        for (int i = 0; i < n; i++)
            put(i == n - 1 ? "\x00\x10\x01\x40" : "\x00\x10\x00\x40", 4);
        ip4(6, 1, 2, 22);
        tcp(false);
        CHECK(dec(&p, &st) == (n == 8 ? MW_OK : MW_NEED_MORE));
        CHECK_EQ_U(st.an[CAP_AN_encap_too_deep], n == 9);
    }
    /* a tunnel whose outer IPv4 header checksum is wrong is not looked into */
    memset(&st, 0, sizeof st);
    gre_frame(7, 8, 5, false);
    buf[14 + 10] ^= 1;
    CHECK(dec(&p, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_bad_checksum], 1);
    /* IPv4 total length 0 (TSO): the frame's length, counted */
    memset(&st, 0, sizeof st);
    blen = 0;
    eth(0x0800);
    ip4(6, 1, 2, 22);
    buf[16] = buf[17] = 0;
    tcp(false);
    CHECK(dec(&p, &st) == MW_OK);
    CHECK_EQ_U(p.payload_len, 2);
    CHECK_EQ_U(st.an[CAP_AN_ip_total_length_zero], 1);
}

static cap_frag key(uint32_t id) {
    cap_frag f;
    memset(&f, 0, sizeof f);
    f.ip_ver = 4;
    f.proto = 6;
    f.ttl = 64;
    f.id = id;
    f.src[0] = 10, f.src[3] = 1;
    f.dst[0] = 10, f.dst[3] = 2;
    return f;
}

static void test_defrag(void) {
    cap_defrag_cfg cfg = {.max_datagrams = 2, .max_bytes = 1 << 20, .timeout_us = 1000};
    cap_defrag *df = cap_defrag_new(&cfg);
    cap_stats st;
    memset(&st, 0, sizeof st);
    uint8_t d[64];
    for (int i = 0; i < 64; i++)
        d[i] = (uint8_t)i;
    const uint8_t *out = NULL;
    uint32_t olen = 0;
    cap_frag f = key(1);
    /* last fragment first, an exact duplicate, then the first: the datagram */
    CHECK(cap_defrag_add(df, &f, 16, d + 16, 8, false, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &f, 16, d + 16, 8, false, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &f, 0, d, 16, true, 0, &out, &olen, &st) == MW_OK);
    CHECK_EQ_U(olen, 20 + 24);
    CHECK(out && memcmp(out + 20, d, 24) == 0);
    CHECK_EQ_U(out[9], 6);
    CHECK_EQ_U(st.ip_reassembled, 1);
    CHECK_EQ_U(cap_defrag_pending(df), 0);
    CHECK_EQ_U(cap_defrag_bytes(df), 0);
    /* the same range with other bytes: the datagram is dropped */
    f = key(2);
    uint8_t evil[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    CHECK(cap_defrag_add(df, &f, 0, d, 8, true, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &f, 0, evil, 8, true, 0, &out, &olen, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_overlap], 1);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_dropped], 2);
    /* a partial overlap, even of equal bytes, drops it too (RFC 5722) */
    f = key(3);
    CHECK(cap_defrag_add(df, &f, 0, d, 16, true, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &f, 8, d + 8, 16, false, 0, &out, &olen, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_overlap], 2);
    /* a non-last fragment not a multiple of 8 */
    f = key(4);
    CHECK(cap_defrag_add(df, &f, 0, d, 12, true, 0, &out, &olen, &st) == MW_MALFORMED);
    /* two pending at most: the third is refused */
    cap_frag a = key(10), b = key(11), c = key(12);
    CHECK(cap_defrag_add(df, &a, 0, d, 8, true, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &b, 0, d, 8, true, 0, &out, &olen, &st) == MW_NEED_MORE);
    CHECK(cap_defrag_add(df, &c, 0, d, 8, true, 0, &out, &olen, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_cap], 1);
    /* another tunnel context is another datagram */
    cap_frag a2 = key(10);
    a2.ctx = 77;
    CHECK(cap_defrag_add(df, &a2, 8, d, 8, false, 0, &out, &olen, &st) == MW_MALFORMED);
    /* after the timeout both pending ones are dropped */
    uint64_t before = st.an[CAP_AN_ip_frag_dropped];
    cap_defrag_expire(df, 5000, &st);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_timeout], 2);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_dropped], before + 2);
    CHECK_EQ_U(cap_defrag_pending(df), 0);
    CHECK_EQ_U(cap_defrag_bytes(df), 0);
    cap_defrag_free(df);
    /* the byte budget */
    cap_defrag_cfg small = {.max_datagrams = 8, .max_bytes = 4096, .timeout_us = 1000};
    df = cap_defrag_new(&small);
    memset(&st, 0, sizeof st);
    f = key(20);
    uint8_t big[4000] = {0};
    CHECK(cap_defrag_add(df, &f, 0, big, 4000, true, 0, &out, &olen, &st) == MW_NEED_MORE);
    f = key(21);
    CHECK(cap_defrag_add(df, &f, 0, big, 4000, true, 0, &out, &olen, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_frag_cap], 1);
    cap_defrag_free(df);
}

/* Fragments through cap_decode_df: an IPv4 datagram in two fragments, out of order. */
static void test_decode_frag(void) {
    cap_defrag_cfg cfg = {0, 0, 0};
    cap_defrag *df = cap_defrag_new(&cfg);
    cap_stats st;
    memset(&st, 0, sizeof st);
    cap_pkt p;
    uint8_t seg[42];
    blen = 0;
    tcp(false);
    memcpy(seg, buf, 22);
    /* second fragment: offset 16, 6 bytes */
    blen = 0;
    eth(0x0800);
    ip4(6, 1, 2, 6);
    buf[14 + 6] = 0x00, buf[14 + 7] = 0x02; /* offset 2 units, recompute checksum below */
    {
        uint32_t s = 0;
        buf[14 + 10] = buf[14 + 11] = 0;
        for (int i = 0; i < 20; i += 2)
            s += (uint32_t)(buf[14 + i] << 8 | buf[14 + i + 1]);
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        buf[14 + 10] = (uint8_t)(~s >> 8);
        buf[14 + 11] = (uint8_t)~s;
    }
    put(seg + 16, 6);
    CHECK(cap_decode_df(df, 1, DLT_EN10MB, buf, (uint32_t)blen, &p, &st) == MW_NEED_MORE);
    /* first fragment: 16 bytes, more fragments */
    blen = 0;
    eth(0x0800);
    ip4(6, 1, 2, 16);
    buf[14 + 6] = 0x20;
    {
        uint32_t s = 0;
        buf[14 + 10] = buf[14 + 11] = 0;
        for (int i = 0; i < 20; i += 2)
            s += (uint32_t)(buf[14 + i] << 8 | buf[14 + i + 1]);
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        buf[14 + 10] = (uint8_t)(~s >> 8);
        buf[14 + 11] = (uint8_t)~s;
    }
    put(seg, 16);
    CHECK(cap_decode_df(df, 2, DLT_EN10MB, buf, (uint32_t)blen, &p, &st) == MW_OK);
    CHECK_EQ_U(p.nreasm, 1);
    CHECK_EQ_U(p.dport, 443);
    CHECK_EQ_U(p.payload_len, 2);
    CHECK(memcmp(p.payload, "hi", 2) == 0);
    CHECK_EQ_U(st.ip_reassembled, 1);
    /* without a reassembler a fragment is counted as before */
    CHECK(cap_decode(DLT_EN10MB, buf, (uint32_t)blen, &p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(st.an[CAP_AN_ip_fragment], 1);
    cap_defrag_free(df);
}

int main(void) {
    test_context();
    test_refusals();
    test_defrag();
    test_decode_frag();
    MW_TEST_END();
}
