/* The presented chain validated at capture time (cert.chain_invalid and cert.self_signed come
 * from it; the SCT and issuer rules use the issuer it finds), with two caches: the CA
 * certificates seen on earlier handshakes, offered to later chain building (a server that
 * omits its intermediate still validates once another connection showed it), and the verdicts.
 *
 * Judging the same chain again costs two signature checks (OpenSSL 3's decoders: ~550 us a
 * handshake together with the SCTs, rule_sct.c). A server presents the same chain to every
 * client, so the verdict is remembered:
 * - a chain that validated, for the capture times inside every CA certificate's validity;
 * - a chain that failed (a self-signed service, a private CA the sensor was not given, an
 *   interceptor's chain: every handshake to it fails the same way), only while nothing it
 *   depends on has changed: the remembered intermediates (a failure may be cured by an
 *   intermediate seen later: a generation count), and the validity status of every
 *   certificate the builder was offered (the presented chain, the remembered intermediates,
 *   the store's CAs, and the chain it built, anchor included), so the verdict is reused only
 *   inside the window of capture times where none of them expires or starts. Reloading the
 *   anchors or the store clears both (rule_engine_reload). */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mw_hash.h"
#include "rule_judge.h"

#define RE_ICACHE_MAX 512   /* intermediates remembered from earlier handshakes */
#define RE_CHAIN_SLOTS 1024 /* presented chains that validated, with their validity window */
#define RE_CACHE_PROBE 8

typedef struct {
    uint8_t key[32]; /* SHA-256 over the presented chain's certificate hashes */
    STACK_OF(X509) * built;
    int64_t lo, hi; /* capture times for which the verdict holds */
    uint64_t gen;   /* the intermediates' generation it was made with (a failure's bound) */
    int err, depth; /* a failure: X509_verify_cert's error and its depth */
    bool ok;        /* the chain validated */
    bool self_signed;
    bool used;
} chain_slot;

struct rule_chain_cache {
    chain_slot chains[RE_CHAIN_SLOTS];
    STACK_OF(X509) * icache;
    uint8_t icache_sha[RE_ICACHE_MAX][32];
    int64_t icache_nb[RE_ICACHE_MAX], icache_na[RE_ICACHE_MAX]; /* their validity */
    size_t icache_next;                                         /* FIFO replacement once full */
    uint64_t icache_gen; /* counts changes to icache: failures made before do not hold */
    size_t nchains;      /* chains[] slots in use (nothing to clear when 0) */
};

rule_chain_cache *rule_chain_cache_new(void) {
    rule_chain_cache *cc = calloc(1, sizeof *cc);
    if (!cc) return NULL;
    cc->icache = sk_X509_new_null();
    if (!cc->icache) {
        free(cc);
        return NULL;
    }
    return cc;
}

void rule_chain_cache_clear(rule_chain_cache *cc) {
    if (!cc || cc->nchains == 0) return;
    for (size_t i = 0; i < RE_CHAIN_SLOTS; i++)
        if (cc->chains[i].used) sk_X509_pop_free(cc->chains[i].built, X509_free);
    memset(cc->chains, 0, sizeof cc->chains);
    cc->nchains = 0;
}

void rule_chain_cache_forget(rule_chain_cache *cc) {
    if (!cc) return;
    rule_chain_cache_clear(cc);
    if (sk_X509_num(cc->icache) == 0) return;
    while (sk_X509_num(cc->icache) > 0)
        X509_free(sk_X509_pop(cc->icache));
    memset(cc->icache_sha, 0, sizeof cc->icache_sha);
    cc->icache_next = 0;
    cc->icache_gen++;
}

