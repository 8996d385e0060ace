#include "cap_flow.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define DEFAULT_MAX_FLOWS (1u << 17)
#define DEFAULT_IDLE_US (120ull * 1000000)

struct cap_flowtab {
    cap_flowtab_cfg cfg;
    cap_stats *st;
    cap_flow *flows;
    uint32_t *index; /* slot -> flow index + 1; 0 = empty */
    uint32_t index_mask;
    uint32_t free_head; /* free list threaded through lru_next */
    uint32_t fresh;     /* flows[fresh..max_flows) were never used: their pages are untouched
                         * (calloc), so memory grows with the flows seen, not the cap */
    uint32_t lru_head, lru_tail;
};

/* 64-bit multiply-mix over the key words; the key is normalized, so both directions agree. */
static uint32_t key_hash(const cap_flow_key *k) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i + 8 <= sizeof *k; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return (uint32_t)(h ^ (h >> 29));
}

/* Fills the normalized key and returns which key side sent pkt. */
static int make_key(const cap_pkt *pkt, cap_flow_key *k) {
    size_t alen = pkt->ip_ver == 4 ? 4 : 16;
    int c = memcmp(pkt->src, pkt->dst, alen);
    int side = (c > 0 || (c == 0 && pkt->sport > pkt->dport)) ? 1 : 0;
    memset(k, 0, sizeof *k);
    memcpy(k->addr[side], pkt->src, 16);
    memcpy(k->addr[!side], pkt->dst, 16);
    k->port[side] = pkt->sport;
    k->port[!side] = pkt->dport;
    k->vlan[0] = pkt->vlan[0];
    k->vlan[1] = pkt->vlan[1];
    k->ip_ver = pkt->ip_ver;
    k->ctx = pkt->ctx;
    return side;
}

uint32_t cap_flow_pkt_hash(const cap_pkt *pkt) {
    cap_flow_key k;
    make_key(pkt, &k);
    return key_hash(&k);
}

cap_flowtab *cap_flowtab_new(const cap_flowtab_cfg *cfg, cap_stats *st) {
    cap_flowtab *ft = calloc(1, sizeof *ft);
    if (!ft) return NULL;
    ft->cfg = *cfg;
    if (ft->cfg.max_flows == 0) ft->cfg.max_flows = DEFAULT_MAX_FLOWS;
    if (ft->cfg.idle_timeout_us == 0) ft->cfg.idle_timeout_us = DEFAULT_IDLE_US;
    ft->st = st;
    uint32_t slots = 16;
    while (slots < ft->cfg.max_flows * 2u)
        slots <<= 1;
    ft->flows = calloc(ft->cfg.max_flows, sizeof *ft->flows);
    ft->index = calloc(slots, sizeof *ft->index);
    if (!ft->flows || !ft->index) {
        free(ft->flows);
        free(ft->index);
        free(ft);
        return NULL;
    }
    ft->index_mask = slots - 1;
    ft->free_head = NONE;
    ft->fresh = 0;
    ft->lru_head = ft->lru_tail = NONE;
    return ft;
}

uint32_t cap_flowtab_capacity(const cap_flowtab *ft) {
    return ft->cfg.max_flows;
}

static void lru_unlink(cap_flowtab *ft, cap_flow *f) {
    if (f->lru_prev != NONE)
        ft->flows[f->lru_prev].lru_next = f->lru_next;
    else
        ft->lru_head = f->lru_next;
    if (f->lru_next != NONE)
        ft->flows[f->lru_next].lru_prev = f->lru_prev;
    else
        ft->lru_tail = f->lru_prev;
}

static void lru_append(cap_flowtab *ft, cap_flow *f) {
    uint32_t i = (uint32_t)(f - ft->flows);
    f->lru_prev = ft->lru_tail;
    f->lru_next = NONE;
    if (ft->lru_tail != NONE)
        ft->flows[ft->lru_tail].lru_next = i;
    else
        ft->lru_head = i;
    ft->lru_tail = i;
}

/* Backward-shift deletion (Knuth 6.4 algorithm R): no tombstones, probe chains stay short. */
static void index_delete(cap_flowtab *ft, uint32_t slot) {
    uint32_t m = ft->index_mask, hole = slot, j = slot;
    for (;;) {
        j = (j + 1) & m;
        uint32_t e = ft->index[j];
        if (e == 0) break;
        uint32_t home = ft->flows[e - 1].hash & m;
        /* Move e into the hole unless its home lies cyclically in (hole, j]. */
        if (((j - home) & m) >= ((j - hole) & m)) {
            ft->index[hole] = e;
            ft->flows[e - 1].slot = hole;
            hole = j;
        }
    }
    ft->index[hole] = 0;
}

