/* The verdict engine: its lifetime (what the policy makes it load, reload, caches), the
 * judgement of one handshake or plaintext session (the rule families in a fixed order:
 * rule_tls.c, rule_chain.c and rule_cert.c, rule_sct.c, rule_issuance.c), and the way out of
 * every alert: its evidence, duplicate suppression (rule_suppress.c) and the caller's
 * rule_alert_fn. */
#include "rule_engine.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bl_baseline.h"
#include "rule_catalog.h"
#include "rule_judge.h"

#define RE_VER_SERVICES 4096 /* servers whose best TLS version is remembered without --state */

/* ------------------------------------------------------------------ resources */

static void res_free(rule_res *r) {
    if (r->ctr.path) ct_reloader_free(&r->ctr);
    ct_snapshot_free(r->ct);
    store_known_free(r->store);
    X509_STORE_free(r->trust);
    rule_ctlogs_free(r->logs);
    memset(r, 0, sizeof *r);
}

static bool res_load(rule_res *r, const pol_policy *p, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    if (p->nknown_dirs) {
        r->store = store_known_load(p->known_dirs, p->nknown_dirs, err, errlen);
        if (!r->store) return false;
    }
    r->trust = X509_STORE_new();
    if (!r->trust) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < p->nca_files; i++) {
        if (X509_STORE_load_file(r->trust, p->ca_files[i]) != 1) {
            unsigned long e = ERR_peek_last_error();
            snprintf(err, errlen, "CA file %s: cannot load: %s", p->ca_files[i],
                     e ? ERR_reason_error_string(e) : "no certificates");
            ERR_clear_error();
            goto fail;
        }
    }
    /* The system bundle is loaded into memory once: the hashed-directory lookup that
     * X509_STORE_set_default_paths adds stats files on every verification that misses, which
     * for chains from private CAs is every one (5 s of system time on the benchmark). */
    if ((p->nca_files == 0 || p->system_trust) &&
        X509_STORE_load_file(r->trust, X509_get_default_cert_file()) != 1) {
        ERR_clear_error();
        X509_STORE_set_default_paths(r->trust);
    }
    if (p->ct_log_list) {
        r->logs = rule_ctlogs_load(p->ct_log_list, err, errlen);
        if (!r->logs) goto fail;
    }
    if (p->ctcache) {
        char why[256] = "";
        ct_reloader_init(&r->ctr, p->ctcache);
        r->ct = ct_reloader_check(&r->ctr, true, why, sizeof why);
        if (!r->ct) {
            snprintf(err, errlen, "ctcache %s: %s", p->ctcache, why[0] ? why : "cannot load");
            goto fail;
        }
    }
    return true;
fail:
    res_free(r);
    return false;
}

rule_engine *rule_engine_new(const pol_policy *p, char *err, size_t errlen) {
    rule_engine *re = calloc(1, sizeof *re);
    if (!re) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->sup = rule_suppress_new();
    re->own_ver = bl_new(&(bl_cfg){.max_services = RE_VER_SERVICES});
    re->ver = re->own_ver;
    re->chains = rule_chain_cache_new();
    re->scts = rule_sct_cache_new();
    if (!re->sup || !re->ver || !re->chains || !re->scts) {
        snprintf(err, errlen, "out of memory");
        rule_engine_free(re);
        return NULL;
    }
    mw_buf_init(&re->exp, RULE_EVIDENCE_MAX);
    mw_buf_init(&re->obs, RULE_EVIDENCE_MAX);
    if (!res_load(&re->r, p, err, errlen)) {
        rule_engine_free(re);
        return NULL;
    }
    re->p = p;
    re->st.store_certs = re->r.store ? store_known_stats(re->r.store)->certs : 0;
    return re;
}

/* New anchors or a new log list: verdicts made under the old ones no longer hold. */
static void caches_clear(rule_engine *re) {
    rule_chain_cache_clear(re->chains);
    rule_sct_cache_clear(re->scts);
}

