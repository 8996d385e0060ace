/* The verdict engine: its lifetime (what the policy makes it load, reload, caches), the
 * judgement of one handshake or plaintext session (the rule families in a fixed order:
 * rule_tls.c, rule_chain.c and rule_cert.c, rule_sct.c, rule_issuance.c), and the way out of
 * every alert: its evidence, duplicate suppression (rule_suppress.c) and the caller's
 * rule_alert_fn. */
#include "rule_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bl_baseline.h"
#include "mw_hostport.h"
#include "rule_catalog.h"
#include "rule_judge.h"
#include "rule_name.h"

#define RE_VER_SERVICES 4096 /* servers whose best TLS version is remembered without --state */

/* ------------------------------------------------------------------ resources */

static void res_free(rule_res *r) {
    if (r->ctr.path) ct_reloader_free(&r->ctr);
    ct_snapshot_free(r->ct);
    store_known_free(r->store);
    X509_STORE_free(r->trust);
    rule_ctlogs_free(r->logs);
    free(r->policy_anchors);
    memset(r, 0, sizeof *r);
}

/* Problems are collected, one a line, so a start or `-T` says all of them at once. */
typedef struct {
    char *buf;
    size_t cap, len;
    unsigned n;
} res_msgs;

static void msg_add(res_msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(res_msgs *m, const char *fmt, ...) {
    if (!m->buf || m->cap == 0) return;
    m->n++;
    if (m->len + 1 >= m->cap) return;
    if (m->len) m->buf[m->len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (w > 0) m->len += (size_t)w < m->cap - m->len ? (size_t)w : m->cap - m->len - 1;
    m->buf[m->len] = '\0';
}

/* A loader's message without its own "CT log list PATH: " / "known certificates PATH: "
 * prefix, which the caller replaces with the policy's FILE:LINE: key: PATH. */
static const char *reason_of(const char *msg, const char *prefix, const char *path) {
    size_t pl = strlen(prefix), l = strlen(path);
    if (strncmp(msg, prefix, pl) == 0 && strncmp(msg + pl, path, l) == 0 &&
        strncmp(msg + pl + l, ": ", 2) == 0)
        return msg + pl + l + 2;
    return msg;
}

/* ENOENT: the file is not there (yet); other errors (permissions) are problems. */
static int file_errno(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? 0 : errno;
}

/* The certificate x is one of a watched name's: it covers the exact name, or one of its
 * dNSNames (a wildcard read as one label) falls under the wildcard or suffix pattern. */
static bool store_cert_for(X509 *x, const pol_name *pat) {
    if (pat->kind == POL_NAME_EXACT) return rule_cert_covers(x, pat->name);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    bool hit = false;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !hit; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS) continue;
        char host[256];
        int l = ASN1_STRING_length(g->d.dNSName);
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        if (l <= 0 || (size_t)l >= sizeof host || memchr(d, 0, (size_t)l)) continue;
        memcpy(host, d, (size_t)l);
        host[l] = '\0';
        if (host[0] == '*') host[0] = 'a';
        hit = pol_name_match(pat, host);
    }
    GENERAL_NAMES_free(gens);
    return hit;
}

