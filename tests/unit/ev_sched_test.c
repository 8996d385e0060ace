/* output/ev_sched.c and ev_sensor.c: the scheduled probes' events and alerts and the sensor's
 * own alerts. Each event must be valid JSON with the fields docs/ARCHITECTURE.md and rules/ALERTS.md
 * promise, and the out_event must agree with the JSON it carries (kind, dataset, severity,
 * rule.id). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ev_sched.h"
#include "ev_sensor.h"
#include "mw_test.h"

#define TS 1700000000123456ull /* 2023-11-14T22:13:20.123456Z */

/* The value at a dotted path ("mitmwatch.observed.error") of the event ev carries. */
static json_t *at(json_t *root, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return v;
}

static const char *str(json_t *root, const char *path) {
    const char *s = json_string_value(at(root, path));
    return s ? s : "(missing)";
}

static json_int_t num(json_t *root, const char *path) {
    return json_integer_value(at(root, path));
}

static json_t *parse(const out_event *ev) {
    json_error_t e;
    json_t *root = json_loadb(ev->json, ev->len, 0, &e);
    if (!root) fprintf(stderr, "not JSON (%s): %.*s\n", e.text, (int)ev->len, ev->json);
    return root;
}

/* An alert: its out_event says what its JSON says. */
static json_t *alert(const out_event *ev, const char *rule, int severity) {
    CHECK(ev->kind == OUT_KIND_ALERT);
    CHECK_STR(ev->dataset, "mitmwatch.alert");
    CHECK_EQ_U(ev->severity, severity);
    CHECK_STR(ev->rule_id, rule);
    json_t *root = parse(ev);
    CHECK(root != NULL);
    if (!root) return json_object();
    CHECK_STR(str(root, "@timestamp"), "2023-11-14T22:13:20.123456Z");
    CHECK_STR(str(root, "observer.name"), "sensor1");
    CHECK_STR(str(root, "event.kind"), "alert");
    CHECK_STR(str(root, "event.dataset"), "mitmwatch.alert");
    CHECK_EQ_U(num(root, "event.severity"), severity);
    CHECK_STR(str(root, "rule.id"), rule);
    CHECK(json_is_string(at(root, "rule.name")));
    return root;
}

