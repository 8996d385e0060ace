#include "mw_hash.h"

#include <openssl/evp.h>
#include <string.h>

static EVP_MD *md_sha256, *md_md5, *md_sha1;
/* One context per thread and digest, re-initialised for each use: EVP_Digest would allocate a
 * context and take the provider's locks on every call, which showed in profiles. */
static _Thread_local EVP_MD_CTX *ctx_sha256, *ctx_md5, *ctx_sha1;

bool mw_hash_init(void) {
    if (!md_sha256) md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!md_md5) md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    return md_sha256 && md_md5;
}

void mw_hash_thread_cleanup(void) {
    EVP_MD_CTX_free(ctx_sha256);
    EVP_MD_CTX_free(ctx_md5);
    EVP_MD_CTX_free(ctx_sha1);
    ctx_sha256 = ctx_md5 = ctx_sha1 = NULL;
}

void mw_hash_cleanup(void) {
    mw_hash_thread_cleanup();
    EVP_MD_free(md_sha256);
    EVP_MD_free(md_md5);
    EVP_MD_free(md_sha1);
    md_sha256 = md_md5 = md_sha1 = NULL;
}

static void digest(EVP_MD **md, const char *name, EVP_MD_CTX **ctx, const void *data, size_t len,
                   uint8_t *out, size_t outlen) {
    if (!*md) *md = EVP_MD_fetch(NULL, name, NULL);
    if (!*ctx) *ctx = EVP_MD_CTX_new();
    if (!*md || !*ctx || !EVP_DigestInit_ex(*ctx, *md, NULL) ||
        !EVP_DigestUpdate(*ctx, data, len) || !EVP_DigestFinal_ex(*ctx, out, NULL))
        memset(out, 0, outlen); /* only without a default provider: visible as all-zero */
}

void mw_sha256(const void *data, size_t len, uint8_t out[32]) {
    digest(&md_sha256, "SHA256", &ctx_sha256, data, len, out, 32);
}

void mw_md5(const void *data, size_t len, uint8_t out[16]) {
    digest(&md_md5, "MD5", &ctx_md5, data, len, out, 16);
}

void mw_sha1(const void *data, size_t len, uint8_t out[20]) {
    digest(&md_sha1, "SHA1", &ctx_sha1, data, len, out, 20);
}
