/* rules/bl_baseline: synthetic TTL and JA3S series (issue 6): stable, a single outlier, a route
 * change, a per-port split, a new client JA3 (no alert) and a known JA3 with a new JA3S. The
 * state file: the exact bytes of a state with a service and learned trace paths, a round trip,
 * version 1 files, and every kind of bad file (empty, each truncation, not msgpack, foreign,
 * future version, malformed entries) refused with its one-line reason. */
#include <fcntl.h>
#include <msgpack.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bl_baseline.h"
#include "bl_internal.h"
#include "mw_test.h"

static int nalerts;
static char last_rule[64], last_expected[1024], last_observed[512], last_key[192];
static uint64_t g_ts_us; /* capture time of the next flow() */

static void on_alert(const bl_alert *a, void *user) {
    (void)user;
    nalerts++;
    snprintf(last_rule, sizeof last_rule, "%s", a->rule_id);
    snprintf(last_expected, sizeof last_expected, "%s", a->expected);
    snprintf(last_observed, sizeof last_observed, "%s", a->observed);
    snprintf(last_key, sizeof last_key, "%s", a->key);
}

/* One handshake from client 192.0.2.2 to 203.0.113.2:port; side 0 client, side 1 server. */
static void flow(bl_state *b, uint16_t port, uint8_t c2s_ttl, uint16_t steady, const char *ja3,
                 const char *ja3s) {
    cap_flow f;
    tls_hs hs;
    memset(&f, 0, sizeof f);
    memset(&hs, 0, sizeof hs);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc0\x00\x02\x02", 4);
    memcpy(f.key.addr[1], "\xcb\x00\x71\x02", 4);
    f.key.port[0] = 40000;
    f.key.port[1] = port;
    f.ttl[0] = c2s_ttl;
    f.ttl[1] = 64;
    f.ttl_stable[0] = steady;
    f.ttl_stable[1] = 5;
    f.pkts[0] = f.pkts[1] = 5;
    hs.have_ch = hs.have_sh = true;
    hs.ts_us = g_ts_us;
    snprintf(hs.ja3, sizeof hs.ja3, "%s", ja3);
    snprintf(hs.ja3s, sizeof hs.ja3s, "%s", ja3s);
    bl_observe(b, &hs, &f, 0, false, on_alert, NULL);
}

#define JA3A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define JA3B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define JA3C "cccccccccccccccccccccccccccccccc"
#define S1 "11111111111111111111111111111111"
#define S2 "22222222222222222222222222222222"

static void unhex(const char *h, uint8_t *out, size_t *n) {
    *n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++)
            v = v * 16 + (unsigned)(h[k] <= '9' ? h[k] - '0' : h[k] - 'a' + 10);
        out[(*n)++] = (uint8_t)v;
    }
}

/* A full handshake to 203.0.113.2:443 with its fingerprint strings: the client kind (JA3 hash
 * and string, the highest version offered) and the server's answer (version, cipher, JA3S). */
typedef struct {
    const char *ja3, *ja3_string;
    uint16_t offered;
} client_kind;

static void hello(bl_state *b, const client_kind *ck, uint16_t version, uint16_t cipher,
                  const char *ja3s, const char *ja3s_string) {
    cap_flow f;
    tls_hs hs;
    memset(&f, 0, sizeof f);
    memset(&hs, 0, sizeof hs);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc0\x00\x02\x02", 4);
    memcpy(f.key.addr[1], "\xcb\x00\x71\x02", 4);
    f.key.port[0] = 40000;
    f.key.port[1] = 443;
    hs.have_ch = hs.have_sh = true;
    hs.ts_us = g_ts_us;
    hs.ch_version = ck->offered;
    hs.version = version;
    hs.cipher = cipher;
    snprintf(hs.ja3, sizeof hs.ja3, "%s", ck->ja3);
    snprintf(hs.ja3s, sizeof hs.ja3s, "%s", ja3s);
    hs.ja3_string = (char *)(uintptr_t)ck->ja3_string;
    hs.ja3s_string = (char *)(uintptr_t)ja3s_string;
    bl_observe(b, &hs, &f, 0, false, on_alert, NULL);
}

/* Server answers: OpenSSL's TLS 1.3 and TLS 1.2 ServerHellos, and an interception proxy's. */
#define OSSL13 "771,4865,43-51"
#define OSSL13_H "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c"
#define OSSL12 "771,49199,65281-0-11-23"
#define OSSL12_H "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d"
#define OSSL12_ALPN "771,49199,65281-0-11-23-16"
#define OSSL12_ALPN_H "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"
#define PROXY12 "771,52392,0-65281-11-23"
#define PROXY12_H "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"

/* JA3S learning at a small service's volume (3 handshakes per client kind), and the service's
 * server stack as the reference for client kinds not learned yet. */