static void test_jarm(void) {
    mw_buf b;
    mw_buf_init(&b, 1 << 16);
    ev_ctx ctx = {"sensor1"};
    ev_sched_target t = {.host = "2001:db8::5", .port = 5223, .text = "[2001:db8::5]:5223"};
    jarm_result r;
    memset(&r, 0, sizeof r);
    memset(r.hash, '0', JARM_HASH_LEN);
    r.timed_out = true;
    out_event ev;

    CHECK(ev_sched_jarm_build(&b, &ctx, TS, &t, &r, true, 2001, &ev));
    CHECK(ev.kind == OUT_KIND_EVENT);
    CHECK_STR(ev.dataset, "mitmwatch.probe");
    CHECK(ev.rule_id == NULL && ev.severity == 0);
    json_t *root = parse(&ev);
    CHECK(root != NULL);
    CHECK_STR(str(root, "event.dataset"), "mitmwatch.probe");
    CHECK_STR(str(root, "destination.address"), "2001:db8::5");
    CHECK_EQ_U(num(root, "destination.port"), 5223);
    CHECK(at(root, "destination.ip") == NULL); /* nothing connected */
    CHECK_STR(str(root, "mitmwatch.probe.type"), "jarm");
    CHECK_STR(str(root, "mitmwatch.probe.target"), "[2001:db8::5]:5223");
    CHECK_STR(str(root, "mitmwatch.probe.outcome"), "failure");
    CHECK_EQ_U(strlen(str(root, "mitmwatch.probe.jarm")), JARM_HASH_LEN);
    CHECK_EQ_U(num(root, "mitmwatch.probe.answered"), 0);
    CHECK_EQ_U(num(root, "mitmwatch.probe.duration_ms"), 2001);
    json_decref(root);

    CHECK(ev_sched_jarm_failed_build(&b, &ctx, TS, &t, MW_OK, &r, &ev));
    root = alert(&ev, "probe.failed", 2);
    CHECK_STR(str(root, "message"), "The JARM probe of [2001:db8::5]:5223 failed: it timed out");
    CHECK_STR(str(root, "destination.address"), "2001:db8::5");
    CHECK_EQ_U(num(root, "mitmwatch.expected.answered"), 10);
    CHECK_EQ_U(num(root, "mitmwatch.observed.answered"), 0);
    CHECK_STR(str(root, "mitmwatch.observed.error"), "it timed out");
    json_decref(root);
    /* why, in the reference's order of causes */
    CHECK(ev_sched_jarm_failed_build(&b, &ctx, TS, &t, MW_MALFORMED, &r, &ev));
    root = alert(&ev, "probe.failed", 2);
    CHECK_STR(str(root, "mitmwatch.observed.error"), "its answers could not be fingerprinted");
    json_decref(root);
    r.timed_out = false;
    r.resolve_failed = true;
    CHECK(ev_sched_jarm_failed_build(&b, &ctx, TS, &t, MW_OK, &r, &ev));
    root = alert(&ev, "probe.failed", 2);
    CHECK_STR(str(root, "mitmwatch.observed.error"), "the name did not resolve");
    json_decref(root);

    for (int configured = 0; configured < 2; configured++) {
        CHECK(ev_sched_jarm_changed_build(&b, &ctx, TS, &t, "2ad2ad", configured, "07d14d", &ev));
        root = alert(&ev, "probe.jarm_changed", 3);
        CHECK_STR(str(root, "message"),
                  "[2001:db8::5]:5223 now answers with JARM 07d14d instead of 2ad2ad: a different "
                  "TLS server (or a box in front of it) is answering");
        CHECK_STR(str(root, "mitmwatch.expected.jarm"), "2ad2ad");
        CHECK_STR(str(root, "mitmwatch.expected.source"), configured ? "configured" : "learned");
        CHECK_STR(str(root, "mitmwatch.observed.jarm"), "07d14d");
        CHECK_EQ_U(num(root, "destination.port"), 5223);
        json_decref(root);
    }
    mw_buf_free(&b);
}

