/* analyzers/x509_decode against d2i_X509: the same certificate, the same key facts, the same
 * verdicts, on every certificate of tests/data/x509 (real servers' and hand-made edge cases)
 * and on made ones of every key type certificates carry; the types outside the short walk
 * (DSA) fall back to d2i_X509 and are counted. Chains mixing certificates of both contexts
 * validate, and a broken signature still fails.
 * usage: x509_decode_test DIR */
#include <dirent.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"
#include "mw_test_x509.h"
#include "x509_decode.h"

static X509 *reference(const unsigned char *der, size_t len) {
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* x509_decode and d2i_X509 agree on these bytes: both refuse them, or both give the same
 * certificate with the same key facts. */
static void same_as_d2i(const unsigned char *der, size_t len, const char *what) {
    int fails = mw_t_fail;
    X509 *a = x509_decode(der, len), *b = reference(der, len);
    ERR_clear_error();
    CHECK((a == NULL) == (b == NULL));
    if (!a || !b) {
        X509_free(a);
        X509_free(b);
        return;
    }
    unsigned char *da = NULL, *db = NULL;
    int la = i2d_X509(a, &da), lb = i2d_X509(b, &db);
    CHECK(la == lb && la > 0 && memcmp(da, db, (size_t)la) == 0);
    OPENSSL_free(da);
    OPENSSL_free(db);
    EVP_PKEY *ka = X509_get0_pubkey(a), *kb = X509_get0_pubkey(b);
    ERR_clear_error();
    CHECK((ka == NULL) == (kb == NULL));
    if (ka && kb) {
        CHECK_STR(EVP_PKEY_get0_type_name(ka), EVP_PKEY_get0_type_name(kb));
        CHECK_EQ_U(EVP_PKEY_get_bits(ka), EVP_PKEY_get_bits(kb));
        char ga[80] = "", gb[80] = "";
        EVP_PKEY_get_group_name(ka, ga, sizeof ga, NULL);
        EVP_PKEY_get_group_name(kb, gb, sizeof gb, NULL);
        CHECK_STR(ga, gb);
        CHECK(EVP_PKEY_eq(ka, kb) == 1);
        /* a self-signed certificate verifies (or not) by its own key alike */
        CHECK_EQ_U(X509_verify(a, ka) == 1, X509_verify(b, kb) == 1);
    }
    CHECK_EQ_U(X509_check_ca(a), X509_check_ca(b));
    CHECK_EQ_U(X509_get_extension_flags(a), X509_get_extension_flags(b));
    ERR_clear_error();
    if (mw_t_fail > fails) fprintf(stderr, "  (after %s)\n", what);
    X509_free(a);
    X509_free(b);
}

/* A certificate for cn with key, issued by issuer (NULL: by itself) and signed with ikey: a CA
 * (basic constraints and keyCertSign) or a leaf; its DER in *der. */
static X509 *make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, bool ca,
                  unsigned char **der, size_t *len) {
    X509 *x = mw_test_cert(cn, 42, key);
    if (issuer) X509_set_issuer_name(x, X509_get_subject_name(issuer));
    X509V3_CTX v;
    X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e =
        X509V3_EXT_conf_nid(NULL, &v, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (ca) {
        e = X509V3_EXT_conf_nid(NULL, &v, NID_key_usage, "critical,keyCertSign,cRLSign");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    *len = mw_test_sign_der(x, ikey, der);
    return x;
}

/* X509_verify_cert of leaf over untrusted up to the store's anchors, inside every validity:
 * its result, error and error depth. */
static int verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) * untrusted, int *err, int *depth) {
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    X509_STORE_CTX_init(vc, store, leaf, untrusted);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(vc), 1750000000);
    int r = X509_verify_cert(vc);
    *err = X509_STORE_CTX_get_error(vc);
    *depth = X509_STORE_CTX_get_error_depth(vc);
    X509_STORE_CTX_free(vc);
    ERR_clear_error();
    return r;
}

/* root (made here, in the trust store) -> intermediate -> leaf, both below it decoded by
 * x509_decode: validates; with one bit of the leaf's signature flipped: fails on it. */
