#include "rule_engine.h"

#include "ct_lookup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bl_baseline.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "rule_catalog.h"
#include "rule_ct.h"
#include "rule_name.h"
#include "store_known.h"
#include "tls_names.h"

#define RE_ICACHE_MAX 512   /* intermediates remembered from earlier handshakes */
#define RE_SUP_SLOTS 8192   /* (rule, service, certificate) keys under suppression */
#define RE_SUP_PROBE 16
#define RE_VER_SERVICES 4096 /* servers whose best TLS version is remembered without --state */
#define RE_EVIDENCE_MAX (64u << 10)
#define RE_KNOWN_SHOWN 16 /* known certificates for the name listed in cert.unknown's evidence */
#define RE_CHAIN_SLOTS 1024 /* presented chains that validated, with their validity window */
#define RE_SCT_SLOTS 4096   /* SCT verdicts */
#define RE_CACHE_PROBE 8

typedef struct {
    uint8_t key[32];
    uint64_t last_us; /* capture time of the last alert let through */
    uint64_t count;   /* suppressed since then */
    bool used;
} sup_slot;

/* Judging the same chain again costs two signature checks, its SCT an X509_dup and a decode
 * of every public key (OpenSSL 3's decoders: ~550 us a handshake). A server presents the
 * same chain to every client, so both verdicts are remembered: chains only when they
 * validated (a failure may be cured by an intermediate seen later), for the capture times
 * inside every CA certificate's validity; SCTs when the verdict does not depend on time. */
typedef struct {
    uint8_t key[32]; /* SHA-256 over the presented chain's certificate hashes */
    STACK_OF(X509) *built;
    int64_t lo, hi; /* capture times for which the CA certificates are all valid */
    bool used;
} chain_slot;

typedef struct {
    uint8_t key[32]; /* SHA-256 of leaf hash, issuer hash, SCT bytes */
    uint8_t status;  /* enum rule_sct_status */
    bool used;
} sct_slot;

typedef struct {
    store_known *store;
    X509_STORE *trust;
    rule_ctlogs *logs;
    ct_reloader ctr; /* the ctcache snapshot (cert.not_in_ct), reloaded when the file changes */
    ct_snapshot *ct;
    uint64_t ct_checked_us;
} re_res;

struct rule_engine {
    const pol_policy *p;
    re_res r;
    STACK_OF(X509) *icache;
    uint8_t (*icache_sha)[32];
    size_t icache_next; /* FIFO replacement once full */
    sup_slot *sup;
    /* learned TLS versions: in the sensor's baselines (persisted) once attached, else here */
    bl_state *ver;
    bl_state *own_ver;
    chain_slot *chains;
    sct_slot *scts;
    mw_buf exp, obs;
    rule_stats st;
};

/* ------------------------------------------------------------------ resources */

static void res_free(re_res *r) {
    if (r->ctr.path)
        ct_reloader_free(&r->ctr);
    ct_snapshot_free(r->ct);
    store_known_free(r->store);
    X509_STORE_free(r->trust);
    rule_ctlogs_free(r->logs);
    memset(r, 0, sizeof *r);
}