static void stack_tests(void) {
    static const client_kind modern = {"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
                                       "771,4865-4866-4867-49195-49199-52393-52392-49196-49200,"
                                       "0-23-65281-10-11-35-16-5-13-18-51-45-43-27-21,29-23-24,0",
                                       0x0304};
    static const client_kind firefox = {"a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2",
                                        "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-"
                                        "49162-49161-49171-49172-156-157-47-53,"
                                        "0-23-65281-10-11-16-5-34-51-43-13-45-28-27,29-23-24-25,0",
                                        0x0304};
    static const client_kind legacy = {"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
                                       "771,49199-49200-52392-156-157-47-53,0-10-11-13-23-65281,"
                                       "29-23-24,0",
                                       0x0303};
    static const client_kind curl12 = {"b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
                                       "771,49199-49195-49200-49196-52392-52393,"
                                       "0-11-10-35-16-22-23-13-65281,29-23-30-25-24,0-1-2",
                                       0x0303};
    static const client_kind newtls13 = {"a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3",
                                         "771,4866-4865-4867-49196-49195-52393-49200-52392-49199,"
                                         "0-65281-23-10-11-13-43-45-51,29-23,0",
                                         0x0304};
    bl_cfg cfg = {.min_packets = 2}; /* the default learning window (10): JA3S needs only 3 */
    bl_state *b = bl_new(&cfg);
    nalerts = 0;
    g_ts_us = 0;

    /* a small service: three handshakes of each of two client kinds */
    for (int i = 0; i < 3; i++) {
        hello(b, &modern, 0x0304, 0x1301, OSSL13_H, OSSL13);
        hello(b, &legacy, 0x0303, 0xc02f, OSSL12_H, OSSL12);
    }
    CHECK_EQ_U(nalerts, 0);
    /* new client kinds on the unchanged server raise nothing: another TLS 1.3 browser, and a
     * TLS 1.2 client whose ALPN offer is answered (an extension no earlier client offered) */
    hello(b, &firefox, 0x0304, 0x1301, OSSL13_H, OSSL13);
    hello(b, &curl12, 0x0303, 0xc02f, OSSL12_ALPN_H, OSSL12_ALPN);
    hello(b, &newtls13, 0x0304, 0x1302, OSSL13_H, "771,4866,43-51");
    CHECK_EQ_U(nalerts, 0);

    /* a proxy appears (TLS 1.2 only, ChaCha20 first, its own extension order): the legacy
     * client, learned from its three handshakes, is caught on its first connection after */
    hello(b, &legacy, 0x0303, 0xcca8, PROXY12_H, PROXY12);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_rule, "tls.ja3s_changed");
    CHECK_STR(last_expected, "{\"ja3\":\"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\",\"resumed\":false,"
                             "\"ja3s\":[\"" OSSL12_H "\"]}");
    CHECK_STR(last_observed,
              "{\"ja3\":\"b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\",\"ja3s\":\"" PROXY12_H "\"}");

    /* a client kind never seen, TLS 1.3 capable, answered by the proxy with TLS 1.2: outside
     * everything the service has answered, in version, cipher family and extension order */
    static const client_kind newcomer = {"c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1",
                                         "771,4865-4867-49199-52392-156,0-23-65281-11-43-51,29,0",
                                         0x0304};
    hello(b, &newcomer, 0x0303, 0xcca8, PROXY12_H, PROXY12);
    CHECK_EQ_U(nalerts, 2);
    CHECK_STR(last_rule, "tls.ja3s_changed");
    CHECK_STR(last_key, "203.0.113.2:443 c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1 " PROXY12_H);
    CHECK_STR(last_expected,
              "{\"ja3\":\"c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1\",\"server_stack\":{\"flows\":9,"
              "\"versions\":[\"1.3\",\"1.2\"],\"cipher_families\":[\"ECDHE_RSA AES_GCM\"],"
              "\"extensions\":[0,11,16,23,65281]}}");
    CHECK_STR(last_observed,
              "{\"ja3\":\"c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1\",\"ja3s\":\"" PROXY12_H "\","
              "\"differs\":[\"version\",\"cipher_family\",\"extension_order\"],"
              "\"version\":[\"1.2\"],\"cipher_family\":\"ECDHE_RSA CHACHA20_POLY1305\","
              "\"extensions\":[0,65281,11,23]}");
    /* it is not learned as the newcomer's answer: its next connection matches again */
    hello(b, &newcomer, 0x0303, 0xcca8, PROXY12_H, PROXY12);
    CHECK_EQ_U(nalerts, 3);
    bl_free(b);
    nalerts = 0;
}

/* One connection of a client kind to 203.0.113.2:443 that completes its handshake, gets no
 * ServerHello, or gets a fatal handshake_failure alert from the server. */
enum { HS_OK, HS_NO_SH, HS_ALERT };
static void attempt(bl_state *b, const char *ja3, int outcome) {
    cap_flow f;
    tls_hs hs;
    memset(&f, 0, sizeof f);
    memset(&hs, 0, sizeof hs);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc0\x00\x02\x02", 4);
    memcpy(f.key.addr[1], "\xcb\x00\x71\x02", 4);
    f.key.port[0] = 40000;
    f.key.port[1] = 443;
    hs.have_ch = true;
    hs.have_sh = outcome != HS_NO_SH;
    hs.established = outcome == HS_OK;
    hs.incomplete = outcome == HS_NO_SH;
    if (outcome == HS_ALERT) {
        hs.alert_seen = true;
        hs.alert_level = 2;
        hs.alert_desc = 40;
        hs.alert_from_server = 1;
    }
    snprintf(hs.ja3, sizeof hs.ja3, "%s", ja3);
    snprintf(hs.ja3s, sizeof hs.ja3s, "%s", S1);
    bl_observe(b, &hs, &f, 0, false, on_alert, NULL);
}

