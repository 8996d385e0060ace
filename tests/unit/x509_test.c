/* analyzers/x509_info: hashes, names, times, SANs, embedded SCTs, and the CT TBS that makes a
 * precertificate and its final certificate match (RFC 6962 3.2); the cache; the event
 * fragments output/ev_x509.c renders into an entry's slot. Certificates are built here with
 * OpenSSL so every expected value is known exactly. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include "ev_x509.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_test.h"
#include "x509_info.h"

static EVP_PKEY *key;

static X509 *base_cert(void) {
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Test Org", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"xmpp.example.test",
                               -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 4102444800); /* 2100: GeneralizedTime */
    X509_set_pubkey(x, key);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(
        NULL, NULL, NID_subject_alt_name, "DNS:xmpp.example.test,DNS:*.example.test,IP:192.0.2.1");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    return x;
}

/* The fragment ev_x509 writes (which: 0 chain entry, 1 x509 object), as a C string. */
static char *fragment(x509_info *e, int which) {
    static char out[4096];
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, sizeof out - 1);
    mw_json_init(&j, &b);
    if (which)
        ev_x509_object(&j, e);
    else
        ev_x509_chain_entry(&j, e);
    out[0] = '\0';
    if (j.ok) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    mw_buf_free(&b);
    return out;
}

static size_t der_of(X509 *x, uint8_t **out) {
    X509_sign(x, key, EVP_sha256());
    int n = i2d_X509(x, out);
    return n > 0 ? (size_t)n : 0;
}

