/* The alert event (event.kind alert, event.dataset mitmwatch.alert): rule.id, rule.name,
 * event.severity, a message a person understands, the evidence side by side under
 * mitmwatch.expected and mitmwatch.observed, the flow fields, and of the handshake that raised
 * it only its event.id (mitmwatch.handshake_id), tls.client.server_name and
 * tls.server.hash.sha256: the handshake event holds the rest (docs/ARCHITECTURE.md). */
#ifndef EV_ALERT_H
#define EV_ALERT_H

#include "ev_tls.h"
#include "rule_engine.h"

typedef struct {
    const char *rule_id;
    const char *rule_name;
    int severity; /* 1 low .. 4 critical */
    const char *message;
    const char *expected; /* JSON values (object, array, string...) */
    const char *observed;
    /* without a flow (active probes): the target as destination.address/port */
    const char *dest_address;
    uint16_t dest_port;
    const char *service;      /* the watched service's name as configured, or NULL */
    uint64_t suppressed;      /* duplicates suppressed since this key's previous alert */
    const char *protocol;     /* network.protocol of a flow without handshake (hs NULL), or NULL */
    const char *handshake_id; /* event.id of the handshake event (ev_handshake_id), or NULL */
    const char *extra_key;    /* a further member of mitmwatch (JSON extra_json), or NULL */
    const char *extra_json;
} ev_alert;

bool ev_alert_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_alert *a,
                    const tls_hs *hs, const cap_flow *f, int client_side);
/* The mitmwatch.alert event of one verdict (rule_engine's rule_alert): event.kind alert,
 * rule.id/name, event.severity, message, mitmwatch.expected/observed, the flow fields and the
 * handshake's evidence; handshake_id is the event.id of its handshake event (NULL: none). */
bool ev_alert_verdict_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a, const tls_hs *hs,
                            const cap_flow *f, int client_side, uint64_t ts_us,
                            const char *handshake_id);

#endif
