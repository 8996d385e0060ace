/* The mitmwatch.tls event: one JSON object per handshake, ECS field names (DESIGN.md 3). */
#ifndef EV_TLS_H
#define EV_TLS_H

#include "cap_flow.h"
#include "mw_json.h"
#include "tls_session.h"

typedef struct {
    const char *observer; /* observer.name */
} ev_ctx;

/* Writes the common ECS head of an event: @timestamp, event.{kind,category,type,dataset},
 * observer.name. The caller closes the object. */
void ev_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
             const char *dataset);
/* ev_head with event.outcome ("success"/"failure"; NULL: none), for probe events. */
void ev_head_outcome(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
                     const char *dataset, const char *outcome);
/* Writes source/destination/network for a flow, client as source; network.protocol is the
 * given application protocol, or "tls" when NULL. */
void ev_flow(mw_json *j, const cap_flow *f, int client_side, const char *protocol);
/* Writes the tls.* and mitmwatch.tls.* members of a handshake. */
void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side);
/* ev_tls_fields leaving the "mitmwatch" object open, so that a probe event can add its own
 * mitmwatch.probe member beside mitmwatch.tls; the caller closes it. */
void ev_tls_fields_open(mw_json *j, const tls_hs *hs);
/* The whole event; returns false when it did not fit its buffer cap. */
bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side);

#endif