int main(void) {
    CHECK(mw_hash_init());
    an_stats st;
    memset(&st, 0, sizeof st);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(key != NULL);

    /* plain certificate */
    X509 *x = base_cert();
    uint8_t *der = NULL;
    size_t len = der_of(x, &der);
    x509_info *e = x509_info_parse(der, len, &st);
    CHECK(e != NULL);
    uint8_t want[32];
    mw_sha256(der, len, want);
    CHECK_MEM(e->sha256, want, 32);
    unsigned char *spki = NULL;
    int sl = i2d_PUBKEY(key, &spki);
    mw_sha256(spki, (size_t)sl, want);
    CHECK_MEM(e->spki_sha256, want, 32);
    OPENSSL_free(spki);
    unsigned char *tbs = NULL;
    int tl = i2d_re_X509_tbs(x, &tbs);
    mw_sha256(tbs, (size_t)tl, want);
    CHECK_MEM(e->tbs_sha256, want, 32);
    OPENSSL_free(tbs);
    CHECK_STR(e->subject, "CN=xmpp.example.test,O=Test Org");
    CHECK_STR(e->issuer, "CN=xmpp.example.test,O=Test Org");
    CHECK(e->self_issued);
    CHECK(!e->is_precert);
    CHECK_EQ_U(e->not_before, 1700000000);
    CHECK_EQ_U(e->not_after, 4102444800ull);
    CHECK_STR(e->sans_json, "[\"xmpp.example.test\",\"*.example.test\",\"192.0.2.1\"]");
    CHECK(e->render.x509_json == NULL && e->render.chain_json == NULL); /* until output asks */
    CHECK_STR(fragment(e, 1),
              "{\"version_number\":3,\"serial_number\":\"1234\",\"not_before\":"
              "\"2023-11-14T22:13:20Z\",\"not_after\":\"2100-01-01T00:00:00Z\",\"subject\":{"
              "\"common_name\":[\"xmpp.example.test\"],\"organization\":[\"Test Org\"]},"
              "\"issuer\":{\"common_name\":[\"xmpp.example.test\"],\"organization\":[\"Test "
              "Org\"]},\"alternative_names\":[\"xmpp.example.test\",\"*.example.test\","
              "\"192.0.2.1\"],\"public_key_algorithm\":\"EC\",\"public_key_size\":256,"
              "\"public_key_curve\":\"prime256v1\",\"signature_algorithm\":\"ecdsa-with-SHA256\"}");
    CHECK(e->render.x509_json != NULL); /* kept in the slot, written again from there */
    CHECK_STR(fragment(e, 1), e->render.x509_json);
    char h[3][65], chain[512];
    mw_hex(h[0], e->sha256, 32);
    mw_hex(h[1], e->tbs_sha256, 32);
    mw_hex(h[2], e->spki_sha256, 32);
    snprintf(chain, sizeof chain,
             "{\"sha256\":\"%s\",\"tbs_sha256\":\"%s\",\"spki_sha256\":\"%s\",\"subject\":"
             "\"CN=xmpp.example.test,O=Test Org\",\"issuer\":\"CN=xmpp.example.test,O=Test "
             "Org\",\"not_before\":\"2023-11-14T22:13:20Z\",\"not_after\":"
             "\"2100-01-01T00:00:00Z\"}",
             h[0], h[1], h[2]);
    CHECK_STR(fragment(e, 0), chain);
    CHECK_STR(e->render.chain_json, chain);
    CHECK(x509_info_x509(e) != NULL);
    CHECK(e->scts == NULL);
    x509_info_free(e);

    /* trailing garbage after the certificate, and a truncated one: rejected and counted */
    uint8_t *big = malloc(len + 1);
    memcpy(big, der, len);
    big[len] = 0;
    CHECK(x509_info_parse(big, len + 1, &st) == NULL);
    CHECK(x509_info_parse(big, len - 1, &st) == NULL);
    CHECK_EQ_U(st.an[AN_AN_x509_malformed], 2);
    free(big);

    /* precertificate (poison) and final certificate (SCT list): one TBS hash */
    X509 *pre = base_cert(), *fin = base_cert();
    ASN1_OCTET_STRING *null_der = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(null_der, (const unsigned char *)"\x05\x00", 2);
    X509_EXTENSION *poison = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_poison, 1, null_der);
    X509_add_ext(pre, poison, -1);
    X509_EXTENSION_free(poison);
    ASN1_OCTET_STRING_free(null_der);
    STACK_OF(SCT) *scts = sk_SCT_new_null();
    SCT *sct = SCT_new();
    uint8_t logid[32];
    memset(logid, 0xab, 32);
    SCT_set_version(sct, SCT_VERSION_V1);
    SCT_set1_log_id(sct, logid, 32);
    SCT_set_timestamp(sct, 1700000000123ull);
    SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256);
    SCT_set1_signature(sct, (const unsigned char *)"\x30\x06\x02\x01\x01\x02\x01\x01", 8);
    sk_SCT_push(scts, sct);
    X509_add1_ext_i2d(fin, NID_ct_precert_scts, scts, 0, 0);
    SCT_LIST_free(scts);
    uint8_t *dpre = NULL, *dfin = NULL;
    size_t lpre = der_of(pre, &dpre), lfin = der_of(fin, &dfin);
    x509_info *ep = x509_info_parse(dpre, lpre, &st), *ef = x509_info_parse(dfin, lfin, &st);
    CHECK(ep && ef);
    if (ep && ef) {
        CHECK(ep->is_precert && !ef->is_precert);
        CHECK(memcmp(ep->sha256, ef->sha256, 32) != 0);
        CHECK_MEM(ep->tbs_sha256, ef->tbs_sha256, 32);
        CHECK(ef->scts && sk_SCT_num(ef->scts) == 1);
        if (ef->scts && sk_SCT_num(ef->scts) == 1) {
            const SCT *s = sk_SCT_value(ef->scts, 0);
            CHECK_EQ_U(SCT_get_timestamp(s), 1700000000123ull);
            CHECK_STR(x509_sct_source_name(s), "x509");
        }
    }
    x509_info_free(ep);
    x509_info_free(ef);

    /* cache: one parse per distinct DER, references held, unreferenced entries evicted */
    x509_cache *c = x509_cache_new(1, &st);
    x509_info *a = x509_cache_get(c, der, len), *b = x509_cache_get(c, der, len);
    CHECK(a != NULL && a == b);
    CHECK_EQ_U(st.cert_cache_misses, 1);
    CHECK_EQ_U(st.cert_cache_hits, 1);
    x509_info_unref(c, a);
    x509_info_unref(c, b);
    x509_info *p2 = x509_cache_get(c, dpre, lpre); /* capacity 1: the first is evicted */
    CHECK(p2 != NULL);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], 1);
    x509_info_unref(c, p2);
    x509_cache_free(c);

    OPENSSL_free(der);
    OPENSSL_free(dpre);
    OPENSSL_free(dfin);
    X509_free(x);
    X509_free(pre);
    X509_free(fin);
    EVP_PKEY_free(key);
    mw_hash_cleanup();
    MW_TEST_END();
}
