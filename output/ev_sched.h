/* The events of the live sensor's scheduled probes (probes/probe_sched.c, docs/ARCHITECTURE.md)
 * that no other builder writes: the mitmwatch.probe event of a JARM probe, and the alerts
 * probe.jarm_changed, probe.failed (JARM, certificate fetch, traceroute) and probe.cert_mismatch
 * (a fetched certificate the known store lacks). A certificate fetch's event is ev_probe.h's,
 * a traceroute's path events are ev_trace.h's. Probes have no flow: the target goes into
 * destination.address/port.
 *
 * Each builder returns false when the event did not fit out; on success ev is the finished
 * event (ev->json points into out) with its kind, dataset, severity and rule.id, for
 * out_emit. */
#ifndef EV_SCHED_H
#define EV_SCHED_H

#include "ev_tls.h"
#include "jarm.h"
#include "out.h"

/* A probe's target: host as configured, the port probed, and text, how events name it
 * ("host:port", "[v6]:port"); handshake_id: for a triggered fetch, the event.id of the handshake
 * that triggered it (probe.cert_mismatch carries it as mitmwatch.handshake_id), else NULL. */
typedef struct {
    const char *host;
    uint16_t port;
    const char *text;
    const char *handshake_id;
} ev_sched_target;

/* The mitmwatch.probe event of a JARM probe (rc and r from jarm_probe) that took duration_ms;
 * event.outcome failure when failed. */
bool ev_sched_jarm_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const ev_sched_target *t,
                         const jarm_result *r, bool failed, uint64_t duration_ms, out_event *ev);
/* probe.failed of a JARM probe: the message says why from rc and r (from jarm_probe). */
bool ev_sched_jarm_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                const ev_sched_target *t, mw_rc rc, const jarm_result *r,
                                out_event *ev);
/* probe.jarm_changed: the target answered with JARM observed instead of expected, which was
 * configured (else learned from the first answer). */
bool ev_sched_jarm_changed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                 const ev_sched_target *t, const char *expected, bool configured,
                                 const char *observed, out_event *ev);
/* probe.failed of a certificate fetch, with its error text. */
bool ev_sched_cert_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                const ev_sched_target *t, const char *error, out_event *ev);
/* probe.cert_mismatch: the leaf fetched from t (subject, SHA-256 sha256) is none of the
 * store_certs certificates of the known store. */
bool ev_sched_cert_mismatch_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ev_sched_target *t, const char *subject,
                                  const uint8_t sha256[32], uint64_t store_certs, out_event *ev);
/* probe.failed of a traceroute of host (destination.port: the first traced port). */
bool ev_sched_trace_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const char *host,
                                 uint16_t port, const char *error, out_event *ev);

#endif
