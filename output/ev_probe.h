/* The mitmwatch.probe event of a certificate fetch (docs/ARCHITECTURE.md): the handshake's tls.* and
 * mitmwatch.tls.* fields exactly as the passive mitmwatch.tls event writes them, plus
 * mitmwatch.probe.{type, target, starttls, duration_ms, handshake_ms, error} and
 * event.outcome. */
#ifndef EV_PROBE_H
#define EV_PROBE_H

#include "ev_tls.h"
#include "probe_cert.h"

/* target is what was asked for ("host:port"); returns false when the event did not fit. */
bool ev_probe_cert_build(mw_buf *out, const ev_ctx *ctx, const char *target, const pcert_result *r);

#endif
