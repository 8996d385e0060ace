/* analyzers/tls_session: tls_hs_copy and tls_hs_release, what the judge stage of several
 * workers hands a handshake over with. The copy owns its strings and SCT lists (equal content,
 * other memory, the SCTs' source kept), shares the chain's cached certificates by reference,
 * and its release gives back exactly what it took. */
#include <openssl/ct.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include "mw_hash.h"
#include "mw_test.h"
#include "mw_test_x509.h"
#include "tls_session.h"
#include "x509_info.h"

static uint32_t refs(const x509_info *e) {
    return __atomic_load_n(&e->refs, __ATOMIC_ACQUIRE);
}

/* a self-signed P-256 certificate's DER */
static size_t make_cert(uint8_t **der) {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = mw_test_cert("copy.example.test", 7, k);
    size_t len = mw_test_sign_der(x, k, der);
    X509_free(x);
    EVP_PKEY_free(k);
    return len;
}

/* one v1 SCT with the given first log id byte, marked as from the TLS extension */
static SCT *make_sct(uint8_t id0) {
    SCT *sct = SCT_new();
    unsigned char log_id[32], sig[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(log_id, 0xab, sizeof log_id);
    log_id[0] = id0;
    SCT_set_version(sct, SCT_VERSION_V1);
    SCT_set1_log_id(sct, log_id, sizeof log_id);
    SCT_set_timestamp(sct, 1700000000123ull);
    SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256);
    SCT_set1_signature(sct, sig, sizeof sig);
    SCT_set_source(sct, SCT_SOURCE_TLS_EXTENSION);
    return sct;
}

static size_t sct_der(const STACK_OF(SCT) * l, unsigned char **out) {
    int n = i2o_SCT_LIST(l, out);
    return n > 0 ? (size_t)n : 0;
}

int main(void) {
    CHECK(mw_hash_init());
    an_stats st;
    memset(&st, 0, sizeof st);
    x509_cache *c = x509_cache_new(16, &st);
    uint8_t *der = NULL;
    size_t len = make_cert(&der);
    x509_info *e = x509_cache_get(c, der, len);
    CHECK(e != NULL && refs(e) == 1);

    tls_hs src;
    memset(&src, 0, sizeof src);
    src.have_ch = src.have_sh = true;
    src.version = 0x0303;
    src.cipher = 0xc02f;
    src.sni = strdup("copy.example.test");
    src.alpn_offered = strdup("xmpp-client");
    src.ja3_string = strdup("771,49199,0-11-10,29-23,0");
    src.ja3s_string = strdup("771,49199,65281-0");
    src.proxy_host = strdup("proxy.example.test");
    memcpy(src.ja3, "0123456789abcdef0123456789abcdef", 33);
    src.chain[0] = e;
    src.nchain = 1;
    src.tls_scts = sk_SCT_new_null();
    sk_SCT_push(src.tls_scts, make_sct(1));
    sk_SCT_push(src.tls_scts, make_sct(2));
    src.starttls = "xmpp";

    tls_hs dst;
    CHECK(tls_hs_copy(&dst, &src));
    CHECK_STR(dst.sni, "copy.example.test");
    CHECK_STR(dst.alpn_offered, "xmpp-client");
    CHECK_STR(dst.ja3_string, "771,49199,0-11-10,29-23,0");
    CHECK_STR(dst.ja3s_string, "771,49199,65281-0");
    CHECK_STR(dst.proxy_host, "proxy.example.test");
    CHECK(dst.alpn == NULL);
    CHECK(dst.sni != src.sni && dst.ja3_string != src.ja3_string &&
          dst.proxy_host != src.proxy_host);
    CHECK_STR(dst.ja3, "0123456789abcdef0123456789abcdef");
    CHECK_EQ_U(dst.cipher, 0xc02f);
    CHECK_EQ_U(dst.version, 0x0303);
    CHECK(dst.starttls == src.starttls); /* a static string: shared */
    CHECK_EQ_U(dst.nchain, 1);
    CHECK(dst.chain[0] == e);
    CHECK_EQ_U(refs(e), 2);
    CHECK(dst.ocsp_scts == NULL);
    CHECK(dst.tls_scts != NULL && dst.tls_scts != src.tls_scts);
    CHECK_EQ_U(sk_SCT_num(dst.tls_scts), 2);
    for (int i = 0; dst.tls_scts && i < sk_SCT_num(dst.tls_scts); i++) {
        CHECK(sk_SCT_value(dst.tls_scts, i) != sk_SCT_value(src.tls_scts, i));
        CHECK_EQ_U(SCT_get_source(sk_SCT_value(dst.tls_scts, i)), SCT_SOURCE_TLS_EXTENSION);
    }
    unsigned char *a = NULL, *b = NULL;
    size_t al = sct_der(src.tls_scts, &a), bl = sct_der(dst.tls_scts, &b);
    CHECK(al > 0 && al == bl && memcmp(a, b, al) == 0); /* the same SCTs, byte for byte */
    OPENSSL_free(a);
    OPENSSL_free(b);

    tls_hs_release(&dst, c);
    CHECK_EQ_U(refs(e), 1); /* its reference given back; the source's is still held */
    CHECK(dst.sni == NULL && dst.tls_scts == NULL && dst.nchain == 0);
    CHECK_STR(src.sni, "copy.example.test"); /* the source untouched */
    CHECK_EQ_U(sk_SCT_num(src.tls_scts), 2);

    /* nothing to own: a copy of an empty handshake holds nothing and releases cleanly */
    tls_hs empty, ecopy;
    memset(&empty, 0, sizeof empty);
    CHECK(tls_hs_copy(&ecopy, &empty));
    CHECK(ecopy.sni == NULL && ecopy.tls_scts == NULL && ecopy.nchain == 0);
    tls_hs_release(&ecopy, c);

    free(src.sni);
    free(src.alpn_offered);
    free(src.ja3_string);
    free(src.ja3s_string);
    free(src.proxy_host);
    SCT_LIST_free(src.tls_scts);
    x509_info_unref(c, e);
    x509_cache_free(c);
    OPENSSL_free(der);
    mw_hash_cleanup();
    MW_TEST_END();
}
