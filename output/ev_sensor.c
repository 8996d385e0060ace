#include "ev_sensor.h"

#include <stdio.h>
#include <string.h>

#include "ev_alert.h"

#define EV_SENSOR_SEVERITY 3

static bool sensor_alert(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const char *rule,
                         const char *msg, uint64_t observed, out_event *ev) {
    char obs[64];
    snprintf(obs, sizeof obs, "%llu", (unsigned long long)observed);
    ev_alert a = {.rule_id = rule,
                  .severity = EV_SENSOR_SEVERITY,
                  .message = msg,
                  .expected = "0",
                  .observed = obs};
    if (!ev_alert_build(out, ctx, ts_us, &a, NULL, NULL, 0)) return false;
    *ev = (out_event){.json = (const char *)out->data,
                      .len = out->len,
                      .kind = OUT_KIND_ALERT,
                      .dataset = "mitmwatch.alert",
                      .severity = EV_SENSOR_SEVERITY,
                      .rule_id = rule};
    return true;
}

/* One counter that raises a sensor alert when it moves: its name in the stats event, what a
 * hit means, and where it is read. */
typedef struct {
    const char *name;
    const char *what;
    uint64_t (*get)(const ev_sensor_src *s);
} ev_counter;

static uint64_t pcap_drop(const ev_sensor_src *s) {
    return s->cs->pcap_drop;
}
static uint64_t pcap_ifdrop(const ev_sensor_src *s) {
    return s->cs->pcap_ifdrop;
}
static uint64_t flows_evicted(const ev_sensor_src *s) {
    return s->cs->flows_evicted;
}
#define CAP_AN(n)                                                                                  \
    static uint64_t cap_##n(const ev_sensor_src *s) {                                              \
        return s->cs->an[CAP_AN_##n];                                                              \
    }
CAP_AN(tcp_stream_cap)
CAP_AN(tcp_global_cap)
CAP_AN(tcp_ooo_cap)
CAP_AN(tcp_ooo_ranges_cap)
CAP_AN(tcp_history_cap)
#undef CAP_AN
#define AN_AN(n)                                                                                   \
    static uint64_t an_##n(const ev_sensor_src *s) {                                               \
        return s->as->an[AN_AN_##n];                                                               \
    }
AN_AN(x509_cache_evicted)
AN_AN(x509_cache_full)
AN_AN(x509_cache_refused)
#undef AN_AN
#define RULE(n)                                                                                    \
    static uint64_t rule_##n(const ev_sensor_src *s) {                                             \
        return s->rs ? s->rs->n : 0;                                                               \
    }
RULE(baseline_evicted)
RULE(baseline_full)
RULE(suppress_evicted)
#undef RULE

/* sensor.drops: packets the capture lost. */
static const ev_counter drops[] = {
    {"dropped", "packets the kernel dropped", pcap_drop},
    {"if_dropped", "packets the interface dropped", pcap_ifdrop},
};

/* sensor.overload: caps reached; a new cap gets a row. A handshake message over the analyzer's
 * 1 MiB cap (tls_handshake_too_large) is the peer's oddity, an anomaly, not the sensor's load. */
static const ev_counter overload[] = {
    {"flows_evicted", "flows evicted from a full flow table", flows_evicted},
    {"tcp_stream_cap", "a stream over its reassembly cap", cap_tcp_stream_cap},
    {"tcp_global_cap", "the global reassembly memory full", cap_tcp_global_cap},
    {"tcp_ooo_cap", "a stream's out-of-order bytes over their cap", cap_tcp_ooo_cap},
    {"tcp_ooo_ranges_cap", "a stream's out-of-order ranges over their cap", cap_tcp_ooo_ranges_cap},
    {"tcp_history_cap", "a stream's injection history over its cap", cap_tcp_history_cap},
    {"x509_cache_evicted", "certificates evicted from the full certificate cache",
     an_x509_cache_evicted},
    {"x509_cache_full", "certificates used uncached: every cached one was in use", an_x509_cache_full},
    {"x509_cache_refused", "certificates not decoded: the cache and its uncached budget full",
     an_x509_cache_refused},
    {"baseline_evicted", "unwatched services forgotten by the full baselines", rule_baseline_evicted},
    {"baseline_full", "new services refused: the baselines held only watched ones", rule_baseline_full},
    {"suppress_evicted", "suppression keys forgotten while still suppressing", rule_suppress_evicted},
};

_Static_assert(sizeof drops / sizeof drops[0] <= EV_SENSOR_MAX_COUNTERS, "drops table");
_Static_assert(sizeof overload / sizeof overload[0] <= EV_SENSOR_MAX_COUNTERS, "overload table");

static const ev_counter *table(ev_sensor_kind kind, size_t *n) {
    *n = kind == EV_SENSOR_DROPS ? sizeof drops / sizeof drops[0]
                                 : sizeof overload / sizeof overload[0];
    return kind == EV_SENSOR_DROPS ? drops : overload;
}