void cap_flowtab_end(cap_flowtab *ft, cap_flow *f, enum cap_flow_end why) {
    if (!f->in_use) return;
    if (ft->cfg.on_end) ft->cfg.on_end(f, why, ft->cfg.user);
    switch (why) {
    case CAP_END_CLOSED:
        ft->st->flows_closed++;
        break;
    case CAP_END_TIMEOUT:
        ft->st->flows_timed_out++;
        break;
    case CAP_END_EVICTED:
        ft->st->flows_evicted++;
        break;
    case CAP_END_SHUTDOWN:
        break;
    }
    index_delete(ft, f->slot);
    lru_unlink(ft, f);
    f->in_use = 0;
    f->lru_next = ft->free_head;
    ft->free_head = (uint32_t)(f - ft->flows);
    ft->st->flows_active--;
}

void cap_flowtab_expire(cap_flowtab *ft, uint64_t now_us) {
    while (ft->lru_head != NONE) {
        cap_flow *f = &ft->flows[ft->lru_head];
        if (now_us < f->last_us + ft->cfg.idle_timeout_us)
            break; /* LRU order is last-seen order: the rest are fresher */
        cap_flowtab_end(ft, f, CAP_END_TIMEOUT);
    }
}

cap_flow *cap_flowtab_get(cap_flowtab *ft, const cap_pkt *pkt, int *side, bool create) {
    cap_flow_key k;
    *side = make_key(pkt, &k);
    uint32_t h = key_hash(&k), m = ft->index_mask;
    for (uint32_t s = h & m;; s = (s + 1) & m) {
        uint32_t e = ft->index[s];
        if (e == 0) break;
        cap_flow *f = &ft->flows[e - 1];
        if (f->hash == h && memcmp(&f->key, &k, sizeof k) == 0) {
            f->last_us = pkt->ts_us;
            lru_unlink(ft, f);
            lru_append(ft, f);
            return f;
        }
    }
    if (!create || ft->cfg.max_flows == 0) return NULL;
    /* a released slot first (still in cache), then one never used, then the stalest flow's */
    if (ft->free_head == NONE && ft->fresh < ft->cfg.max_flows) {
        ft->flows[ft->fresh].lru_next = NONE;
        ft->free_head = ft->fresh++;
    }
    if (ft->free_head == NONE) cap_flowtab_end(ft, &ft->flows[ft->lru_head], CAP_END_EVICTED);
    uint32_t i = ft->free_head;
    cap_flow *f = &ft->flows[i];
    ft->free_head = f->lru_next;
    memset(f, 0, sizeof *f);
    f->key = k;
    f->hash = h;
    f->in_use = 1;
    f->first_us = f->last_us = pkt->ts_us;
    if (pkt->tunneled) {
        f->nencap = pkt->nencap;
        memcpy(f->encap, pkt->encap, sizeof f->encap);
    }
    cap_stream_init(&f->stream[0]);
    cap_stream_init(&f->stream[1]);
    /* Client by SYN when seen, else the higher port is the client's (ephemeral) port. */
    if ((pkt->tcp_flags & (CAP_TH_SYN | CAP_TH_ACK)) == CAP_TH_SYN)
        f->client_side = (uint8_t)*side;
    else if ((pkt->tcp_flags & (CAP_TH_SYN | CAP_TH_ACK)) == (CAP_TH_SYN | CAP_TH_ACK))
        f->client_side = (uint8_t) !*side;
    else
        f->client_side = k.port[0] > k.port[1] ? 0 : 1;
    uint32_t s = h & m;
    while (ft->index[s] != 0)
        s = (s + 1) & m;
    ft->index[s] = i + 1;
    f->slot = s;
    lru_append(ft, f);
    ft->st->flows_created++;
    ft->st->flows_active++;
    /* Idle flows are reaped as time moves on: the LRU head is the stalest. */
    cap_flowtab_expire(ft, pkt->ts_us);
    return f->in_use ? f : NULL;
}

uint64_t cap_flowtab_oldest_us(const cap_flowtab *ft) {
    return ft->lru_head == NONE ? UINT64_MAX : ft->flows[ft->lru_head].last_us;
}

bool cap_flowtab_end_oldest(cap_flowtab *ft) {
    if (ft->lru_head == NONE) return false;
    cap_flowtab_end(ft, &ft->flows[ft->lru_head], CAP_END_SHUTDOWN);
    return true;
}

void cap_flowtab_flush(cap_flowtab *ft) {
    while (cap_flowtab_end_oldest(ft))
        ;
}

void cap_flowtab_free(cap_flowtab *ft) {
    if (!ft) return;
    cap_flowtab_flush(ft);
    free(ft->flows);
    free(ft->index);
    free(ft);
}