static void load_known(rule_res *r, const pol_policy *p, res_msgs *errs, res_msgs *warns) {
    char *dirs[POL_MAX_LIST];
    size_t n = 0;
    char where[4200], e[512];
    for (size_t i = 0; i < p->nknown_dirs; i++) {
        pol_where(p, p->known_dirs_line[i], "known_certs", "known-certs", p->known_dirs[i], where,
                  sizeof where);
        int fe = file_errno(p->known_dirs[i]);
        if (fe == ENOENT)
            msg_add(warns, "%s: %s (read as empty until it exists; SIGHUP reads it again)", where,
                    strerror(fe));
        else if (fe)
            msg_add(errs, "%s: %s", where, strerror(fe));
        else
            dirs[n++] = p->known_dirs[i];
    }
    if (!p->nknown_dirs || errs->n) return;
    r->store = store_known_load(dirs, n, e, sizeof e);
    if (!r->store) { /* the folder its message names, or the first */
        size_t i = 0;
        for (size_t k = 0; k < p->nknown_dirs; k++)
            if (reason_of(e, "known certificates ", p->known_dirs[k]) != e) i = k;
        pol_where(p, p->known_dirs_line[i], "known_certs", "known-certs", p->known_dirs[i], where,
                  sizeof where);
        msg_add(errs, "%s: %s", where, reason_of(e, "known certificates ", p->known_dirs[i]));
        return;
    }
    size_t nleaf = 0;
    const store_cert *sc = store_known_certs(r->store, &nleaf);
    if (nleaf == 0) {
        msg_add(warns,
                "the known store (%zu folder%s) holds no certificates: cert.unknown fires for "
                "every certificate of a watched service",
                p->nknown_dirs, p->nknown_dirs == 1 ? "" : "s");
        return;
    }
    for (size_t i = 0; i < p->nservices; i++) {
        const pol_service *s = &p->services[i];
        bool found = false;
        for (size_t k = 0; k < nleaf && !found; k++)
            found = sc[k].x && store_cert_for(sc[k].x, &s->name);
        if (!found)
            msg_add(warns,
                    "watched name %s: the known store holds no certificate for it: cert.unknown "
                    "fires for every certificate of that name",
                    s->label);
    }
}

static void load_trust(rule_res *r, const pol_policy *p, res_msgs *errs) {
    char where[4200];
    r->trust = X509_STORE_new();
    if (!r->trust) {
        msg_add(errs, "out of memory");
        return;
    }
    for (size_t i = 0; i < p->nca_files; i++) {
        pol_where(p, p->ca_files_line[i], "ca_files", "ca-file", p->ca_files[i], where,
                  sizeof where);
        int fe = file_errno(p->ca_files[i]);
        if (fe) {
            msg_add(errs, "%s: %s", where, strerror(fe));
        } else if (X509_STORE_load_file(r->trust, p->ca_files[i]) != 1) {
            unsigned long e = ERR_peek_last_error();
            msg_add(errs, "%s: cannot load: %s", where,
                    e ? ERR_reason_error_string(e) : "no certificates");
        }
        ERR_clear_error();
    }
    /* the policy's anchors, told apart from the system's (rule_engine_public_anchor) */
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(r->trust);
    int no = objs ? sk_X509_OBJECT_num(objs) : 0;
    r->policy_anchors = no > 0 ? calloc((size_t)no, 32) : NULL;
    for (int i = 0; r->policy_anchors && i < no; i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        unsigned dl = 0;
        if (x && X509_digest(x, EVP_sha256(), r->policy_anchors[r->npolicy_anchors], &dl) &&
            dl == 32)
            r->npolicy_anchors++;
    }
    /* The system bundle is loaded into memory once: the hashed-directory lookup that
     * X509_STORE_set_default_paths adds stats files on every verification that misses, which
     * for chains from private CAs is every one (5 s of system time on the benchmark). */
    if (p->nca_files == 0 || p->system_trust) {
        r->system_anchors = true;
        if (X509_STORE_load_file(r->trust, X509_get_default_cert_file()) != 1) {
            ERR_clear_error();
            X509_STORE_set_default_paths(r->trust);
        }
    }
}

