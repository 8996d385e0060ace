/* Test-only reference: the CT TBS hash as OpenSSL's SCT code computes it (SCT_CTX_set1_cert:
 * X509_dup, X509_delete_ext of the SCT list and poison, i2d_re_X509_tbs), and the TBS as
 * received when there is nothing to remove. x509_info.c writes the same bytes from the
 * entry's own fields to spare X509_dup's second decode; x509_diff_test and fuzz_x509 compare
 * the two. */
#include "x509_ref.h"

#include <openssl/x509.h>

#include "mw_cursor.h"
#include "mw_hash.h"

/* One TLV with a definite length (X.690 8.1.3); *elem is all of it. */
static bool der_element(mw_cur *c, uint8_t want_tag, mw_cur *body, mw_cur *elem) {
    mw_cur start = *c;
    uint8_t tag, l0;
    uint32_t len = 0;
    if (!mw_cur_get_u8(c, &tag) || tag != want_tag || !mw_cur_get_u8(c, &l0)) return false;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4 || !mw_cur_get_uN(c, n, &len)) return false;
    }
    if (!mw_cur_get_bytes(c, len, body)) return false;
    elem->data = start.data;
    elem->len = (size_t)(body->data + body->len - start.data);
    return true;
}

bool x509_ref_tbs_sha256(const uint8_t *der, size_t len, uint8_t out[32]) {
    const unsigned char *p = der;
    X509 *x = len > 0 && len <= INT32_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (!x || p != der + len) {
        X509_free(x);
        return false;
    }
    bool ok = false;
    mw_cur c = mw_cur_make(der, len), cert, body, tbs, elem;
    if (!der_element(&c, 0x30, &cert, &elem) || !der_element(&cert, 0x30, &body, &tbs)) goto done;
    if (X509_get_ext_by_NID(x, NID_ct_precert_scts, -1) < 0 &&
        X509_get_ext_by_NID(x, NID_ct_precert_poison, -1) < 0) {
        mw_sha256(tbs.data, tbs.len, out);
        ok = true;
        goto done;
    }
    X509 *d = X509_dup(x);
    if (!d) goto done;
    int i;
    while ((i = X509_get_ext_by_NID(d, NID_ct_precert_scts, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(d, i));
    while ((i = X509_get_ext_by_NID(d, NID_ct_precert_poison, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(d, i));
    unsigned char *re = NULL;
    int n = i2d_re_X509_tbs(d, &re);
    if (n > 0) {
        mw_sha256(re, (size_t)n, out);
        ok = true;
    }
    OPENSSL_free(re);
    X509_free(d);
done:
    X509_free(x);
    return ok;
}
