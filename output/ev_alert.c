#include "ev_alert.h"
#include "rule_catalog.h"

#include <ctype.h>
#include <string.h>

#include "mw_encode.h"

/* What an alert keeps of its handshake: the name asked for and the certificate answered; the
 * handshake event (mitmwatch.handshake_id) has the rest, chain included. */
static void evidence(mw_json *j, const tls_hs *hs) {
    const x509_info *leaf = hs->nchain > 0 ? hs->chain[0] : NULL;
    if (!hs->sni && !leaf) return;
    mw_json_kobj(j, "tls");
    if (hs->sni) {
        mw_json_kobj(j, "client");
        mw_json_kstr(j, "server_name", hs->sni);
        mw_json_obj_end(j);
    }
    if (leaf) {
        char hex[65];
        mw_hex(hex, leaf->sha256, 32);
        for (char *p = hex; *p; p++)
            *p = (char)toupper((unsigned char)*p); /* ECS: hashes in uppercase */
        mw_json_kobj(j, "server");
        mw_json_kobj(j, "hash");
        mw_json_kstr(j, "sha256", hex);
        mw_json_obj_end(j);
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j);
}

bool ev_alert_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_alert *a,
                    const tls_hs *hs, const cap_flow *f, int client_side) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "alert", "mitmwatch.alert", a->severity);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", a->rule_id);
    mw_json_kstr(&j, "name", a->rule_name ? a->rule_name : rule_catalog_name(a->rule_id));
    mw_json_obj_end(&j);
    mw_json_kstr(&j, "message", a->message);
    if (f) {
        ev_flow(&j, f, client_side, hs ? ev_protocol(hs) : a->protocol,
                hs ? ev_application(hs) : NULL);
    } else if (a->dest_address) {
        mw_json_kobj(&j, "destination");
        mw_json_kstr(&j, "address", a->dest_address);
        mw_json_kuint(&j, "port", a->dest_port);
        mw_json_obj_end(&j);
    }
    if (hs) evidence(&j, hs);
    mw_json_kobj(&j, "mitmwatch");
    ev_encapsulation(&j, f);
    if (a->handshake_id) mw_json_kstr(&j, "handshake_id", a->handshake_id);
    mw_json_key(&j, "expected");
    mw_json_raw(&j, a->expected, strlen(a->expected));
    mw_json_key(&j, "observed");
    mw_json_raw(&j, a->observed, strlen(a->observed));
    if (a->service) mw_json_kstr(&j, "service", a->service);
    if (a->suppressed) mw_json_kuint(&j, "suppressed", a->suppressed);
    if (a->extra_key) {
        mw_json_key(&j, a->extra_key);
        mw_json_raw(&j, a->extra_json, strlen(a->extra_json));
    }
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

/* The alert of a verdict: ev_alert's layout plus the watched service and the count of
 * duplicates suppressed since the previous one. */
bool ev_alert_verdict_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a, const tls_hs *hs,
                            const cap_flow *f, int client_side, uint64_t ts_us,
                            const char *handshake_id) {
    ev_alert ea = {.rule_id = a->rule_id,
                   .rule_name = a->name,
                   .severity = a->severity,
                   .message = a->message,
                   .expected = a->expected_json,
                   .observed = a->observed_json,
                   .service = a->service,
                   .suppressed = a->suppressed,
                   .protocol = a->protocol,
                   .handshake_id = handshake_id};
    return ev_alert_build(out, ctx, ts_us, &ea, hs, f, client_side);
}