/* tls.handshake_failures: client kinds that used to complete start failing. */
static void failure_tests(void) {
    bl_cfg cfg = {.min_packets = 2};
    bl_state *b = bl_new(&cfg);
    nalerts = 0;
    for (int i = 0; i < 3; i++) {
        attempt(b, JA3A, HS_OK);
        attempt(b, JA3B, HS_OK);
    }
    attempt(b, JA3A, HS_NO_SH); /* one failure: a blip */
    attempt(b, JA3A, HS_OK);
    attempt(b, JA3A, HS_NO_SH);
    attempt(b, JA3C, HS_NO_SH); /* a client kind that never completed here: not judged */
    attempt(b, JA3C, HS_NO_SH);
    CHECK_EQ_U(nalerts, 0);
    attempt(b, JA3A, HS_ALERT); /* the second in a row */
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_rule, "tls.handshake_failures");
    CHECK_STR(last_key, "203.0.113.2:443 " JA3A);
    CHECK_STR(last_expected, "{\"completing\":[{\"ja3\":\"" JA3B "\",\"completed\":3}]}");
    CHECK_STR(last_observed, "{\"failure\":\"alert from the server\",\"failing\":["
                             "{\"ja3\":\"" JA3A "\",\"failed\":2,\"completed\":4},"
                             "{\"ja3\":\"" JA3C "\",\"failed\":2,\"completed\":0}]}");
    attempt(b, JA3B, HS_NO_SH);
    CHECK_EQ_U(nalerts, 1);
    attempt(b, JA3B, HS_NO_SH); /* the other kind too */
    CHECK_EQ_U(nalerts, 2);
    CHECK_STR(last_expected, "{\"completing\":[]}");
    attempt(b, JA3A, HS_NO_SH); /* every further failure matches */
    CHECK_EQ_U(nalerts, 3);
    CHECK_STR(last_observed, "{\"failure\":\"no ServerHello\",\"failing\":["
                             "{\"ja3\":\"" JA3A "\",\"failed\":3,\"completed\":4},"
                             "{\"ja3\":\"" JA3B "\",\"failed\":2,\"completed\":3},"
                             "{\"ja3\":\"" JA3C "\",\"failed\":2,\"completed\":0}]}");
    attempt(b, JA3A, HS_OK); /* completes again: the run is over */
    attempt(b, JA3A, HS_NO_SH);
    CHECK_EQ_U(nalerts, 3);
    bl_free(b);
    nalerts = 0;
}

/* Loads data into a fresh state; returns the error ("" when it loaded). */
static const char *load_err(const void *data, size_t n) {
    static char err[256];
    bl_cfg cfg = {.learn_flows = 3};
    bl_state *b = bl_new(&cfg);
    err[0] = '\0';
    if (bl_load_mem(b, "t", data, n, err, sizeof err))
        err[0] = '\0';
    else if (!err[0])
        snprintf(err, sizeof err, "(failed without a reason)");
    bl_free(b);
    return err;
}

/* A state document from a small description: keys and values packed in order. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} doc;

static void doc_begin(doc *d, unsigned nkeys) {
    msgpack_sbuffer_init(&d->sb);
    msgpack_packer_init(&d->pk, &d->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&d->pk, nkeys);
}
static void str(doc *d, const char *s) {
    msgpack_pack_str_with_body(&d->pk, s, strlen(s));
}
static void head2(doc *d, unsigned version) { /* format, v, services: [] */
    str(d, "format");
    str(d, "mitmwatch-state");
    str(d, "v");
    msgpack_pack_uint32(&d->pk, version);
    str(d, "services");
    msgpack_pack_array(&d->pk, 0);
}
/* traces: [[host, port, [[hops...]]]] with one path of the given hops */
static void one_trace(doc *d, const char *host, unsigned port, const char *const *hops,
                      unsigned n) {
    msgpack_pack_array(&d->pk, 3);
    str(d, host);
    msgpack_pack_uint32(&d->pk, port);
    msgpack_pack_array(&d->pk, 1);
    msgpack_pack_array(&d->pk, n);
    for (unsigned i = 0; i < n; i++)
        str(d, hops[i]);
}
static const char *doc_err(doc *d) {
    const char *e = load_err(d->sb.data, d->sb.size);
    msgpack_sbuffer_destroy(&d->sb);
    return e;
}

