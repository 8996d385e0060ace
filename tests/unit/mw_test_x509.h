/* Certificates for the unit tests that need one of a kind, not particular names: subject and
 * issuer CN=cn, the given serial, valid from 1700000000 to 1800000000, key's public key. */
#ifndef MW_TEST_X509_H
#define MW_TEST_X509_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

/* Version 3, not signed (extensions and another issuer may be added first). */
static inline X509 *mw_test_cert(const char *cn, long serial, EVP_PKEY *key) {
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1800000000);
    X509_set_pubkey(x, key);
    return x;
}

/* Signs x with signer (SHA-256; Ed25519 and Ed448 sign without a separate digest) and writes
 * its DER to *der (OPENSSL_free it): the length, 0 on failure. x is kept. */
static inline size_t mw_test_sign_der(X509 *x, EVP_PKEY *signer, uint8_t **der) {
    const EVP_MD *md =
        EVP_PKEY_is_a(signer, "ED25519") || EVP_PKEY_is_a(signer, "ED448") ? NULL : EVP_sha256();
    if (X509_sign(x, signer, md) <= 0) return 0;
    int n = i2d_X509(x, der);
    return n > 0 ? (size_t)n : 0;
}

#endif
