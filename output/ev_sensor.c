#include "ev_sensor.h"

#include <stdio.h>

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

bool ev_sensor_drops_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t lost,
                           out_event *ev) {
    char msg[400];
    snprintf(msg, sizeof msg,
             "The capture lost %llu packets since the last report (kernel or interface "
             "drops): handshakes in them were not seen",
             (unsigned long long)lost);
    return sensor_alert(out, ctx, ts_us, "sensor.drops", msg, lost, ev);
}

bool ev_sensor_overload_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t hits,
                              out_event *ev) {
    char msg[400];
    snprintf(msg, sizeof msg,
             "The sensor hit its limits %llu times since the last report (flows evicted from a "
             "full flow table, reassembly memory caps): some handshakes were not analyzed",
             (unsigned long long)hits);
    return sensor_alert(out, ctx, ts_us, "sensor.overload", msg, hits, ev);
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