static void test_cert_and_trace(void) {
    mw_buf b;
    mw_buf_init(&b, 1 << 16);
    ev_ctx ctx = {"sensor1"};
    ev_sched_target t = {.host = "xmpp.lab.test", .port = 5222, .text = "xmpp.lab.test:5222"};
    out_event ev;

    /* A server's reply quoted in the error stays valid JSON in mitmwatch.observed. */
    const char *err = "xmpp: unexpected reply (starttls): \"<failure/>\\\"";
    CHECK(ev_sched_cert_failed_build(&b, &ctx, TS, &t, err, &ev));
    json_t *root = alert(&ev, "probe.failed", 2);
    CHECK_STR(str(root, "mitmwatch.observed.error"), err);
    CHECK(json_is_true(at(root, "mitmwatch.expected.handshake")));
    CHECK_STR(str(root, "destination.address"), "xmpp.lab.test");
    CHECK_EQ_U(num(root, "destination.port"), 5222);
    json_decref(root);

    uint8_t sha[32];
    for (int i = 0; i < 32; i++)
        sha[i] = (uint8_t)i;
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    CHECK(ev_sched_cert_mismatch_build(&b, &ctx, TS, &t, "CN=xmpp.lab.test", sha, 3, &ev));
    root = alert(&ev, "probe.cert_mismatch", 4);
    CHECK_STR(str(root, "message"),
              "The certificate fetched from xmpp.lab.test:5222 (CN=xmpp.lab.test, SHA-256 "
              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f) is none of the "
              "certificates in the known store");
    CHECK(json_is_true(at(root, "mitmwatch.expected.known_store")));
    CHECK_EQ_U(num(root, "mitmwatch.expected.certificates"), 3);
    CHECK_STR(str(root, "mitmwatch.observed.sha256"), hex);
    CHECK(at(root, "mitmwatch.handshake_id") == NULL);
    json_decref(root);
    /* A triggered fetch's mismatch names the handshake that triggered it. */
    ev_sched_target tt = t;
    tt.handshake_id = "0123456789abcdef0123456789abcdef";
    CHECK(ev_sched_cert_mismatch_build(&b, &ctx, TS, &tt, "CN=xmpp.lab.test", sha, 3, &ev));
    root = alert(&ev, "probe.cert_mismatch", 4);
    CHECK_STR(str(root, "mitmwatch.handshake_id"), "0123456789abcdef0123456789abcdef");
    json_decref(root);

    CHECK(ev_sched_trace_failed_build(&b, &ctx, TS, "203.0.113.2", 5222,
                                      "203.0.113.2 does not resolve", &ev));
    root = alert(&ev, "probe.failed", 2);
    CHECK_STR(str(root, "message"), "The traceroute of 203.0.113.2 failed: 203.0.113.2 does not "
                                    "resolve");
    CHECK(json_is_true(at(root, "mitmwatch.expected.traced")));
    CHECK_STR(str(root, "mitmwatch.observed.error"), "203.0.113.2 does not resolve");
    CHECK_EQ_U(num(root, "destination.port"), 5222);
    json_decref(root);

    /* An event that does not fit its buffer is refused, not cut. */
    mw_buf small;
    mw_buf_init(&small, 64);
    CHECK(!ev_sched_cert_mismatch_build(&small, &ctx, TS, &t, "CN=x", sha, 3, &ev));
    ev_sensor_counts zero = {{0}}, one = {{1}};
    CHECK(!ev_sensor_build(&small, &ctx, TS, EV_SENSOR_DROPS, &zero, &one, NULL, &ev));
    mw_buf_free(&small);
    mw_buf_free(&b);
}