#define STATE_V2_HEX                                                                               \
    "84a6666f726d6174af6d69746d77617463682d7374617465a17602a873657276696365739199c410cb00710200"   \
    "000000000000000000000004cd146601c40102c40100009193c410aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00c4"   \
    "101111111111111111111111111111111100a67472616365739293ab3230332e302e3131332e32cd14669193a9"   \
    "3139322e302e322e31ac3139382e35312e3130302e32ab3230332e302e3131332e3293b0786d70702e6578616d"   \
    "706c652e6f7267169293ad323030313a6462383a313a3a31a12aad323030313a6462383a353a3a3292a9313932"   \
    "2e302e322e31ab3230332e302e3131332e32"
/* the same service, version 1 (no format key, no traces) */
#define STATE_V1_HEX                                                                               \
    "82a17601a873657276696365739198c410cb00710200000000000000000000000004cd146601c40102c4010000"   \
    "9193c410aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00c41011111111111111111111111111111111"

static void state_tests(void) {
    static trace_pathset set;
    static trace_path path;
    static uint8_t want[1024], v1[512];
    size_t nwant, nv1;
    unhex(STATE_V2_HEX, want, &nwant);
    unhex(STATE_V1_HEX, v1, &nv1);
    CHECK_EQ_U(nwant, 243);

    /* encode: one learned service and two traced (host, port)s, the exact bytes (the same as
     * Python's msgpack.packb of the documented structure) */
    bl_cfg cfg = {.learn_flows = 3, .min_packets = 2};
    bl_state *b = bl_new(&cfg);
    flow(b, 5222, 62, 5, JA3A, S1);
    CHECK(bl_trace_get(b, "203.0.113.2", 5222) == NULL);
    memset(&set, 0, sizeof set);
    CHECK(trace_path_parse("192.0.2.1,198.51.100.2,203.0.113.2", &path) == MW_OK);
    CHECK(trace_pathset_add(&set, &path) == MW_OK);
    CHECK(bl_trace_put(b, "203.0.113.2", 5222, &set));
    memset(&set, 0, sizeof set);
    CHECK(trace_path_parse("2001:DB8:1::1,*,2001:db8:5:0::2", &path) == MW_OK);
    CHECK(trace_pathset_add(&set, &path) == MW_OK);
    CHECK(trace_path_parse("192.0.2.1,203.0.113.2", &path) == MW_OK);
    CHECK(trace_pathset_add(&set, &path) == MW_OK);
    CHECK(bl_trace_put(b, "xmpp.example.org", 22, &set));
    CHECK_EQ_U(bl_trace_count(b), 2);
    char *data = NULL;
    size_t n = 0;
    CHECK(bl_dump(b, &data, &n));
    CHECK_EQ_U(n, nwant);
    CHECK(n == nwant && memcmp(data, want, n) == 0);
    /* put replaces */
    CHECK(bl_trace_put(b, "xmpp.example.org", 22, &set));
    CHECK_EQ_U(bl_trace_count(b), 2);
    bl_free(b);

    /* decode: the same paths back, and the same bytes out again */
    b = bl_new(&cfg);
    char err[256] = "";
    CHECK(bl_load_mem(b, "t", want, nwant, err, sizeof err));
    CHECK_STR(err, "");
    CHECK_EQ_U(bl_trace_count(b), 2);
    const trace_pathset *got = bl_trace_get(b, "xmpp.example.org", 22);
    CHECK(got != NULL);
    if (got) {
        CHECK_EQ_U(got->port, 22);
        CHECK_EQ_U(got->n, 2);
        CHECK_EQ_U(got->paths[0].n, 3);
        CHECK_STR(got->paths[0].hop[0], "2001:db8:1::1");
        CHECK_STR(got->paths[0].hop[1], "*");
        CHECK_STR(got->paths[0].hop[2], "2001:db8:5::2");
        CHECK_EQ_U(got->paths[1].n, 2);
        CHECK_STR(got->paths[1].hop[1], "203.0.113.2");
    }
    CHECK(bl_trace_get(b, "xmpp.example.org", 5222) == NULL);
    CHECK(bl_trace_get(b, "XMPP.example.org", 22) == NULL); /* hosts come canonical */
    char *again = NULL;
    size_t n2 = 0;
    CHECK(bl_dump(b, &again, &n2));
    CHECK(n2 == nwant && memcmp(again, want, n2) == 0);
    free(again);
    /* the learned service came back too: the same path is silent, a new one alerts */
    nalerts = 0;
    flow(b, 5222, 62, 5, JA3A, S1);
    flow(b, 5222, 62, 5, JA3A, S1); /* learning ends after 3 */
    flow(b, 5222, 61, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_expected, "{\"direction\":\"client to server\",\"hops\":[2]}");
    bl_free(b);

    /* a version 1 file still loads (services, no traces), and is written back as version 2 */
    b = bl_new(&cfg);
    CHECK(bl_load_mem(b, "t", v1, nv1, err, sizeof err));
    CHECK_EQ_U(bl_trace_count(b), 0);
    CHECK(bl_dump(b, &again, &n2));
    CHECK(n2 > 3 && memcmp(again,
                           "\x84\xa6"
                           "format",
                           8) == 0);
    free(again);
    bl_free(b);

    /* truncated at every length: one reason, naming the length */
    CHECK_STR(load_err(want, 0), "state file t: empty, not a mitmwatch state file");
    unsigned truncated_ok = 0;
    for (size_t k = 1; k < nwant; k++) {
        char w[80];
        snprintf(w, sizeof w, "state file t: truncated (%zu bytes)", k);
        truncated_ok += strcmp(load_err(want, k), w) == 0;
    }
    CHECK_EQ_U(truncated_ok, nwant - 1);
    /* garbage and foreign files */
    CHECK_STR(load_err("\xc1", 1), "state file t: not a mitmwatch state file (not msgpack)");
    CHECK_STR(load_err("hello", 5), "state file t: not a mitmwatch state file (not a msgpack map)");
    memcpy(v1 + nv1, "\x00", 1);
    CHECK_STR(load_err(v1, nv1 + 1),
              "state file t: not a mitmwatch state file (1 bytes after the state)");
    CHECK_STR(load_err("\x93\x01\x02\x03", 4),
              "state file t: not a mitmwatch state file (not a msgpack map)");
    /* 12 bytes declaring a map of 2^32-1 entries: refused from its shape, before msgpack-c
     * would allocate room for them (64 GiB; the fuzz target found it) */
    CHECK_STR(load_err("\x81\xa6traces\xdf\xff\xff\xff\xff", 12),
              "state file t: truncated (12 bytes)");
    doc d;
    doc_begin(&d, 1); /* a ctcache-like map */
    str(&d, "entries");
    msgpack_pack_array(&d.pk, 0);
    CHECK_STR(doc_err(&d), "state file t: not a mitmwatch state file (no version field)");
    doc_begin(&d, 2);
    str(&d, "v");
    msgpack_pack_uint32(&d.pk, 2);
    str(&d, "services");
    msgpack_pack_array(&d.pk, 0);
    CHECK_STR(doc_err(&d), "state file t: not a mitmwatch state file (no format field)");
    doc_begin(&d, 3);
    str(&d, "format");
    str(&d, "mitmwatch-ctcache");
    str(&d, "v");
    msgpack_pack_uint32(&d.pk, 2);
    str(&d, "services");
    msgpack_pack_array(&d.pk, 0);
    CHECK_STR(doc_err(&d),
              "state file t: not a mitmwatch state file (format is not \"mitmwatch-state\")");
    doc_begin(&d, 3);
    head2(&d, 3);
    CHECK_STR(doc_err(&d), "state file t: version 3; this mitmwatch reads versions 1 to 2");
    doc_begin(&d, 3);
    head2(&d, 0);
    CHECK_STR(doc_err(&d), "state file t: version 0; this mitmwatch reads versions 1 to 2");
    doc_begin(&d, 3);
    head2(&d, 2);
    CHECK_STR(doc_err(&d), ""); /* no traces key: fine */

    /* malformed trace entries */
    static const char *const good[] = {"192.0.2.1", "203.0.113.2"};
    static const char *const upper[] = {"2001:DB8::1"};
    static const char *const bad_addr[] = {"192.0.2.300"};
    static const char *const empty_hop[] = {""};
    doc_begin(&d, 4);
    head2(&d, 2);
    str(&d, "traces");
    msgpack_pack_array(&d.pk, 1);
    one_trace(&d, "203.0.113.2", 22, good, 2);
    CHECK_STR(doc_err(&d), "");
    struct {
        const char *host;
        unsigned port;
        const char *const *hops;
        unsigned n;
    } bad[] = {{"203.0.113.2", 22, upper, 1},     {"203.0.113.2", 22, bad_addr, 1},
               {"203.0.113.2", 22, empty_hop, 1}, {"203.0.113.2", 0, good, 2},
               {"203.0.113.2", 65536, good, 2},   {"", 22, good, 2},
               {"203.0.113.2", 22, good, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        doc_begin(&d, 4);
        head2(&d, 2);
        str(&d, "traces");
        msgpack_pack_array(&d.pk, 1);
        one_trace(&d, bad[k].host, bad[k].port, bad[k].hops, bad[k].n);
        const char *e = doc_err(&d);
        if (strcmp(e, "state file t: malformed entry traces[0]") != 0)
            fprintf(stderr, "bad trace case %zu: %s\n", k, e);
        CHECK_STR(e, "state file t: malformed entry traces[0]");
    }
    doc_begin(&d, 4); /* the same (host, port) twice */
    head2(&d, 2);
    str(&d, "traces");
    msgpack_pack_array(&d.pk, 2);
    one_trace(&d, "203.0.113.2", 22, good, 2);
    one_trace(&d, "203.0.113.2", 22, good, 1);
    CHECK_STR(doc_err(&d), "state file t: malformed entry traces[1]");
    doc_begin(&d, 4); /* more acceptable paths than a set holds */
    head2(&d, 2);
    str(&d, "traces");
    msgpack_pack_array(&d.pk, 1);
    msgpack_pack_array(&d.pk, 3);
    str(&d, "203.0.113.2");
    msgpack_pack_uint32(&d.pk, 22);
    msgpack_pack_array(&d.pk, TRACE_SET_MAX + 1);
    for (int k = 0; k < TRACE_SET_MAX + 1; k++) {
        msgpack_pack_array(&d.pk, 1);
        str(&d, "*");
    }
    CHECK_STR(doc_err(&d), "state file t: malformed entry traces[0]");
    doc_begin(&d, 3); /* traces belong to version 2 */
    str(&d, "v");
    msgpack_pack_uint32(&d.pk, 1);
    str(&d, "services");
    msgpack_pack_array(&d.pk, 0);
    str(&d, "traces");
    msgpack_pack_array(&d.pk, 0);
    CHECK_STR(doc_err(&d), "state file t: malformed (traces in a version 1 file)");
    doc_begin(&d, 4);
    head2(&d, 2);
    str(&d, "traces");
    str(&d, "none");
    CHECK_STR(doc_err(&d), "state file t: malformed (traces is not a list)");
    /* a service entry that is not one */
    doc_begin(&d, 3);
    str(&d, "format");
    str(&d, "mitmwatch-state");
    str(&d, "v");
    msgpack_pack_uint32(&d.pk, 2);
    str(&d, "services");
    msgpack_pack_array(&d.pk, 1);
    msgpack_pack_array(&d.pk, 2);
    msgpack_pack_nil(&d.pk);
    msgpack_pack_nil(&d.pk);
    CHECK_STR(doc_err(&d), "state file t: malformed entry services[0]");

    /* files: save is atomic into place and loads back; a missing file is a first run; a
     * directory or a garbage file is refused with the path in the reason */
    char dir[] = "/tmp/bl_state_test.XXXXXX", file[300];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/state.msgpack", dir);
    b = bl_new(&cfg);
    CHECK(bl_load(b, file, err, sizeof err)); /* missing */
    CHECK(bl_load_mem(b, "t", want, nwant, err, sizeof err));
    CHECK(bl_save(b, file, err, sizeof err));
    bl_free(b);
    b = bl_new(&cfg);
    CHECK(bl_load(b, file, err, sizeof err));
    CHECK(bl_dump(b, &again, &n2));
    CHECK(n2 == nwant && memcmp(again, want, n2) == 0);
    free(again);
    bl_free(b);
    b = bl_new(&cfg);
    CHECK(!bl_load(b, dir, err, sizeof err));
    char w[400];
    snprintf(w, sizeof w, "state file %s: not a regular file of at most 64 MiB", dir);
    CHECK_STR(err, w);
    int fd = open(file, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, want, 100) == 100);
    if (fd >= 0) close(fd);
    CHECK(!bl_load(b, file, err, sizeof err));
    snprintf(w, sizeof w, "state file %s: truncated (100 bytes)", file);
    CHECK_STR(err, w);
    bl_free(b);
    unlink(file);
    rmdir(dir);
    free(data);
    nalerts = 0;
}

