#include "x509_render.h"

#include "mw_encode.h"

#include <openssl/bio.h>
#include <stdbool.h>
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

void x509_name_json(mw_json *j, const char *key, const X509_NAME *n) {
    static const struct {
        int nid;
        const char *ecs;
    } attrs[] = {{NID_commonName, "common_name"},
                 {NID_organizationName, "organization"},
                 {NID_organizationalUnitName, "organizational_unit"},
                 {NID_countryName, "country"},
                 {NID_stateOrProvinceName, "state_or_province"},
                 {NID_localityName, "locality"}};
    mw_json_kobj(j, key);
    for (size_t a = 0; a < sizeof attrs / sizeof attrs[0]; a++) {
        int idx = -1;
        bool open = false;
        while ((idx = X509_NAME_get_index_by_NID(n, attrs[a].nid, idx)) >= 0) {
            const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
            unsigned char *u = NULL;
            int ulen = ASN1_STRING_to_UTF8(&u, s);
            if (ulen < 0) continue;
            if (!open) {
                mw_json_karr(j, attrs[a].ecs);
                open = true;
            }
            mw_json_str_n(j, (const char *)u, (size_t)ulen);
            OPENSSL_free(u);
        }
        if (open) mw_json_arr_end(j);
    }
    mw_json_obj_end(j);
}

char *x509_buf_to_str(mw_buf *b) {
    char *s = malloc(b->len + 1);
    if (s) {
        if (b->len) memcpy(s, b->data, b->len);
        s[b->len] = '\0';
    }
    mw_buf_free(b);
    return s;
}

char *x509_chain_entry_json(const x509_info *e, bool *ok) {
    char h1[65], h2[65], h3[65], nb[MW_TS_LEN], na[MW_TS_LEN];
    mw_hex(h1, e->sha256, 32);
    mw_hex(h2, e->tbs_sha256, 32);
    mw_hex(h3, e->spki_sha256, 32);
    mw_ts_sec(nb, e->not_before);
    mw_ts_sec(na, e->not_after);
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    mw_json_obj_begin(&j);
    mw_json_kstr(&j, "sha256", h1);
    mw_json_kstr(&j, "tbs_sha256", h2);
    mw_json_kstr(&j, "spki_sha256", h3);
    mw_json_kstr(&j, "subject", e->subject);
    mw_json_kstr(&j, "issuer", e->issuer);
    mw_json_kstr(&j, "not_before", nb);
    mw_json_kstr(&j, "not_after", na);
    mw_json_obj_end(&j);
    if (!j.ok)
        *ok = false;
    return x509_buf_to_str(&b);
}

char *x509_object_json(const x509_info *e, const x509_facts *f, bool *ok) {
    char nb[MW_TS_LEN], na[MW_TS_LEN];
    mw_ts_sec(nb, e->not_before);
    mw_ts_sec(na, e->not_after);
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    mw_json_obj_begin(&j);
    mw_json_kint(&j, "version_number", f->version + 1);
    if (f->serial_hex)
        mw_json_kstr(&j, "serial_number", f->serial_hex);
    mw_json_kstr(&j, "not_before", nb);
    mw_json_kstr(&j, "not_after", na);
    x509_name_json(&j, "subject", f->subject);
    x509_name_json(&j, "issuer", f->issuer);
    mw_json_key(&j, "alternative_names");
    mw_json_raw(&j, e->sans_json ? e->sans_json : "[]", e->sans_json ? strlen(e->sans_json) : 2);
    if (f->have_key) {
        if (f->key_type)
            mw_json_kstr(&j, "public_key_algorithm", f->key_type);
        mw_json_kint(&j, "public_key_size", f->key_bits);
        if (f->key_curve && f->key_curve[0])
            mw_json_kstr(&j, "public_key_curve", f->key_curve);
    }
    mw_json_kstr(&j, "signature_algorithm",
                 f->sig_nid != NID_undef ? OBJ_nid2ln(f->sig_nid) : "unknown");
    mw_json_obj_end(&j);
    if (!j.ok)
        *ok = false;
    return x509_buf_to_str(&b);
}
