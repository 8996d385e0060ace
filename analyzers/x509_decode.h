/* Decoding a certificate seen on the wire, at a fifth of OpenSSL 3.0's cost.
 *
 * d2i_X509 decodes the public key too, and OpenSSL 3.0 builds a provider decoder context for
 * it on every call: it walks every decoder of every loaded provider against every key manager
 * by name, under locks (OSSL_DECODER_CTX_new_for_pkey, three quarters of a decode: about
 * 230 us of 300 here). x509_decode does the same decode in a library context of its own whose
 * one provider is OpenSSL's default provider seen through a filter: the same algorithms, the
 * same code, but only the key managers and SubjectPublicKeyInfo decoders of the key types
 * certificates carry (RSA, RSA-PSS, EC, Ed25519, Ed448), so the walk is short (about 50 us a
 * certificate). The certificate, its key and everything later done with them (signature
 * checks, chain validation, SCTs) are OpenSSL's own; only the walk is shorter.
 *
 * A key of any other type (DSA, SM2, an unknown algorithm), a key that does not decode, or a
 * process that does not use the default provider (a FIPS-only configuration: it is not
 * loaded for this) falls back to d2i_X509, so the result is always what d2i_X509
 * gives. */
#ifndef X509_DECODE_H
#define X509_DECODE_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

/* Decodes exactly len bytes of DER as one certificate: NULL when they are not one, or when
 * bytes are left over. */
X509 *x509_decode(const unsigned char *der, size_t len);

/* The library context x509_decode uses first, made on first use; NULL when it could not be
 * made (then x509_decode is d2i_X509). For tests. */
OSSL_LIB_CTX *x509_decode_libctx(void);

/* Counts, for tests and benchmarks: decodes done in the short context, and fallbacks. */
typedef struct {
    unsigned long fast, fallback;
} x509_decode_counts;
x509_decode_counts x509_decode_stats(void);

#endif
