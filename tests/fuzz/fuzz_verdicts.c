/* Fuzz target: the whole passive path, and every handshake it yields judged (rules/
 * rule_engine.c) and turned into alert events. Input format of fuzz_frames.h. The policy
 * watches every name under .lab.test and wants two SCTs, so the watched-name, name, chain and
 * SCT paths all run on whatever certificates the input carries; STARTTLS services on the usual ports judge the
 * plaintext sessions that never upgrade. */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frames.h"
#include "mw_hash.h"
#include "pol_cli.h"
#include "bl_baseline.h"
#include "ev_alert.h"
#include "rule_engine.h"

static mw_buf evbuf;

static void on_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                     void *user) {
    (void)user;
    ev_ctx ctx = {.observer = "fuzz"};
    if (!a->rule_id || !a->expected_json || !a->observed_json || a->severity < 1 ||
        a->severity > 4)
        abort();
    (void)ev_alert_verdict_build(&evbuf, &ctx, a, hs, f, cs, hs->ts_us, "0123");
}

static void on_plain_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                           void *user) {
    (void)user;
    ev_ctx ctx = {.observer = "fuzz"};
    if (hs || strcmp(a->rule_id, "tls.starttls_missing") != 0 || !a->protocol)
        abort();
    (void)ev_alert_verdict_build(&evbuf, &ctx, a, hs, f, cs, a->ts_us, NULL);
}

static void on_hs(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    rule_judge(user, hs, f, client_side, hs->ts_us, on_alert, NULL);
}

static void on_plain(const an_plain *p, const cap_flow *f, int client_side, void *user) {
    rule_judge_plaintext(user, p, f, client_side, on_plain_alert, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
    /* without nDPI: no rule reads its result, and starting it per input cost ~100 ms */
    /* small baselines of its own for each input, as the sensor attaches its baselines (the
     * engine's own table has 4096 services: 1 MiB to clear for each input) */
    bl_state *bl = bl_new(&(bl_cfg){.max_services = 16});
    if (!bl)
        abort();
    rule_engine_set_baselines(re, bl);
    an_engine *e = fuzz_frames_run(data, size, on_hs, on_plain, re, NULL);
    an_engine_free(e);
    /* OpenSSL's error queue keeps the errors of undecodable certificates (freed only when
     * later ones push them out): emptied so that no input's memory outlives it, or libFuzzer
     * takes the difference for a possible leak and runs LeakSanitizer over the heap */
    ERR_clear_error();
    /* every input judged alone: reproducible, and nothing an input allocated outlives it (a
     * heap that grew with each input made libFuzzer's leak check scan it after every one) */
    if (!rule_engine_forget(re))
        abort();
    rule_engine_set_baselines(re, NULL);
    bl_free(bl);
    return 0;
}