static bool res_load(re_res *r, const pol_policy *p, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    if (p->nknown_dirs) {
        r->store = store_known_load(p->known_dirs, p->nknown_dirs, err, errlen);
        if (!r->store)
            return false;
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
        if (!r->logs)
            goto fail;
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
    re->icache = sk_X509_new_null();
    re->icache_sha = calloc(RE_ICACHE_MAX, 32);
    re->sup = calloc(RE_SUP_SLOTS, sizeof *re->sup);
    re->own_ver = bl_new(&(bl_cfg){.max_services = RE_VER_SERVICES});
    re->ver = re->own_ver;
    re->chains = calloc(RE_CHAIN_SLOTS, sizeof *re->chains);
    re->scts = calloc(RE_SCT_SLOTS, sizeof *re->scts);
    if (!re->icache || !re->icache_sha || !re->sup || !re->ver || !re->chains || !re->scts) {
        snprintf(err, errlen, "out of memory");
        rule_engine_free(re);
        return NULL;
    }
    mw_buf_init(&re->exp, RE_EVIDENCE_MAX);
    mw_buf_init(&re->obs, RE_EVIDENCE_MAX);
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
    for (size_t i = 0; re->chains && i < RE_CHAIN_SLOTS; i++)
        if (re->chains[i].used)
            sk_X509_pop_free(re->chains[i].built, X509_free);
    if (re->chains)
        memset(re->chains, 0, RE_CHAIN_SLOTS * sizeof *re->chains);
    if (re->scts)
        memset(re->scts, 0, RE_SCT_SLOTS * sizeof *re->scts);
}

bool rule_engine_reload(rule_engine *re, const pol_policy *p, char *err, size_t errlen) {
    re_res nr;
    if (!res_load(&nr, p, err, errlen))
        return false;
    caches_clear(re);
    res_free(&re->r);
    re->r = nr;
    re->p = p;
    re->st.store_certs = re->r.store ? store_known_stats(re->r.store)->certs : 0;
    return true;
}

void rule_engine_free(rule_engine *re) {
    if (!re)
        return;
    res_free(&re->r);
    caches_clear(re);
    free(re->chains);
    free(re->scts);
    sk_X509_pop_free(re->icache, X509_free);
    free(re->icache_sha);
    free(re->sup);
    bl_free(re->own_ver);
    mw_buf_free(&re->exp);
    mw_buf_free(&re->obs);
    free(re);
}

void rule_engine_set_baselines(rule_engine *re, bl_state *bl) {
    re->ver = bl ? bl : re->own_ver;
}

const rule_stats *rule_engine_stats(const rule_engine *re) { return &re->st; }

int rule_engine_known(const rule_engine *re, const uint8_t sha256[32], const uint8_t tbs[32]) {
    if (!re || !re->r.store)
        return -1;
    return store_known_lookup(re->r.store, sha256, tbs) ? 1 : 0;
}

const char *rule_engine_log_name(const uint8_t *log_id, size_t len, void *user) {
    const rule_engine *re = user;
    return re ? rule_ctlogs_description(re->r.logs, log_id, len) : NULL;
}

/* ------------------------------------------------------------------ judging context */

typedef struct {
    rule_engine *re;
    const pol_policy *p;
    const tls_hs *hs;
    const cap_flow *f;
    int client_side;
    uint64_t ts_us;
    int64_t now; /* capture time, seconds */
    rule_alert_fn fn;
    void *user;
    const pol_service *svc;
    bool watched;     /* global expectations apply */
    const char *host; /* the name the certificate must cover: SNI, else the service's */
    char svc_key[300];
    const x509_info *leaf;
    X509 *leaf_x; /* OpenSSL's view of the leaf, decoded for the checks that need it */
    const char *protocol; /* network.protocol for an alert without handshake (hs NULL) */
    mw_json je, jo; /* expected / observed being written */
} judge;

static void server_addr(const judge *jd, char *out, size_t outlen) {
    const cap_flow *f = jd->f;
    int ss = !jd->client_side;
    char ip[INET6_ADDRSTRLEN] = "";
    inet_ntop(f->key.ip_ver == 4 ? AF_INET : AF_INET6, f->key.addr[ss], ip, sizeof ip);
    snprintf(out, outlen, f->key.ip_ver == 4 ? "%s:%u" : "[%s]:%u", ip, f->key.port[ss]);
}

/* The server side of f is one of the service's ports and addresses (when it lists any). */
static bool svc_addr_match(const pol_service *s, const cap_flow *f, int ss) {
    if (s->nports) {
        size_t k;
        for (k = 0; k < s->nports && s->ports[k] != f->key.port[ss]; k++)
            ;
        if (k == s->nports)
            return false;
    }
    if (s->nips) {
        size_t k;
        size_t alen = f->key.ip_ver == 4 ? 4 : 16;
        for (k = 0; k < s->nips; k++)
            if (s->ips[k].ver == f->key.ip_ver && memcmp(s->ips[k].ip, f->key.addr[ss], alen) == 0)
                break;
        if (k == s->nips)
            return false;
    }
    return true;
}

static const pol_service *match_service(const judge *jd) {
    const pol_policy *p = jd->p;
    const cap_flow *f = jd->f;
    int ss = !jd->client_side;
    const char *sni = jd->hs->have_ch ? jd->hs->sni : NULL;
    for (size_t i = 0; i < p->nservices; i++) {
        const pol_service *s = &p->services[i];
        if (!svc_addr_match(s, f, ss))
            continue;
        if (sni) {
            if (pol_name_match(&s->name, sni))
                return s;
        } else if (s->nips) {
            return s; /* no SNI: the service's own address identifies it */
        }
    }
    return NULL;
}

static void ev_begin(judge *jd) {
    rule_engine *re = jd->re;
    mw_buf_reset(&re->exp);
    mw_buf_reset(&re->obs);
    mw_json_init(&jd->je, &re->exp);
    mw_json_init(&jd->jo, &re->obs);
    mw_json_obj_begin(&jd->je);
    mw_json_obj_begin(&jd->jo);
}

/* Duplicate suppression per (rule, service, certificate) in capture time. Returns false when
 * this one is to be dropped (counted); *prior gets the count dropped since the last one. */
static bool sup_pass(judge *jd, const char *rule_id, uint64_t *prior) {
    rule_engine *re = jd->re;
    uint32_t window = jd->p->suppress_window;
    *prior = 0;
    if (window == 0)
        return true;
    uint8_t keybuf[512], key[32];
    size_t kl = 0, n;
    n = strlen(rule_id) + 1;
    memcpy(keybuf + kl, rule_id, n);
    kl += n;
    n = strlen(jd->svc_key) + 1;
    memcpy(keybuf + kl, jd->svc_key, n);
    kl += n;
    if (jd->leaf)
        memcpy(keybuf + kl, jd->leaf->sha256, 32);
    else
        memset(keybuf + kl, 0, 32);
    kl += 32;
    mw_sha256(keybuf, kl, key);
    uint32_t h;
    memcpy(&h, key, 4);
    sup_slot *victim = NULL;
    for (uint32_t i = 0; i < RE_SUP_PROBE; i++) {
        sup_slot *s = &re->sup[(h + i) % RE_SUP_SLOTS];
        if (s->used && memcmp(s->key, key, 32) == 0) {
            if (jd->ts_us < s->last_us + (uint64_t)window * 1000000u) {
                s->count++;
                re->st.suppressed++;
                return false;
            }
            *prior = s->count;
            s->count = 0;
            s->last_us = jd->ts_us;
            return true;
        }
        if (!s->used) {
            if (!victim || victim->used)
                victim = s;
        } else if (!victim || (victim->used && s->last_us < victim->last_us)) {
            victim = s; /* full: forget the key alerted longest ago */
        }
    }
    memcpy(victim->key, key, 32);
    victim->last_us = jd->ts_us;
    victim->count = 0;
    victim->used = true;
    return true;
}

static void emit(judge *jd, const char *rule_id, int severity, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* rule.name comes from the one catalogue (rule_catalog_name), as for every other alert. */
static void emit(judge *jd, const char *rule_id, int severity, const char *fmt, ...) {
    rule_engine *re = jd->re;
    mw_json_obj_end(&jd->je);
    mw_json_obj_end(&jd->jo);
    bool ok = jd->je.ok && jd->jo.ok && mw_buf_putc(&re->exp, '\0') && mw_buf_putc(&re->obs, '\0');
    rule_alert a;
    memset(&a, 0, sizeof a);
    if (!sup_pass(jd, rule_id, &a.suppressed))
        return;
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

static const char *who(const judge *jd) { return jd->host ? jd->host : jd->svc_key; }

static void hex32(char out[65], const uint8_t in[32]) { mw_hex(out, in, 32); }

static void spki_of(X509 *x, uint8_t out[32]) {
    unsigned char *der = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (n > 0)
        mw_sha256(der, (size_t)n, out);
    else
        memset(out, 0, 32);
    OPENSSL_free(der);
}

static char *x509_name_str(const X509_NAME *n, char *buf, size_t len) {
    BIO *b = BIO_new(BIO_s_mem());
    buf[0] = '\0';
    if (!b)
        return buf;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long l = BIO_get_mem_data(b, &p);
        size_t c = (size_t)l < len - 1 ? (size_t)l : len - 1;
        memcpy(buf, p, c);
        buf[c] = '\0';
    }
    BIO_free(b);
    return buf;
}

static const char *version_name(uint16_t v, char *buf, size_t len) {
    const char *n = tls_version_name(v);
    if (n)
        return n;
    snprintf(buf, len, "0x%04x", v);
    return buf;
}

/* ------------------------------------------------------------------ connection rules */

static void rule_cipher(judge *jd) {
    const char *why = NULL;
    if (!jd->hs->have_sh || !tls_cipher_is_weak(jd->hs->cipher, &why))
        return;
    const char *cn = tls_cipher_name(jd->hs->cipher);
    char hex[8];
    if (!cn) {
        snprintf(hex, sizeof hex, "0x%04X", jd->hs->cipher);
        cn = hex;
    }
    ev_begin(jd);
    mw_json_kstr(&jd->je, "cipher", "not NULL, anonymous, export, RC4, DES or 3DES");
    mw_json_kstr(&jd->jo, "cipher", cn);
    mw_json_kstr(&jd->jo, "weakness", why);
    emit(jd, "tls.weak_or_null_cipher", 3,
         "The server %s chose %s (%s): this connection has no real %s.", who(jd), cn, why,
         strcmp(why, "anonymous") == 0 ? "server authentication" : "confidentiality");
}

static void rule_version(judge *jd) {
    const tls_hs *hs = jd->hs;
    rule_engine *re = jd->re;
    if (!hs->have_sh || !hs->have_ch || hs->version == 0)
        return;
    uint16_t v = hs->version, offered = hs->ch_version;
    uint16_t min = jd->svc && jd->svc->min_version ? jd->svc->min_version : jd->p->min_version;
    char b1[8], b2[8], b3[8];
    const char *vn = version_name(v, b2, sizeof b2), *on = version_name(offered, b3, sizeof b3);
    if (min && jd->watched && v < min) {
        const char *mn = version_name(min, b1, sizeof b1);
        ev_begin(jd);
        mw_json_kstr(&jd->je, "min_version", mn);
        mw_json_kstr(&jd->jo, "version", vn);
        mw_json_kstr(&jd->jo, "client_max_version", on);
        emit(jd, "tls.version_downgrade", 3,
             "The connection to %s used TLS %s, below the minimum TLS %s the policy sets (the "
             "client offered up to %s).",
             who(jd), vn, mn, on);
        return;
    }
    /* Learned: a server that negotiated version X with clients offering X and now gives a
     * client offering X less is being downgraded, or is not the same server. */
    uint16_t *best = bl_tls_best(re->ver, jd->f, jd->client_side);
    if (!best)
        return; /* table full: no baseline for this server */
    if (*best && offered >= *best && v < *best) {
        const char *bn = version_name(*best, b1, sizeof b1);
        char addr[80];
        server_addr(jd, addr, sizeof addr);
        ev_begin(jd);
        mw_json_kstr(&jd->je, "version", bn);
        mw_json_kstr(&jd->je, "basis", "learned from earlier handshakes with this server");
        mw_json_kstr(&jd->jo, "version", vn);
        mw_json_kstr(&jd->jo, "client_max_version", on);
        emit(jd, "tls.version_downgrade", 3,
             "%s (%s) negotiated TLS %s although the client offered TLS %s and this server "
             "used TLS %s before: a downgrade, or another server answering.",
             who(jd), addr, vn, on, bn);
    }
    if (v <= offered && v > *best)
        *best = v;
}

/* ------------------------------------------------------------------ certificate rules */

typedef struct {
    STACK_OF(X509) *built; /* the chain X509_verify_cert built (owned), leaf first */
    X509 *issuer;          /* the leaf's issuer certificate when seen anywhere, else NULL */
    int verify_ok;
    int err, depth;
    int known; /* store_known_lookup result */
    bool self_signed;
} cert_facts;

static int verify_cb(int ok, X509_STORE_CTX *ctx) {
    if (!ok) {
        int e = X509_STORE_CTX_get_error(ctx);
        /* the leaf's own dates are cert.expired / cert.not_yet_valid, not a chain fault */
        if (X509_STORE_CTX_get_error_depth(ctx) == 0 &&
            (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID))
            return 1;
    }
    return ok;
}

static void icache_add(rule_engine *re, const x509_info *e) {
    X509 *ex = x509_info_x509(e);
    if (!ex || X509_check_ca(ex) <= 0 || e->self_issued)
        return; /* roots are anchors, not intermediates; leaves are not issuers */
    int n = sk_X509_num(re->icache);
    for (int i = 0; i < n; i++)
        if (memcmp(re->icache_sha[i], e->sha256, 32) == 0)
            return;
    X509_up_ref(ex);
    if (n < RE_ICACHE_MAX) {
        if (sk_X509_push(re->icache, ex) <= 0) {
            X509_free(ex);
            return;
        }
        memcpy(re->icache_sha[n], e->sha256, 32);
        re->st.intermediates++;
    } else {
        size_t i = re->icache_next++ % RE_ICACHE_MAX;
        X509 *old = sk_X509_value(re->icache, (int)i);
        sk_X509_set(re->icache, (int)i, ex);
        X509_free(old);
        memcpy(re->icache_sha[i], e->sha256, 32);
    }
}

static X509 *find_issuer(const judge *jd, STACK_OF(X509) *pool) {
    X509 *leaf = jd->leaf_x;
    for (int i = 0; i < sk_X509_num(pool); i++) {
        X509 *c = sk_X509_value(pool, i);
        if (c != leaf && X509_check_issued(c, leaf) == X509_V_OK)
            return c;
    }
    return NULL;
}

static int64_t asn1_epoch(const ASN1_TIME *t) {
    int days = 0, secs = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    bool ok = epoch && t && ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return ok ? (int64_t)days * 86400 + secs : 0;
}

static chain_slot *chain_lookup(rule_engine *re, const uint8_t key[32], bool for_insert) {
    uint32_t h;
    memcpy(&h, key, 4);
    chain_slot *first = NULL;
    for (uint32_t i = 0; i < RE_CACHE_PROBE; i++) {
        chain_slot *s = &re->chains[(h + i) % RE_CHAIN_SLOTS];
        if (s->used && memcmp(s->key, key, 32) == 0)
            return s;
        if (!first && (!s->used || i == RE_CACHE_PROBE - 1))
            first = s;
    }
    return for_insert ? first : NULL;
}

static void chain_key(const judge *jd, uint8_t key[32]) {
    uint8_t buf[TLS_MAX_CHAIN * 32];
    for (int i = 0; i < jd->hs->nchain; i++)
        memcpy(buf + 32 * i, jd->hs->chain[i]->sha256, 32);
    mw_sha256(buf, 32u * jd->hs->nchain, key);
}

static void verify_chain(judge *jd, cert_facts *cf, STACK_OF(X509) *pool) {
    rule_engine *re = jd->re;
    uint8_t key[32];
    chain_key(jd, key);
    chain_slot *hit = chain_lookup(re, key, false);
    if (hit && jd->now >= hit->lo && jd->now <= hit->hi) {
        cf->verify_ok = 1;
        cf->err = X509_V_OK;
        cf->depth = 0;
        cf->built = X509_chain_up_ref(hit->built);
        if (cf->built) {
            cf->issuer = sk_X509_num(cf->built) > 1 ? sk_X509_value(cf->built, 1) : NULL;
            re->st.chain_cache_hits++;
            return;
        }
    }
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    cf->verify_ok = 0;
    cf->err = X509_V_ERR_UNSPECIFIED;
    cf->depth = 0;
    if (!vc || !X509_STORE_CTX_init(vc, re->r.trust, jd->leaf_x, pool)) {
        X509_STORE_CTX_free(vc);
        return;
    }
    X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(vc), (time_t)jd->now);
    X509_STORE_CTX_set_verify_cb(vc, verify_cb);
    cf->verify_ok = X509_verify_cert(vc) == 1;
    cf->err = X509_STORE_CTX_get_error(vc);
    cf->depth = X509_STORE_CTX_get_error_depth(vc);
    cf->built = X509_STORE_CTX_get1_chain(vc);
    X509_STORE_CTX_free(vc);
    ERR_clear_error();
    if (cf->built && sk_X509_num(cf->built) > 1)
        cf->issuer = sk_X509_value(cf->built, 1);
    else
        cf->issuer = find_issuer(jd, pool);
    if (cf->verify_ok && cf->built) {
        chain_slot *s = chain_lookup(re, key, true);
        STACK_OF(X509) *copy = X509_chain_up_ref(cf->built);
        if (s && copy) {
            if (s->used)
                sk_X509_pop_free(s->built, X509_free);
            memcpy(s->key, key, 32);
            s->built = copy;
            s->lo = INT64_MIN;
            s->hi = INT64_MAX;
            for (int i = 1; i < sk_X509_num(copy); i++) {
                int64_t nb = asn1_epoch(X509_get0_notBefore(sk_X509_value(copy, i)));
                int64_t na = asn1_epoch(X509_get0_notAfter(sk_X509_value(copy, i)));
                if (nb > s->lo)
                    s->lo = nb;
                if (na < s->hi)
                    s->hi = na;
            }
            s->used = true;
        } else {
            sk_X509_pop_free(copy, X509_free);
        }
    }
}

static void chain_subjects(mw_json *j, const judge *jd) {
    mw_json_karr(j, "chain");
    for (int i = 0; i < jd->hs->nchain; i++)
        mw_json_str(j, jd->hs->chain[i]->subject);
    mw_json_arr_end(j);
}

static void leaf_fields(mw_json *j, const judge *jd) {
    char h[65];
    hex32(h, jd->leaf->sha256);
    mw_json_kstr(j, "sha256", h);
    hex32(h, jd->leaf->tbs_sha256);
    mw_json_kstr(j, "tbs_sha256", h);
    mw_json_kstr(j, "subject", jd->leaf->subject);
    mw_json_kstr(j, "issuer", jd->leaf->issuer);
}

static void rule_dates(judge *jd) {
    const x509_info *l = jd->leaf;
    char nb[MW_TS_LEN], na[MW_TS_LEN], at[MW_TS_LEN];
    mw_ts_sec(nb, l->not_before);
    mw_ts_sec(na, l->not_after);
    mw_ts_sec(at, jd->now);
    if (jd->now > l->not_after) {
        ev_begin(jd);
        mw_json_kstr(&jd->je, "valid_at", at);
        mw_json_kstr(&jd->jo, "not_before", nb);
        mw_json_kstr(&jd->jo, "not_after", na);
        leaf_fields(&jd->jo, jd);
        long long days = (long long)((jd->now - l->not_after) / 86400);
        emit(jd, "cert.expired", 2,
             "The certificate %s presented for %s expired on %s, %lld day%s before this "
             "connection.",
             l->subject, who(jd), na, days, days == 1 ? "" : "s");
    } else if (jd->now < l->not_before) {
        ev_begin(jd);
        mw_json_kstr(&jd->je, "valid_at", at);
        mw_json_kstr(&jd->jo, "not_before", nb);
        mw_json_kstr(&jd->jo, "not_after", na);
        leaf_fields(&jd->jo, jd);
        emit(jd, "cert.not_yet_valid", 2,
             "The certificate %s presented for %s is only valid from %s, after this connection "
             "(%s): a wrong clock or a certificate made for later.",
             l->subject, who(jd), nb, at);
    }
}

static void rule_name(judge *jd) {
    if (!jd->host || rule_cert_covers(jd->leaf_x, jd->host))
        return;
    ev_begin(jd);
    mw_json_kstr(&jd->je, "name", jd->host);
    mw_json_kstr(&jd->je, "source", jd->hs->have_ch && jd->hs->sni ? "sni" : "watched service");
    mw_json_key(&jd->jo, "alternative_names");
    mw_json_raw(&jd->jo, jd->leaf->sans_json, strlen(jd->leaf->sans_json));
    mw_json_kstr(&jd->jo, "subject", jd->leaf->subject);
    emit(jd, "cert.name_mismatch", 3,
         "The certificate presented for %s does not cover that name (it is for %s %s).",
         jd->host, jd->leaf->subject, jd->leaf->sans_json);
}

static void rule_self_and_chain(judge *jd, const cert_facts *cf) {
    if (cf->self_signed) {
        if (cf->known)
            return; /* the operator's own self-signed certificate: known, so expected */
        ev_begin(jd);
        mw_json_kstr(&jd->je, "issuer", "a CA trusted by this sensor");
        leaf_fields(&jd->jo, jd);
        emit(jd, "cert.self_signed", 3,
             "The server %s presented a self-signed certificate (%s) that no trusted CA "
             "vouches for.",
             who(jd), jd->leaf->subject);
        return;
    }
    if (cf->verify_ok)
        return;
    const pol_policy *p = jd->p;
    const char *reason = X509_verify_cert_error_string(cf->err);
    char at[MW_TS_LEN];
    mw_ts_sec(at, jd->now);
    ev_begin(jd);
    mw_json_kstr(&jd->je, "chain", "valid up to a trust anchor at capture time");
    mw_json_kstr(&jd->je, "valid_at", at);
    mw_json_karr(&jd->je, "anchors");
    for (size_t i = 0; i < p->nca_files; i++)
        mw_json_str(&jd->je, p->ca_files[i]);
    if (p->nca_files == 0 || p->system_trust)
        mw_json_str(&jd->je, "system");
    mw_json_arr_end(&jd->je);
    mw_json_kstr(&jd->jo, "error", reason);
    mw_json_kint(&jd->jo, "error_code", cf->err);
    mw_json_kint(&jd->jo, "depth", cf->depth);
    chain_subjects(&jd->jo, jd);
    emit(jd, "cert.chain_invalid", 3,
         "The certificate chain presented for %s does not validate at capture time: %s "
         "(at depth %d).",
         who(jd), reason, cf->depth);
}

static void rule_known(judge *jd, cert_facts *cf) {
    rule_engine *re = jd->re;
    if (!re->r.store || !jd->watched || cf->known)
        return;
    ev_begin(jd);
    mw_json_kobj(&jd->je, "known_store");
    mw_json_kuint(&jd->je, "certificates", store_known_stats(re->r.store)->certs);
    mw_json_kstr(&jd->je, "match", "sha256 or tbs_sha256");
    size_t for_name = 0; /* the store's certificates that cover the name */
    if (jd->host) { /* side by side with the leaf: the admins' own certificates for the name */
        size_t n;
        const store_cert *sc = store_known_certs(re->r.store, &n);
        char h[65];
        mw_json_karr(&jd->je, "for_name");
        for (size_t i = 0; i < n; i++) {
            if (!sc[i].x || !rule_cert_covers(sc[i].x, jd->host))
                continue;
            if (for_name++ < RE_KNOWN_SHOWN) {
                hex32(h, sc[i].sha256);
                mw_json_str(&jd->je, h);
            }
        }
        mw_json_arr_end(&jd->je);
    }
    mw_json_obj_end(&jd->je);
    leaf_fields(&jd->jo, jd);
    char nb[MW_TS_LEN], h[65];
    mw_ts_sec(nb, jd->leaf->not_before);
    mw_json_kstr(&jd->jo, "not_before", nb);
    hex32(h, jd->leaf->sha256);
    /* the hash in the sentence too: a Nagios status line carries only the message */
    unsigned long long total = store_known_stats(re->r.store)->certs;
    if (jd->host)
        emit(jd, "cert.unknown", 4,
             "The certificate with SHA-256 %s presented for %s (issued by %s on %s) is none of "
             "the %zu certificate%s the known store holds for that name (%llu in the store): "
             "someone else obtained or made it.",
             h, who(jd), jd->leaf->issuer, nb, for_name, for_name == 1 ? "" : "s", total);
    else
        emit(jd, "cert.unknown", 4,
             "The certificate with SHA-256 %s presented for %s (issued by %s on %s) is none of "
             "the %llu certificates in the known store: someone else obtained or made it.",
             h, who(jd), jd->leaf->issuer, nb, total);
}

/* "CN=R3, O=Let's Encrypt, C=US" and "C=US,O=Let's Encrypt,CN=R3" are the same name to a
 * person writing a policy: compare the set of attribute=value parts, case-insensitively. */
static size_t dn_parts(const char *dn, char parts[][128], size_t max) {
    size_t n = 0, l = 0;
    bool esc = false;
    char cur[128];
    for (const char *s = dn;; s++) {
        if (!*s || (*s == ',' && !esc)) {
            while (l && cur[l - 1] == ' ')
                l--;
            cur[l] = '\0';
            if (n < max && l)
                memcpy(parts[n++], cur, l + 1);
            l = 0;
            if (!*s)
                break;
            continue;
        }
        if (l == 0 && *s == ' ')
            continue;
        esc = !esc && *s == '\\';
        if (l < sizeof cur - 1)
            cur[l++] = (char)tolower((unsigned char)*s);
    }
    return n;
}

static int cmp_part(const void *a, const void *b) { return strcmp(a, b); }

static bool dn_equal(const char *a, const char *b) {
    char pa[16][128], pb[16][128];
    size_t na = dn_parts(a, pa, 16), nb = dn_parts(b, pb, 16);
    if (na != nb)
        return false;
    qsort(pa, na, sizeof pa[0], cmp_part);
    qsort(pb, nb, sizeof pb[0], cmp_part);
    for (size_t i = 0; i < na; i++)
        if (strcmp(pa[i], pb[i]) != 0)
            return false;
    return true;
}

static bool name_has(const X509_NAME *n, const char *want) {
    static const int nids[] = {NID_organizationName, NID_commonName};
    for (size_t k = 0; k < 2; k++) {
        int idx = -1;
        while ((idx = X509_NAME_get_index_by_NID(n, nids[k], idx)) >= 0) {
            const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
            unsigned char *u = NULL;
            int ul = ASN1_STRING_to_UTF8(&u, s);
            bool hit = ul >= 0 && strlen(want) == (size_t)ul &&
                       strncasecmp((const char *)u, want, (size_t)ul) == 0;
            OPENSSL_free(u);
            if (hit)
                return true;
        }
    }
    return false;
}

/* The certificates above the leaf: the built chain, else the issuer found in the pool. */
static int above_count(const cert_facts *cf) {
    if (cf->built && sk_X509_num(cf->built) > 1)
        return sk_X509_num(cf->built) - 1;
    return cf->issuer ? 1 : 0;
}

static X509 *above_at(const cert_facts *cf, int i) {
    if (cf->built && sk_X509_num(cf->built) > 1)
        return sk_X509_value(cf->built, i + 1);
    return cf->issuer;
}

static void rule_issuer(judge *jd, const cert_facts *cf) {
    const pol_issuer *is = jd->p->issuers;
    size_t n = jd->p->nissuers;
    if (jd->svc && jd->svc->has_issuers) {
        is = jd->svc->issuers;
        n = jd->svc->nissuers;
    } else if (!jd->watched) {
        return;
    }
    if (n == 0)
        return;
    int na = above_count(cf);
    bool decidable = false;
    for (size_t i = 0; i < n; i++) {
        switch (is[i].kind) {
        case POL_ISSUER_DN:
            decidable = true;
            if (dn_equal(jd->leaf->issuer, is[i].text))
                return;
            break;
        case POL_ISSUER_CA_NAME:
            decidable = true;
            if (name_has(X509_get_issuer_name(jd->leaf_x), is[i].text))
                return;
            for (int k = 0; k < na; k++)
                if (name_has(X509_get_subject_name(above_at(cf, k)), is[i].text))
                    return;
            break;
        case POL_ISSUER_SPKI:
            for (int k = 0; k < na; k++) {
                uint8_t sp[32];
                spki_of(above_at(cf, k), sp);
                if (memcmp(sp, is[i].spki, 32) == 0)
                    return;
            }
            if (na > 0)
                decidable = true;
            break;
        }
    }
    if (!decidable)
        return; /* only SPKI expectations and the issuer was never seen: cannot say */
    ev_begin(jd);
    mw_json_karr(&jd->je, "issuers");
    for (size_t i = 0; i < n; i++) {
        mw_json_obj_begin(&jd->je);
        mw_json_kstr(&jd->je,
                     is[i].kind == POL_ISSUER_DN     ? "dn"
                     : is[i].kind == POL_ISSUER_SPKI ? "spki_sha256"
                                                     : "ca",
                     is[i].text);
        mw_json_obj_end(&jd->je);
    }
    mw_json_arr_end(&jd->je);
    mw_json_kstr(&jd->jo, "issuer", jd->leaf->issuer);
    mw_json_karr(&jd->jo, "issuer_chain");
    for (int k = 0; k < na; k++) {
        char sub[512], h[65];
        uint8_t sp[32];
        spki_of(above_at(cf, k), sp);
        hex32(h, sp);
        mw_json_obj_begin(&jd->jo);
        mw_json_kstr(&jd->jo, "subject",
                     x509_name_str(X509_get_subject_name(above_at(cf, k)), sub, sizeof sub));
        mw_json_kstr(&jd->jo, "spki_sha256", h);
        mw_json_obj_end(&jd->jo);
    }
    mw_json_arr_end(&jd->jo);
    emit(jd, "cert.issuer_unexpected", 4,
         "The certificate for %s was issued by %s, which is not a CA this service is expected "
         "to use.",
         who(jd), jd->leaf->issuer);
}

static void rule_pins(judge *jd, const cert_facts *cf) {
    const uint8_t(*pins)[32] = jd->p->pins;
    size_t n = jd->p->npins;
    if (jd->svc && jd->svc->has_pins) {
        pins = jd->svc->pins;
        n = jd->svc->npins;
    } else if (!jd->watched) {
        return;
    }
    if (n == 0)
        return;
    int na = above_count(cf);
    for (int k = -1; k < na; k++) {
        uint8_t sp[32];
        if (k < 0)
            memcpy(sp, jd->leaf->spki_sha256, 32);
        else
            spki_of(above_at(cf, k), sp);
        for (size_t i = 0; i < n; i++)
            if (memcmp(sp, pins[i], 32) == 0)
                return;
    }
    char h[65];
    ev_begin(jd);
    mw_json_karr(&jd->je, "spki_sha256");
    for (size_t i = 0; i < n; i++) {
        hex32(h, pins[i]);
        mw_json_str(&jd->je, h);
    }
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->jo, "spki_sha256");
    hex32(h, jd->leaf->spki_sha256);
    mw_json_str(&jd->jo, h);
    for (int k = 0; k < na; k++) {
        uint8_t sp[32];
        spki_of(above_at(cf, k), sp);
        hex32(h, sp);
        mw_json_str(&jd->jo, h);
    }
    mw_json_arr_end(&jd->jo);
    hex32(h, jd->leaf->spki_sha256);
    emit(jd, "cert.spki_unpinned", 4,
         "No key in the chain presented for %s matches a pinned key (the server's key is "
         "SPKI SHA-256 %s).",
         who(jd), h);
}

