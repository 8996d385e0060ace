#include "ev_alert.h"

#include <string.h>

const char *ev_rule_name(const char *rule_id) {
    static const struct {
        const char *id, *name;
    } names[] = {
        {"cert.unknown", "Certificate not in the known store"},
        {"cert.issuer_unexpected", "Certificate from an unexpected issuer"},
        {"cert.spki_unpinned", "Certificate key not pinned"},
        {"cert.expired", "Certificate expired"},
        {"cert.not_yet_valid", "Certificate not yet valid"},
        {"cert.name_mismatch", "Certificate name mismatch"},
        {"cert.self_signed", "Self-signed certificate"},
        {"cert.chain_invalid", "Certificate chain invalid"},
        {"cert.sct_missing", "Certificate lacks SCTs"},
        {"cert.sct_invalid", "Invalid SCT"},
        {"cert.not_in_ct", "Certificate not in Certificate Transparency"},
        {"cert.issuance_odd", "Unusual certificate issuance"},
        {"ct.unknown_issuance", "Unknown issuance in CT logs"},
        {"tls.ja3s_changed", "Server TLS fingerprint changed"},
        {"tls.version_downgrade", "TLS version downgrade"},
        {"tls.weak_or_null_cipher", "Weak or NULL cipher"},
        {"tls.starttls_missing", "Session without STARTTLS"},
        {"path.ttl_changed", "Network path (TTL) changed"},
        {"path.hops_changed", "Network path (traceroute) changed"},
        {"probe.jarm_changed", "Server JARM changed"},
        {"probe.cert_mismatch", "Fetched certificate not known"},
        {"probe.failed", "Probe failed"},
        {"sensor.drops", "Sensor dropped packets"},
        {"sensor.overload", "Sensor overloaded"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].id, rule_id) == 0)
            return names[i].name;
    return rule_id;
}

bool ev_alert_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_alert *a,
                    const tls_hs *hs, const cap_flow *f, int client_side) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "alert", "mitmwatch.alert", a->severity);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", a->rule_id);
    mw_json_kstr(&j, "name", a->rule_name ? a->rule_name : ev_rule_name(a->rule_id));
    mw_json_obj_end(&j);
    mw_json_kstr(&j, "message", a->message);
    if (f) {
        ev_flow(&j, f, client_side, hs ? ev_protocol(hs) : a->protocol);
    } else if (a->dest_address) {
        mw_json_kobj(&j, "destination");
        mw_json_kstr(&j, "address", a->dest_address);
        mw_json_kuint(&j, "port", a->dest_port);
        mw_json_obj_end(&j);
    }
    if (hs)
        ev_tls_fields(&j, hs, f, client_side);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_key(&j, "expected");
    mw_json_raw(&j, a->expected, strlen(a->expected));
    mw_json_key(&j, "observed");
    mw_json_raw(&j, a->observed, strlen(a->observed));
    if (a->service)
        mw_json_kstr(&j, "service", a->service);
    if (a->suppressed)
        mw_json_kuint(&j, "suppressed", a->suppressed);
    if (hs)
        ev_mitmwatch_tls(&j, hs);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}
