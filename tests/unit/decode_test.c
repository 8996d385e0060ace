/* capture/cap_decode: every supported link type, VLAN stacks, IPv6 extension headers, and
 * truncated or bogus headers counted as the right anomaly; the raw-socket entry points (IP
 * layer without link layer, bare TCP, ICMP header, the packet an ICMP error quotes).
 * capture/cap_csum: IPv4 header, TCP and UDP checksums over IPv4 and IPv6, the three modes,
 * and the automatic mode's decisions. */
#include <pcap/dlt.h>
#include <stdlib.h>

#include "cap_csum.h"
#include "cap_decode.h"
#include "mw_test.h"

static uint8_t frame[256];
static size_t flen;

static void put(const void *p, size_t n) {
    memcpy(frame + flen, p, n);
    flen += n;
}

static const uint8_t tcp_hdr[20] = {0x9c, 0x40, 0x01, 0xbb, /* 40000 -> 443 */
                                    0x00, 0x00, 0x00, 0x64, /* seq 100 */
                                    0x00, 0x00, 0x00, 0x00, 0x50, 0x18, 0xff, 0xff,
                                    0x00, 0x00, 0x00, 0x00};

static void ipv4(uint8_t ttl) {
    uint8_t h[20] = {0x45, 0, 0, 20 + 20 + 2, 0, 0, 0x40, 0, ttl, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
    put(h, 20);
    put(tcp_hdr, 20);
    put("hi", 2);
    put("\0\0\0\0", 4); /* Ethernet padding beyond the IP length: not payload */
}

static void ipv6_ext(void) {
    uint8_t h[40] = {0x60, 0, 0, 0, 0, 8 + 8 + 20 + 2, 0 /* hop-by-hop */, 7};
    h[8 + 15] = 1;
    h[24 + 15] = 2;
    put(h, 40);
    uint8_t hbh[8] = {60 /* next: dest opts */, 0, 1, 4, 0, 0, 0, 0};
    uint8_t dst[8] = {6 /* next: TCP */, 0, 1, 4, 0, 0, 0, 0};
    put(hbh, 8);
    put(dst, 8);
    put(tcp_hdr, 20);
    put("hi", 2);
}

static void check_pkt(int dlt, int ver, uint8_t ttl, int nvlan, uint16_t v0, uint16_t v1) {
    cap_pkt p;
    cap_stats st;
    memset(&st, 0, sizeof st);
    mw_rc rc = cap_decode(dlt, frame, (uint32_t)flen, &p, &st);
    CHECK(rc == MW_OK);
    if (rc != MW_OK)
        return;
    CHECK_EQ_U(p.ip_ver, ver);
    CHECK_EQ_U(p.ttl, ttl);
    CHECK_EQ_U(p.sport, 40000);
    CHECK_EQ_U(p.dport, 443);
    CHECK_EQ_U(p.seq, 100);
    CHECK_EQ_U(p.payload_len, 2);
    CHECK(memcmp(p.payload, "hi", 2) == 0);
    CHECK_EQ_U(p.tcp_flags, CAP_TH_PSH | CAP_TH_ACK);
    CHECK_EQ_U(p.nvlan, nvlan);
    CHECK_EQ_U(p.vlan[0], v0);
    CHECK_EQ_U(p.vlan[1], v1);
    if (ver == 4)
        CHECK(p.src[0] == 10 && p.src[3] == 1 && p.dst[3] == 2);
    else
        CHECK(p.src[15] == 1 && p.dst[15] == 2);
}

static const uint8_t macs[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Every strict prefix of b must be refused by cap_decode_ip (which = 0), cap_decode_tcp (1) or
 * cap_decode_quote (4 or 6); each from a buffer of exactly that size, so ASan sees an over-read. */
static int prefixes_malformed(const uint8_t *b, size_t n, int which, size_t from) {
    int bad = 0;
    for (size_t l = from; l < n; l++) {
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, b, l);
        cap_pkt p;
        mw_rc rc = which == 0   ? cap_decode_ip(copy, (uint32_t)l, &p, NULL)
                   : which == 1 ? cap_decode_tcp(copy, (uint32_t)l, &p, NULL)
                                : cap_decode_quote(which, copy, (uint32_t)l, &p, NULL);
        bad += rc != MW_MALFORMED;
        free(copy);
    }
    return bad;
}

static void test_raw_ip(void) {
    /* IPv4, 4 option bytes, ICMP, total length 32 of 36 bytes: l4 is the 8 bytes it covers */
    uint8_t v4[36] = {0x46, 0, 0, 32, 0, 0, 0x40, 0, 9, 1, 0, 0, 192, 0, 2,    1,    192,  0,
                      2,    2, 1, 1,  1, 0, 11,   0, 0, 0, 0, 0, 0,   0, 0xee, 0xee, 0xee, 0xee};
    cap_pkt p;
    cap_stats st;
    memset(&st, 0, sizeof st);
    CHECK(cap_decode_ip(v4, sizeof v4, &p, &st) == MW_OK);
    CHECK_EQ_U(p.ip_ver, 4);
    CHECK_EQ_U(p.ttl, 9);
    CHECK_EQ_U(p.l4proto, 1);
    CHECK_EQ_U(p.frag, CAP_FRAG_NONE);
    CHECK(p.src[3] == 1 && p.dst[3] == 2 && p.src[4] == 0);
    CHECK(p.l4 == v4 + 24 && p.l4_len == 8);
    CHECK_EQ_U(prefixes_malformed(v4, 24, 0, 0), 0);
    v4[6] = 0x20; /* more fragments, offset 0: a first fragment */
    CHECK(cap_decode_ip(v4, sizeof v4, &p, &st) == MW_OK && p.frag == CAP_FRAG_FIRST);
    v4[6] = 0x00;
    v4[7] = 0x03; /* offset 24 */
    CHECK(cap_decode_ip(v4, sizeof v4, &p, &st) == MW_OK && p.frag == CAP_FRAG_LATER);
    CHECK_EQ_U(st.an[CAP_AN_ip_fragment], 0); /* reported, not counted */
    v4[0] = 0x56;
    CHECK(cap_decode_ip(v4, sizeof v4, &p, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_bad_header], 1);

    /* IPv6 through hop-by-hop and destination options to TCP */
    flen = 0;
    ipv6_ext();
    CHECK(cap_decode_ip(frame, (uint32_t)flen, &p, NULL) == MW_OK);
    CHECK_EQ_U(p.ip_ver, 6);
    CHECK_EQ_U(p.l4proto, 6);
    CHECK(p.l4 == frame + 56 && p.l4_len == 22);
    CHECK_EQ_U(prefixes_malformed(frame, 56, 0, 0), 0);
    CHECK(cap_decode_tcp(p.l4, p.l4_len, &p, NULL) == MW_OK);
    CHECK(p.sport == 40000 && p.dport == 443 && p.seq == 100 && p.payload_len == 2);
    CHECK_EQ_U(prefixes_malformed(tcp_hdr, 20, 1, 0), 0);
    /* a fragment header, offset 0 and more fragments: the walk stops there */
    frame[40 + 8] = 44;
    uint8_t fh[8] = {6, 0, 0x00, 0x01, 0, 0, 0, 1};
    memcpy(frame + 56, fh, 8);
    frame[4 + 1] = 8 + 8 + 8;
    CHECK(cap_decode_ip(frame, 40 + 24, &p, NULL) == MW_OK);
    CHECK(p.frag == CAP_FRAG_FIRST && p.l4proto == 6 && p.l4 == frame + 64 && p.l4_len == 0);
}

static void test_icmp_quote(void) {
    /* ICMP time exceeded quoting an IPv4 header and 8 octets of TCP (RFC 792) */
    uint8_t m[36] = {11,  0, 0xab, 0xcd, 0,    0,    0,    0,    0x45, 0,    0,    40,
                     0,   0, 0x40, 0,    1,    6,    0,    0,    192,  0,    2,    2,
                     203, 0, 113,  2,    0x9c, 0x40, 0x14, 0x66, 0xde, 0xad, 0xbe, 0xef};
    cap_icmp ic;
    cap_pkt q;
    CHECK(cap_decode_icmp(m, 1, &ic) == MW_MALFORMED);
    CHECK(cap_decode_icmp(m, 7, &ic) == MW_OK && ic.type == 11 && !ic.whole && !ic.quote);
    CHECK(cap_decode_icmp(m, 8, &ic) == MW_OK && ic.whole && ic.quote_len == 0);
    CHECK(cap_decode_icmp(m, sizeof m, &ic) == MW_OK && ic.whole);
    CHECK(ic.quote == m + 8 && ic.quote_len == 28);
    CHECK(cap_decode_quote(4, ic.quote, ic.quote_len, &q, NULL) == MW_OK);
    CHECK(q.sport == 40000 && q.dport == 5222 && q.seq == 0xdeadbeef && q.dst[0] == 203);
    CHECK_EQ_U(prefixes_malformed(ic.quote, ic.quote_len, 4, 0), 0);
    CHECK(cap_decode_quote(6, ic.quote, ic.quote_len, &q, NULL) == MW_MALFORMED);
    CHECK(cap_decode_quote(5, ic.quote, ic.quote_len, &q, NULL) == MW_ERR);
    m[8 + 9] = 17; /* quoted UDP */
    CHECK(cap_decode_quote(4, ic.quote, 20, &q, NULL) == MW_NEED_MORE && q.l4proto == 17);
    m[8 + 9] = 6;
    m[8 + 6] = 0x20; /* a first fragment still starts with TCP */
    CHECK(cap_decode_quote(4, ic.quote, ic.quote_len, &q, NULL) == MW_OK);
    m[8 + 7] = 0x01; /* a later one does not */
    CHECK(cap_decode_quote(4, ic.quote, ic.quote_len, &q, NULL) == MW_NEED_MORE);

    /* ICMPv6 quote (RFC 4443 2.4(c)): the fixed header, then TCP; next header as written */
    uint8_t q6[48] = {0x60, 0, 0, 0, 0, 20, 6, 1};
    q6[8 + 15] = 2;
    q6[24 + 15] = 5;
    uint8_t t[8] = {0x9c, 0x41, 0x00, 0x16, 0x11, 0x22, 0x33, 0x44};
    memcpy(q6 + 40, t, 8);
    CHECK(cap_decode_quote(6, q6, sizeof q6, &q, NULL) == MW_OK);
    CHECK(q.sport == 40001 && q.dport == 22 && q.seq == 0x11223344 && q.dst[15] == 5);
    CHECK_EQ_U(prefixes_malformed(q6, sizeof q6, 6, 0), 0);
    q6[6] = 0; /* hop-by-hop: not walked, so not a TCP quote */
    CHECK(cap_decode_quote(6, q6, 40, &q, NULL) == MW_NEED_MORE && q.l4proto == 0);
    q6[0] = 0x40;
    CHECK(cap_decode_quote(6, q6, sizeof q6, &q, NULL) == MW_MALFORMED);
}

/* ---- checksums, computed here the plain RFC 1071 way (big-endian 16-bit words) ---- */

static uint32_t add16(uint32_t acc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fin16(uint32_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

enum { CK_RIGHT, CK_OFFLOAD, CK_WRONG };

/* A raw IPv4 (DLT_RAW) TCP or UDP packet with payload pl; the transport checksum right, the
 * offload pattern (the folded pseudo-header sum) or wrong; the IP header checksum right
 * unless bad_ip. */
static void v4(uint8_t proto, const char *pl, int ck, bool bad_ip) {
    size_t plen = strlen(pl), hl = proto == 6 ? 20 : 8, l4 = hl + plen;
    uint8_t h[20] = {
        0x45, 0,   0, (uint8_t)(20 + l4), 0, 1, 0x40, 0, 64, proto, 0, 0, 192, 0, 2, 1, 198,
        51,   100, 2};
    uint16_t c = (uint16_t)~fin16(add16(0, h, 20));
    if (bad_ip)
        c ^= 0x0101;
    h[10] = (uint8_t)(c >> 8);
    h[11] = (uint8_t)c;
    flen = 0;
    put(h, 20);
    uint8_t *t = frame + flen;
    if (proto == 6) {
        put(tcp_hdr, 20);
    } else {
        uint8_t u[8] = {0x9c, 0x40, 0x00, 0x35, 0, (uint8_t)l4, 0, 0};
        put(u, 8);
    }
    put(pl, plen);
    uint8_t ph[12] = {192, 0, 2, 1, 198, 51, 100, 2, 0, proto, 0, (uint8_t)l4};
    uint32_t pseudo = add16(0, ph, 12);
    uint16_t v = ck == CK_OFFLOAD ? fin16(pseudo) : (uint16_t)~fin16(add16(pseudo, t, l4));
    if (ck == CK_WRONG)
        v ^= 0x1234;
    t[proto == 6 ? 16 : 6] = (uint8_t)(v >> 8);
    t[proto == 6 ? 17 : 7] = (uint8_t)v;
}

/* The same TCP segment over IPv6 (2001:db8::1 -> 2001:db8::2), optionally behind a routing
 * header with segments left. */
static void v6(int ck, bool routing) {
    size_t l4 = 20 + 2, ext = routing ? 8 : 0;
    uint8_t h[40] = {0x60, 0, 0, 0, 0, (uint8_t)(l4 + ext), routing ? 43 : 6, 64};
    h[8] = h[24] = 0x20;
    h[9] = h[25] = 0x01;
    h[10] = h[26] = 0x0d;
    h[11] = h[27] = 0xb8;
    h[23] = 1;
    h[39] = 2;
    flen = 0;
    put(h, 40);
    if (routing) {
        uint8_t rh[8] = {6, 0, 4, 1, 0, 0, 0, 0}; /* segments left 1 */
        put(rh, 8);
    }
    uint8_t *t = frame + flen;
    put(tcp_hdr, 20);
    put("hi", 2);
    uint8_t ph[40];
    memcpy(ph, h + 8, 32);
    memset(ph + 32, 0, 8);
    ph[35] = (uint8_t)l4;
    ph[39] = 6;
    uint32_t pseudo = add16(0, ph, 40);
    uint16_t v = ck == CK_OFFLOAD ? fin16(pseudo) : (uint16_t)~fin16(add16(pseudo, t, l4));
    if (ck == CK_WRONG)
        v ^= 0x1234;
    t[16] = (uint8_t)(v >> 8);
    t[17] = (uint8_t)v;
}

/* Decodes the frame built and asks the checksum check. */
static bool accept(cap_stats *st) {
    cap_pkt p;
    mw_rc rc = cap_decode(DLT_RAW, frame, (uint32_t)flen, &p, st);
    if (rc == MW_MALFORMED)
        return false;
    return cap_csum_accept(&p, st);
}

static void checksum_tests(void) {
    cap_stats st;
    cap_csum_mode m;
    CHECK(cap_csum_mode_parse("auto", &m) && m == CAP_CSUM_AUTO);
    CHECK(cap_csum_mode_parse("on", &m) && m == CAP_CSUM_ON);
    CHECK(cap_csum_mode_parse("off", &m) && m == CAP_CSUM_OFF);
    CHECK(!cap_csum_mode_parse("yes", &m));
    CHECK_STR(cap_csum_state_name(CAP_CSUM_OFFLOAD), "offload");

    /* on: right passes; a wrong TCP, UDP or IPv4 header checksum, and the offload pattern,
     * are dropped and counted; UDP without a checksum (0) passes over IPv4 */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_ON);
    CHECK_STR(cap_csum_state_name((cap_csum_state)st.csum.state), "validating");
    v4(6, "hello", CK_RIGHT, false);
    CHECK(accept(&st));
    v4(6, "hello", CK_WRONG, false);
    CHECK(!accept(&st));
    v4(6, "hello", CK_OFFLOAD, false);
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 2);
    v4(6, "hell", CK_RIGHT, false); /* even length */
    CHECK(accept(&st));
    v4(6, "hello", CK_RIGHT, true);
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_ip_bad_checksum], 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 2);
    v4(17, "dns?", CK_RIGHT, false);
    CHECK(accept(&st));
    v4(17, "dns?", CK_WRONG, false);
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_udp_bad_checksum], 1);
    frame[20 + 6] = frame[20 + 7] = 0;
    CHECK(accept(&st));
    /* a bad byte in the payload */
    v4(6, "hello", CK_RIGHT, false);
    frame[flen - 1] ^= 1;
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 3);
    /* cut by the snaplen: cannot be checked, passes, counted as unverified */
    v4(6, "hello", CK_WRONG, false);
    flen -= 2;
    CHECK(accept(&st));
    CHECK_EQ_U(st.csum.unverified, 1);
    /* IPv6: the pseudo-header with 128-bit addresses */
    v6(CK_RIGHT, false);
    CHECK(accept(&st));
    v6(CK_WRONG, false);
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 4);
    v6(CK_WRONG, true); /* not yet at its final destination: unverified */
    CHECK(accept(&st));
    CHECK_EQ_U(st.csum.unverified, 2);

    /* off: nothing is checked */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_OFF);
    v4(6, "hello", CK_WRONG, true);
    CHECK(accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum] + st.an[CAP_AN_ip_bad_checksum], 0);
    CHECK_STR(cap_csum_state_name((cap_csum_state)st.csum.state), "off");

    /* auto on a loopback-like capture: the offload pattern passes while sampling; at the 8th
     * the state is offload. Other wrong checksums are still dropped, right ones pass. */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_AUTO);
    CHECK_EQ_U(st.csum.state, CAP_CSUM_SAMPLING);
    v4(6, "hello", CK_WRONG, false);
    CHECK(!accept(&st)); /* dropped while sampling too */
    for (int i = 0; i < 7; i++) {
        v4(6, "hello", CK_OFFLOAD, false);
        CHECK(accept(&st));
    }
    CHECK_EQ_U(st.csum.state, CAP_CSUM_SAMPLING);
    v4(6, "hello", CK_OFFLOAD, false);
    CHECK(accept(&st));
    CHECK_EQ_U(st.csum.state, CAP_CSUM_OFFLOAD);
    CHECK_EQ_U(st.csum.sampled, 9);
    CHECK_EQ_U(st.csum.sample_offload, 8);
    CHECK_EQ_U(st.csum.sample_bad, 1);
    v4(6, "hello", CK_WRONG, false);
    CHECK(!accept(&st));
    v4(6, "hello", CK_RIGHT, false);
    CHECK(accept(&st));
    v4(6, "hello", CK_OFFLOAD, false);
    CHECK(accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 2);
    CHECK_EQ_U(st.csum.sampled, 9); /* the sample is over */

    /* auto on a clean capture: 64 right checksums without the pattern, then validating, in
     * which the pattern is dropped like any wrong checksum */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_AUTO);
    for (int i = 0; i < 63; i++) {
        v4(6, "hello", CK_RIGHT, false);
        CHECK(accept(&st));
    }
    v4(6, "hello", CK_WRONG, false); /* 1 in 64: under 1/10 */
    CHECK(!accept(&st));
    CHECK_EQ_U(st.csum.state, CAP_CSUM_VALIDATING);
    CHECK_EQ_U(st.csum.sampled, 64);
    v4(6, "hello", CK_OFFLOAD, false);
    CHECK(!accept(&st));
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 2);

    /* auto on a capture that mostly fails without the pattern (another system's offload):
     * the first 31 are dropped, the 32nd turns checking off (and passes) */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_AUTO);
    int passed = 0;
    for (int i = 0; i < 32; i++) {
        v4(6, "hello", CK_WRONG, false);
        passed += accept(&st);
    }
    CHECK_EQ_U(passed, 1);
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 31);
    CHECK_EQ_U(st.csum.state, CAP_CSUM_DISABLED);
    CHECK_EQ_U(st.csum.sample_bad, 32);
    v4(6, "hello", CK_WRONG, true);
    CHECK(accept(&st));

    /* auto, full sample: one packet in 11 has the offload pattern, never over 1/10 of the
     * sample: they pass while sampling, and the full sample (1000) decides: validating */
    memset(&st, 0, sizeof st);
    cap_csum_init(&st, CAP_CSUM_AUTO);
    for (int i = 0; i < 1000; i++) {
        v4(6, "hello", i % 11 == 10 ? CK_OFFLOAD : CK_RIGHT, false);
        CHECK(accept(&st));
    }
    CHECK_EQ_U(st.csum.state, CAP_CSUM_VALIDATING);
    CHECK_EQ_U(st.csum.sampled, 1000);
    CHECK_EQ_U(st.csum.sample_offload, 90);
}