/* ------------------------------------------------------------------ SCTs */

typedef struct {
    unsigned valid, invalid, unknown_log, unverified;
    const char *ops[48];
    unsigned nops;
} sct_tally;

/* A cached verdict applies to this SCT object only when the object itself carries it (OpenSSL
 * keeps the status in the SCT and has no setter): the same certificate from the x509 cache. */
static bool sct_cached(rule_engine *re, SCT *sct, X509 *issuer, const x509_info *leaf,
                       uint64_t now_ms, enum rule_sct_status *out, sct_slot **slot) {
    uint8_t buf[96], key[32];
    unsigned char *o = NULL;
    int ol = i2o_SCT(sct, &o);
    *slot = NULL;
    if (ol <= 0)
        return false;
    memcpy(buf, leaf->sha256, 32);
    memset(buf + 32, 0, 32);
    if (issuer) {
        unsigned char *d = NULL;
        int dl = i2d_X509(issuer, &d);
        if (dl > 0)
            mw_sha256(d, (size_t)dl, buf + 32);
        OPENSSL_free(d);
    }
    mw_sha256(o, (size_t)ol, buf + 64);
    OPENSSL_free(o);
    mw_sha256(buf, 96, key);
    uint32_t h;
    memcpy(&h, key, 4);
    sct_slot *first = NULL;
    for (uint32_t i = 0; i < RE_CACHE_PROBE; i++) {
        sct_slot *s = &re->scts[(h + i) % RE_SCT_SLOTS];
        if (s->used && memcmp(s->key, key, 32) == 0) {
            *slot = s;
            enum rule_sct_status st = (enum rule_sct_status)s->status;
            if (strcmp(rule_sct_status_of(sct), rule_sct_status_name(st)) == 0 &&
                (st != RULE_SCT_VALID || now_ms >= SCT_get_timestamp(sct))) {
                *out = st;
                return true;
            }
            return false;
        }
        if (!first && (!s->used || i == RE_CACHE_PROBE - 1))
            first = s;
    }
    if (first) {
        memcpy(first->key, key, 32);
        first->used = false; /* filled once there is a verdict worth keeping */
    }
    *slot = first;
    return false;
}

