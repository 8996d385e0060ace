#include "mw_hash.h"

#include <openssl/evp.h>
#include <string.h>

static EVP_MD *md_sha256, *md_md5;

bool mw_hash_init(void) {
    if (!md_sha256)
        md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!md_md5)
        md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    return md_sha256 && md_md5;
}

void mw_hash_cleanup(void) {
    EVP_MD_free(md_sha256);
    EVP_MD_free(md_md5);
    md_sha256 = md_md5 = NULL;
}

static void digest(EVP_MD **md, const char *name, const void *data, size_t len, uint8_t *out,
                   size_t outlen) {
    if (!*md)
        *md = EVP_MD_fetch(NULL, name, NULL);
    if (!*md || !EVP_Digest(data, len, out, NULL, *md, NULL))
        memset(out, 0, outlen); /* only without a default provider: visible as all-zero */
}

void mw_sha256(const void *data, size_t len, uint8_t out[32]) {
    digest(&md_sha256, "SHA256", data, len, out, 32);
}

void mw_md5(const void *data, size_t len, uint8_t out[16]) {
    digest(&md_md5, "MD5", data, len, out, 16);
}