static void load_ct(rule_res *r, const pol_policy *p, res_msgs *errs, res_msgs *warns) {
    char where[4200], e[512];
    if (p->ct_log_list) {
        pol_where(p, p->ct_log_list_line, "log_list", "ct-log-list", p->ct_log_list, where,
                  sizeof where);
        int fe = file_errno(p->ct_log_list);
        if (fe == ENOENT)
            msg_add(warns,
                    "%s: %s: SCTs are not verified (status unverified) and carry no log "
                    "names, ct.min_operators is not judged",
                    where, strerror(fe));
        else if (fe)
            msg_add(errs, "%s: %s", where, strerror(fe));
        else if (!(r->logs = rule_ctlogs_load(p->ct_log_list, e, sizeof e)))
            msg_add(errs, "%s: %s", where, reason_of(e, "CT log list ", p->ct_log_list));
    }
    if (p->ctcache) {
        char why[256] = "";
        pol_where(p, p->ctcache_line, "ctcache", "ctcache", p->ctcache, where, sizeof where);
        int fe = file_errno(p->ctcache);
        ct_reloader_init(&r->ctr, p->ctcache);
        if (fe == ENOENT) {
            /* rule_sct_not_in_ct loads it once `ct sync` has written it */
            msg_add(warns,
                    "%s: %s: cert.not_in_ct is not judged until `mitmwatch ct sync` "
                    "writes it",
                    where, strerror(fe));
        } else if (fe) {
            msg_add(errs, "%s: %s", where, strerror(fe));
        } else if (!(r->ct = ct_reloader_check(&r->ctr, true, why, sizeof why))) {
            msg_add(errs, "%s: %s", where, why[0] ? why : "cannot load");
        }
    }
}

static bool res_load(rule_res *r, const pol_policy *p, char *err, size_t errlen, char *warn,
                     size_t warnlen) {
    memset(r, 0, sizeof *r);
    res_msgs errs = {err, errlen, 0, 0}, warns = {warn, warnlen, 0, 0};
    if (err && errlen) err[0] = '\0';
    if (warn && warnlen) warn[0] = '\0';
    load_known(r, p, &errs, &warns);
    load_trust(r, p, &errs);
    load_ct(r, p, &errs, &warns);
    if (errs.n == 0) return true;
    res_free(r);
    return false;
}

bool rule_engine_check(const pol_policy *p, char *err, size_t errlen, char *warn, size_t warnlen) {
    rule_res r;
    if (!res_load(&r, p, err, errlen, warn, warnlen)) return false;
    res_free(&r);
    return true;
}

unsigned rule_sct_required(const pol_policy *p, bool public_anchor) {
    if (p->sct_min_given) return p->sct_min_count;
    return public_anchor ? 1 : 0;
}

bool rule_engine_public_anchor(const rule_engine *re, STACK_OF(X509) * built) {
    int n = built ? sk_X509_num(built) : 0;
    if (!re->r.system_anchors || n == 0) return false;
    uint8_t h[32];
    unsigned dl = 0;
    if (!X509_digest(sk_X509_value(built, n - 1), EVP_sha256(), h, &dl) || dl != 32) return false;
    for (size_t i = 0; i < re->r.npolicy_anchors; i++)
        if (memcmp(re->r.policy_anchors[i], h, 32) == 0) return false;
    return true;
}

const char *rule_engine_warnings(const rule_engine *re) {
    return re->warnings;
}

