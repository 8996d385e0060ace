/* capture/cap_flow: symmetric lookup, capacity eviction in LRU order, idle timeout, and index
 * consistency under heavy insert/remove churn (backward-shift deletion). And what a flow tells
 * the rules about injected copies (cap_flow_conflict, an_engine_cfg.on_conflict), run through
 * the engine on the committed injection captures (tests/pcap/make_evasion.py). */
#include <stdio.h>
#include <stdlib.h>

#include "an_engine.h"
#include "cap_flow.h"
#include "cap_source.h"
#include "mw_hash.h"
#include "mw_test.h"

static int ended[4];
static void on_end(cap_flow *f, enum cap_flow_end why, void *user) {
    (void)f;
    (void)user;
    ended[why]++;
}

static cap_pkt pkt(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint64_t ts) {
    cap_pkt p;
    memset(&p, 0, sizeof p);
    p.ip_ver = 4;
    memcpy(p.src, &src, 4);
    memcpy(p.dst, &dst, 4);
    p.sport = sp;
    p.dport = dp;
    p.ts_us = ts;
    p.tcp_flags = CAP_TH_SYN;
    return p;
}

/* ---- the engine on a capture: what on_handshake and on_conflict see ---- */

typedef struct {
    int handshakes, conflicts;
    bool hs_conflict[2];   /* cap_flow_conflict(f, side) != NULL during on_handshake */
    int server_side;       /* of the handshake */
    cap_conflict at_hs[2]; /* copies of what on_handshake saw */
    cap_conflict late;     /* what on_conflict saw */
    int late_side;
    char leaf[65];
} seen;

static void on_hs(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    seen *w = user;
    w->handshakes++;
    w->server_side = !client_side;
    for (int side = 0; side < 2; side++) {
        const cap_conflict *c = cap_flow_conflict(f, side);
        w->hs_conflict[side] = c != NULL;
        if (c)
            w->at_hs[side] = *c;
    }
    if (hs->nchain > 0) {
        for (int i = 0; i < 32; i++)
            snprintf(w->leaf + 2 * i, 3, "%02x", hs->chain[0]->sha256[i]);
    }
}

static void on_cf(const cap_conflict *c, const cap_flow *f, int side, int client_side, void *user) {
    seen *w = user;
    (void)f;
    w->conflicts++;
    w->late = *c;
    w->late_side = side;
    CHECK_EQ_U(side, !client_side);
}

static void on_frame(void *user, int dlt, uint64_t ts, const uint8_t *d, uint32_t caplen,
                     uint32_t wire) {
    an_engine_frame(user, dlt, ts, d, caplen, wire);
}

/* Runs the engine over tests/pcap/cases/NAME.pcap (found from this file's path). */
static cap_stats run_case(const char *name, seen *w) {
    char path[1024], err[256];
    const char *me = __FILE__, *cut = strstr(me, "tests/unit/");
    snprintf(path, sizeof path, "%.*stests/pcap/cases/%s.pcap", cut ? (int)(cut - me) : 0, me,
             name);
    memset(w, 0, sizeof *w);
    cap_stats none;
    memset(&none, 0, sizeof none);
    an_engine_cfg cfg = {.no_ndpi = true, .on_handshake = on_hs, .on_conflict = on_cf, .user = w};
    an_engine *e = an_engine_new(&cfg);
    cap_source src;
    if (!e || !cap_source_open_file(&src, path, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", path, e ? err : "no engine");
        CHECK(false);
        an_engine_free(e);
        return none;
    }
    while (cap_source_dispatch(&src, 0, on_frame, e, err, sizeof err) > 0)
        ;
    cap_source_close(&src);
    an_engine_flush(e);
    cap_stats st = *an_engine_cap_stats(e);
    an_engine_free(e);
    return st;
}

#define KNOWN_LEAF "8a20862f412cdab7ccba28b84e8b4f39b0c3a241d6641ab02e6797133955d83e"
#define ROGUE_LEAF "8bdd672cd694fc70e610d89c1660874869cb716cb6cdd011b9576b1c81ca46a4"

static void engine_tests(void) {
    seen w;
    cap_stats st;
    mw_hash_init();

    /* the clean seed: no conflict anywhere */
    st = run_case("seed_tls12", &w);
    CHECK_EQ_U(w.handshakes, 1);
    CHECK(!w.hs_conflict[0] && !w.hs_conflict[1]);
    CHECK_EQ_U(w.conflicts, 0);
    CHECK_STR(w.leaf, KNOWN_LEAF);

    /* the bad-checksum copy never reaches the flow: the rogue leaf, no conflict */
    st = run_case("evasion_badsum", &w);
    CHECK_EQ_U(w.handshakes, 1);
    CHECK_STR(w.leaf, ROGUE_LEAF);
    CHECK(!w.hs_conflict[0] && !w.hs_conflict[1]);
    CHECK_EQ_U(st.an[CAP_AN_tcp_bad_checksum], 1);
    CHECK_EQ_U(st.csum.state, CAP_CSUM_SAMPLING);

    /* injected first (TTL 60), real flight later (TTL 64): the handshake carries the known leaf
     * and, on the server's side, the conflict: the leaf's signature bytes (stream offset 628)
     * are in the second 512-byte block, compared whole */
    st = run_case("inject_ttl", &w);
    CHECK_EQ_U(w.handshakes, 1);
    CHECK_STR(w.leaf, KNOWN_LEAF);
    CHECK(w.hs_conflict[w.server_side] && !w.hs_conflict[!w.server_side]);
    const cap_conflict *c = &w.at_hs[w.server_side];
    CHECK_EQ_U(c->count, 1);
    CHECK_EQ_U(c->offset, 512);
    CHECK_EQ_U(c->len, 512);
    CHECK_EQ_U(c->first_ttl, 60);
    CHECK_EQ_U(c->later_ttl, 64);
    CHECK(c->consumed);
    CHECK(memcmp(c->first_sha256, c->later_sha256, 32) != 0);
    CHECK_EQ_U(w.conflicts, 0);
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 1);

    /* the injected flight ends with a forged fatal alert: the verdict comes first, without a
     * conflict; the real flight is compared while the flow is watched and reported through
     * on_conflict, once */
    st = run_case("inject_alert", &w);
    CHECK_EQ_U(w.handshakes, 1);
    CHECK(!w.hs_conflict[0] && !w.hs_conflict[1]);
    CHECK_EQ_U(w.conflicts, 1);
    CHECK_EQ_U(w.late_side, w.server_side);
    CHECK_EQ_U(w.late.count, 1);
    CHECK_EQ_U(w.late.offset, 512);
    CHECK_EQ_U(w.late.first_ttl, 60);
    CHECK_EQ_U(w.late.later_ttl, 64);
    CHECK(w.late.consumed);
    CHECK_EQ_U(st.an[CAP_AN_tcp_consumed_mismatch], 2);
    CHECK_EQ_U(st.reasm_bytes_in_use, 0);
    mw_hash_cleanup();
}

