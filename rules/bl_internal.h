/* Internal to the baselines (bl_baseline.c: learning and judging; bl_state.c: the state
 * file): the tables and their limits. Not for other modules: they use bl_baseline.h. */
#ifndef BL_INTERNAL_H
#define BL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "bl_baseline.h"

#define BL_MAX_HOPS 8 /* distinct hop counts per direction; more: the direction is unstable */
#define BL_MAX_JA3 16 /* client JA3s per service */
#define BL_MAX_JA3S 4 /* JA3S per client JA3 */
#define BL_PAIR_PORTS 8
#define BL_LEARN_JA3S 3 /* consistent handshakes that set a (service, client JA3)'s answer */
#define BL_FAMILIES 8   /* cipher families a service chose, remembered by name */
#define BL_OFFERED 32   /* cipher families clients offered (hashes) */
#define BL_EXT_SLOTS 64 /* extension types 0..62, and 65281 (renegotiation_info) as 63 */
/* State file formats: 1: services of 8 fields, no format key; 2: + format key, traces, and a
 * 9th service field, the learned TLS version. Both are read; 2 is written. */
#define BL_STATE_VERSION 2
#define BL_STATE_FORMAT "mitmwatch-state"
#define BL_STATE_MAX_BYTES (64u << 20)

enum { DIR_C2S, DIR_S2C };

/* A value off the learned baseline that keeps coming back (in memory only: a restart starts
 * its clock again). Every connection showing it is marked; once it has been seen for
 * learn_flows connections over accept_after seconds without the baseline value coming back
 * in between, it is accepted into the baseline (a server that changed for good stops alerting,
 * an interceptor that comes and goes never does). */
typedef struct {
    bool on;
    uint8_t value[16];
    uint64_t since_us;
    uint32_t flows;
} bl_dev;

typedef struct {
    uint8_t ja3[16];
    uint8_t resumed; /* a resumption's ServerHello differs from a full one's: separate sets */
    uint8_t n;
    uint8_t seen; /* handshakes answered with a learned JA3S (saturates) */
    uint8_t ja3s[BL_MAX_JA3S][16];
    bl_dev dev; /* a JA3S answer off the baseline */
} bl_pair;

/* What a service's server stack has chosen for every client so far (full handshakes whose
 * answer was accepted): the reference for a client kind whose own answer is not learned yet.
 * Versions are one set; cipher families and extensions are kept apart for TLS 1.3 and for
 * earlier versions, whose ServerHellos carry different things. In memory only: after a restart
 * it is learned again. */
typedef struct {
    uint32_t flows;
    char chosen[BL_FAMILIES][32]; /* cipher families chosen ("ECDHE_RSA AES_GCM") */
    uint8_t nchosen;
    uint32_t offered[BL_OFFERED]; /* hashes of the families clients offered (this class) */
    uint8_t noffered;
    uint64_t ext_sent, ext_offered, ext_omitted; /* by slot: sent; offered; offered, not sent */
    uint64_t before[BL_EXT_SLOTS]; /* before[i] bit j: extension i was sent before j */
} bl_class;

typedef struct {
    uint32_t flows;
    uint16_t versions[4]; /* negotiated */
    uint8_t nversions;
    uint16_t max_offered;    /* the highest version any client offered */
    uint16_t by_offer[8][2]; /* (highest version offered, version negotiated) pairs seen */
    uint8_t nby_offer;
    bl_class cls[2]; /* [1] TLS 1.3, [0] earlier */
    bl_dev dev;      /* an answer off this reference, on its way to acceptance */
} bl_stack;

/* How one client kind's handshakes with a service end (tls.handshake_failures). In memory only. */
typedef struct {
    uint8_t ja3[16];
    uint32_t completed, failed; /* failed: since its last completed handshake */
} bl_kind;

#define BL_NIL UINT32_MAX /* no slot: the end of a recency list */

typedef struct {
    uint8_t used, ver;
    uint16_t port;
    uint8_t ip[16];
    uint8_t watched; /* named in the policy: never evicted for another service */
    uint32_t hash;
    uint32_t prev, next; /* its recency list (bl_state.recent[watched]), slot indices */
    uint32_t flows;
    uint8_t nhops[2];
    bool unstable[2];
    uint8_t hops[2][BL_MAX_HOPS];
    bl_dev dev[2]; /* a hop count off the baseline, on its way to acceptance */
    uint8_t npairs;
    bl_pair *pairs;
    bl_kind *kinds; /* BL_MAX_JA3 of them, allocated at the first ClientHello */
    uint8_t nkinds;
    bl_stack *stack;   /* allocated at the first full handshake with fingerprint strings */
    uint16_t tls_best; /* highest TLS version negotiated with a client offering it; 0 none */
} bl_svc;

/* The ports of one server as seen from one client: the same path, whatever the port. */
typedef struct {
    uint8_t used, ver;
    uint8_t client[16], server[16];
    uint8_t nports;
    uint16_t port[BL_PAIR_PORTS];
    uint8_t hop[BL_PAIR_PORTS][2];
    int16_t alerted[BL_PAIR_PORTS];
} bl_peer;

/* A traced (host, port) and the paths learned for it. */
typedef struct {
    char host[256];
    trace_pathset set;
} bl_trace;

/* The service table holds at most cfg.max_services services in fixed slots (svc), found through
 * an open-addressing index (slot + 1, 0 empty; linear probing, at most half full, backward-shift
 * deletion). When it is full, a new service takes the slot of the unwatched service seen least
 * recently (the tail of recent[0], O(1)); watched services (recent[1]) are never evicted, and
 * when every service is watched a new one is refused (counted). */
struct bl_state {
    bl_cfg cfg;
    bl_svc *svc;
    uint32_t *index;
    uint32_t index_mask, nsvc;
    uint32_t recent[2][2]; /* [watched][0 head: most recently seen, 1 tail], BL_NIL when empty */
    bl_counts counts;
    bl_peer *peers;
    uint32_t peer_mask;
    bl_trace *traces; /* in the order first put; grown as needed, at most BL_MAX_TRACES */
    uint32_t ntraces, traces_cap;
};

/* The service (server address, IP version, port), created when create is set and there is
 * room (see bl_state); NULL otherwise. A service found or created becomes the most recently
 * seen; watched marks it watched for good (a watched one stays watched). */
bl_svc *bl_svc_get(bl_state *b, const uint8_t ip[16], uint8_t ver, uint16_t port, bool create,
                   bool watched);
/* The learned or configured trace paths of (host, port), or NULL. */
bl_trace *bl_trace_find(const bl_state *b, const char *host, uint16_t port);

#endif
