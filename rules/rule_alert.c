/* The mitmwatch.alert event (DESIGN.md section 3). */
#include <string.h>

#include "mw_encode.h"
#include "rule_engine.h"

bool rule_alert_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a, const tls_hs *hs,
                      const cap_flow *f, int client_side, uint64_t ts_us) {
    mw_json j;
    char ts[MW_TS_LEN];
    mw_buf_reset(out);
    mw_json_init(&j, out);
    /* ev_head's fields plus event.severity, which belongs inside the event object (ECS) */
    mw_ts_us(ts, ts_us);
    mw_json_obj_begin(&j);
    mw_json_kstr(&j, "@timestamp", ts);
    mw_json_kobj(&j, "event");
    mw_json_kstr(&j, "kind", "alert");
    mw_json_karr(&j, "category");
    mw_json_str(&j, "network");
    mw_json_arr_end(&j);
    mw_json_karr(&j, "type");
    mw_json_str(&j, "indicator");
    mw_json_arr_end(&j);
    mw_json_kstr(&j, "dataset", "mitmwatch.alert");
    mw_json_kint(&j, "severity", a->severity);
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "observer");
    mw_json_kstr(&j, "name", ctx->observer);
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", a->rule_id);
    mw_json_kstr(&j, "name", a->name);
    mw_json_obj_end(&j);
    mw_json_kstr(&j, "message", a->message);
    ev_flow(&j, f, client_side);
    ev_tls_ecs(&j, hs);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_key(&j, "expected");
    mw_json_raw(&j, a->expected_json, strlen(a->expected_json));
    mw_json_key(&j, "observed");
    mw_json_raw(&j, a->observed_json, strlen(a->observed_json));
    if (a->service)
        mw_json_kstr(&j, "service", a->service);
    if (a->suppressed)
        mw_json_kuint(&j, "suppressed", a->suppressed);
    ev_tls_mitmwatch(&j, hs);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}
