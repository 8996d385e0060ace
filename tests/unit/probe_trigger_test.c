/* probes/probe_trigger.c: which handshakes trigger a certificate fetch, what the fetch asks
 * for, and the per-service rate limit. */
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"
#include "probe_trigger.h"

#define S 1000000u

static cap_flow flow(uint8_t last_octet, uint16_t cport, uint16_t sport) {
    cap_flow f;
    memset(&f, 0, sizeof f);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], (const uint8_t[]){192, 0, 2, 2}, 4);
    memcpy(f.key.addr[1], (const uint8_t[]){203, 0, 113, last_octet}, 4);
    f.key.port[0] = cport;
    f.key.port[1] = sport;
    return f;
}

int main(void) {
    char sni[] = "xmpp.lab.test";
    tls_hs hs;
    memset(&hs, 0, sizeof hs);
    hs.have_ch = hs.have_sh = true;
    hs.sni = sni;
    hs.version = 0x0304;
    rule_verdict v = {.n = 0};
    rule_verdict_add(&v, "cert.unknown");

    /* The reasons: TLS 1.3 without a certificate, and a changed JA3S or path. */
    CHECK(ptrig_reason(&hs, &v) == NULL);
    rule_verdict_add(&v, "path.ttl_changed");
    CHECK_STR(ptrig_reason(&hs, &v), "path.ttl_changed");
    rule_verdict_add(&v, "tls.ja3s_changed");
    CHECK_STR(ptrig_reason(&hs, &v), "tls.ja3s_changed");
    hs.version = 0x0303; /* TLS 1.2 shows its certificate on the wire */
    CHECK(ptrig_reason(&hs, &v) == NULL);
    hs.version = 0x0304;
    hs.have_sh = false;
    CHECK(ptrig_reason(&hs, &v) == NULL);
    hs.have_sh = true;

    pol_service svc;
    memset(&svc, 0, sizeof svc);
    char label[] = "xmpp.lab.test", name[] = "xmpp.lab.test", st[] = "xmpp";
    svc.label = label;
    svc.name.kind = POL_NAME_EXACT;
    svc.name.name = name;
    svc.starttls = st;

    ptrig *t = ptrig_new(300 * S);
    CHECK(t != NULL);
    ps_trigger_req req;
    cap_flow f = flow(2, 40000, 5222);
    /* Not a watched service: nothing. */
    CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, NULL, "id1", 10 * S, &req), PTRIG_NONE);
    /* The first: a fetch of the server side, with the client's SNI and the service's STARTTLS,
     * linked to the handshake. */
    CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, &svc, "id1", 10 * S, &req), PTRIG_FETCH);
    CHECK_STR(req.host, "203.0.113.2");
    CHECK_EQ_U(req.port, 5222);
    CHECK_STR(req.sni, "xmpp.lab.test");
    CHECK_EQ_U(req.starttls, PCERT_STARTTLS_XMPP);
    CHECK_STR(req.trig.handshake_id, "id1");
    CHECK_STR(req.trig.rule_id, "tls.ja3s_changed");
    CHECK_STR(req.trig.service, "xmpp.lab.test");
    CHECK_STR(req.trig.client_ip, "192.0.2.2");
    CHECK_EQ_U(req.trig.client_port, 40000);
    CHECK_STR(req.trig.server_ip, "203.0.113.2");
    CHECK_EQ_U(req.trig.server_port, 5222);
    CHECK(strncmp(req.trig.community_id, "1:", 2) == 0);
    /* Within the interval, the same service (another address of it too): rate-limited. */
    CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, &svc, "id2", 100 * S, &req), PTRIG_LIMITED);
    cap_flow g = flow(3, 40001, 5222);
    CHECK_EQ_U(ptrig_decide(t, &hs, &g, 0, &v, &svc, "id3", 200 * S, &req), PTRIG_LIMITED);
    /* Another port of the service is another limit. Client on key side 1, no SNI: the
     * service's exact name. */
    cap_flow h = flow(2, 443, 40002); /* key side 1 (203.0.113.2:40002)... */
    hs.sni = NULL;
    CHECK_EQ_U(ptrig_decide(t, &hs, &h, 1, &v, &svc, "id4", 200 * S, &req), PTRIG_FETCH);
    CHECK_STR(req.host, "192.0.2.2");
    CHECK_EQ_U(req.port, 443);
    CHECK_STR(req.sni, "xmpp.lab.test");
    /* After the interval: again. */
    hs.sni = sni;
    CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, &svc, "id5", 310 * S, &req), PTRIG_FETCH);
    CHECK_STR(req.trig.handshake_id, "id5");
    const ev_trigger_stats *st2 = ptrig_stats(t);
    CHECK_EQ_U(st2->triggered, 3);
    CHECK_EQ_U(st2->rate_limited, 2);
    CHECK_EQ_U(st2->dropped, 0);
    ptrig_free(t);

    /* A full table of recent services: the next new one waits; a stale slot is reused. */
    t = ptrig_new(300 * S);
    char labels[PTRIG_MAX_SERVICES + 1][16];
    for (int i = 0; i <= PTRIG_MAX_SERVICES; i++) {
        snprintf(labels[i], sizeof labels[i], "svc%d", i);
        svc.label = labels[i];
        ptrig_decision want = i < PTRIG_MAX_SERVICES ? PTRIG_FETCH : PTRIG_LIMITED;
        CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, &svc, "x", 10 * S, &req), want);
    }
    CHECK_EQ_U(ptrig_decide(t, &hs, &f, 0, &v, &svc, "x", 400 * S, &req), PTRIG_FETCH);
    ptrig_free(t);
    MW_TEST_END();
}
