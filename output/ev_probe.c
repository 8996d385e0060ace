#include "ev_probe.h"

#include "starttls.h"

#include <sys/socket.h>

static void endpoint(mw_json *j, const char *key, const char *ip, uint16_t port) {
    mw_json_kobj(j, key);
    mw_json_kstr(j, "ip", ip);
    mw_json_kuint(j, "port", port);
    mw_json_obj_end(j);
}

/* mitmwatch.probe.trigger: the handshake a triggered fetch looks behind. */
static void trigger(mw_json *j, const ev_probe_trigger *t) {
    mw_json_kobj(j, "trigger");
    mw_json_kstr(j, "handshake_id", t->handshake_id);
    if (t->community_id[0]) mw_json_kstr(j, "community_id", t->community_id);
    mw_json_kstr(j, "rule", t->rule_id);
    mw_json_kstr(j, "service", t->service);
    endpoint(j, "source", t->client_ip, t->client_port);
    endpoint(j, "destination", t->server_ip, t->server_port);
    mw_json_obj_end(j);
}

bool ev_probe_cert_build(mw_buf *out, const ev_ctx *ctx, const char *target, const pcert_result *r,
                         const ev_probe_trigger *trig) {
    mw_json j;
    bool ok = r->err == PCERT_OK && r->handshake_done;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    /* @timestamp: when the probe began, so a failed probe has one too */
    ev_head_outcome(&j, ctx, r->start_us, "event", "mitmwatch.probe", ok ? "success" : "failure");
    if (r->local_ip[0]) endpoint(&j, "source", r->local_ip, r->local_port);
    if (r->peer_ip[0]) endpoint(&j, "destination", r->peer_ip, r->peer_port);
    mw_json_kobj(&j, "network");
    mw_json_kstr(&j, "transport", "tcp");
    if (r->family == AF_INET || r->family == AF_INET6)
        mw_json_kstr(&j, "type", r->family == AF_INET ? "ipv4" : "ipv6");
    mw_json_kstr(&j, "protocol", r->starttls ? stls_network_protocol_of(r->starttls) : "tls");
    mw_json_obj_end(&j);
    if (ok)
        ev_tls_fields_open(&j, r->hs); /* tls, and mitmwatch with its tls member */
    else
        mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "probe");
    mw_json_kstr(&j, "type", "cert");
    mw_json_kstr(&j, "target", target);
    if (r->starttls) mw_json_kstr(&j, "starttls", r->starttls);
    mw_json_kuint(&j, "duration_ms", r->duration_ms);
    if (r->handshake_done) mw_json_kuint(&j, "handshake_ms", r->handshake_ms);
    if (!ok) mw_json_kstr(&j, "error", r->error[0] ? r->error : "probe failed");
    if (trig) trigger(&j, trig);
    mw_json_obj_end(&j); /* probe */
    mw_json_obj_end(&j); /* mitmwatch */
    mw_json_obj_end(&j);
    return j.ok;
}