static void sct_one(judge *jd, SCT *sct, X509 *issuer, sct_tally *t, mw_json *list) {
    rule_engine *re = jd->re;
    uint64_t now_ms = jd->ts_us / 1000u;
    enum rule_sct_status s = RULE_SCT_UNVERIFIED;
    sct_slot *slot = NULL;
    if (re->r.logs && sct_cached(re, sct, issuer, jd->leaf, now_ms, &s, &slot)) {
        re->st.sct_cache_hits++;
    } else {
        s = rule_sct_validate(re->r.logs, sct, jd->leaf_x, issuer, now_ms);
        /* a signature verdict made at or after the SCT's time holds for any time */
        bool timeless = s == RULE_SCT_UNKNOWN_LOG ||
                        ((s == RULE_SCT_VALID || s == RULE_SCT_INVALID) &&
                         now_ms >= SCT_get_timestamp(sct));
        if (slot && timeless) {
            slot->status = (uint8_t)s;
            slot->used = true;
        }
    }
    unsigned char *id = NULL;
    size_t idlen = SCT_get0_log_id(sct, &id);
    const char *op = rule_ctlogs_operator(re->r.logs, id, idlen);
    const char *desc = rule_ctlogs_description(re->r.logs, id, idlen);
    switch (s) {
    case RULE_SCT_VALID:
        t->valid++;
        re->st.scts_valid++;
        if (op) {
            unsigned k;
            for (k = 0; k < t->nops && strcmp(t->ops[k], op) != 0; k++)
                ;
            if (k == t->nops && t->nops < 48)
                t->ops[t->nops++] = op;
        }
        break;
    case RULE_SCT_INVALID:
        t->invalid++;
        re->st.scts_invalid++;
        break;
    case RULE_SCT_UNKNOWN_LOG:
        t->unknown_log++;
        re->st.scts_unknown_log++;
        break;
    case RULE_SCT_UNVERIFIED:
        t->unverified++;
        re->st.scts_unverified++;
        break;
    }
    char b64[MW_B64_LEN(64)] = "", ts[MW_TS_LEN];
    if (id && idlen <= 64)
        mw_b64(b64, id, idlen);
    mw_ts_ms(ts, SCT_get_timestamp(sct));
    mw_json_obj_begin(list);
    mw_json_kstr(list, "log_id", b64);
    if (desc)
        mw_json_kstr(list, "log_name", desc);
    mw_json_kstr(list, "timestamp", ts);
    mw_json_kstr(list, "source", x509_sct_source_name(sct));
    mw_json_kstr(list, "status", rule_sct_status_name(s));
    mw_json_obj_end(list);
}