rule_engine *rule_engine_new(const pol_policy *p, char *err, size_t errlen) {
    rule_engine *re = calloc(1, sizeof *re);
    if (!re) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->sup = rule_suppress_new(p->suppress_keys);
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
    if (!res_load(&re->r, p, err, errlen, re->warnings, sizeof re->warnings)) {
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
    char warn[sizeof re->warnings];
    if (!res_load(&nr, p, err, errlen, warn, sizeof warn)) return false;
    memcpy(re->warnings, warn, sizeof warn);
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

bool rule_engine_forget(rule_engine *re) {
    rule_chain_cache_forget(re->chains);
    rule_sct_cache_clear(re->scts);
    rule_suppress_clear(re->sup);
    uint64_t store_certs = re->st.store_certs;
    memset(&re->st, 0, sizeof re->st);
    re->st.store_certs = store_certs;
    if (re->ver != re->own_ver) return true; /* attached baselines are the caller's */
    bl_free(re->own_ver);
    re->ver = re->own_ver = bl_new(&(bl_cfg){.max_services = RE_VER_SERVICES});
    return re->own_ver != NULL;
}

void rule_engine_set_baselines(rule_engine *re, bl_state *bl) {
    re->ver = bl ? bl : re->own_ver;
}

const rule_stats *rule_engine_stats(rule_engine *re) {
    const rule_suppress_counts *sc = rule_suppress_counts_get(re->sup);
    re->st.suppress_keys = rule_suppress_keys(re->sup);
    re->st.suppress_expired = sc->expired;
    re->st.suppress_evicted = sc->evicted;
    const bl_counts *bc = bl_counts_get(re->ver);
    re->st.baseline_services = bc->services;
    re->st.baseline_evicted = bc->evicted;
    re->st.baseline_full = bc->full;
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
    mw_addr_port_str(f->key.ip_ver, f->key.addr[ss], f->key.port[ss], out, outlen);
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

const pol_service *rule_engine_service(const rule_engine *re, const tls_hs *hs, const cap_flow *f,
                                       int client_side) {
    rule_ctx jd;
    memset(&jd, 0, sizeof jd);
    jd.p = re->p;
    jd.hs = hs;
    jd.f = f;
    jd.client_side = client_side;
    return match_service(&jd);
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
    if (jd->verdict) rule_verdict_add(jd->verdict, rule_id);
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

void rule_verdict_add(rule_verdict *v, const char *rule_id) {
    for (unsigned i = 0; i < v->n; i++)
        if (strcmp(v->rules[i], rule_id) == 0) return;
    if (v->n < RULE_VERDICT_MAX) v->rules[v->n++] = rule_id;
}

bool rule_engine_suppress(rule_engine *re, const char *rule_id, const char *key, uint64_t ts_us,
                          uint64_t *prior) {
    if (!rule_suppress_pass(re->sup, re->p->suppress_window, rule_id, key, NULL, ts_us, prior)) {
        re->st.suppressed++;
        return false;
    }
    re->st.alerts++;
    return true;
}

/* ------------------------------------------------------------------ entries */

void rule_judge_plaintext(rule_engine *re, const an_plain *pl, const cap_flow *f, int client_side,
                          rule_alert_fn fn, void *user) {
    rule_ctx jd;
    ctx_init(&jd, re, NULL, f, client_side, pl->ts_us, fn, user);
    rule_tls_starttls(&jd, pl);
}

void rule_judge_conflict(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                         int side, const cap_conflict *c, rule_alert_fn fn, void *user,
                         rule_verdict *v) {
    rule_ctx jd;
    ctx_init(&jd, re, hs, f, client_side, hs ? hs->ts_us : c->ts_us, fn, user);
    jd.verdict = v;
    jd.watched = true; /* an injection matters on any service */
    jd.host = hs && hs->have_ch ? hs->sni : NULL;
    rule_server_addr(&jd, jd.svc_key, sizeof jd.svc_key);
    if (jd.host) snprintf(jd.svc_key, sizeof jd.svc_key, "%s", jd.host);
    if (!hs) jd.protocol = "tls"; /* no handshake names it */
    rule_tls_injection(&jd, c, side);
}

void rule_judge(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                uint64_t ts_us, rule_alert_fn fn, void *user) {
    rule_judge_verdict(re, hs, f, client_side, ts_us, fn, user, NULL);
}

void rule_judge_verdict(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                        uint64_t ts_us, rule_alert_fn fn, void *user, rule_verdict *v) {
    rule_ctx jd;
    ctx_init(&jd, re, hs, f, client_side, ts_us, fn, user);
    jd.verdict = v;
    re->st.judged++;
    jd.svc = match_service(&jd);
    jd.watched = jd.svc != NULL || jd.p->nservices == 0;
    if (v) v->watched = jd.svc != NULL;
    const char *sni = hs->have_ch ? hs->sni : NULL;
    /* Through a proxy without SNI, the name the client asked the proxy for is the one the
     * certificate must cover (the proxy's own address says nothing about the server). */
    const char *target = hs->proxy && hs->proxy_host_is_name ? hs->proxy_host : NULL;
    jd.host = sni      ? sni
              : target ? target
                       : (jd.svc && jd.svc->name.kind == POL_NAME_EXACT ? jd.svc->name.name : NULL);
    if (jd.svc)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", jd.svc->label);
    else if (sni || target)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", sni ? sni : target);
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