void rule_chain_cache_free(rule_chain_cache *cc) {
    if (!cc) return;
    rule_chain_cache_clear(cc);
    sk_X509_pop_free(cc->icache, X509_free);
    free(cc);
}

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
    rule_chain_cache *cc = re->chains;
    X509 *ex = x509_info_x509(e);
    if (!ex || X509_check_ca(ex) <= 0 || e->self_issued)
        return; /* roots are anchors, not intermediates; leaves are not issuers */
    int n = sk_X509_num(cc->icache);
    for (int i = 0; i < n; i++)
        if (memcmp(cc->icache_sha[i], e->sha256, 32) == 0) return;
    X509_up_ref(ex);
    if (n < RE_ICACHE_MAX) {
        if (sk_X509_push(cc->icache, ex) <= 0) {
            X509_free(ex);
            return;
        }
        memcpy(cc->icache_sha[n], e->sha256, 32);
        cc->icache_nb[n] = e->not_before;
        cc->icache_na[n] = e->not_after;
        re->st.intermediates++;
    } else {
        size_t i = cc->icache_next++ % RE_ICACHE_MAX;
        X509 *old = sk_X509_value(cc->icache, (int)i);
        sk_X509_set(cc->icache, (int)i, ex);
        X509_free(old);
        memcpy(cc->icache_sha[i], e->sha256, 32);
        cc->icache_nb[i] = e->not_before;
        cc->icache_na[i] = e->not_after;
    }
    cc->icache_gen++;
}