int main(void) {
    cap_stats st;
    memset(&st, 0, sizeof st);
    cap_flowtab_cfg cfg = {.max_flows = 4, .idle_timeout_us = 1000, .on_end = on_end};
    cap_flowtab *ft = cap_flowtab_new(&cfg, &st);
    int side_a, side_b;
    cap_pkt a = pkt(0x0100000a, 0x0200000a, 40000, 443, 1);
    cap_pkt b = pkt(0x0200000a, 0x0100000a, 443, 40000, 2);
    b.tcp_flags = CAP_TH_SYN | CAP_TH_ACK;
    cap_flow *fa = cap_flowtab_get(ft, &a, &side_a, true);
    cap_flow *fb = cap_flowtab_get(ft, &b, &side_b, true);
    CHECK(fa != NULL && fa == fb);
    CHECK(side_a != side_b);
    CHECK_EQ_U(fa->client_side, side_a); /* the SYN's sender */
    CHECK_EQ_U(st.flows_created, 1);
    /* Lookup without create does not add flows. */
    cap_pkt c = pkt(0x0300000a, 0x0200000a, 1, 2, 3);
    CHECK(cap_flowtab_get(ft, &c, &side_a, false) == NULL);
    CHECK_EQ_U(st.flows_active, 1);
    /* Fill to capacity, then one more evicts the least recently seen (the first flow, unless
     * touched). Touch the first flow so the second becomes the oldest. */
    for (uint16_t i = 0; i < 3; i++) {
        cap_pkt p = pkt(0x0100000a, 0x0200000a, (uint16_t)(50000 + i), 443, 10 + i);
        CHECK(cap_flowtab_get(ft, &p, &side_a, true) != NULL);
    }
    a.ts_us = 20;
    CHECK(cap_flowtab_get(ft, &a, &side_a, false) == fa);
    cap_pkt n = pkt(0x0100000a, 0x0200000a, 60000, 443, 21);
    CHECK(cap_flowtab_get(ft, &n, &side_a, true) != NULL);
    CHECK_EQ_U(st.flows_evicted, 1);
    CHECK_EQ_U(ended[CAP_END_EVICTED], 1);
    CHECK(cap_flowtab_get(ft, &a, &side_a, false) == fa); /* survived: it was fresh */
    cap_pkt old = pkt(0x0100000a, 0x0200000a, 50000, 443, 22);
    CHECK(cap_flowtab_get(ft, &old, &side_a, false) == NULL); /* the evicted one */
    /* Idle timeout: everything older than 1000 us goes when time moves on. */
    cap_flowtab_expire(ft, 5000);
    CHECK_EQ_U(st.flows_active, 0);
    CHECK_EQ_U(st.flows_timed_out, 4);
    cap_flowtab_free(ft);

    /* Churn: 20000 random flows in a 1024-flow table with random ends; every live flow must
     * stay findable (a broken backward shift loses entries). */
    memset(&st, 0, sizeof st);
    cap_flowtab_cfg big = {.max_flows = 1024, .idle_timeout_us = UINT64_MAX / 4};
    ft = cap_flowtab_new(&big, &st);
    uint32_t live[1024];
    int nlive = 0, lost = 0;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint32_t id = (uint32_t)rand();
        cap_pkt p = pkt(id, 0x0200000a, (uint16_t)id, 443, 100);
        if (nlive == 1024 || (nlive > 0 && rand() % 3 == 0)) {
            int k = rand() % nlive;
            cap_pkt q = pkt(live[k], 0x0200000a, (uint16_t)live[k], 443, 100);
            cap_flow *f = cap_flowtab_get(ft, &q, &side_a, false);
            if (!f)
                lost++;
            else
                cap_flowtab_end(ft, f, CAP_END_CLOSED);
            live[k] = live[--nlive];
        }
        if (cap_flowtab_get(ft, &p, &side_a, false))
            continue; /* duplicate id */
        CHECK_EQ_U(st.flows_evicted, 0);
        cap_flowtab_get(ft, &p, &side_a, true);
        live[nlive++] = id;
    }
    for (int k = 0; k < nlive; k++) {
        cap_pkt q = pkt(live[k], 0x0200000a, (uint16_t)live[k], 443, 100);
        if (!cap_flowtab_get(ft, &q, &side_a, false))
            lost++;
    }
    CHECK_EQ_U(lost, 0);
    CHECK_EQ_U(st.flows_active, (uint64_t)nlive);
    cap_flowtab_free(ft);

    engine_tests();
    MW_TEST_END();
}
