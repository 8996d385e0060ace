/* Bounded TCP flow table.
 *
 * Flows live in one preallocated array (no allocation per flow or per packet). The index is an
 * open-addressing table of twice the capacity with linear probing and backward-shift deletion,
 * so it never rehashes and never fills with tombstones. Flows are kept in LRU order; a new flow
 * in a full table evicts the least recently seen one (counted), and idle flows time out in LRU
 * order as capture time advances. The key is symmetric: both directions find the same flow;
 * side 0 is the endpoint that sorts lower, and cap_pkt's direction is reported relative to it. */
#ifndef CAP_FLOW_H
#define CAP_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_decode.h"
#include "cap_reasm.h"

typedef struct {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan[2];
    uint8_t ip_ver;
    uint8_t pad[3];
    uint32_t ctx; /* tunnel context (cap_pkt.ctx): flows in different tunnels stay apart */
} cap_flow_key;

/* The flow table's hash of pkt's flow key: the same for both directions (the workers pick a
 * flow's owner from it). */
uint32_t cap_flow_pkt_hash(const cap_pkt *pkt);

enum cap_flow_end { CAP_END_CLOSED, CAP_END_TIMEOUT, CAP_END_EVICTED, CAP_END_SHUTDOWN };

typedef struct cap_flow {
    cap_flow_key key;
    uint64_t first_us, last_us;
    uint64_t pkts[2], bytes[2];
    uint32_t lru_prev, lru_next; /* indices; UINT32_MAX = none */
    uint32_t slot;               /* index-table slot, for O(1) removal */
    uint32_t hash;
    uint8_t in_use;
    uint8_t bypass;      /* handshake judged: no more reassembly, one lookup a packet */
    uint8_t client_side; /* which key side (0/1) is the client, by SYN or port heuristic */
    uint8_t syn_seen[2], fin_seen[2], rst_seen;
    uint8_t ttl[2];          /* last IP TTL / hop limit per side */
    uint16_t ttl_stable[2];  /* consecutive packets per side that carried ttl[side] */
    cap_stream stream[2];    /* indexed by sending side */
    uint64_t watch_until_us; /* bypassed: later copies are compared with the history until then */
    void *app;               /* analyzer state, owned by the flow callback's owner */
    uint8_t nencap;          /* the encapsulation the first packet came through, when tunneled */
    cap_encap encap[CAP_ENCAP_MAX];
} cap_flow;

typedef struct cap_flowtab cap_flowtab;

/* Called when a flow leaves the table for any reason, before its memory is reused. */
typedef void (*cap_flow_end_fn)(cap_flow *f, enum cap_flow_end why, void *user);

typedef struct {
    uint32_t max_flows;       /* capacity; 0 = default */
    uint64_t idle_timeout_us; /* 0 = default */
    cap_flow_end_fn on_end;
    void *user;
} cap_flowtab_cfg;

/* Two versions of the same bytes sent by side (cap_reasm.h), or NULL: what a rule needs to call
 * it an injection. Valid while the flow is (during the handshake and conflict callbacks). */
static inline const cap_conflict *cap_flow_conflict(const cap_flow *f, int side) {
    return f->stream[side].conflict;
}

cap_flowtab *cap_flowtab_new(const cap_flowtab_cfg *cfg, cap_stats *st);
void cap_flowtab_free(cap_flowtab *ft); /* ends every flow with CAP_END_SHUTDOWN */

/* Finds the flow of pkt, or creates it when create is set (a full table evicts its least
 * recently seen flow); *side is the sending side (0/1) relative to the key. Returns NULL when
 * absent and not created. Creating also times out idle flows. */
cap_flow *cap_flowtab_get(cap_flowtab *ft, const cap_pkt *pkt, int *side, bool create);
/* Ends every flow idle longer than the timeout at capture time now_us. */
void cap_flowtab_expire(cap_flowtab *ft, uint64_t now_us);
/* Ends a flow now (both sides closed). */
void cap_flowtab_end(cap_flowtab *ft, cap_flow *f, enum cap_flow_end why);
/* Ends every flow (end of input). */
void cap_flowtab_flush(cap_flowtab *ft);
/* The last capture time of the least recently seen flow (UINT64_MAX: none), and ending that
 * one flow (as cap_flowtab_flush does, one at a time): several tables flushed as one. */
uint64_t cap_flowtab_oldest_us(const cap_flowtab *ft);
bool cap_flowtab_end_oldest(cap_flowtab *ft);
uint32_t cap_flowtab_capacity(const cap_flowtab *ft);

#endif
