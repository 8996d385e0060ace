#include "x509_name.h"

#include <openssl/bio.h>
#include <stdlib.h>
#include <string.h>

char *x509_name_str(const X509_NAME *n) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (!b) return NULL;
    /* RFC 2253/4514 order and escaping, but keep UTF-8 as is (no \XX escapes of non-ASCII). */
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long len = BIO_get_mem_data(b, &p);
        out = malloc((size_t)len + 1);
        if (out) {
            if (len > 0) /* an empty name leaves the BIO without a buffer (p is NULL) */
                memcpy(out, p, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(b);
    return out;
}
