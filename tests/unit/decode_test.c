/* capture/cap_decode: every supported link type, VLAN stacks, IPv6 extension headers, and
 * truncated or bogus headers counted as the right anomaly. */
#include <pcap/dlt.h>

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
    MW_TEST_END();
}