static void chain(EVP_PKEY *rk, EVP_PKEY *ik, EVP_PKEY *lk) {
    unsigned char *dr = NULL, *di = NULL, *dl = NULL;
    size_t lr, li, ll;
    X509 *root = make("decode root", rk, NULL, rk, true, &dr, &lr);
    X509 *inter0 = make("decode intermediate", ik, root, rk, true, &di, &li);
    X509 *leaf0 = make("decode.example.test", lk, inter0, ik, false, &dl, &ll);
    X509 *inter = x509_decode(di, li), *leaf = x509_decode(dl, ll);
    CHECK(inter && leaf);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, inter);
    int err, depth;
    CHECK_EQ_U(verify(store, leaf, untrusted, &err, &depth), 1);
    CHECK_EQ_U(err, X509_V_OK);
    dl[ll - 1] ^= 1; /* the last byte of the signature */
    X509 *bad = x509_decode(dl, ll);
    CHECK(bad != NULL);
    CHECK_EQ_U(verify(store, bad, untrusted, &err, &depth), 0);
    CHECK_EQ_U(err, X509_V_ERR_CERT_SIGNATURE_FAILURE);
    CHECK_EQ_U(depth, 0);
    X509_free(bad);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    X509_free(inter);
    X509_free(leaf);
    X509_free(inter0);
    X509_free(leaf0);
    X509_free(root);
    OPENSSL_free(dr);
    OPENSSL_free(di);
    OPENSSL_free(dl);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: x509_decode_test DIR\n");
        return 2;
    }
    CHECK(x509_decode_libctx() != NULL); /* Debian's OpenSSL 3 has its default provider */

    /* every certificate the tests hold */
    DIR *d = opendir(argv[1]);
    CHECK(d != NULL);
    int files = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".der") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        same_as_d2i(buf, n, de->d_name);
        /* cut short and with a byte too many: refused alike */
        same_as_d2i(buf, n / 2, de->d_name);
        buf[n] = 0;
        same_as_d2i(buf, n + 1, de->d_name);
        files++;
    }
    if (d) closedir(d);
    CHECK(files >= 20);

    /* every key type, and the fallback */
    struct {
        const char *type, *arg;
        bool fallback;
    } kinds[] = {
        {"RSA", NULL, false},     {"EC", "P-256", false},   {"EC", "P-384", false},
        {"EC", "P-521", false},   {"ED25519", NULL, false}, {"ED448", NULL, false},
        {"RSA-PSS", NULL, false}, {"DSA", NULL, true},
    };
    EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        EVP_PKEY *k = NULL;
        if (strcmp(kinds[i].type, "RSA") == 0)
            k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        else if (strcmp(kinds[i].type, "RSA-PSS") == 0) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
            EVP_PKEY_keygen_init(pc);
            EVP_PKEY_CTX_set_rsa_keygen_bits(pc, 2048);
            EVP_PKEY_keygen(pc, &k);
            EVP_PKEY_CTX_free(pc);
        } else if (strcmp(kinds[i].type, "EC") == 0)
            k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kinds[i].arg);
        else if (strcmp(kinds[i].type, "DSA") == 0) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
            EVP_PKEY *params = NULL;
            EVP_PKEY_paramgen_init(pc);
            EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, 2048);
            EVP_PKEY_paramgen(pc, &params);
            EVP_PKEY_CTX_free(pc);
            pc = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
            EVP_PKEY_keygen_init(pc);
            EVP_PKEY_keygen(pc, &k);
            EVP_PKEY_CTX_free(pc);
            EVP_PKEY_free(params);
        } else
            k = EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].type);
        CHECK(k != NULL);
        if (!k) {
            fprintf(stderr, "  (no %s key)\n", kinds[i].type);
            continue;
        }
        unsigned char *der = NULL;
        size_t n;
        X509 *x = make("kind.example.test", k, NULL, signer, false, &der, &n);
        x509_decode_counts c0 = x509_decode_stats();
        same_as_d2i(der, n, kinds[i].type);
        x509_decode_counts c1 = x509_decode_stats();
        CHECK_EQ_U(c1.fast - c0.fast, kinds[i].fallback ? 0 : 1);
        CHECK_EQ_U(c1.fallback - c0.fallback, kinds[i].fallback ? 1 : 0);
        OPENSSL_free(der);
        X509_free(x);
        EVP_PKEY_free(k);
    }

    /* chains: keys of the usual types at every level, signatures checked across contexts */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    chain(rsa, ec, signer);
    chain(ec, rsa, rsa);
    chain(ed, ed, ec);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(signer);
    MW_TEST_END();
}
