/* capture/cap_decode: every supported link type, VLAN stacks, IPv6 extension headers, and
 * truncated or bogus headers counted as the right anomaly; and the raw-socket entry points
 * (IP layer without link layer, bare TCP, ICMP header, the packet an ICMP error quotes). */
#include <pcap/dlt.h>
#include <stdlib.h>

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
    MW_TEST_END();
}
