/* probe_trace: reply parsing from hand-made packets (whole and truncated), the SYN builder's
 * checksum, path parsing and comparison, per-port differences, and the exact event text. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "mw_test.h"
#include "ev_trace.h"
#include "probe_trace.h"

static const uint8_t ME[4] = {192, 0, 2, 2}, R1[4] = {192, 0, 2, 1}, SRV[4] = {203, 0, 113, 2};

static size_t put_ip4(uint8_t *p, uint8_t ihl_words, uint16_t total, uint8_t proto,
                      const uint8_t src[4], const uint8_t dst[4]) {
    memset(p, 0, (size_t)ihl_words * 4);
    p[0] = (uint8_t)(0x40 | ihl_words);
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
    p[8] = 1; /* TTL as it arrives quoted */
    p[9] = proto;
    memcpy(p + 12, src, 4);
    memcpy(p + 16, dst, 4);
    return (size_t)ihl_words * 4;
}

/* ICMP type/code from `from`, quoting our SYN 40000 -> dport seq (8 TCP octets, RFC 792). */
static size_t icmp4(uint8_t *p, uint8_t type, uint8_t code, uint8_t qproto, uint8_t qihl,
                    uint16_t dport, uint32_t seq) {
    size_t qlen = (size_t)qihl * 4 + 8;
    size_t n = put_ip4(p, 5, (uint16_t)(20 + 8 + qlen), 1, R1, ME);
    uint8_t *icmp = p + n;
    memset(icmp, 0, 8);
    icmp[0] = type;
    icmp[1] = code;
    n += 8;
    n += put_ip4(p + n, qihl, 60, qproto, ME, SRV);
    uint8_t t[8] = {0x9c,
                    0x40,
                    (uint8_t)(dport >> 8),
                    (uint8_t)dport,
                    (uint8_t)(seq >> 24),
                    (uint8_t)(seq >> 16),
                    (uint8_t)(seq >> 8),
                    (uint8_t)seq};
    memcpy(p + n, t, 8);
    return n + 8;
}

static size_t tcp_seg(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                      uint8_t off_words, uint8_t flags) {
    memset(p, 0, (size_t)off_words * 4);
    p[0] = (uint8_t)(sport >> 8);
    p[1] = (uint8_t)sport;
    p[2] = (uint8_t)(dport >> 8);
    p[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++) {
        p[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        p[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    p[12] = (uint8_t)(off_words << 4);
    p[13] = flags;
    return off_words >= 5 ? (size_t)off_words * 4 : 20;
}

/* Every strict prefix of a packet whose parse needs all of it must be refused. */
static void all_prefixes_malformed(const uint8_t *pkt, size_t len, int which) {
    static const uint8_t from[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1};
    int bad = 0;
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1); /* exact size: ASan sees any over-read */
        memcpy(copy, pkt, l);
        trace_reply r;
        mw_rc rc = which == 0   ? trace_parse_icmp4(copy, l, &r)
                   : which == 1 ? trace_parse_icmp6(copy, l, from, &r)
                   : which == 2 ? trace_parse_tcp4(copy, l, &r)
                                : trace_parse_tcp6(copy, l, from, &r);
        if (rc != MW_MALFORMED) {
            fprintf(stderr, "parser %d: prefix of %zu/%zu bytes gave %d\n", which, l, len, rc);
            bad++;
        }
        free(copy);
    }
    CHECK_EQ_U(bad, 0);
}

static void test_icmp4(void) {
    uint8_t p[128];
    trace_reply r;
    size_t n = icmp4(p, 11, 0, 6, 5, 5222, 0xdeadbeef);
    CHECK_EQ_U(n, 56);
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK);
    CHECK_EQ_U(r.kind, TRACE_R_TIME_EXCEEDED);
    CHECK_EQ_U(r.family, AF_INET);
    CHECK_MEM(r.from, R1, 4);
    CHECK_MEM(r.peer, SRV, 4);
    CHECK_EQ_U(r.lport, 40000);
    CHECK_EQ_U(r.rport, 5222);
    CHECK_EQ_U(r.seq, 0xdeadbeef);
    all_prefixes_malformed(p, n, 0);
    /* trailing bytes (a router quoting more, RFC 1812 4.3.2.3) change nothing */
    memset(p + n, 0xaa, 20);
    CHECK(trace_parse_icmp4(p, n + 20, &r) == MW_OK && r.seq == 0xdeadbeef);

    /* quoted header with options (IHL 6) */
    n = icmp4(p, 11, 0, 6, 6, 22, 7);
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_TIME_EXCEEDED &&
          r.rport == 22 && r.seq == 7);
    all_prefixes_malformed(p, n, 0);

    n = icmp4(p, 3, 13, 6, 5, 22, 9); /* administratively prohibited */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_UNREACH && r.icmp_code == 13);
    n = icmp4(p, 11, 1, 6, 5, 22, 9); /* reassembly time exceeded: not ours */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    n = icmp4(p, 0, 0, 6, 5, 22, 9); /* echo reply */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    n = icmp4(p, 11, 0, 17, 5, 22, 9); /* quoted UDP */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);

    n = icmp4(p, 11, 0, 6, 5, 22, 9);
    p[0] = 0x65; /* version 6 in an IPv4 packet */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_MALFORMED);
    p[0] = 0x44; /* IHL 16 bytes */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_MALFORMED);
    p[0] = 0x45;
    p[2] = 0;
    p[3] = 19; /* total length shorter than the header */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_MALFORMED);
    p[3] = 28; /* total length stops before the quote: the quote is not there */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_MALFORMED);
    p[3] = (uint8_t)n;
    p[28 + 0] = 0x43; /* quoted IHL 12 bytes */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_MALFORMED);
    p[28 + 0] = 0x45;
    p[6] = 0x00;
    p[7] = 0x10; /* a later fragment of the outer packet: skipped */
    CHECK(trace_parse_icmp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
}