static void test_sensor(void) {
    mw_buf b;
    mw_buf_init(&b, 1 << 16);
    ev_ctx ctx = {"sensor1"};
    out_event ev;
    cap_stats cs;
    an_stats as;
    memset(&cs, 0, sizeof cs);
    memset(&as, 0, sizeof as);
    ev_sensor_src src = {.cs = &cs, .as = &as};
    ev_sensor_counts prev, now;
    ev_sensor_read(EV_SENSOR_DROPS, &src, &prev);
    cs.pcap_drop = 15;
    cs.pcap_ifdrop = 2;
    ev_sensor_read(EV_SENSOR_DROPS, &src, &now);
    CHECK(ev_sensor_build(&b, &ctx, TS, EV_SENSOR_DROPS, &prev, &now, NULL, &ev));
    /* The whole line once, so that any change to the sensor's alerts is a visible decision. */
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)ev.len, ev.json);
    CHECK_STR(line,
              "{\"@timestamp\":\"2023-11-14T22:13:20.123456Z\",\"ecs\":{\"version\":\"8.11.0\"},"
              "\"event\":{\"kind\":\"alert\",\"category\":[\"network\"],\"type\":[\"indicator\"],"
              "\"dataset\":\"mitmwatch.alert\",\"severity\":3},"
              "\"observer\":{\"name\":\"sensor1\"},"
              "\"rule\":{\"id\":\"sensor.drops\",\"name\":\"Sensor dropped packets\"},"
              "\"message\":\"The capture lost 17 packets since the last report: dropped 15 "
              "(packets the kernel dropped), if_dropped 2 (packets the interface dropped); "
              "handshakes in them were not seen\","
              "\"mitmwatch\":{\"expected\":0,\"observed\":17,"
              "\"drops\":{\"counters\":{\"dropped\":15,\"if_dropped\":2}}}}");
    json_t *root = alert(&ev, "sensor.drops", 3);
    CHECK(at(root, "destination") == NULL);
    json_decref(root);
    /* Nothing moved: no alert. */
    CHECK(!ev_sensor_build(&b, &ctx, TS, EV_SENSOR_DROPS, &now, &now, NULL, &ev));

    /* A handshake message over 1 MiB is the peer's oddity, not overload. */
    ev_sensor_read(EV_SENSOR_OVERLOAD, &src, &prev);
    as.an[AN_AN_tls_handshake_too_large] = 5;
    ev_sensor_read(EV_SENSOR_OVERLOAD, &src, &now);
    CHECK(!ev_sensor_build(&b, &ctx, TS, EV_SENSOR_OVERLOAD, &prev, &now, NULL, &ev));

    /* One flow's out-of-order ranges over their cap: the counter and the flow are named. */
    ev_sensor_read(EV_SENSOR_OVERLOAD, &src, &prev);
    cs.an[CAP_AN_tcp_ooo_ranges_cap] = 1;
    ev_sensor_read(EV_SENSOR_OVERLOAD, &src, &now);
    an_overload_flow fl;
    memset(&fl, 0, sizeof fl);
    fl.set = true;
    fl.key.ip_ver = 4;
    memcpy(fl.key.addr[0], (const uint8_t[]){192, 0, 2, 2}, 4);
    memcpy(fl.key.addr[1], (const uint8_t[]){203, 0, 113, 2}, 4);
    fl.key.port[0] = 40000;
    fl.key.port[1] = 443;
    fl.client_side = 0;
    fl.ttl[1] = 62;
    CHECK(ev_sensor_build(&b, &ctx, TS, EV_SENSOR_OVERLOAD, &prev, &now, &fl, &ev));
    root = alert(&ev, "sensor.overload", 3);
    CHECK_STR(str(root, "message"),
              "The sensor hit its limits 1 times since the last report: tcp_ooo_ranges_cap "
              "1 (a stream's out-of-order ranges over their cap); some handshakes were not "
              "analyzed");
    CHECK_EQ_U(num(root, "mitmwatch.overload.counters.tcp_ooo_ranges_cap"), 1);
    CHECK(at(root, "mitmwatch.overload.counters.flows_evicted") == NULL);
    CHECK_STR(str(root, "source.ip"), "192.0.2.2");
    CHECK_EQ_U(num(root, "source.port"), 40000);
    CHECK_STR(str(root, "destination.ip"), "203.0.113.2");
    CHECK_EQ_U(num(root, "destination.port"), 443);
    CHECK(str(root, "network.community_id") != NULL);
    json_decref(root);

    /* Several flows, a shared cap too, 64-bit counts: the counters without a flow. */
    prev = now;
    cs.an[CAP_AN_tcp_ooo_ranges_cap] = 3;
    cs.flows_evicted = 4294967296u;
    ev_sensor_read(EV_SENSOR_OVERLOAD, &src, &now);
    fl.several = true;
    CHECK(ev_sensor_build(&b, &ctx, TS, EV_SENSOR_OVERLOAD, &prev, &now, &fl, &ev));
    root = alert(&ev, "sensor.overload", 3);
    CHECK_EQ_U(num(root, "mitmwatch.expected"), 0);
    CHECK_EQ_U(num(root, "mitmwatch.observed"), 4294967298u);
    CHECK_EQ_U(num(root, "mitmwatch.overload.counters.flows_evicted"), 4294967296u);
    CHECK_EQ_U(num(root, "mitmwatch.overload.counters.tcp_ooo_ranges_cap"), 2);
    CHECK(at(root, "destination") == NULL);
    json_decref(root);
    mw_buf_free(&b);
}

int main(void) {
    test_jarm();
    test_cert_and_trace();
    test_sensor();
    MW_TEST_END();
}