/* After a restart the per-port comparison starts empty: whichever port this run sees first is
 * the reference. A port that moved, seen first, must not make the unchanged port behind it the
 * culprit (the jabber.ru lab found this): an unchanged port matches its own learned baseline
 * and is not blamed; the moved port is reported against its baseline either way. */
static void restart_order_tests(void) {
    bl_cfg cfg = {.learn_flows = 3, .min_packets = 2};
    bl_state *b = bl_new(&cfg);
    for (int i = 0; i < 3; i++) {
        flow(b, 443, 62, 5, JA3A, S1);
        flow(b, 5222, 62, 5, JA3A, S1);
    }
    char *data = NULL, err[256] = "";
    size_t n = 0;
    CHECK(bl_dump(b, &data, &n));
    bl_free(b);

    /* the moved port first: its own baseline alert, and nothing for 443 */
    b = bl_new(&cfg);
    CHECK(bl_load_mem(b, "t", data, n, err, sizeof err));
    nalerts = 0;
    flow(b, 5222, 61, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_expected, "{\"direction\":\"client to server\",\"hops\":[2]}");
    CHECK_STR(last_observed, "{\"direction\":\"client to server\",\"hops\":3}");
    flow(b, 443, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);
    bl_free(b);

    /* the unchanged port first: the baseline alert and the per-port one, both for 5222 */
    b = bl_new(&cfg);
    CHECK(bl_load_mem(b, "t", data, n, err, sizeof err));
    nalerts = 0;
    flow(b, 443, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 0);
    flow(b, 5222, 61, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 2);
    CHECK_STR(last_observed, "{\"direction\":\"client to server\",\"hops\":3}");
    bl_free(b);
    free(data);
    nalerts = 0;
}

