/* Triggered certificate fetches (docs/ARCHITECTURE.md): a TLS 1.3 handshake hides the
 * certificate, so when the live sensor sees one to a watched service whose server answered
 * with another TLS stack (tls.ja3s_changed) or from another distance (path.ttl_changed), the
 * only way to see who answered is to ask: the probe scheduler's worker (probe_sched.h) fetches
 * the certificate right away from the same address and port, with the client's SNI and the
 * service's STARTTLS, off the packet path. The fetch is judged like a scheduled one (every
 * certificate rule, the known store), and its mitmwatch.probe event and alerts name the
 * handshake that triggered it. At most one fetch per service (its name and port) per interval;
 * refused triggers are counted, as are fetches that found the queue full. Live capture only:
 * a -r file has no live server to ask. */
#ifndef PROBE_TRIGGER_H
#define PROBE_TRIGGER_H

#include <stdint.h>

#include "ev_stats.h"
#include "probe_sched.h"
#include "rule_engine.h"

#define PTRIG_DEFAULT_INTERVAL_US (300u * 1000000u) /* --trigger-interval default: 5 minutes */
#define PTRIG_MAX_SERVICES 256                      /* services rate-limited at a time */

typedef struct ptrig ptrig;

ptrig *ptrig_new(uint64_t interval_us);
void ptrig_free(ptrig *t);

/* The rule of v that calls for a fetch of hs: "tls.ja3s_changed" or "path.ttl_changed" when
 * hs negotiated TLS 1.3 and showed no certificate; NULL otherwise. */
const char *ptrig_reason(const tls_hs *hs, const rule_verdict *v);

typedef enum { PTRIG_NONE, PTRIG_FETCH, PTRIG_LIMITED } ptrig_decision;
/* Decides for one judged handshake (hs_id: its event.id) at time now_us: PTRIG_FETCH fills req
 * (the server's address and port, the client's SNI else the service's exact name, the
 * service's STARTTLS, the link to the handshake); PTRIG_LIMITED: the service had a fetch less
 * than the interval ago (or the table is full of recent ones). Only a handshake of svc, a
 * watched service, is considered (NULL: PTRIG_NONE). Counts triggered and rate_limited. */
ptrig_decision ptrig_decide(ptrig *t, const tls_hs *hs, const cap_flow *f, int client_side,
                            const rule_verdict *v, const pol_service *svc, const char *hs_id,
                            uint64_t now_us, ps_trigger_req *req);
/* The sensor's hook: ptrig_decide with the engine's service, then the fetch handed to ps
 * (a full queue is counted as dropped). */
void ptrig_handshake(ptrig *t, probe_sched *ps, const rule_engine *re, const tls_hs *hs,
                     const cap_flow *f, int client_side, const rule_verdict *v, const char *hs_id);
const ev_trigger_stats *ptrig_stats(const ptrig *t);

#endif