/* cert.not_in_ct: a watched service's certificate absent from the CT snapshot, once the
 * logs' merge delay has passed (ctcache/ct_lookup.h). The snapshot file is re-checked every
 * few seconds of capture time and swapped when a new one is written. */
#define RE_CT_RECHECK_US (5u * 1000000u)
static void rule_not_in_ct(judge *jd) {
    re_res *r = &jd->re->r;
    if (!r->ct || !jd->svc)
        return;
    if (jd->ts_us >= r->ct_checked_us + RE_CT_RECHECK_US) {
        char why[256];
        ct_snapshot *n = ct_reloader_check(&r->ctr, false, why, sizeof why);
        if (n) {
            ct_snapshot_free(r->ct);
            r->ct = n;
        }
        r->ct_checked_us = jd->ts_us;
    }
    if (ct_check_cert(r->ct, jd->leaf, 0) != CT_CHECK_NOT_IN_CT)
        return;
    char tbs[65], created[MW_TS_LEN];
    hex32(tbs, jd->leaf->tbs_sha256);
    mw_ts_sec(created, ct_snapshot_created(r->ct));
    ev_begin(jd);
    mw_json_kbool(&jd->je, "in_ct", true);
    mw_json_kstr(&jd->je, "snapshot_created", created);
    mw_json_kuint(&jd->je, "snapshot_entries", ct_snapshot_count(r->ct));
    mw_json_kbool(&jd->jo, "in_ct", false);
    mw_json_kstr(&jd->jo, "tbs_sha256", tbs);
    emit(jd, "cert.not_in_ct", 3,
         "The certificate %s presented for %s is not in the Certificate Transparency logs the "
         "cache holds (snapshot of %s), although it is older than their merge delay: a genuine "
         "public certificate would be logged.",
         tbs, who(jd), created);
}