/* --- the bounded service table ------------------------------------------------------------ */

/* A handshake to 198.51.100.(n / 65536 + 1):(n % 65536): n names a service. */
static void svc_flow(bl_state *b, uint32_t n, bool watched) {
    cap_flow f;
    tls_hs hs;
    memset(&f, 0, sizeof f);
    memset(&hs, 0, sizeof hs);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc0\x00\x02\x02", 4);
    f.key.addr[1][0] = 198;
    f.key.addr[1][1] = 51;
    f.key.addr[1][2] = 100;
    f.key.addr[1][3] = (uint8_t)(n / 65536 + 1);
    f.key.port[0] = 40000;
    f.key.port[1] = (uint16_t)(n % 65536);
    hs.have_ch = hs.have_sh = true;
    bl_observe(b, &hs, &f, 0, watched, on_alert, NULL);
}

/* The services of one recency list, most recently seen first, as "n,n,...". */
static const char *recent_str(const bl_state *b, int watched) {
    static char out[1024];
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = b->recent[watched][0]; i != BL_NIL && len < sizeof out; i = b->svc[i].next) {
        const bl_svc *s = &b->svc[i];
        uint32_t n = (uint32_t)(s->ip[3] - 1) * 65536u + s->port;
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%u", len ? "," : "", n);
    }
    return out;
}

