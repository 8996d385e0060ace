/* Fuzz target: the whole passive path, and every handshake it yields judged (rules/
 * rule_engine.c) and turned into alert events. Input format as fuzz_engine: byte 0 = link
 * type index, then frames {u16 length, bytes}, 1 ms apart. The policy watches every name
 * under .lab.test and wants two SCTs, so the watched-name, name, chain and SCT paths all run on
 * whatever certificates the input carries; STARTTLS services on the usual ports judge the
 * plaintext sessions that never upgrade. */
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "an_engine.h"
#include "mw_cursor.h"
#include "mw_hash.h"
#include "pol_cli.h"
#include "rule_engine.h"

static mw_buf evbuf;

static void on_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                     void *user) {
    (void)user;
    ev_ctx ctx = {.observer = "fuzz"};
    if (!a->rule_id || !a->expected_json || !a->observed_json || a->severity < 1 ||
        a->severity > 4)
        abort();
    (void)rule_alert_build(&evbuf, &ctx, a, hs, f, cs, hs->ts_us);
}

static void on_plain_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                           void *user) {
    (void)user;
    ev_ctx ctx = {.observer = "fuzz"};
    if (hs || strcmp(a->rule_id, "tls.starttls_missing") != 0 || !a->protocol)
        abort();
    (void)rule_alert_build(&evbuf, &ctx, a, hs, f, cs, a->ts_us);
}

static void on_hs(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    rule_judge(user, hs, f, client_side, hs->ts_us, on_alert, NULL);
}

static void on_plain(const an_plain *p, const cap_flow *f, int client_side, void *user) {
    rule_judge_plaintext(user, p, f, client_side, on_plain_alert, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW, DLT_NULL, DLT_LOOP, 228, 229};
    static pol_policy pol;
    static rule_engine *re;
    char err[256];
    mw_hash_init();
    if (!re) {
        pol_policy_init(&pol);
        if (!pol_cli_apply(&pol, "watch", ".lab.test", err, sizeof err) ||
            !pol_cli_apply(&pol, "min-scts", "2", err, sizeof err) ||
            !pol_cli_apply(&pol, "expect-issuer", "Test CA", err, sizeof err))
            abort();
        /* one STARTTLS service per protocol on its usual port (tls.starttls_missing); names
         * no handshake carries, so the certificate paths are unchanged */
        static const struct {
            const char *name, *proto;
            uint16_t port;
        } st[] = {
            {"xmpp.starttls.invalid", "xmpp", 5222}, {"smtp.starttls.invalid", "smtp", 25},
            {"sub.starttls.invalid", "smtp", 587},   {"imap.starttls.invalid", "imap", 143},
            {"pop3.starttls.invalid", "pop3", 110},  {"ftp.starttls.invalid", "ftp", 21},
            {"ldap.starttls.invalid", "ldap", 389},  {"pg.starttls.invalid", "postgres", 5432}};
        for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
            const char *what;
            if (!pol_add_watch(&pol, st[i].name, &what))
                abort();
            pol_service *sv = &pol.services[pol.nservices - 1];
            sv->starttls = strdup(st[i].proto);
            sv->ports[sv->nports++] = st[i].port;
        }
        pol.suppress_window = 0;
        re = rule_engine_new(&pol, err, sizeof err);
        if (!re)
            abort();
        mw_buf_init(&evbuf, 1 << 20);
    }
    mw_cur c = mw_cur_make(data, size);
    uint8_t li;
    if (!mw_cur_get_u8(&c, &li))
        return 0;
    an_engine_cfg cfg = {.max_flows = 8,
                         .idle_timeout_us = 50000,
                         .stream_max_bytes = 64 * 1024,
                         .reasm_max_bytes = 1 << 20,
                         .cert_cache_entries = 16,
                         .on_handshake = on_hs,
                         .on_plaintext = on_plain,
                         .user = re};
    an_engine *e = an_engine_new(&cfg);
    uint64_t ts = 1700000000000000ull;
    for (;;) {
        mw_cur frame;
        if (!mw_cur_get_u16_prefixed(&c, &frame))
            break;
        uint8_t *f = malloc(frame.len ? frame.len : 1);
        memcpy(f, frame.data, frame.len);
        an_engine_frame(e, dlts[li % (sizeof dlts / sizeof dlts[0])], ts, f,
                        (uint32_t)frame.len, (uint32_t)frame.len);
        free(f);
        ts += 1000;
    }
    an_engine_flush(e);
    an_engine_free(e);
    return 0;
}
