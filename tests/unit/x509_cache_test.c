/* analyzers/x509_cache: one entry per distinct DER, O(1) eviction of the least recently released
 * unreferenced entry, caps by count and by bytes, and a full cache (every entry referenced)
 * that hands out uncached entries instead of growing (issue 14). Run under ASan, the uncached
 * entries must be freed by their last unref. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include "mw_hash.h"
#include "mw_test.h"
#include "mw_test_x509.h"
#include "x509_info.h"

#define NCERTS 64

static EVP_PKEY *key;
static uint8_t *der[NCERTS];
static size_t len[NCERTS];

static void make_certs(void) {
    for (int i = 0; i < NCERTS; i++) {
        X509 *x = mw_test_cert("cache.test", 1000 + i, key);
        len[i] = mw_test_sign_der(x, key, &der[i]);
        X509_free(x);
    }
}

int main(void) {
    CHECK(mw_hash_init());
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(key != NULL);
    make_certs();
    an_stats st;
    memset(&st, 0, sizeof st);

    /* one parse per distinct DER; a hit is the same entry */
    x509_cache *c = x509_cache_new(2, &st);
    x509_info *a = x509_cache_get(c, der[0], len[0]), *a2 = x509_cache_get(c, der[0], len[0]);
    CHECK(a != NULL && a == a2 && a->cached && a->refs == 2);
    CHECK_EQ_U(st.cert_cache_misses, 1);
    CHECK_EQ_U(st.cert_cache_hits, 1);
    x509_info_unref(c, a);
    x509_info_unref(c, a2);

    /* count cap 2: the least recently released entry goes first */
    x509_info *b = x509_cache_get(c, der[1], len[1]);
    a = x509_cache_get(c, der[0], len[0]); /* a hit: taken off the idle list */
    x509_info_unref(c, b);                 /* released first */
    x509_info_unref(c, a);
    x509_info *d = x509_cache_get(c, der[2], len[2]);
    CHECK(d != NULL && d->cached);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], 1);
    CHECK_EQ_U(x509_cache_count(c), 2);
    uint64_t misses = st.cert_cache_misses;
    a = x509_cache_get(c, der[0], len[0]); /* still cached */
    CHECK_EQ_U(st.cert_cache_misses, misses);

    /* full: both entries referenced, so a third is handed out uncached and not counted in */
    x509_info *u = x509_cache_get(c, der[3], len[3]);
    CHECK(u != NULL && !u->cached && u->refs == 1);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 1);
    CHECK_EQ_U(x509_cache_count(c), 2);
    x509_info_ref(u);
    x509_info_unref(c, u);
    x509_info_unref(c, u); /* the last reference frees it (ASan: no leak, no double free) */
    x509_info *u2 = x509_cache_get(c, der[3], len[3]); /* not cached: a miss again */
    CHECK_EQ_U(st.cert_cache_misses, misses + 2);
    CHECK(!u2->cached);
    x509_info_unref(c, u2);
    x509_info_unref(c, a);
    x509_info_unref(c, d);
    x509_cache_free(c);

    /* byte cap: room for one entry only */
    memset(&st, 0, sizeof st);
    x509_info *probe = x509_info_parse(der[0], len[0], &st);
    CHECK(probe != NULL);
    x509_info_free(probe);
    c = x509_cache_new_capped(100, 1, &st); /* smaller than any entry: nothing is ever kept */
    a = x509_cache_get(c, der[0], len[0]);
    CHECK(a == NULL); /* nor handed out uncached: the uncached budget is an eighth of the cap */
    CHECK_EQ_U(st.an[AN_AN_x509_cache_refused], 1);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 0);
    x509_cache_free(c);

    memset(&st, 0, sizeof st);
    c = x509_cache_new_capped(100, 0, &st);
    a = x509_cache_get(c, der[0], len[0]);
    size_t one = x509_cache_bytes(c);
    CHECK(one >= len[0]);
    x509_info_unref(c, a);
    x509_cache_free(c);
    c = x509_cache_new_capped(100, one + one / 2, &st); /* one entry fits, two do not */
    a = x509_cache_get(c, der[0], len[0]);
    b = x509_cache_get(c, der[1], len[1]);
    CHECK(a->cached && b == NULL); /* an eighth of the cap is less than an entry: refused */
    CHECK_EQ_U(st.an[AN_AN_x509_cache_refused], 1);
    x509_info_unref(c, a);
    b = x509_cache_get(c, der[1], len[1]); /* a is idle now: evicted for b */
    CHECK(b->cached);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], 1);
    CHECK(x509_cache_bytes(c) <= one + one / 2);
    x509_info_unref(c, b);
    x509_cache_free(c);

    /* the uncached budget: one entry cached (count cap 1) and held, then one uncached within a
     * eighth of the byte cap, a third refused; the uncached one's last unref gives its bytes
     * back, so the next one is handed out again */
    memset(&st, 0, sizeof st);
    c = x509_cache_new_capped(1, 8 * (one + 512), &st);
    a = x509_cache_get(c, der[0], len[0]);
    b = x509_cache_get(c, der[1], len[1]);
    CHECK(a != NULL && a->cached && b != NULL && !b->cached);
    CHECK(x509_cache_get(c, der[2], len[2]) == NULL);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 1);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_refused], 1);
    x509_info_unref(c, b);
    b = x509_cache_get(c, der[2], len[2]);
    CHECK(b != NULL && !b->cached);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 2);
    x509_info_unref(c, b);
    x509_info_unref(c, a);
    x509_cache_free(c);

    /* many unfinished handshakes: half the certificates stay referenced, the rest come and go;
     * the cache never passes its caps and every miss is counted as evicted or full */
    memset(&st, 0, sizeof st);
    c = x509_cache_new(NCERTS / 2, &st);
    x509_info *held[NCERTS];
    for (int i = 0; i < NCERTS / 2; i++)
        held[i] = x509_cache_get(c, der[i], len[i]);
    for (int round = 0; round < 50; round++) {
        for (int i = NCERTS / 2; i < NCERTS; i++) {
            x509_info *e = x509_cache_get(c, der[i], len[i]);
            CHECK(e != NULL && !e->cached);
            x509_info_unref(c, e);
        }
    }
    CHECK_EQ_U(x509_cache_count(c), NCERTS / 2);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 50 * (NCERTS / 2));
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], 0);
    for (int i = 0; i < NCERTS / 2; i++)
        x509_info_unref(c, held[i]);
    for (int i = NCERTS / 2; i < NCERTS; i++) { /* now all idle: each miss evicts one */
        x509_info *e = x509_cache_get(c, der[i], len[i]);
        CHECK(e != NULL && e->cached);
        x509_info_unref(c, e);
    }
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], NCERTS / 2);
    CHECK_EQ_U(x509_cache_count(c), NCERTS / 2);
    x509_cache_free(c);

    for (int i = 0; i < NCERTS; i++)
        OPENSSL_free(der[i]);
    EVP_PKEY_free(key);
    mw_hash_cleanup();
    MW_TEST_END();
}