static bool present(bl_state *b, uint32_t n) {
    uint8_t ip[16] = {198, 51, 100, (uint8_t)(n / 65536 + 1)};
    return bl_svc_get(b, ip, 4, (uint16_t)(n % 65536), false, false) != NULL;
}

static void table_tests(void) {
    /* LRU order, exact: a touched service moves to the front, the tail is evicted */
    bl_state *b = bl_new(&(bl_cfg){.max_services = 4});
    for (uint32_t n = 1; n <= 4; n++)
        svc_flow(b, n, false);
    CHECK_STR(recent_str(b, 0), "4,3,2,1");
    svc_flow(b, 1, false);
    CHECK_STR(recent_str(b, 0), "1,4,3,2");
    svc_flow(b, 5, false); /* full: 2, seen least recently, goes */
    CHECK_STR(recent_str(b, 0), "5,1,4,3");
    CHECK_EQ_U(bl_counts_get(b)->evicted, 1);
    CHECK_EQ_U(bl_counts_get(b)->services, 4);
    CHECK(!present(b, 2));
    svc_flow(b, 3, false);
    svc_flow(b, 6, false); /* 4 goes */
    CHECK_STR(recent_str(b, 0), "6,3,5,1");
    /* a service seen as watched leaves the unwatched list for good */
    svc_flow(b, 5, true);
    svc_flow(b, 5, false);
    CHECK_STR(recent_str(b, 0), "6,3,1");
    CHECK_STR(recent_str(b, 1), "5");
    /* the state file lists unwatched then watched services, least recently seen first; loaded
     * again (into a table of 3), the oldest unwatched one gives way */
    char *data;
    size_t size;
    CHECK(bl_dump(b, &data, &size));
    bl_free(b);
    char err[256];
    b = bl_new(&(bl_cfg){.max_services = 3});
    CHECK(bl_load_mem(b, "t", data, size, err, sizeof err));
    free(data);
    CHECK_STR(recent_str(b, 0), "5,6,3");
    CHECK_EQ_U(bl_counts_get(b)->evicted, 1);
    bl_free(b);

    /* Spoofed handshakes to 100,000 unwatched services never evict the watched ones, whose
     * baselines stay; the unwatched ones churn through what is left */
    b = bl_new(&(bl_cfg){.max_services = 8, .learn_flows = 2});
    for (uint32_t n = 1; n <= 3; n++)
        for (int k = 0; k < 3; k++)
            svc_flow(b, 1000000 + n, true);
    for (uint32_t n = 1; n <= 100000; n++)
        svc_flow(b, n, false);
    CHECK_STR(recent_str(b, 1), "1000003,1000002,1000001");
    CHECK_STR(recent_str(b, 0), "100000,99999,99998,99997,99996");
    CHECK_EQ_U(bl_counts_get(b)->evicted, 100000 - 5);
    CHECK_EQ_U(bl_counts_get(b)->full, 0);
    CHECK_EQ_U(bl_counts_get(b)->services, 8);
    for (uint32_t n = 1; n <= 3; n++) {
        uint8_t ip[16] = {198, 51, 100, 16};
        const bl_svc *s = bl_svc_get(b, ip, 4, (uint16_t)((1000000 + n) % 65536), false, false);
        CHECK(s != NULL && s->flows == 3 && s->watched);
    }
    /* every survivor is found through the index, every evicted one is not */
    for (uint32_t n = 99996; n <= 100000; n++)
        CHECK(present(b, n));
    CHECK(!present(b, 99995) && !present(b, 1));
    /* watched services are learned first: a new one evicts the oldest unwatched one */
    svc_flow(b, 1000004, true);
    CHECK_STR(recent_str(b, 0), "100000,99999,99998,99997");
    CHECK_EQ_U(bl_counts_get(b)->evicted, 100000 - 4);
    bl_free(b);

    /* a table of watched services only refuses a new service, watched or not (counted) */
    b = bl_new(&(bl_cfg){.max_services = 2});
    svc_flow(b, 1, true);
    svc_flow(b, 2, true);
    svc_flow(b, 3, false);
    svc_flow(b, 4, true);
    CHECK_EQ_U(bl_counts_get(b)->full, 2);
    CHECK_EQ_U(bl_counts_get(b)->evicted, 0);
    CHECK_STR(recent_str(b, 1), "2,1");
    CHECK(!present(b, 3) && !present(b, 4));
    bl_free(b);
    nalerts = 0;
}