int main(void) {
    /* Ethernet */
    flen = 0;
    put(macs, 12);
    put("\x08\x00", 2);
    ipv4(64);
    check_pkt(DLT_EN10MB, 4, 64, 0, 0, 0);
    /* 802.1Q */
    flen = 0;
    put(macs, 12);
    put("\x81\x00\x20\x0a\x08\x00", 6); /* PCP 1, VID 10 */
    ipv4(63);
    check_pkt(DLT_EN10MB, 4, 63, 1, 10, 0);
    /* QinQ: 802.1ad outer 100, 802.1Q inner 200 */
    flen = 0;
    put(macs, 12);
    put("\x88\xa8\x00\x64\x81\x00\x00\xc8\x08\x00", 10);
    ipv4(62);
    check_pkt(DLT_EN10MB, 4, 62, 2, 100, 200);
    /* Linux SLL: protocol last */
    flen = 0;
    put("\x00\x00\x03\x04\x00\x06\x01\x02\x03\x04\x05\x06\x00\x00\x08\x00", 16);
    ipv4(61);
    check_pkt(DLT_LINUX_SLL, 4, 61, 0, 0, 0);
    /* Linux SLL2: protocol first, 20 bytes */
    flen = 0;
    put("\x86\xdd\x00\x00\x00\x00\x00\x02\x03\x04\x00\x06\x01\x02\x03\x04\x05\x06\x00\x00", 20);
    ipv6_ext();
    check_pkt(276, 6, 7, 0, 0, 0);
    /* Raw IP, both DLT values, and the IPV4/IPV6 link types */
    flen = 0;
    ipv4(60);
    check_pkt(DLT_RAW, 4, 60, 0, 0, 0);
    check_pkt(101, 4, 60, 0, 0, 0);
    check_pkt(228, 4, 60, 0, 0, 0);
    flen = 0;
    ipv6_ext();
    check_pkt(229, 6, 7, 0, 0, 0);
    check_pkt(DLT_RAW, 6, 7, 0, 0, 0);
    /* BSD loopback: NULL (host order) and LOOP (network order) */
    flen = 0;
    put("\x02\x00\x00\x00", 4);
    ipv4(59);
    check_pkt(DLT_NULL, 4, 59, 0, 0, 0);
    flen = 0;
    put("\x00\x00\x00\x1e", 4);
    ipv6_ext();
    check_pkt(DLT_LOOP, 6, 7, 0, 0, 0);

    /* Malformed: every truncation of an Ethernet/IPv4/TCP frame is counted, never OK. */
    flen = 0;
    put(macs, 12);
    put("\x08\x00", 2);
    ipv4(64);
    cap_stats st;
    memset(&st, 0, sizeof st);
    cap_pkt p;
    int oks = 0;
    for (uint32_t k = 0; k < 14 + 40; k++)
        oks += cap_decode(DLT_EN10MB, frame, k, &p, &st) == MW_OK;
    CHECK_EQ_U(oks, 0);
    CHECK_EQ_U(st.an[CAP_AN_link_truncated], 14);
    CHECK_EQ_U(st.an[CAP_AN_ip_truncated], 20);
    CHECK_EQ_U(st.an[CAP_AN_tcp_truncated], 20);
    /* TCP data offset below 5 words */
    frame[14 + 20 + 12] = 0x40;
    CHECK(cap_decode(DLT_EN10MB, frame, (uint32_t)flen, &p, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_header], 1);
    /* IPv4 header length beyond the total length */
    frame[14 + 20 + 12] = 0x50;
    frame[14] = 0x4f;
    CHECK(cap_decode(DLT_EN10MB, frame, (uint32_t)flen, &p, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_ip_bad_header], 1);
    frame[14] = 0x45;
    /* A fragment is counted and skipped */
    frame[14 + 6] = 0x20; /* more fragments */
    CHECK(cap_decode(DLT_EN10MB, frame, (uint32_t)flen, &p, &st) == MW_NEED_MORE);
    CHECK_EQ_U(st.an[CAP_AN_ip_fragment], 1);
    /* Unknown link type */
    CHECK(cap_decode(147, frame, (uint32_t)flen, &p, &st) == MW_MALFORMED);
    CHECK_EQ_U(st.an[CAP_AN_link_unsupported], 1);
    CHECK(!cap_linktype_supported(147));
    test_raw_ip();
    test_icmp_quote();

    checksum_tests();
    MW_TEST_END();
}