static void rule_scts(judge *jd, const cert_facts *cf) {
    rule_engine *re = jd->re;
    const tls_hs *hs = jd->hs;
    const STACK_OF(SCT) *lists[3] = {jd->leaf->scts, hs->tls_scts, hs->ocsp_scts};
    sct_tally t;
    memset(&t, 0, sizeof t);
    /* The observed list is written once into a scratch buffer and copied into each alert. */
    mw_buf lb;
    mw_json lj;
    mw_buf_init(&lb, RE_EVIDENCE_MAX);
    mw_json_init(&lj, &lb);
    mw_json_arr_begin(&lj);
    for (int k = 0; k < 3; k++)
        for (int i = 0; lists[k] && i < sk_SCT_num(lists[k]); i++)
            sct_one(jd, sk_SCT_value(lists[k], i), cf->issuer, &t, &lj);
    mw_json_arr_end(&lj);
    bool lok = lj.ok;
    if (cf->self_signed) {
        mw_buf_free(&lb);
        return; /* nobody logs a self-signed certificate; cert.self_signed says it all */
    }
    if (t.invalid) {
        ev_begin(jd);
        mw_json_kstr(&jd->je, "status", "valid");
        mw_json_key(&jd->jo, "scts");
        mw_json_raw(&jd->jo, lok ? (const char *)lb.data : "[]", lok ? lb.len : 2);
        emit(jd, "cert.sct_invalid", 3,
             "The certificate for %s carries %u SCT%s whose log signature does not verify: "
             "the SCT was forged or altered.",
             who(jd), t.invalid, t.invalid == 1 ? "" : "s");
    }
    const pol_policy *p = jd->p;
    unsigned acceptable = t.valid + t.unverified;
    bool too_few = p->sct_min_count > 0 && acceptable < p->sct_min_count;
    bool few_ops = !too_few && p->sct_min_operators > 1 && rule_ctlogs_count(re->r.logs) > 0 &&
                   t.unverified == 0 && t.nops < p->sct_min_operators;
    if (too_few || few_ops) {
        ev_begin(jd);
        mw_json_kuint(&jd->je, "min_scts", p->sct_min_count);
        mw_json_kuint(&jd->je, "min_operators", p->sct_min_operators);
        mw_json_kuint(&jd->jo, "acceptable", acceptable);
        mw_json_kuint(&jd->jo, "operators", t.nops);
        mw_json_key(&jd->jo, "scts");
        mw_json_raw(&jd->jo, lok ? (const char *)lb.data : "[]", lok ? lb.len : 2);
        unsigned total = t.valid + t.invalid + t.unknown_log + t.unverified;
        if (too_few)
            emit(jd, "cert.sct_missing", 2,
                 "The certificate for %s has %u acceptable SCT%s (of %u; %u from logs not in "
                 "the log list), fewer than the %u required: it may never have been logged in "
                 "Certificate Transparency.",
                 who(jd), acceptable, acceptable == 1 ? "" : "s", total, t.unknown_log,
                 p->sct_min_count);
        else
            emit(jd, "cert.sct_missing", 2,
                 "The certificate for %s has valid SCTs from %u log operator%s, fewer than the "
                 "%u required.",
                 who(jd), t.nops, t.nops == 1 ? "" : "s", p->sct_min_operators);
    }
    mw_buf_free(&lb);
}

/* ------------------------------------------------------------------ issuance cadence */

static int hour_of(int64_t t) { return (int)(((t % 86400) + 86400) % 86400 / 3600); }
static int wday_of(int64_t t) { return (int)((((t / 86400) + 4) % 7 + 7) % 7); } /* 1970-01-01 Thu */

/* The renewal overlap: how long before the previous certificate's notAfter the next one's
 * notBefore lies (ACME clients renew at about 2/3 of the lifetime: ~30 days for 90-day
 * certificates). Certificates issued within a day of each other are one renewal (RSA and
 * ECDSA twins, re-issues), dated by the first and lasting until the last to expire. */
#define RE_ISS_MAX 512  /* known certificates per name considered; ~85 years of renewals */
#define RE_ISS_TWIN 86400

typedef struct {
    int64_t nb, na;
} iss_span;

static int span_cmp(const void *a, const void *b) {
    const iss_span *x = a, *y = b;
    return x->nb < y->nb ? -1 : x->nb > y->nb;
}

static int i64_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    bool judged;       /* enough steady history, and a known predecessor */
    bool odd;
    unsigned renewals; /* known renewals of the name */
    int64_t usual;     /* median overlap, seconds */
    int64_t spread;    /* largest distance of a known overlap from it */
    int64_t observed;  /* this certificate's overlap with its predecessor */
    int64_t prev_na;   /* the predecessor's notAfter */
} iss_overlap;

/* Sorts spans (n <= RE_ISS_MAX) and merges twins in place; returns the renewal count + 1. */
static size_t renewals_of(iss_span *sp, size_t n) {
    qsort(sp, n, sizeof *sp, span_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && sp[i].nb - sp[m - 1].nb <= RE_ISS_TWIN) {
            if (sp[i].na > sp[m - 1].na)
                sp[m - 1].na = sp[i].na;
            continue;
        }
        sp[m++] = sp[i];
    }
    return m;
}