bool rule_engine_reload(rule_engine *re, const pol_policy *p, char *err, size_t errlen) {
    rule_res nr;
    if (!res_load(&nr, p, err, errlen)) return false;
    caches_clear(re);
    res_free(&re->r);
    re->r = nr;
    re->p = p;
    re->st.store_certs = re->r.store ? store_known_stats(re->r.store)->certs : 0;
    return true;
}

void rule_engine_free(rule_engine *re) {
    if (!re) return;
    res_free(&re->r);
    rule_chain_cache_free(re->chains);
    rule_sct_cache_free(re->scts);
    rule_suppress_free(re->sup);
    bl_free(re->own_ver);
    mw_buf_free(&re->exp);
    mw_buf_free(&re->obs);
    free(re);
}

void rule_engine_set_baselines(rule_engine *re, bl_state *bl) {
    re->ver = bl ? bl : re->own_ver;
}

const rule_stats *rule_engine_stats(const rule_engine *re) {
    return &re->st;
}

int rule_engine_known(const rule_engine *re, const uint8_t sha256[32], const uint8_t tbs[32]) {
    if (!re || !re->r.store) return -1;
    return store_known_lookup(re->r.store, sha256, tbs) ? 1 : 0;
}

const char *rule_engine_log_name(const uint8_t *log_id, size_t len, void *user) {
    const rule_engine *re = user;
    return re ? rule_ctlogs_description(re->r.logs, log_id, len) : NULL;
}

/* ------------------------------------------------------------------ judging context */

static void ctx_init(rule_ctx *jd, rule_engine *re, const tls_hs *hs, const cap_flow *f,
                     int client_side, uint64_t ts_us, rule_alert_fn fn, void *user) {
    memset(jd, 0, sizeof *jd);
    jd->re = re;
    jd->p = re->p;
    jd->hs = hs;
    jd->f = f;
    jd->client_side = client_side;
    jd->ts_us = ts_us;
    jd->now = (int64_t)(ts_us / 1000000u);
    jd->fn = fn;
    jd->user = user;
}

void rule_server_addr(const rule_ctx *jd, char *out, size_t outlen) {
    const cap_flow *f = jd->f;
    int ss = !jd->client_side;
    char ip[INET6_ADDRSTRLEN] = "";
    inet_ntop(f->key.ip_ver == 4 ? AF_INET : AF_INET6, f->key.addr[ss], ip, sizeof ip);
    snprintf(out, outlen, f->key.ip_ver == 4 ? "%s:%u" : "[%s]:%u", ip, f->key.port[ss]);
}

bool rule_svc_addr_match(const pol_service *s, const cap_flow *f, int ss) {
    if (s->nports) {
        size_t k;
        for (k = 0; k < s->nports && s->ports[k] != f->key.port[ss]; k++)
            ;
        if (k == s->nports) return false;
    }
    if (s->nips) {
        size_t k;
        size_t alen = f->key.ip_ver == 4 ? 4 : 16;
        for (k = 0; k < s->nips; k++)
            if (s->ips[k].ver == f->key.ip_ver && memcmp(s->ips[k].ip, f->key.addr[ss], alen) == 0)
                break;
        if (k == s->nips) return false;
    }
    return true;
}

static const pol_service *match_service(const rule_ctx *jd) {
    const pol_policy *p = jd->p;
    const cap_flow *f = jd->f;
    int ss = !jd->client_side;
    const char *sni = jd->hs->have_ch ? jd->hs->sni : NULL;
    for (size_t i = 0; i < p->nservices; i++) {
        const pol_service *s = &p->services[i];
        if (!rule_svc_addr_match(s, f, ss)) continue;
        if (sni) {
            if (pol_name_match(&s->name, sni)) return s;
        } else if (s->nips) {
            return s; /* no SNI: the service's own address identifies it */
        }
    }
    return NULL;
}

