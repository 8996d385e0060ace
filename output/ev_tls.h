/* The mitmwatch.tls event: one JSON object per handshake, ECS field names (DESIGN.md 3). */
#ifndef EV_TLS_H
#define EV_TLS_H

#include "cap_flow.h"
#include "mw_json.h"
#include "rule_engine.h"
#include "tls_session.h"

typedef struct {
    const char *observer; /* observer.name */
} ev_ctx;

/* Writes the common ECS head of an event: @timestamp, event.{kind,category,type,dataset},
 * observer.name. The caller closes the object. */
void ev_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
             const char *dataset, int severity /* event.severity; 0: none */);
/* ev_head with event.outcome (\"success\"/\"failure\"; NULL: none), for probe events. */
void ev_head_outcome(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
                     const char *dataset, const char *outcome);
/* Writes source/destination/network for a flow, client as source; network.protocol is the
 * given application protocol, or "tls" when NULL. */
void ev_flow(mw_json *j, const cap_flow *f, int client_side, const char *protocol);
/* Writes the ECS tls object of a handshake. */
void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side);
/* Writes the members "tls" (and "ndpi") of the open mitmwatch object. */
void ev_mitmwatch_tls(mw_json *j, const tls_hs *hs);
/* network.protocol of a handshake: nDPI's name, else the STARTTLS protocol, else NULL (tls). */
const char *ev_protocol(const tls_hs *hs);
/* Names CT logs in mitmwatch.tls.scts[].log_name: fn returns the name of a log id, or NULL.
 * Set once by the verdicts (rule_engine_log_name); NULL: no names. */
typedef const char *(*ev_log_name_fn)(const uint8_t *log_id, size_t len, void *user);
void ev_tls_set_log_names(ev_log_name_fn fn, void *user);
/* ev_tls_fields leaving the "mitmwatch" object open, so that a probe event can add its own
 * mitmwatch.probe member beside mitmwatch.tls; the caller closes it. */
void ev_tls_fields_open(mw_json *j, const tls_hs *hs);
/* The whole event; returns false when it did not fit its buffer cap. */
bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side);
/* The same with mitmwatch.verdict.rules: every rule that matched the handshake, alerted or
 * suppressed (an empty array: none). v NULL: no mitmwatch.verdict. */
bool ev_tls_build_verdict(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                          int client_side, const rule_verdict *v);

#endif