int main(void) {
    table_tests();
    stack_tests();
    failure_tests();
    state_tests();
    restart_order_tests();
    bl_cfg cfg = {.learn_flows = 3, .min_packets = 2};
    bl_state *b = bl_new(&cfg);
    CHECK(b != NULL);
    CHECK_EQ_U(bl_hops(64), 0);
    CHECK_EQ_U(bl_hops(61), 3);
    CHECK_EQ_U(bl_hops(120), 8);
    CHECK_EQ_U(bl_hops(250), 5);

    /* stable: learning, then the same path: silence */
    for (int i = 0; i < 10; i++)
        flow(b, 5222, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 0);
    /* a single outlier packet (TTL not steady for min_packets): damped */
    flow(b, 5222, 61, 1, JA3A, S1);
    CHECK_EQ_U(nalerts, 0);
    /* route change: steady at 3 hops; every connection that shows it matches (the sensor's
     * suppression, keyed by key, decides which alert goes out) */
    flow(b, 5222, 61, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_rule, "path.ttl_changed");
    CHECK_STR(last_expected, "{\"direction\":\"client to server\",\"hops\":[2]}");
    CHECK_STR(last_observed, "{\"direction\":\"client to server\",\"hops\":3}");
    CHECK_STR(last_key, "203.0.113.2:5222 client to server 3");
    flow(b, 5222, 61, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 2);
    /* the learned path comes back in between: the change comes and goes, never accepted;
     * a day later 3 hops is still marked (its clock restarted at 2 days) */
    flow(b, 5222, 62, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 2);
    g_ts_us = 2 * 86400ull * 1000000u;
    flow(b, 5222, 61, 4, JA3A, S1);
    flow(b, 5222, 61, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 4);
    g_ts_us += 86400ull * 1000000u - 1;
    flow(b, 5222, 61, 4, JA3A, S1); /* 3 connections, one microsecond short of a day */
    CHECK_EQ_U(nalerts, 5);
    g_ts_us += 1;
    flow(b, 5222, 61, 4, JA3A, S1); /* a day and learn_flows connections: accepted, silent */
    CHECK_EQ_U(nalerts, 5);
    flow(b, 5222, 61, 4, JA3A, S1);
    flow(b, 5222, 62, 4, JA3A, S1); /* both paths are the baseline now */
    CHECK_EQ_U(nalerts, 5);
    g_ts_us = 0;
    nalerts = 0;

    /* per-port split without a learned baseline: a new service, port 22 of the same host,
     * seen from the same client at 2 hops while 5222 is now at 3: the port that moved (5222)
     * was reported above; 22 itself is new and differs from 5222 */
    bl_free(b);
    b = bl_new(&cfg);
    nalerts = 0;
    flow(b, 22, 62, 5, JA3A, S1);
    flow(b, 443, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 0);
    flow(b, 5222, 61, 5, JA3A, S1); /* first sight of 5222: one hop further than 22 and 443 */
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_expected, "{\"direction\":\"client to server\",\"hops\":2,\"ports\":[22,443]}");
    CHECK_STR(last_observed, "{\"direction\":\"client to server\",\"hops\":3,\"port\":5222}");
    CHECK_STR(last_key, "203.0.113.2:5222 client to server 3 port");
    flow(b, 22, 62, 5, JA3A, S1); /* 22 did not move: not blamed */
    CHECK_EQ_U(nalerts, 1);
    flow(b, 5222, 61, 5, JA3A, S1); /* 5222 stays where it was blamed: marked again */
    CHECK_EQ_U(nalerts, 2);
    flow(b, 443, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 2);
    flow(b, 5222, 62, 5, JA3A, S1); /* back with the others: silent, and stays so */
    flow(b, 22, 62, 5, JA3A, S1);
    CHECK_EQ_U(nalerts, 2);

    /* JA3S: learning, then a new client JA3 (its first answer is learned: no alert), then a
     * known JA3 answered with a new JA3S (alert with the expected set) */
    bl_free(b);
    b = bl_new(&cfg);
    nalerts = 0;
    for (int i = 0; i < 3; i++)
        flow(b, 443, 62, 5, JA3A, S1);
    flow(b, 443, 62, 5, JA3B, S2);
    CHECK_EQ_U(nalerts, 0);
    flow(b, 443, 62, 5, JA3A, S2);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_rule, "tls.ja3s_changed");
    CHECK_STR(last_expected, "{\"ja3\":\"" JA3A "\",\"resumed\":false,\"ja3s\":[\"" S1 "\"]}");
    CHECK_STR(last_observed, "{\"ja3\":\"" JA3A "\",\"ja3s\":\"" S2 "\"}");
    CHECK_STR(last_key, "203.0.113.2:443 " JA3A " " S2);
    flow(b, 443, 62, 5, JA3A, S2); /* every connection answered so matches */
    CHECK_EQ_U(nalerts, 2);
    bl_free(b);
    MW_TEST_END();
}
