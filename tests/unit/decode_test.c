/* capture/cap_decode: every supported link type, VLAN stacks, IPv6 extension headers, and
 * truncated or bogus headers counted as the right anomaly. capture/cap_csum: IPv4 header, TCP
 * and UDP checksums over IPv4 and IPv6, the three modes, and the automatic mode's decisions. */
#include <pcap/dlt.h>

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

    checksum_tests();
    MW_TEST_END();
}
