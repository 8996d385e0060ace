/* The mitmwatch.alert event of a verdict (DESIGN.md section 3): ev_alert's layout plus the
 * watched service and the count of duplicates suppressed since the previous one. */
#include <string.h>

#include "ev_alert.h"
#include "rule_engine.h"

bool rule_alert_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a, const tls_hs *hs,
                      const cap_flow *f, int client_side, uint64_t ts_us) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "alert", "mitmwatch.alert", a->severity);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", a->rule_id);
    mw_json_kstr(&j, "name", a->name ? a->name : ev_rule_name(a->rule_id));
    mw_json_obj_end(&j);
    mw_json_kstr(&j, "message", a->message);
    ev_flow(&j, f, client_side, ev_protocol(hs));
    ev_tls_fields(&j, hs, f, client_side);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_key(&j, "expected");
    mw_json_raw(&j, a->expected_json, strlen(a->expected_json));
    mw_json_key(&j, "observed");
    mw_json_raw(&j, a->observed_json, strlen(a->observed_json));
    if (a->service)
        mw_json_kstr(&j, "service", a->service);
    if (a->suppressed)
        mw_json_kuint(&j, "suppressed", a->suppressed);
    ev_mitmwatch_tls(&j, hs);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}