static X509 *find_issuer(const rule_ctx *jd, STACK_OF(X509) * pool) {
    X509 *leaf = jd->leaf_x;
    for (int i = 0; i < sk_X509_num(pool); i++) {
        X509 *c = sk_X509_value(pool, i);
        if (c != leaf && X509_check_issued(c, leaf) == X509_V_OK) return c;
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

/* Narrows [*lo, *hi] to the capture times around now at which a certificate valid from nb to
 * na keeps the validity status it has at now. OpenSSL's check: valid when nb <= t < na. */
static void window_narrow(int64_t now, int64_t nb, int64_t na, int64_t *lo, int64_t *hi) {
    if (now < nb) {
        if (nb - 1 < *hi) *hi = nb - 1;
    } else if (now < na) {
        if (nb > *lo) *lo = nb;
        if (na - 1 < *hi) *hi = na - 1;
    } else if (na > *lo) {
        *lo = na;
    }
}

static void narrow_by(int64_t now, X509 *c, int64_t *lo, int64_t *hi) {
    window_narrow(now, asn1_epoch(X509_get0_notBefore(c)), asn1_epoch(X509_get0_notAfter(c)), lo,
                  hi);
}

/* The window in which a failed verdict holds: every certificate offered to the builder and
 * every one it built keeps its validity status. */
static void failure_window(const rule_ctx *jd, const rule_cert_facts *cf, STACK_OF(X509) * scas,
                           int64_t *lo, int64_t *hi) {
    const rule_chain_cache *cc = jd->re->chains;
    int64_t now = jd->now;
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    for (int i = 0; i < jd->hs->nchain; i++)
        window_narrow(now, jd->hs->chain[i]->not_before, jd->hs->chain[i]->not_after, lo, hi);
    for (int i = 0; i < sk_X509_num(cc->icache); i++)
        window_narrow(now, cc->icache_nb[i], cc->icache_na[i], lo, hi);
    for (int i = 0; i < sk_X509_num(scas); i++)
        narrow_by(now, sk_X509_value(scas, i), lo, hi);
    for (int i = 0; i < sk_X509_num(cf->built); i++)
        narrow_by(now, sk_X509_value(cf->built, i), lo, hi);
}

static chain_slot *chain_lookup(rule_chain_cache *cc, const uint8_t key[32], bool for_insert) {
    uint32_t h;
    memcpy(&h, key, 4);
    chain_slot *first = NULL;
    for (uint32_t i = 0; i < RE_CACHE_PROBE; i++) {
        chain_slot *s = &cc->chains[(h + i) % RE_CHAIN_SLOTS];
        if (s->used && memcmp(s->key, key, 32) == 0) return s;
        if (!first && (!s->used || i == RE_CACHE_PROBE - 1)) first = s;
    }
    return for_insert ? first : NULL;
}

static void chain_key(const rule_ctx *jd, uint8_t key[32]) {
    uint8_t buf[TLS_MAX_CHAIN * 32];
    for (int i = 0; i < jd->hs->nchain; i++)
        memcpy(buf + 32 * i, jd->hs->chain[i]->sha256, 32);
    mw_sha256(buf, 32u * jd->hs->nchain, key);
}

/* Self-signed by its own key, whatever its key usage says (OpenSSL reports a leaf without
 * keyCertSign as "unable to get local issuer", not as self-signed). */
static bool self_signed_leaf(const rule_ctx *jd, const rule_cert_facts *cf) {
    return !cf->verify_ok && jd->leaf->self_issued &&
           X509_verify(jd->leaf_x, X509_get0_pubkey(jd->leaf_x)) == 1;
}

static void remember(rule_ctx *jd, rule_cert_facts *cf, const uint8_t key[32],
                     STACK_OF(X509) * scas) {
    rule_chain_cache *cc = jd->re->chains;
    chain_slot *s = chain_lookup(cc, key, true);
    STACK_OF(X509) *copy = X509_chain_up_ref(cf->built);
    if (!s || !copy) {
        sk_X509_pop_free(copy, X509_free);
        return;
    }
    if (s->used)
        sk_X509_pop_free(s->built, X509_free);
    else
        cc->nchains++;
    memcpy(s->key, key, 32);
    s->built = copy;
    s->ok = cf->verify_ok;
    s->err = cf->err;
    s->depth = cf->depth;
    s->self_signed = cf->self_signed;
    s->used = true;
    s->gen = cc->icache_gen; /* read for failures only */
    if (!cf->verify_ok) {
        failure_window(jd, cf, scas, &s->lo, &s->hi);
        return;
    }
    /* validated: while every CA certificate of the built chain stays valid */
    s->lo = INT64_MIN;
    s->hi = INT64_MAX;
    for (int i = 1; i < sk_X509_num(copy); i++)
        narrow_by(jd->now, sk_X509_value(copy, i), &s->lo, &s->hi);
}

static void verify_chain(rule_ctx *jd, rule_cert_facts *cf, STACK_OF(X509) * pool,
                         STACK_OF(X509) * scas) {
    rule_engine *re = jd->re;
    uint8_t key[32];
    chain_key(jd, key);
    chain_slot *hit = chain_lookup(re->chains, key, false);
    if (hit && jd->now >= hit->lo && jd->now <= hit->hi &&
        (hit->ok || hit->gen == re->chains->icache_gen)) {
        cf->built = X509_chain_up_ref(hit->built);
        if (cf->built) {
            cf->verify_ok = hit->ok;
            cf->err = hit->ok ? X509_V_OK : hit->err;
            cf->depth = hit->ok ? 0 : hit->depth;
            cf->self_signed = hit->self_signed;
            if (sk_X509_num(cf->built) > 1)
                cf->issuer = sk_X509_value(cf->built, 1);
            else
                cf->issuer = find_issuer(jd, pool);
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
    cf->self_signed = self_signed_leaf(jd, cf);
    ERR_clear_error();
    if (cf->built) remember(jd, cf, key, scas);
}

void rule_chain_validate(rule_ctx *jd, rule_cert_facts *cf) {
    rule_engine *re = jd->re;
    const tls_hs *hs = jd->hs;
    memset(cf, 0, sizeof *cf);
    /* untrusted pool: the presented chain, intermediates seen before, the store's CAs */
    STACK_OF(X509) *pool = sk_X509_new_null();
    STACK_OF(X509) *scas = store_known_cas(re->r.store);
    for (int i = 1; pool && i < hs->nchain; i++)
        if (x509_info_x509(hs->chain[i])) sk_X509_push(pool, x509_info_x509(hs->chain[i]));
    for (int i = 0; pool && i < sk_X509_num(re->chains->icache); i++)
        sk_X509_push(pool, sk_X509_value(re->chains->icache, i));
    for (int i = 0; pool && scas && i < sk_X509_num(scas); i++)
        sk_X509_push(pool, sk_X509_value(scas, i));
    cf->pool = pool;
    cf->known = store_known_lookup(re->r.store, jd->leaf->sha256, jd->leaf->tbs_sha256);
    verify_chain(jd, cf, pool, scas);
}

void rule_chain_done(rule_ctx *jd, rule_cert_facts *cf) {
    for (int i = 1; i < jd->hs->nchain; i++)
        icache_add(jd->re, jd->hs->chain[i]);
    sk_X509_pop_free(cf->built, X509_free);
    sk_X509_free(cf->pool);
    cf->built = NULL;
    cf->pool = NULL;
}