/* Judges the leaf's overlap against the name's known renewals (sp from renewals_of, m of
 * them). No judgement with fewer than min_renewals renewals, when the known renewals vary more
 * than the tolerance among themselves (no cadence to speak of: alerts would be noise), or when
 * the leaf is older than every known certificate. */
static iss_overlap judge_overlap(const iss_span *sp, size_t m, const x509_info *leaf,
                                 unsigned min_renewals, uint32_t tolerance) {
    iss_overlap o;
    memset(&o, 0, sizeof o);
    if (min_renewals == 0 || m < 2 || m - 1 < min_renewals)
        return o;
    int64_t ov[RE_ISS_MAX];
    o.renewals = (unsigned)(m - 1);
    for (size_t i = 1; i < m; i++)
        ov[i - 1] = sp[i - 1].na - sp[i].nb;
    qsort(ov, m - 1, sizeof ov[0], i64_cmp);
    size_t k = m - 1;
    o.usual = k % 2 ? ov[k / 2] : (ov[k / 2 - 1] + ov[k / 2]) / 2;
    for (size_t i = 0; i < k; i++) {
        int64_t d = ov[i] > o.usual ? ov[i] - o.usual : o.usual - ov[i];
        if (d > o.spread)
            o.spread = d;
    }
    if (o.spread > (int64_t)tolerance)
        return o;
    /* the predecessor: the latest renewal more than a twin's distance before the leaf */
    const iss_span *prev = NULL;
    for (size_t i = 0; i < m; i++)
        if (sp[i].nb + RE_ISS_TWIN < leaf->not_before)
            prev = &sp[i];
    if (!prev)
        return o;
    o.judged = true;
    o.prev_na = prev->na;
    o.observed = prev->na - leaf->not_before;
    int64_t d = o.observed > o.usual ? o.observed - o.usual : o.usual - o.observed;
    o.odd = d > (int64_t)tolerance;
    return o;
}

/* Whole days, rounded to the nearest (halves away from zero). */
static long long days_of(int64_t sec) {
    return (long long)(sec >= 0 ? (sec + 43200) / 86400 : -((-sec + 43200) / 86400));
}

/* "71 days before the previous certificate expires" / "3 days after it expired" */
static void overlap_text(char *out, size_t len, int64_t observed) {
    long long d = days_of(observed);
    if (d > 0)
        snprintf(out, len, "%lld day%s before the previous certificate expires", d,
                 d == 1 ? "" : "s");
    else if (d < 0)
        snprintf(out, len, "%lld day%s after the previous certificate expired", -d,
                 d == -1 ? "" : "s");
    else
        snprintf(out, len, "on the day the previous certificate expired");
}

static void rule_issuance(judge *jd, const cert_facts *cf) {
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    rule_engine *re = jd->re;
    const pol_policy *p = jd->p;
    if (!re->r.store || !jd->watched || cf->known || !jd->host)
        return;
    size_t n;
    const store_cert *sc = store_known_certs(re->r.store, &n);
    bool hours[24] = {false}, wdays[7] = {false};
    int64_t lifetimes[64];
    iss_span spans[RE_ISS_MAX];
    size_t nl = 0, samples = 0, nspans = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sc[i].x || !rule_cert_covers(sc[i].x, jd->host))
            continue;
        samples++;
        hours[hour_of(sc[i].not_before)] = true;
        wdays[wday_of(sc[i].not_before)] = true;
        int64_t lt = sc[i].not_after - sc[i].not_before;
        size_t k;
        for (k = 0; k < nl && lifetimes[k] != lt; k++)
            ;
        if (k == nl && nl < 64)
            lifetimes[nl++] = lt;
        if (nspans < RE_ISS_MAX)
            spans[nspans++] = (iss_span){sc[i].not_before, sc[i].not_after};
    }
    const x509_info *l = jd->leaf;
    bool cadence = p->issuance_min_samples > 0 && samples >= p->issuance_min_samples;
    size_t m = renewals_of(spans, nspans);
    iss_overlap ov = judge_overlap(spans, m, l, p->issuance_min_renewals,
                                   p->issuance_overlap_tolerance);
    if (!cadence && !ov.judged)
        return;
    int h = hour_of(l->not_before), w = wday_of(l->not_before);
    int64_t lt = l->not_after - l->not_before;
    int hdist = 24;
    for (int k = 0; k < 24; k++) {
        if (!hours[k])
            continue;
        int d = abs(k - h);
        if (24 - d < d)
            d = 24 - d;
        if (d < hdist)
            hdist = d;
    }
    int64_t ldist = INT64_MAX;
    for (size_t k = 0; k < nl; k++) {
        int64_t d = lifetimes[k] > lt ? lifetimes[k] - lt : lt - lifetimes[k];
        if (d < ldist)
            ldist = d;
    }
    unsigned nwd = 0;
    for (int k = 0; k < 7; k++)
        nwd += wdays[k];
    bool odd_hour = cadence && hdist > (int)p->issuance_hour_tolerance;
    bool odd_life = cadence && ldist > (int64_t)p->issuance_lifetime_tolerance;
    /* Weekdays say something only when the known renewals keep to one or two of them. */
    bool odd_wday = cadence && nwd <= 2 && !wdays[w];
    if (!odd_hour && !odd_life && !odd_wday && !ov.odd)
        return;
    ev_begin(jd);
    mw_json_kuint(&jd->je, "samples", samples);
    mw_json_karr(&jd->je, "hours_utc");
    for (int k = 0; k < 24; k++)
        if (hours[k])
            mw_json_uint(&jd->je, (uint64_t)k);
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->je, "weekdays");
    for (int k = 0; k < 7; k++)
        if (wdays[k])
            mw_json_str(&jd->je, wd[k]);
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->je, "lifetime_days");
    for (size_t k = 0; k < nl; k++)
        mw_json_int(&jd->je, lifetimes[k] / 86400);
    mw_json_arr_end(&jd->je);
    char prev_na[MW_TS_LEN];
    if (ov.judged) {
        mw_json_kuint(&jd->je, "renewals", ov.renewals);
        mw_json_kint(&jd->je, "overlap_days", days_of(ov.usual));
        mw_json_kint(&jd->je, "overlap_spread_days", days_of(ov.spread));
        mw_json_kint(&jd->je, "overlap_tolerance_days", days_of(p->issuance_overlap_tolerance));
        mw_ts_sec(prev_na, ov.prev_na);
    }
    mw_json_kuint(&jd->jo, "hour_utc", (uint64_t)h);
    mw_json_kstr(&jd->jo, "weekday", wd[w]);
    mw_json_kint(&jd->jo, "lifetime_days", lt / 86400);
    if (ov.judged) {
        mw_json_kint(&jd->jo, "overlap_days", days_of(ov.observed));
        mw_json_kstr(&jd->jo, "previous_not_after", prev_na);
    }
    mw_json_karr(&jd->jo, "odd");
    if (odd_hour)
        mw_json_str(&jd->jo, "hour");
    if (odd_wday)
        mw_json_str(&jd->jo, "weekday");
    if (odd_life)
        mw_json_str(&jd->jo, "lifetime");
    if (ov.odd)
        mw_json_str(&jd->jo, "overlap");
    mw_json_arr_end(&jd->jo);
    char nb[MW_TS_LEN], odd_text[80], when[96], cadence_text[200] = "";
    mw_ts_sec(nb, l->not_before);
    if (ov.odd) {
        overlap_text(when, sizeof when, ov.observed);
        snprintf(cadence_text, sizeof cadence_text,
                 "issued %s; this name usually renews %lld±%lld days before (%u known renewals)",
                 when, days_of(ov.usual), days_of(ov.spread), ov.renewals);
    }
    if (!odd_hour && !odd_wday && !odd_life) {
        emit(jd, "cert.issuance_odd", 2, "The certificate for %s (notBefore %s) was %s.",
             who(jd), nb, cadence_text);
        return;
    }
    snprintf(odd_text, sizeof odd_text, "%s%s%s%s%s", odd_hour ? "another hour of the day" : "",
             odd_hour && (odd_wday || odd_life) ? ", " : "", odd_wday ? "another weekday" : "",
             odd_wday && odd_life ? ", " : "", odd_life ? "another lifetime" : "");
    emit(jd, "cert.issuance_odd", 2,
         "The certificate for %s was issued %s (%s, %lld-day lifetime), unlike the %zu known "
         "certificates for that name (%s)%s%s.",
         who(jd), nb, wd[w], (long long)(lt / 86400), samples, odd_text,
         ov.odd ? "; it was " : "", cadence_text);
}