void rule_evidence_begin(rule_ctx *jd) {
    rule_engine *re = jd->re;
    mw_buf_reset(&re->exp);
    mw_buf_reset(&re->obs);
    mw_json_init(&jd->je, &re->exp);
    mw_json_init(&jd->jo, &re->obs);
    mw_json_obj_begin(&jd->je);
    mw_json_obj_begin(&jd->jo);
}

/* rule.name comes from the one catalogue (rule_catalog_name), as for every other alert. */
void rule_emit(rule_ctx *jd, const char *rule_id, int severity, const char *fmt, ...) {
    rule_engine *re = jd->re;
    mw_json_obj_end(&jd->je);
    mw_json_obj_end(&jd->jo);
    bool ok = jd->je.ok && jd->jo.ok && mw_buf_putc(&re->exp, '\0') && mw_buf_putc(&re->obs, '\0');
    rule_alert a;
    memset(&a, 0, sizeof a);
    if (!rule_suppress_pass(re->sup, jd->p->suppress_window, rule_id, jd->svc_key,
                            jd->leaf ? jd->leaf->sha256 : NULL, jd->ts_us, &a.suppressed)) {
        re->st.suppressed++;
        return;
    }
    a.rule_id = rule_id;
    a.name = rule_catalog_name(rule_id);
    a.severity = severity;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a.message, sizeof a.message, fmt, ap);
    va_end(ap);
    static char truncated[] = "{\"truncated\":true}";
    a.expected_json = ok ? (char *)re->exp.data : truncated;
    a.observed_json = ok ? (char *)re->obs.data : truncated;
    a.service = jd->svc ? jd->svc->label : NULL;
    a.protocol = jd->protocol;
    a.ts_us = jd->ts_us;
    re->st.alerts++;
    jd->fn(&a, jd->hs, jd->f, jd->client_side, jd->user);
}

/* ------------------------------------------------------------------ entries */

void rule_judge_plaintext(rule_engine *re, const an_plain *pl, const cap_flow *f, int client_side,
                          rule_alert_fn fn, void *user) {
    rule_ctx jd;
    ctx_init(&jd, re, NULL, f, client_side, pl->ts_us, fn, user);
    rule_tls_starttls(&jd, pl);
}

void rule_judge(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                uint64_t ts_us, rule_alert_fn fn, void *user) {
    rule_ctx jd;
    ctx_init(&jd, re, hs, f, client_side, ts_us, fn, user);
    re->st.judged++;
    jd.svc = match_service(&jd);
    jd.watched = jd.svc != NULL || jd.p->nservices == 0;
    const char *sni = hs->have_ch ? hs->sni : NULL;
    jd.host =
        sni ? sni : (jd.svc && jd.svc->name.kind == POL_NAME_EXACT ? jd.svc->name.name : NULL);
    if (jd.svc)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", jd.svc->label);
    else if (sni)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", sni);
    else
        rule_server_addr(&jd, jd.svc_key, sizeof jd.svc_key);

    rule_tls_cipher(&jd);
    rule_tls_version(&jd);
    if (hs->nchain == 0 || !hs->chain[0])
        return; /* TLS 1.3 or resumption: the certificate is not on the wire */
    jd.leaf = hs->chain[0];
    jd.leaf_x = x509_info_x509(jd.leaf);
    if (!jd.leaf_x)
        return; /* OpenSSL cannot decode what the walk accepted: nothing it could validate */

    rule_cert_facts cf;
    rule_chain_validate(&jd, &cf);
    rule_cert_known(&jd, &cf);
    rule_cert_issuer(&jd, &cf);
    rule_cert_pins(&jd, &cf);
    rule_cert_dates(&jd);
    rule_cert_name(&jd);
    rule_cert_self_and_chain(&jd, &cf);
    rule_sct_check(&jd, &cf);
    rule_sct_not_in_ct(&jd);
    rule_issuance(&jd, &cf);
    rule_chain_done(&jd, &cf);
}
