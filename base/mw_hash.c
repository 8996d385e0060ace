/* The one-shot SHA-256, MD5 and SHA-1 of OpenSSL's low-level API: the same assembly as the
 * providers, without their context. On OpenSSL 3.0 every EVP_DigestInit_ex frees and
 * re-creates the provider context (a malloc and a free per hash), and events hash many
 * small inputs per handshake (fingerprints, injection digests, ids). These functions are
 * deprecated in 3.0 but present in every 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "mw_hash.h"

#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <string.h>

static EVP_MD *md_sha256, *md_md5;

/* Checks once that the default provider offers the digests (as before); the hashing itself
 * does not go through it. */
bool mw_hash_init(void) {
    if (!md_sha256) md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!md_md5) md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    return md_sha256 && md_md5;
}

void mw_hash_thread_cleanup(void) {}

void mw_hash_cleanup(void) {
    EVP_MD_free(md_sha256);
    EVP_MD_free(md_md5);
    md_sha256 = md_md5 = NULL;
}

void mw_sha256(const void *data, size_t len, uint8_t out[32]) {
    SHA256_CTX c;
    if (!SHA256_Init(&c) || !SHA256_Update(&c, data, len) || !SHA256_Final(out, &c))
        memset(out, 0, 32);
}

void mw_md5(const void *data, size_t len, uint8_t out[16]) {
    MD5_CTX c;
    if (!MD5_Init(&c) || !MD5_Update(&c, data, len) || !MD5_Final(out, &c)) memset(out, 0, 16);
}

void mw_sha1(const void *data, size_t len, uint8_t out[20]) {
    SHA_CTX c;
    if (!SHA1_Init(&c) || !SHA1_Update(&c, data, len) || !SHA1_Final(out, &c)) memset(out, 0, 20);
}
