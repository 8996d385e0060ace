/* capture/cap_flow: symmetric lookup, capacity eviction in LRU order, idle timeout, and index
 * consistency under heavy insert/remove churn (backward-shift deletion). */
#include <stdlib.h>

#include "cap_flow.h"
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
    MW_TEST_END();
}
