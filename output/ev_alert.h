/* The alert event (event.kind alert, event.dataset mitmwatch.alert): rule.id, rule.name,
 * event.severity, a message a person understands, the evidence side by side under
 * mitmwatch.expected and mitmwatch.observed, and the flow and TLS fields of the handshake that
 * raised it (DESIGN.md 3). */
#ifndef EV_ALERT_H
#define EV_ALERT_H

#include "ev_tls.h"
#include "rule_engine.h"

typedef struct {
    const char *rule_id;
    const char *rule_name;
    int severity;          /* 1 low .. 4 critical */
    const char *message;
    const char *expected;  /* JSON values (object, array, string...) */
    const char *observed;
    /* without a flow (active probes): the target as destination.address/port */
    const char *dest_address;
    uint16_t dest_port;
    const char *service;  /* the watched service's name as configured, or NULL */
    uint64_t suppressed;  /* duplicates suppressed since this key's previous alert */
    const char *protocol; /* network.protocol of a flow without handshake (hs NULL), or NULL */
} ev_alert;

bool ev_alert_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_alert *a,
                    const tls_hs *hs, const cap_flow *f, int client_side);
/* The mitmwatch.alert event of one verdict (rule_engine's rule_alert): event.kind alert,
 * rule.id/name, event.severity, message, mitmwatch.expected/observed, and the flow and tls
 * fields of the handshake. */
bool ev_alert_verdict_build(mw_buf *out, const ev_ctx *ctx, const rule_alert *a,
                            const tls_hs *hs, const cap_flow *f, int client_side, uint64_t ts_us);

#endif
