/* The live sensor's scheduled active probes (DESIGN.md 7): JARM fingerprints and TCP traceroutes
 * of configured targets, each on an interval with jitter, run by a worker thread so that capture
 * never waits on a network round trip. Results come back to the capture thread as finished event
 * lines (mitmwatch.probe / mitmwatch.path events, probe.jarm_changed, path.hops_changed and
 * probe.failed alerts), which it hands to the outputs. A JARM is judged against the configured
 * value, else against the first one seen (learned); a path against the configured or learned
 * paths of that port. */
#ifndef PROBE_SCHED_H
#define PROBE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "pol_policy.h"

typedef struct probe_sched probe_sched;

probe_sched *ps_new(const char *observer, uint64_t interval_us, unsigned jitter_pct);
/* Adds a probe: "jarm:HOST[:PORT][=EXPECTED_JARM]", "trace:HOST:PORT[,PORT...]" or
 * "cert:HOST[:PORT][/STARTTLS]". A cert probe without /STARTTLS of a watched service that has
 * a `starttls` protocol in pol (may be NULL) speaks it, on the service's first port when no
 * port is given (pol_starttls_service). */
bool ps_add(probe_sched *ps, const char *spec, const pol_policy *pol, char *err, size_t errlen);
unsigned ps_count(const probe_sched *ps);
/* Opens raw sockets (traces) and starts the worker; call before dropping privileges. */
bool ps_start(probe_sched *ps, char *err, size_t errlen);
/* A fetched leaf certificate, for the capture thread to judge against the known store. */
typedef struct {
    uint8_t sha256[32], tbs_sha256[32];
    char target[300], subject[256], host[256];
    uint16_t port;
} ps_cert;
/* Hands every finished event to emit (capture thread); cert is set for a certificate
 * fetch's event. */
typedef void (*ps_emit_fn)(void *user, const char *json, size_t len, enum out_kind kind,
                           const char *dataset, int severity, const char *rule_id,
                           const ps_cert *cert);
void ps_drain(probe_sched *ps, ps_emit_fn emit, void *user);
/* Stops the worker (waits for a running probe to finish) and frees everything. */
void ps_free(probe_sched *ps);

#endif