/* ------------------------------------------------------------------ STARTTLS stripping */

/* The passive analyzer's name for a configured STARTTLS protocol: XMPP server-to-server is an
 * XMPP stream, LMTP speaks SMTP's STARTTLS. NNTP and Sieve are not followed passively (no flow
 * ever carries their name, so they never match). */
static const char *passive_starttls(const char *configured) {
    if (strcmp(configured, "xmpp-server") == 0)
        return "xmpp";
    if (strcmp(configured, "lmtp") == 0)
        return "smtp";
    return configured;
}

void rule_judge_plaintext(rule_engine *re, const an_plain *pl, const cap_flow *f,
                          int client_side, rule_alert_fn fn, void *user) {
    judge jd;
    memset(&jd, 0, sizeof jd);
    jd.re = re;
    jd.p = re->p;
    jd.f = f;
    jd.client_side = client_side;
    jd.ts_us = pl->ts_us;
    jd.now = (int64_t)(pl->ts_us / 1000000u);
    jd.fn = fn;
    jd.user = user;
    if (!pl->stripped && !pl->refused && pl->session_cmds == 0)
        return; /* greeting, capabilities, goodbye: nothing was sent that TLS should protect */
    for (size_t i = 0; i < jd.p->nservices && !jd.svc; i++) {
        const pol_service *s = &jd.p->services[i];
        if (s->starttls && (s->nips || s->nports) &&
            strcmp(passive_starttls(s->starttls), pl->protocol) == 0 &&
            svc_addr_match(s, f, !client_side))
            jd.svc = s;
    }
    if (!jd.svc)
        return;
    jd.watched = true;
    snprintf(jd.svc_key, sizeof jd.svc_key, "%s", jd.svc->label);
    char addr[80], proto[16];
    server_addr(&jd, addr, sizeof addr);
    size_t k;
    for (k = 0; pl->protocol[k] && k < sizeof proto - 1; k++)
        proto[k] = (char)toupper((unsigned char)pl->protocol[k]);
    proto[k] = '\0';
    const char *why;
    if (pl->stripped)
        why = "the server agreed to STARTTLS, but plaintext followed instead of TLS (something on "
              "the path stripped it)";
    else if (pl->refused)
        why = "the server refused STARTTLS";
    else if (pl->offer_visible && !pl->offered)
        why = "the server never offered STARTTLS (an interception box may have removed the "
              "offer)";
    else if (pl->offered && !pl->requested)
        why = "the client never sent STARTTLS although the server offered it";
    else
        why = "the client never asked for STARTTLS";
    char cmds[96] = "";
    if (pl->session_cmds)
        snprintf(cmds, sizeof cmds, "; %u client command%s went out in plaintext",
                 pl->session_cmds, pl->session_cmds == 1 ? "" : "s");
    ev_begin(&jd);
    mw_json_kstr(&jd.je, "starttls", jd.svc->starttls);
    mw_json_kbool(&jd.je, "tls", true);
    mw_json_kstr(&jd.jo, "protocol", pl->protocol);
    mw_json_kbool(&jd.jo, "tls", false);
    if (pl->offer_visible)
        mw_json_kbool(&jd.jo, "server_offered", pl->offered);
    mw_json_kbool(&jd.jo, "client_requested", pl->requested);
    mw_json_kbool(&jd.jo, "server_refused", pl->refused);
    if (pl->stripped)
        mw_json_kbool(&jd.jo, "tls_after_agreement", false);
    mw_json_kuint(&jd.jo, "plaintext_commands", pl->session_cmds);
    jd.protocol = pl->network_protocol; /* no handshake names it */
    emit(&jd, "tls.starttls_missing", 3, "The %s session to %s (%s) ended without TLS: %s%s.",
         proto, jd.svc->label, addr, why, cmds);
}

/* ------------------------------------------------------------------ entry */

void rule_judge(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                uint64_t ts_us, rule_alert_fn fn, void *user) {
    judge jd;
    memset(&jd, 0, sizeof jd);
    jd.re = re;
    jd.p = re->p;
    jd.hs = hs;
    jd.f = f;
    jd.client_side = client_side;
    jd.ts_us = ts_us;
    jd.now = (int64_t)(ts_us / 1000000u);
    jd.fn = fn;
    jd.user = user;
    re->st.judged++;
    jd.svc = match_service(&jd);
    jd.watched = jd.svc != NULL || jd.p->nservices == 0;
    const char *sni = hs->have_ch ? hs->sni : NULL;
    jd.host = sni ? sni : (jd.svc && jd.svc->name.kind == POL_NAME_EXACT ? jd.svc->name.name : NULL);
    if (jd.svc)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", jd.svc->label);
    else if (sni)
        snprintf(jd.svc_key, sizeof jd.svc_key, "%s", sni);
    else
        server_addr(&jd, jd.svc_key, sizeof jd.svc_key);

    rule_cipher(&jd);
    rule_version(&jd);
    if (hs->nchain == 0 || !hs->chain[0])
        return; /* TLS 1.3 or resumption: the certificate is not on the wire */
    jd.leaf = hs->chain[0];
    jd.leaf_x = x509_info_x509(jd.leaf);
    if (!jd.leaf_x)
        return; /* OpenSSL cannot decode what the walk accepted: nothing it could validate */

    /* untrusted pool: the presented chain, intermediates seen before, the store's CAs */
    STACK_OF(X509) *pool = sk_X509_new_null();
    STACK_OF(X509) *scas = store_known_cas(re->r.store);
    for (int i = 1; pool && i < hs->nchain; i++)
        if (x509_info_x509(hs->chain[i]))
            sk_X509_push(pool, x509_info_x509(hs->chain[i]));
    for (int i = 0; pool && i < sk_X509_num(re->icache); i++)
        sk_X509_push(pool, sk_X509_value(re->icache, i));
    for (int i = 0; pool && scas && i < sk_X509_num(scas); i++)
        sk_X509_push(pool, sk_X509_value(scas, i));

    cert_facts cf;
    memset(&cf, 0, sizeof cf);
    cf.known = store_known_lookup(re->r.store, jd.leaf->sha256, jd.leaf->tbs_sha256);
    verify_chain(&jd, &cf, pool);
    /* Self-signed by its own key, whatever its key usage says (OpenSSL reports a leaf without
     * keyCertSign as "unable to get local issuer", not as self-signed). */
    cf.self_signed = !cf.verify_ok && jd.leaf->self_issued &&
                     X509_verify(jd.leaf_x, X509_get0_pubkey(jd.leaf_x)) == 1;
    ERR_clear_error();

    rule_known(&jd, &cf);
    rule_issuer(&jd, &cf);
    rule_pins(&jd, &cf);
    rule_dates(&jd);
    rule_name(&jd);
    rule_self_and_chain(&jd, &cf);
    rule_scts(&jd, &cf);
    rule_not_in_ct(&jd);
    rule_issuance(&jd, &cf);

    for (int i = 1; i < hs->nchain; i++)
        icache_add(re, hs->chain[i]);
    sk_X509_pop_free(cf.built, X509_free);
    sk_X509_free(pool);
}