static void test_icmp6(void) {
    static const uint8_t from[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1};
    static const uint8_t me[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2};
    static const uint8_t srv[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 2};
    uint8_t p[128];
    memset(p, 0, sizeof p);
    p[0] = 3; /* time exceeded, code 0 */
    p[8] = 0x60;
    p[8 + 5] = 20; /* payload length */
    p[8 + 6] = 6;  /* next header TCP */
    p[8 + 7] = 1;
    memcpy(p + 8 + 8, me, 16);
    memcpy(p + 8 + 24, srv, 16);
    uint8_t t[8] = {0x9c, 0x40, 0x00, 0x16, 0x11, 0x22, 0x33, 0x44};
    memcpy(p + 48, t, 8);
    size_t n = 56;
    trace_reply r;
    CHECK(trace_parse_icmp6(p, n, from, &r) == MW_OK);
    CHECK_EQ_U(r.kind, TRACE_R_TIME_EXCEEDED);
    CHECK_EQ_U(r.family, AF_INET6);
    CHECK_MEM(r.from, from, 16);
    CHECK_MEM(r.peer, srv, 16);
    CHECK_EQ_U(r.lport, 40000);
    CHECK_EQ_U(r.rport, 22);
    CHECK_EQ_U(r.seq, 0x11223344);
    all_prefixes_malformed(p, n, 1);
    p[0] = 1;
    p[1] = 4; /* port unreachable */
    CHECK(trace_parse_icmp6(p, n, from, &r) == MW_OK && r.kind == TRACE_R_UNREACH &&
          r.icmp_code == 4);
    p[0] = 3;
    p[1] = 1; /* fragment reassembly time exceeded */
    CHECK(trace_parse_icmp6(p, n, from, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[0] = 129; /* echo reply */
    p[1] = 0;
    CHECK(trace_parse_icmp6(p, n, from, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[0] = 3;
    p[8 + 6] = 17; /* quoted UDP: ignored once its header is whole */
    CHECK(trace_parse_icmp6(p, 48, from, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[8 + 6] = 6;
    p[8] = 0x40; /* quoted version 4 */
    CHECK(trace_parse_icmp6(p, n, from, &r) == MW_MALFORMED);
}

static void test_tcp(void) {
    uint8_t p[128];
    trace_reply r;
    size_t n = put_ip4(p, 5, 40, 6, SRV, ME);
    n += tcp_seg(p + n, 22, 40000, 0x55555555, 0x01020305, 5, 0x12); /* SYN-ACK */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK);
    CHECK_EQ_U(r.kind, TRACE_R_SYNACK);
    CHECK_MEM(r.from, SRV, 4);
    CHECK_MEM(r.peer, SRV, 4);
    CHECK_EQ_U(r.lport, 40000);
    CHECK_EQ_U(r.rport, 22);
    CHECK_EQ_U(r.seq, 0x01020304);
    CHECK_EQ_U(r.rst_seq, 0x01020305);
    all_prefixes_malformed(p, n, 2);
    p[20 + 13] = 0x14; /* RST+ACK: closed port */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK && r.kind == TRACE_R_RST && r.seq == 0x01020304);
    p[20 + 13] = 0x04; /* RST alone acknowledges nothing */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[20 + 13] = 0x02; /* a SYN (ours, looped back) */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[20 + 13] = 0x18; /* data */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);
    p[20 + 13] = 0x12;
    p[20 + 12] = 0x40; /* data offset 16 bytes */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_MALFORMED);
    p[20 + 12] = 0x60; /* options announced, not there */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_MALFORMED);
    p[20 + 12] = 0x50;
    p[9] = 17; /* UDP */
    CHECK(trace_parse_tcp4(p, n, &r) == MW_OK && r.kind == TRACE_R_IGNORE);

    static const uint8_t from[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 2};
    n = tcp_seg(p, 5222, 40001, 1, 0xffffffff, 6, 0x12); /* with 4 option bytes */
    CHECK_EQ_U(n, 24);
    CHECK(trace_parse_tcp6(p, n, from, &r) == MW_OK);
    CHECK_EQ_U(r.kind, TRACE_R_SYNACK);
    CHECK_EQ_U(r.seq, 0xfffffffe);
    CHECK_EQ_U(r.rport, 5222);
    CHECK_EQ_U(r.lport, 40001);
    CHECK_MEM(r.from, from, 16);
    all_prefixes_malformed(p, n, 3);
    tcp_seg(p, 5222, 40001, 1, 0, 5, 0x14); /* ack 0: seq wraps to 0xffffffff */
    CHECK(trace_parse_tcp6(p, 20, from, &r) == MW_OK && r.kind == TRACE_R_RST &&
          r.seq == 0xffffffff);
}

static void test_build(void) {
    uint8_t seg[20];
    static const uint8_t want[20] = {0x9c, 0x40, 0x00, 0x16, 0x01, 0x02, 0x03, 0x04, 0, 0,
                                     0,    0,    0x50, 0x02, 0xff, 0xff, 0x11, 0x81, 0, 0};
    trace_build_tcp(seg, AF_INET, ME, SRV, 40000, 22, 0x01020304, 0x02);
    CHECK_MEM(seg, want, 20); /* checksum 0x1181 computed independently (Python) */
    trace_build_tcp(seg, AF_INET6, NULL, NULL, 40000, 22, 0x01020304, 0x04);
    CHECK_EQ_U(seg[13], 0x04);
    CHECK_EQ_U(seg[14] | seg[15] | seg[16] | seg[17], 0); /* RST window 0; checksum: kernel */
}

static void path(trace_path *p, const char *s) {
    if (trace_path_parse(s, p) != MW_OK) {
        fprintf(stderr, "cannot parse %s\n", s);
        exit(1);
    }
}

static void test_paths(void) {
    static trace_path p, q;
    static trace_pathset set;
    CHECK(trace_path_parse("192.0.2.1, *,2001:DB8::0:1", &p) == MW_OK);
    CHECK_EQ_U(p.n, 3);
    CHECK_STR(p.hop[0], "192.0.2.1");
    CHECK_STR(p.hop[1], "*");
    CHECK_STR(p.hop[2], "2001:db8::1");
    CHECK(trace_path_parse("1.2.3", &p) == MW_MALFORMED);
    CHECK(trace_path_parse("", &p) == MW_MALFORMED);
    CHECK(trace_path_parse("192.0.2.1,,192.0.2.2", &p) == MW_MALFORMED);
    CHECK(trace_path_parse("192.0.2.1,", &p) == MW_MALFORMED);
    CHECK(trace_path_parse("**", &p) == MW_MALFORMED);

    memset(&set, 0, sizeof set);
    path(&p, "192.0.2.1,198.51.100.2,203.0.113.2");
    CHECK(trace_pathset_add(&set, &p) == MW_OK);
    CHECK(trace_pathset_add(&set, &p) == MW_OK);
    CHECK_EQ_U(set.n, 1); /* learning the same path twice keeps one */

    path(&q, "192.0.2.1,198.51.100.66,198.51.100.129,203.0.113.2"); /* the extra hop */
    CHECK(!trace_compare(&set, &q, 3));
    CHECK(!trace_compare(&set, &q, 0));
    CHECK(trace_compare(&set, &q, 1));             /* only the target compared: blind to the hop */
    path(&q, "10.9.9.9,198.51.100.2,203.0.113.2"); /* another first hop, same last 2 */
    CHECK(!trace_compare(&set, &q, 3));
    CHECK(trace_compare(&set, &q, 2));
    path(&q, "192.0.2.1,*,203.0.113.2"); /* a star observed is not the expected router */
    CHECK(!trace_compare(&set, &q, 3));
    path(&p, "192.0.2.1,*,203.0.113.2"); /* ...but an expected '*' accepts anything */
    CHECK(trace_pathset_add(&set, &p) == MW_OK);
    CHECK(trace_compare(&set, &q, 3));
    path(&q, "192.0.2.1,198.51.100.99,203.0.113.2");
    CHECK(trace_compare(&set, &q, 3));
    /* shorter than n: compared whole, so lengths must agree */
    path(&q, "198.51.100.2,203.0.113.2");
    CHECK(!trace_compare(&set, &q, 3));
    memset(&set, 0, sizeof set);
    CHECK(trace_compare(&set, &q, 3)); /* nothing expected: nothing to raise */
    path(&p, "198.51.100.2,203.0.113.2");
    CHECK(trace_pathset_add(&set, &p) == MW_OK);
    CHECK(trace_compare(&set, &q, 3));
    for (unsigned i = 1; i < TRACE_SET_MAX; i++) {
        char s[64];
        snprintf(s, sizeof s, "192.0.2.%u", i);
        path(&p, s);
        CHECK(trace_pathset_add(&set, &p) == MW_OK);
    }
    path(&p, "192.0.2.200");
    CHECK(trace_pathset_add(&set, &p) == MW_ERR);
}

static void hop(trace_port *p, unsigned ttl, uint8_t kind, const char *a, uint32_t rtt) {
    trace_hop *h = &p->hops[ttl - 1];
    h->kind = kind;
    h->rtt_us = rtt;
    if (a) inet_pton(AF_INET, a, h->addr);
    if (ttl > p->nhops) p->nhops = ttl;
    p->final_kind = kind;
    p->reached = kind == TRACE_HOP_SYNACK || kind == TRACE_HOP_RST;
}

static void test_result_output(void) {
    static trace_result r;
    static trace_pathset set;
    static trace_path p;
    memset(&r, 0, sizeof r);
    r.family = AF_INET;
    memcpy(r.target, SRV, 4);
    memcpy(r.source, ME, 4);
    r.max_ttl = 30;
    r.nports = 3;
    r.elapsed_us = 195000;
    trace_port *a = &r.ports[0], *b = &r.ports[1], *c = &r.ports[2];
    a->port = 22;
    a->lport = 40000;
    a->probes = 3;
    a->resets = 1;
    hop(a, 1, TRACE_HOP_TIME_EXCEEDED, "192.0.2.1", 61);
    hop(a, 2, TRACE_HOP_STAR, NULL, 0);
    hop(a, 3, TRACE_HOP_SYNACK, "203.0.113.2", 1234);
    b->port = 5222;
    b->lport = 40001;
    b->probes = 4;
    b->resets = 1;
    hop(b, 1, TRACE_HOP_TIME_EXCEEDED, "192.0.2.1", 50);
    hop(b, 2, TRACE_HOP_TIME_EXCEEDED, "198.51.100.66", 70);
    hop(b, 3, TRACE_HOP_STAR, NULL, 0);
    hop(b, 4, TRACE_HOP_SYNACK, "203.0.113.2", 90);
    c->port = 23;
    c->lport = 40002;
    c->probes = 3;
    hop(c, 1, TRACE_HOP_TIME_EXCEEDED, "192.0.2.1", 10);
    hop(c, 2, TRACE_HOP_STAR, NULL, 0);
    hop(c, 3, TRACE_HOP_RST, "203.0.113.2", 20);

    unsigned pairs[4][2];
    CHECK_EQ_U(trace_port_differences(&r, 3, pairs, 4), 2);
    CHECK(pairs[0][0] == 0 && pairs[0][1] == 1 && pairs[1][0] == 1 && pairs[1][1] == 2);
    CHECK_EQ_U(trace_port_differences(&r, 1, pairs, 4), 0);
    CHECK_EQ_U(trace_port_differences(&r, 3, pairs, 1), 1);

    trace_path_of(&r, 1, &p);
    CHECK_EQ_U(p.n, 4);
    CHECK_STR(p.hop[2], "*");
    CHECK_STR(p.hop[3], "203.0.113.2");

    mw_buf out;
    mw_buf_init(&out, 1 << 16);
    CHECK(trace_event_path(&out, "lab", 1764339000123456ull, "xmpp.example", &r, 3));
    CHECK(mw_buf_putc(&out, '\0'));
    CHECK_STR((const char *)out.data,
              "{\"@timestamp\":\"2025-11-28T14:10:00.123456Z\",\"ecs\":{\"version\":\"8.11.0\"},"
              "\"event\":{\"kind\":\"event\","
              "\"category\":[\"network\"],\"type\":[\"info\"],\"dataset\":\"mitmwatch.path\"},"
              "\"observer\":{\"name\":\"lab\"},\"source\":{\"ip\":\"192.0.2.2\"},"
              "\"destination\":{\"address\":\"xmpp.example\",\"ip\":\"203.0.113.2\"},"
              "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\"},\"mitmwatch\":{\"path\":{"
              "\"max_ttl\":30,\"last_n\":3,\"elapsed_ms\":195,\"ports\":["
              "{\"port\":22,\"source_port\":40000,\"reached\":true,\"final\":\"syn-ack\","
              "\"hop_count\":3,\"probes\":3,\"resets\":1,\"hops\":["
              "{\"ttl\":1,\"kind\":\"time-exceeded\",\"ip\":\"192.0.2.1\",\"rtt_us\":61},"
              "{\"ttl\":2,\"kind\":\"star\"},"
              "{\"ttl\":3,\"kind\":\"syn-ack\",\"ip\":\"203.0.113.2\",\"rtt_us\":1234}],"
              "\"path\":[\"192.0.2.1\",\"*\",\"203.0.113.2\"]},"
              "{\"port\":5222,\"source_port\":40001,\"reached\":true,\"final\":\"syn-ack\","
              "\"hop_count\":4,\"probes\":4,\"resets\":1,\"hops\":["
              "{\"ttl\":1,\"kind\":\"time-exceeded\",\"ip\":\"192.0.2.1\",\"rtt_us\":50},"
              "{\"ttl\":2,\"kind\":\"time-exceeded\",\"ip\":\"198.51.100.66\",\"rtt_us\":70},"
              "{\"ttl\":3,\"kind\":\"star\"},"
              "{\"ttl\":4,\"kind\":\"syn-ack\",\"ip\":\"203.0.113.2\",\"rtt_us\":90}],"
              "\"path\":[\"192.0.2.1\",\"198.51.100.66\",\"*\",\"203.0.113.2\"]},"
              "{\"port\":23,\"source_port\":40002,\"reached\":true,\"final\":\"rst\","
              "\"hop_count\":3,\"probes\":3,\"resets\":0,\"hops\":["
              "{\"ttl\":1,\"kind\":\"time-exceeded\",\"ip\":\"192.0.2.1\",\"rtt_us\":10},"
              "{\"ttl\":2,\"kind\":\"star\"},"
              "{\"ttl\":3,\"kind\":\"rst\",\"ip\":\"203.0.113.2\",\"rtt_us\":20}],"
              "\"path\":[\"192.0.2.1\",\"*\",\"203.0.113.2\"]}],"
              "\"ports_differ\":true,\"differences\":["
              "{\"ports\":[22,5222],\"a\":[\"192.0.2.1\",\"*\",\"203.0.113.2\"],"
              "\"b\":[\"192.0.2.1\",\"198.51.100.66\",\"*\",\"203.0.113.2\"]},"
              "{\"ports\":[5222,23],\"a\":[\"192.0.2.1\",\"198.51.100.66\",\"*\",\"203.0.113.2\"],"
              "\"b\":[\"192.0.2.1\",\"*\",\"203.0.113.2\"]}]}}}");

    memset(&set, 0, sizeof set);
    path(&p, "192.0.2.1,*,203.0.113.2");
    CHECK(trace_pathset_add(&set, &p) == MW_OK);
    trace_path_of(&r, 1, &p);
    CHECK(!trace_compare(&set, &p, 3));
    mw_buf_reset(&out);
    CHECK(
        trace_event_hops_changed(&out, "lab", 1764339000123456ull, "xmpp.example", &r, 1, &set, 3, NULL));
    CHECK(mw_buf_putc(&out, '\0'));
    CHECK_STR((const char *)out.data,
              "{\"@timestamp\":\"2025-11-28T14:10:00.123456Z\",\"ecs\":{\"version\":\"8.11.0\"},"
              "\"event\":{\"kind\":\"alert\","
              "\"category\":[\"network\"],\"type\":[\"indicator\"],\"dataset\":\"mitmwatch.alert\","
              "\"severity\":3},\"observer\":{\"name\":\"lab\"},\"rule\":{\"id\":"
              "\"path.hops_changed\",\"name\":\"Network path to a service changed\"},"
              "\"message\":\"The last 3 hops to 203.0.113.2 port 5222 (4 hops in all) match none "
              "of the 1 expected paths.\",\"source\":{\"ip\":\"192.0.2.2\"},\"destination\":{"
              "\"address\":\"xmpp.example\",\"ip\":\"203.0.113.2\",\"port\":5222},\"network\":{"
              "\"transport\":\"tcp\",\"type\":\"ipv4\"},\"mitmwatch\":{\"expected\":[["
              "\"192.0.2.1\",\"*\",\"203.0.113.2\"]],\"observed\":[\"192.0.2.1\","
              "\"198.51.100.66\",\"*\",\"203.0.113.2\"],\"path\":{\"last_n\":3,"
              "\"reached\":true}}}");

    mw_buf_reset(&out);
    CHECK(trace_text(&out, "xmpp.example", &r, 3));
    CHECK(mw_buf_putc(&out, '\0'));
    CHECK_STR((const char *)out.data,
              "xmpp.example (203.0.113.2) port 22: 3 hops, reached (open: syn-ack), 3 probes, "
              "1 resets\n"
              "  1  192.0.2.1  0.061 ms\n"
              "  2  *\n"
              "  3  203.0.113.2  1.234 ms  syn-ack\n"
              "xmpp.example (203.0.113.2) port 5222: 4 hops, reached (open: syn-ack), 4 probes, "
              "1 resets\n"
              "  1  192.0.2.1  0.050 ms\n"
              "  2  198.51.100.66  0.070 ms\n"
              "  3  *\n"
              "  4  203.0.113.2  0.090 ms  syn-ack\n"
              "xmpp.example (203.0.113.2) port 23: 3 hops, reached (closed: rst), 3 probes, "
              "0 resets\n"
              "  1  192.0.2.1  0.010 ms\n"
              "  2  *\n"
              "  3  203.0.113.2  0.020 ms  rst\n"
              "ports 22 and 5222 take different paths (last 3 hops compared): 22 via "
              "192.0.2.1,*,203.0.113.2; 5222 via 198.51.100.66,*,203.0.113.2\n"
              "  only port 5222 passes 198.51.100.66\n"
              "ports 5222 and 23 take different paths (last 3 hops compared): 5222 via "
              "198.51.100.66,*,203.0.113.2; 23 via 192.0.2.1,*,203.0.113.2\n"
              "  only port 5222 passes 198.51.100.66\n");

    /* a tiny cap fails cleanly */
    mw_buf small;
    mw_buf_init(&small, 64);
    CHECK(!trace_event_path(&small, "lab", 0, NULL, &r, 3));
    CHECK(!trace_text(&small, NULL, &r, 3));
    mw_buf_free(&small);
    mw_buf_free(&out);
}

static void test_schedule(void) {
    const uint64_t now = 1000000000ull, hour = 3600000000ull;
    CHECK_EQ_U(trace_schedule_next(now, hour, 0, 12345), now + hour);
    CHECK_EQ_U(trace_schedule_next(now, hour, 10, 0), now + hour - 360000000ull);
    CHECK_EQ_U(trace_schedule_next(now, hour, 10, 0xffffffffu), now + hour + 360000000ull);
    CHECK_EQ_U(trace_schedule_next(now, hour, 10, 0x80000000u), now + hour);
    CHECK_EQ_U(trace_schedule_next(now, hour, 250, 0), now + 1000000u); /* capped, floor 1 s */
    CHECK_EQ_U(trace_schedule_next(now, 0, 50, 7), now + 1000000u);
}

int main(void) {
    test_schedule();
    test_icmp4();
    test_icmp6();
    test_tcp();
    test_build();
    test_paths();
    test_result_output();
    MW_TEST_END();
}
