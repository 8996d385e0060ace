/* rules/bl_baseline: synthetic TTL and JA3S series (issue 6): stable, a single outlier, a route
 * change, a per-port split, a new client JA3 (no alert) and a known JA3 with a new JA3S. */
#include <stdlib.h>

#include "bl_baseline.h"
#include "mw_test.h"

static int nalerts;
static char last_rule[64], last_expected[1024], last_observed[512];

static void on_alert(const bl_alert *a, void *user) {
    (void)user;
    nalerts++;
    snprintf(last_rule, sizeof last_rule, "%s", a->rule_id);
    snprintf(last_expected, sizeof last_expected, "%s", a->expected);
    snprintf(last_observed, sizeof last_observed, "%s", a->observed);
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
    snprintf(hs.ja3, sizeof hs.ja3, "%s", ja3);
    snprintf(hs.ja3s, sizeof hs.ja3s, "%s", ja3s);
    bl_observe(b, &hs, &f, 0, on_alert, NULL);
}

#define JA3A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define JA3B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define S1 "11111111111111111111111111111111"
#define S2 "22222222222222222222222222222222"

int main(void) {
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
    /* route change: steady at 3 hops, one alert, then no repeat for the same change */
    flow(b, 5222, 61, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);
    CHECK_STR(last_rule, "path.ttl_changed");
    CHECK_STR(last_expected, "{\"direction\":\"client to server\",\"hops\":[2]}");
    CHECK_STR(last_observed, "{\"direction\":\"client to server\",\"hops\":3}");
    flow(b, 5222, 61, 4, JA3A, S1);
    CHECK_EQ_U(nalerts, 1);

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
    flow(b, 22, 62, 5, JA3A, S1); /* 22 did not move: not blamed */
    CHECK_EQ_U(nalerts, 1);

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
    flow(b, 443, 62, 5, JA3A, S2); /* once per new answer */
    CHECK_EQ_U(nalerts, 1);
    bl_free(b);
    MW_TEST_END();
}
