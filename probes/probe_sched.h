/* The live sensor's scheduled active probes (docs/ARCHITECTURE.md): JARM fingerprints, certificate
 * fetches and TCP traceroutes of configured targets, each on an interval with jitter, run by a
 * worker thread so that capture never waits on a network round trip. Results come back to the
 * capture thread as finished event lines (mitmwatch.probe / mitmwatch.path events,
 * probe.jarm_changed, path.hops_changed and probe.failed alerts; built in output/ev_sched.c and
 * ev_probe.c, and by probe_trace.c), which it hands to the outputs. A JARM is judged against
 * the configured value, else against the first one seen (learned); a path against the
 * configured paths of that port (the policy's expect_paths, --expect-hops), else the learned
 * ones (the first path that reached the target; kept across restarts in the --state file
 * through bl_baseline). */
#ifndef PROBE_SCHED_H
#define PROBE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bl_baseline.h"
#include "ev_probe.h"
#include "out.h"
#include "pol_policy.h"
#include "probe_cert.h"

typedef struct probe_sched probe_sched;

probe_sched *ps_new(const char *observer, uint64_t interval_us, unsigned jitter_pct);
/* Adds a probe: "jarm:HOST[:PORT][=EXPECTED_JARM]", "trace:HOST:PORT[,PORT...]" or
 * "cert:HOST[:PORT][/STARTTLS]". A cert probe without /STARTTLS of a watched service that has
 * a `starttls` protocol in pol (may be NULL) speaks it, on the service's first port when no
 * port is given (pol_starttls_service). */
bool ps_add(probe_sched *ps, const char *spec, const pol_policy *pol, char *err, size_t errlen);
unsigned ps_count(const probe_sched *ps);
/* The configured acceptable paths of every traced port, from pol (pol_expected_paths): false
 * with err when a --expect-hops names no traced host and port, or a port would get more than
 * TRACE_SET_MAX paths. commit false only checks (a reload checks before it swaps policies);
 * true checks, then replaces the configured paths. NULL ps: nothing to do. */
bool ps_set_policy(probe_sched *ps, const pol_policy *pol, bool commit, char *err, size_t errlen);
/* Learned paths in from the state (at start, after ps_add) and out to it (after ps_stop,
 * before bl_save). save: false when bl's table was full (what fitted is kept). */
void ps_load_learned(probe_sched *ps, const bl_state *bl);
bool ps_save_learned(probe_sched *ps, bl_state *bl);
/* Opens raw sockets (traces) and starts the worker; call before dropping privileges. */
bool ps_start(probe_sched *ps, char *err, size_t errlen);
/* What the capture thread judges with a finished event: for a certificate fetch, its leaf (the
 * known store: probe.cert_mismatch) and the whole fetch (fetched: its handshake, judged by the
 * certificate rules like a passive one; owned by the scheduler, valid during the callback);
 * for an alert (probe.failed, probe.jarm_changed, path.hops_changed), key names what it is
 * about for duplicate suppression. */
typedef struct {
    uint8_t sha256[32], tbs_sha256[32];
    char target[300], subject[256], host[256];
    uint16_t port;
    bool has_leaf;
    pcert_result *fetched; /* NULL: no handshake */
    char key[320];         /* "" when not an alert */
    bool triggered;        /* a triggered fetch (ps_trigger): trig says by what */
    ev_probe_trigger trig;
} ps_cert;
/* Triggered certificate fetches (probe_trigger.h): one fetch of host:port (an address
 * literal) with sni (NULL: none) and starttls, run by the worker before any scheduled probe
 * that is due; its mitmwatch.probe event carries trig (mitmwatch.probe.trigger) and comes back
 * like a scheduled fetch's, with ps_cert.triggered. Without scheduled probes the worker starts
 * with the first ps_trigger (capture thread), after privileges were dropped. ps_trigger: false
 * when triggers are not enabled, the worker cannot start, or PS_TRIGGER_QUEUE fetches are
 * already waiting (the caller counts it). */
#define PS_TRIGGER_QUEUE 8
typedef struct {
    char host[64];
    uint16_t port;
    char sni[256]; /* "" none */
    pcert_starttls starttls;
    ev_probe_trigger trig;
} ps_trigger_req;
void ps_enable_triggers(probe_sched *ps);
bool ps_trigger(probe_sched *ps, const ps_trigger_req *req);
/* Hands every finished event to emit (capture thread) with what goes with it. */
typedef void (*ps_emit_fn)(void *user, const out_event *ev, const ps_cert *cert);
void ps_drain(probe_sched *ps, ps_emit_fn emit, void *user);
/* Stops the worker (waits for a running probe to finish, so ps_drain afterwards gets its
 * events); ps_free does it too. */
void ps_stop(probe_sched *ps);
/* Stops the worker and frees everything. */
void ps_free(probe_sched *ps);

#endif
