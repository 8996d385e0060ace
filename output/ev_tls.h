/* The mitmwatch.tls event: one JSON object per handshake, ECS field names (docs/ARCHITECTURE.md).
 */
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
void ev_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind, const char *dataset,
             int severity /* event.severity; 0: none */);
/* ev_head with event.outcome (\"success\"/\"failure\"; NULL: none), for probe events. */
void ev_head_outcome(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
                     const char *dataset, const char *outcome);
/* Writes source/destination/network for a flow, client as source: network.protocol is the wire
 * protocol (NULL: "tls"), network.application the application nDPI named (NULL: none), and
 * network.community_id the flow's Community ID v1. */
void ev_flow(mw_json *j, const cap_flow *f, int client_side, const char *protocol,
             const char *application);
/* Writes mitmwatch.encapsulation into the open mitmwatch object: what a tunneled flow was seen
 * through, outermost first ("vxlan:vni=42", "vlan:100"); nothing for a flow outside tunnels
 * (its VLAN tags are network.vlan) or f NULL. */
void ev_encapsulation(mw_json *j, const cap_flow *f);
/* Writes the ECS tls object of a handshake. */
void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side);
/* Writes the members "tls" (and "ndpi") of the open mitmwatch object. */
void ev_mitmwatch_tls(mw_json *j, const tls_hs *hs);
/* network.protocol of a handshake: the STARTTLS protocol (xmpp, smtp...) or "tls". */
const char *ev_protocol(const tls_hs *hs);
/* network.application of a handshake: nDPI's application name (google, imaps...), or NULL
 * when nDPI named none or only "tls". */
const char *ev_application(const tls_hs *hs);
/* The event.id of a handshake: 32 hex digits of SHA-256 over the observer, the capture time,
 * the flow key (client first) and seq, the sensor's count of handshakes in this run. The same
 * capture read again gives the same ids; other observers, times or flows give other ids. */
#define EV_ID_LEN 33
void ev_handshake_id(char out[EV_ID_LEN], const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                     int client_side, uint64_t seq);
/* Names CT logs in mitmwatch.tls.scts[].log_name: fn returns the name of a log id, or NULL.
 * Set once by the verdicts (rule_engine_log_name); NULL: no names. */
typedef const char *(*ev_log_name_fn)(const uint8_t *log_id, size_t len, void *user);
void ev_tls_set_log_names(ev_log_name_fn fn, void *user);
/* ev_tls_fields leaving the "mitmwatch" object open, so that a probe event can add its own
 * mitmwatch.probe member beside mitmwatch.tls; the caller closes it. */
void ev_tls_fields_open(mw_json *j, const tls_hs *hs);
/* The whole event with event.id (ev_handshake_id; NULL: none) and mitmwatch.verdict.rules:
 * every rule that matched the handshake, alerted or suppressed (an empty array: none; v NULL:
 * no mitmwatch.verdict). Returns false when it did not fit its buffer cap. */
bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side, const char *event_id, const rule_verdict *v);

#endif
