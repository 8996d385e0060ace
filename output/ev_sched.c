#include "ev_sched.h"

#include <stdio.h>

#include "ev_alert.h"
#include "mw_encode.h"

/* Probe alerts carry no flow: the target is destination.address/port. */
/* handshake_id: a triggered fetch's alert names the handshake that triggered it; else NULL. */
static bool probe_alert_of(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const char *host,
                           uint16_t port, const char *rule, int severity, const char *msg,
                           const char *expected, const char *observed, const char *handshake_id,
                           out_event *ev) {
    ev_alert a = {.rule_id = rule,
                  .severity = severity,
                  .message = msg,
                  .expected = expected,
                  .observed = observed,
                  .dest_address = host,
                  .dest_port = port,
                  .handshake_id = handshake_id};
    if (!ev_alert_build(out, ctx, ts_us, &a, NULL, NULL, 0)) return false;
    *ev = (out_event){.json = (const char *)out->data,
                      .len = out->len,
                      .kind = OUT_KIND_ALERT,
                      .dataset = "mitmwatch.alert",
                      .severity = severity,
                      .rule_id = rule};
    return true;
}

static bool probe_alert(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const char *host,
                        uint16_t port, const char *rule, int severity, const char *msg,
                        const char *expected, const char *observed, out_event *ev) {
    return probe_alert_of(out, ctx, ts_us, host, port, rule, severity, msg, expected, observed,
                          NULL, ev);
}

bool ev_sched_jarm_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_sched_target *t,
                         const jarm_result *r, bool failed, uint64_t duration_ms, out_event *ev) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, ts_us, "event", "mitmwatch.probe", 0);
    mw_json_kobj(&j, "destination");
    mw_json_kstr(&j, "address", t->host);
    mw_json_kuint(&j, "port", t->port);
    if (r->peer[0]) mw_json_kstr(&j, "ip", r->peer);
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "probe");
    mw_json_kstr(&j, "type", "jarm");
    mw_json_kstr(&j, "target", t->text);
    mw_json_kstr(&j, "outcome", failed ? "failure" : "success");
    mw_json_kstr(&j, "jarm", r->hash);
    mw_json_kuint(&j, "answered", r->answered);
    mw_json_kuint(&j, "duration_ms", duration_ms);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    if (!j.ok) return false;
    *ev = (out_event){.json = (const char *)out->data,
                      .len = out->len,
                      .kind = OUT_KIND_EVENT,
                      .dataset = "mitmwatch.probe",
                      .severity = 0,
                      .rule_id = NULL};
    return true;
}

bool ev_sched_jarm_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                const ev_sched_target *t, mw_rc rc, const jarm_result *r,
                                out_event *ev) {
    const char *why = rc != MW_OK         ? "its answers could not be fingerprinted"
                      : r->resolve_failed ? "the name did not resolve"
                      : r->timed_out      ? "it timed out"
                                          : "nothing answered (closed port or dropped)";
    char msg[512], exp[256], obs[256];
    snprintf(msg, sizeof msg, "The JARM probe of %s failed: %s", t->text, why);
    snprintf(exp, sizeof exp, "{\"answered\":10}");
    snprintf(obs, sizeof obs, "{\"answered\":%u,\"error\":\"%s\"}", r->answered, why);
    return probe_alert(out, ctx, ts_us, t->host, t->port, "probe.failed", 2, msg, exp, obs, ev);
}

bool ev_sched_jarm_changed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                 const ev_sched_target *t, const char *expected, bool configured,
                                 const char *observed, out_event *ev) {
    char msg[512], exp[256], obs[256];
    snprintf(msg, sizeof msg,
             "%s now answers with JARM %s instead of %s: a different TLS server (or a box in "
             "front of it) is answering",
             t->text, observed, expected);
    snprintf(exp, sizeof exp, "{\"jarm\":\"%s\",\"source\":\"%s\"}", expected,
             configured ? "configured" : "learned");
    snprintf(obs, sizeof obs, "{\"jarm\":\"%s\"}", observed);
    return probe_alert(out, ctx, ts_us, t->host, t->port, "probe.jarm_changed", 3, msg, exp, obs,
                       ev);
}

bool ev_sched_cert_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                const ev_sched_target *t, const char *error, out_event *ev) {
    char msg[600], obs[400];
    snprintf(msg, sizeof msg, "The certificate fetch from %s failed: %s", t->text, error);
    /* The error text may quote what the server said: written through the JSON writer. */
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, sizeof obs - 1);
    mw_json_init(&j, &b);
    mw_json_obj_begin(&j);
    mw_json_kstr(&j, "error", error);
    mw_json_obj_end(&j);
    snprintf(obs, sizeof obs, "%.*s", j.ok ? (int)b.len : 2, j.ok ? (const char *)b.data : "{}");
    mw_buf_free(&b);
    return probe_alert(out, ctx, ts_us, t->host, t->port, "probe.failed", 2, msg,
                       "{\"handshake\":true}", obs, ev);
}

bool ev_sched_cert_mismatch_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ev_sched_target *t, const char *subject,
                                  const uint8_t sha256[32], uint64_t store_certs, out_event *ev) {
    char msg[700], exp[128], obs[200], sha[65];
    mw_hex(sha, sha256, 32);
    snprintf(msg, sizeof msg,
             "The certificate fetched from %s (%s, SHA-256 %s) is none of the certificates in "
             "the known store",
             t->text, subject, sha);
    snprintf(exp, sizeof exp, "{\"known_store\":true,\"certificates\":%llu}",
             (unsigned long long)store_certs);
    snprintf(obs, sizeof obs, "{\"sha256\":\"%s\"}", sha);
    return probe_alert_of(out, ctx, ts_us, t->host, t->port, "probe.cert_mismatch", 4, msg, exp,
                          obs, t->handshake_id, ev);
}

bool ev_sched_trace_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const char *host,
                                 uint16_t port, const char *error, out_event *ev) {
    char msg[512], obs[400];
    snprintf(msg, sizeof msg, "The traceroute of %s failed: %s", host, error);
    snprintf(obs, sizeof obs, "{\"error\":\"%s\"}", error);
    return probe_alert(out, ctx, ts_us, host, port, "probe.failed", 2, msg, "{\"traced\":true}",
                       obs, ev);
}
