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
/* Writes source/destination/network for a flow, client as source. */
void ev_flow(mw_json *j, const cap_flow *f, int client_side);
/* Writes the tls.* and mitmwatch.tls.* members of a handshake. */
void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side);
/* The two halves of ev_tls_fields, for events that add members of their own (alerts): the
 * ECS tls object, and the "tls" member of an already open mitmwatch object. */
void ev_tls_ecs(mw_json *j, const tls_hs *hs);
void ev_tls_mitmwatch(mw_json *j, const tls_hs *hs);
/* The whole event; returns false when it did not fit its buffer cap. */
bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side);

#endif
