/* Learned per-service baselines: the path (IP TTL / hop limit, as a hop count) in each
 * direction and the JA3S a service answers each client JA3 with (docs/ARCHITECTURE.md).
 *
 * A service is (server address, port). During its learning window (its first learn_flows
 * handshakes) a service's hop counts and JA3S answers are recorded; afterwards a handshake
 * whose hop count is not among the learned ones (beyond the tolerance) raises path.ttl_changed.
 * JA3S answers are learned per client JA3 from its first 3 handshakes (a small service has few);
 * a learned client answered with a JA3S never seen for it raises tls.ja3s_changed, and so does
 * an answer to a client not learned yet that falls outside everything the service's server
 * stack has chosen so far (versions, cipher families, extension sets and order). A client kind
 * that completed 3 handshakes and then fails twice in a row raises tls.handshake_failures. Ports
 * of one server address are also compared with each other, learned or not: one port further
 * away than all the others is what a port-selective interception box looks like. Hop counts are
 * taken from the nearest common initial TTL (64, 128, 255) at or above the TTL seen, and only
 * from flows whose TTL was steady for min_packets packets. The service's best TLS version
 * (bl_tls_best) lives here too. Baselines persist in a msgpack state file written atomically,
 * together with the paths the scheduled traceroutes learned. */
#ifndef BL_BASELINE_H
#define BL_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_flow.h"
#include "trace_path.h"
#include "tls_session.h"

typedef struct {
    uint32_t learn_flows;  /* handshakes per service before its baseline is set; 0: default 10 */
    uint32_t min_packets;  /* a TTL must be steady this long to count; 0: default 2 */
    uint32_t tolerance;    /* hops of slack */
    uint32_t max_services; /* 0: default 65536 */
    /* A hop count or JA3S off the baseline matches every connection that shows it, until it
     * is accepted into the baseline: seen for learn_flows connections over this many seconds
     * of capture time, the baseline value not coming back in between; 0: default 86400. */
    uint32_t accept_after;
} bl_cfg;

/* One finding; the JSON fragments are the evidence (valid JSON values). */
typedef struct {
    const char *rule_id; /* "path.ttl_changed", "tls.ja3s_changed", "tls.handshake_failures" */
    int severity;
    char message[512];
    char expected[1024];
    char observed[512];
    char key[192]; /* duplicate suppression: the service and the value that changed */
} bl_alert;

typedef void (*bl_alert_fn)(const bl_alert *a, void *user);

typedef struct bl_state bl_state;

/* The service table's bounds at work (mitmwatch.stats, sensor.overload). */
typedef struct {
    uint64_t services; /* in the table now */
    uint64_t evicted;  /* unwatched services forgotten to make room (least recently seen) */
    uint64_t full;     /* new services refused: the table held only watched ones */
} bl_counts;

bl_state *bl_new(const bl_cfg *cfg);
void bl_free(bl_state *b);
/* Judges one handshake against the baselines, learning when in a window. watched: the flow's
 * server is a service the policy names (rule_verdict.watched); when the table is full,
 * watched services are learned first: a new service evicts the least recently seen unwatched
 * one, never a watched one, so spoofed handshakes to many other services cannot push out
 * what the policy watches. */
void bl_observe(bl_state *b, const tls_hs *hs, const cap_flow *f, int client_side, bool watched,
                bl_alert_fn fn, void *user);
/* The highest TLS version the flow's server negotiated with a client offering it, learned by
 * the rule engine (tls.version_downgrade) and kept here so that it persists with the other
 * baselines; 0 = none yet. NULL when the service table is full of watched services. watched
 * as for bl_observe. */
uint16_t *bl_tls_best(bl_state *b, const cap_flow *f, int client_side, bool watched);
const bl_counts *bl_counts_get(const bl_state *b);
/* Learned trace paths (the live sensor's scheduled TCP traceroutes, probes/probe_sched.c): the
 * acceptable paths of each traced (host, port), kept here only so that they share the state
 * file; the scheduler copies them in at start and out at exit. host is as the probe names it
 * (canonical address or lowercase name). get: NULL when nothing was learned. put: replaces;
 * false when the table is full (BL_MAX_TRACES) or host is too long. */
#define BL_MAX_TRACES 1024
const trace_pathset *bl_trace_get(const bl_state *b, const char *host, uint16_t port);
bool bl_trace_put(bl_state *b, const char *host, uint16_t port, const trace_pathset *set);
unsigned bl_trace_count(const bl_state *b);

/* State file (msgpack, format described above bl_save in bl_baseline.c; version 2, version 1
 * still read): load at start (a missing file is an empty state), save atomically (write,
 * fsync, rename). A file that is not a mitmwatch state file, truncated, of another version or
 * with a malformed entry fails the load with one line in err naming the file and the reason. */
bool bl_load(bl_state *b, const char *path, char *err, size_t errlen);
bool bl_save(const bl_state *b, const char *path, char *err, size_t errlen);
/* The same from and to memory (name stands for the file in messages); bl_dump's *data is
 * malloc'd, free it. */
bool bl_load_mem(bl_state *b, const char *name, const void *data, size_t size, char *err,
                 size_t errlen);
bool bl_dump(const bl_state *b, char **data, size_t *size);
/* Hop count implied by a TTL: nearest initial TTL of 64, 128 or 255 at or above it, minus it. */
unsigned bl_hops(uint8_t ttl);

#endif
