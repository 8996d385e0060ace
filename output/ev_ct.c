#include "ev_ct.h"

#include <stdio.h>
#include <string.h>

#include "mw_encode.h"
#include "rule_catalog.h"

/* rule.name from the one catalogue (rules/rule_catalog.c), as for every alert. */
static void alert_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *rule,
                       int severity, const char *message) {
    ev_head(j, ctx, ts_us, "alert", "mitmwatch.alert", severity);
    mw_json_kobj(j, "rule");
    mw_json_kstr(j, "id", rule);
    mw_json_kstr(j, "name", rule_catalog_name(rule));
    mw_json_obj_end(j);
    mw_json_kstr(j, "message", message);
}

static void source_obj(mw_json *j, const ev_ct_source *s) {
    mw_json_kobj(j, "ct");
    mw_json_kstr(j, "source", s->kind);
    mw_json_kstr(j, "url", s->url);
    if (s->is_log) mw_json_kstr(j, "log", s->url);
    mw_json_kstr(j, "status", s->status);
    mw_json_kstr(j, "reason", s->reason);
    if (s->is_log) mw_json_kuint(j, "verified_tree_size", s->verified_tree_size);
    if (s->is_log && s->have_tree_size) mw_json_kuint(j, "tree_size", s->tree_size);
    mw_json_kuint(j, "fetched", s->fetched);
    mw_json_kuint(j, "watched", s->watched);
    mw_json_obj_end(j);
}

bool ev_ct_source_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                               const ev_ct_source *s) {
    mw_json j;
    char msg[1400];
    snprintf(msg, sizeof msg,
             "CT sync of %s source %s %s: %s; the snapshot keeps its last verified data for it",
             s->kind, s->url, !strcmp(s->status, "distrusted") ? "skipped" : "failed", s->reason);
    mw_buf_reset(out);
    mw_json_init(&j, out);
    alert_head(&j, ctx, ts_us, "probe.failed", 2, msg);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "expected");
    mw_json_kstr(&j, "status", "ok");
    mw_json_obj_end(&j);
    mw_json_kobj(&j, "observed");
    mw_json_kstr(&j, "status", s->status);
    mw_json_kstr(&j, "error", s->reason);
    mw_json_obj_end(&j);
    source_obj(&j, s);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

bool ev_ct_log_inconsistent_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ev_ct_source *s) {
    mw_json j;
    char msg[1400];
    snprintf(msg, sizeof msg, "CT log %s is inconsistent and no longer trusted: %s", s->url,
             s->reason);
    mw_buf_reset(out);
    mw_json_init(&j, out);
    alert_head(&j, ctx, ts_us, "ct.log_inconsistent", 4, msg);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kstr(&j, "expected", "each signed tree head extends the last verified one");
    mw_json_kstr(&j, "observed", s->reason);
    source_obj(&j, s);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

static void hex32(mw_json *j, const char *k, const uint8_t *h) {
    char x[MW_HEX_LEN(32)];
    mw_json_key(j, k);
    if (!h) {
        mw_json_null(j);
        return;
    }
    mw_hex(x, h, 32);
    mw_json_str(j, x);
}

void ev_ct_entry(mw_json *j, const ct_entry_view *e) {
    char ts[MW_TS_LEN];
    mw_json_obj_begin(j);
    hex32(j, "tbs_sha256", e->tbs);
    hex32(j, "cert_sha256", e->cert);
    mw_json_karr(j, "names");
    for (uint32_t i = 0; i < e->n_names; i++)
        mw_json_str_n(j, e->names[i].p, e->names[i].n);
    mw_json_arr_end(j);
    mw_json_key(j, "issuer");
    mw_json_str_n(j, e->issuer.p, e->issuer.n);
    mw_ts_sec(ts, e->not_before);
    mw_json_kstr(j, "not_before", ts);
    mw_ts_sec(ts, e->not_after);
    mw_json_kstr(j, "not_after", ts);
    mw_json_key(j, "source");
    mw_json_str_n(j, e->source.p, e->source.n);
    hex32(j, "log_id", e->log_id);
    mw_json_kuint(j, "index", e->index);
    if (e->timestamp_ms) {
        mw_ts_ms(ts, e->timestamp_ms);
        mw_json_kstr(j, "timestamp", ts);
    }
    mw_json_kbool(j, "precert", e->precert);
    mw_json_obj_end(j);
}

bool ev_ct_unknown_issuance_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ct_entry_view *e) {
    mw_json j;
    char msg[600], tbs[MW_HEX_LEN(32)];
    int nl = e->n_names ? (int)(e->names[0].n > 253 ? 253 : e->names[0].n) : 0;
    mw_hex(tbs, e->tbs, 32);
    snprintf(msg, sizeof msg,
             "A certificate for %.*s was logged in CT (TBS %.16s...) but is not in the known "
             "certificate store",
             nl, e->n_names ? e->names[0].p : "", tbs);
    mw_buf_reset(out);
    mw_json_init(&j, out);
    alert_head(&j, ctx, ts_us, "ct.unknown_issuance", 3, msg);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kstr(&j, "expected", "known certificate or acknowledged TBS hash");
    mw_json_kstr(&j, "observed", tbs);
    mw_json_key(&j, "ct");
    ev_ct_entry(&j, e);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}