void ev_sensor_read(ev_sensor_kind kind, const ev_sensor_src *src, ev_sensor_counts *out) {
    size_t n;
    const ev_counter *t = table(kind, &n);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out->v[i] = t[i].get(src);
}

/* The flow fields of the one flow behind the alert (ev_flow wants a cap_flow). */
static void flow_of(const an_overload_flow *o, cap_flow *f) {
    memset(f, 0, sizeof *f);
    f->key = o->key;
    f->client_side = o->client_side;
    memcpy(f->ttl, o->ttl, sizeof f->ttl);
}

bool ev_sensor_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, ev_sensor_kind kind,
                     const ev_sensor_counts *prev, const ev_sensor_counts *now,
                     const an_overload_flow *flow, out_event *ev) {
    size_t n;
    const ev_counter *t = table(kind, &n);
    uint64_t total = 0;
    char list[600] = "", counters[800] = "{";
    size_t ll = 0, cl = 1;
    for (size_t i = 0; i < n; i++) {
        if (now->v[i] <= prev->v[i]) continue; /* pcap counters restart with a new source */
        uint64_t d = now->v[i] - prev->v[i];
        total += d;
        int w = snprintf(list + ll, sizeof list - ll, "%s%s %llu (%s)", ll ? ", " : "", t[i].name,
                         (unsigned long long)d, t[i].what);
        if (w > 0) ll += (size_t)w < sizeof list - ll ? (size_t)w : sizeof list - ll - 1;
        w = snprintf(counters + cl, sizeof counters - cl, "%s\"%s\":%llu", cl > 1 ? "," : "",
                     t[i].name, (unsigned long long)d);
        if (w > 0) cl += (size_t)w < sizeof counters - cl ? (size_t)w : sizeof counters - cl - 1;
    }
    if (!total || cl + 2 > sizeof counters) return false;
    counters[cl++] = '}';
    counters[cl] = '\0';
    bool drop = kind == EV_SENSOR_DROPS;
    const char *rule = drop ? "sensor.drops" : "sensor.overload";
    char msg[1000], obs[32], extra[900];
    snprintf(msg, sizeof msg,
             drop ? "The capture lost %llu packets since the last report: %s; handshakes in "
                    "them were not seen"
                  : "The sensor hit its limits %llu times since the last report: %s; some "
                    "handshakes were not analyzed",
             (unsigned long long)total, list);
    snprintf(obs, sizeof obs, "%llu", (unsigned long long)total);
    snprintf(extra, sizeof extra, "{\"counters\":%s}", counters);
    cap_flow f;
    bool one_flow = !drop && flow && flow->set && !flow->several;
    if (one_flow) flow_of(flow, &f);
    ev_alert a = {.rule_id = rule,
                  .severity = EV_SENSOR_SEVERITY,
                  .message = msg,
                  .expected = "0",
                  .observed = obs,
                  .extra_key = drop ? "drops" : "overload",
                  .extra_json = extra};
    if (!ev_alert_build(out, ctx, ts_us, &a, NULL, one_flow ? &f : NULL,
                        one_flow ? f.client_side : 0))
        return false;
    *ev = (out_event){.json = (const char *)out->data,
                      .len = out->len,
                      .kind = OUT_KIND_ALERT,
                      .dataset = "mitmwatch.alert",
                      .severity = EV_SENSOR_SEVERITY,
                      .rule_id = rule};
    return true;
}

bool ev_sensor_start_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                           const ev_sensor_start *st, out_event *ev) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "event", "mitmwatch.sensor", 0);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "sensor");
    mw_json_kstr(&j, "action", "start");
    if (st->user) mw_json_kstr(&j, "user", st->user);
    mw_json_kuint(&j, "uid", st->uid);
    mw_json_kuint(&j, "gid", st->gid);
    mw_json_kbool(&j, "privileges_dropped", st->dropped);
    if (st->warning) mw_json_kstr(&j, "warning", st->warning);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    if (!j.ok) return false;
    *ev = (out_event){.json = (const char *)out->data,
                      .len = out->len,
                      .kind = OUT_KIND_EVENT,
                      .dataset = "mitmwatch.sensor",
                      .severity = 0,
                      .rule_id = NULL};
    return true;
}

bool ev_sensor_undecoded_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t undecoded,
                               uint64_t packets, const uint64_t by[CAP_UNDEC_COUNT],
                               out_event *ev) {
    char causes[256] = "", msg[512];
    size_t n = 0;
    for (int i = 0; i < CAP_UNDEC_COUNT && n < sizeof causes; i++) {
        if (!by[i]) continue;
        int w = snprintf(causes + n, sizeof causes - n, "%s%s %llu", n ? ", " : "",
                         cap_undecoded_names[i], (unsigned long long)by[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
    snprintf(msg, sizeof msg,
             "%llu of %llu packets since the last report could not be decoded (%s): the sensor "
             "did not see into them",
             (unsigned long long)undecoded, (unsigned long long)packets, causes);
    return sensor_alert(out, ctx, ts_us, "sensor.undecoded", msg, undecoded, ev);
}
