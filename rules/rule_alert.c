/* The mitmwatch.alert event of a verdict (DESIGN.md section 3): ev_alert's layout plus the
 * watched service and the count of duplicates suppressed since the previous one. */
#include "ev_alert.h"
#include "rule_engine.h"

bool rule_alert_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a, const tls_hs *hs,
                      const cap_flow *f, int client_side, uint64_t ts_us) {
    ev_alert ea = {.rule_id = a->rule_id,
                   .rule_name = a->name,
                   .severity = a->severity,
                   .message = a->message,
                   .expected = a->expected_json,
                   .observed = a->observed_json,
                   .service = a->service,
                   .suppressed = a->suppressed,
                   .protocol = a->protocol};
    return ev_alert_build(out, ctx, ts_us, &ea, hs, f, client_side);
}
