/* Test-only reference: the OpenSSL-based x509_info_parse that the structural walk replaced
 * (d2i_X509, then the facts through OpenSSL's accessors), kept as the oracle for
 * x509_diff_test and fuzz_x509. Returns an x509_info freed by x509_info_free. */
#include "x509_ref.h"
#include "x509_render.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "mw_cursor.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_json.h"

static int64_t asn1_time_epoch(const ASN1_TIME *t) {
    int days = 0, secs = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    if (!epoch || !t || !ASN1_TIME_diff(&days, &secs, epoch, t)) {
        ASN1_TIME_free(epoch);
        return 0;
    }
    ASN1_TIME_free(epoch);
    return (int64_t)days * 86400 + secs;
}

/* TBS as CT defines it for matching a precertificate to its final certificate (RFC 6962
 * section 3.2): the TBSCertificate without the SCT list and the poison extension. */
/* One DER TLV header: tag, then a definite length (X.690 8.1.3). Returns the whole element
 * (header and contents) as *elem. */
static bool der_element(mw_cur *c, uint8_t want_tag, mw_cur *elem) {
    mw_cur start = *c, body;
    uint8_t tag, l0;
    uint32_t len = 0;
    if (!mw_cur_get_u8(c, &tag) || tag != want_tag || !mw_cur_get_u8(c, &l0)) return false;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4 || !mw_cur_get_uN(c, n, &len)) return false;
    }
    if (!mw_cur_get_bytes(c, len, &body)) return false;
    elem->data = start.data;
    elem->len = (size_t)(body.data + body.len - start.data);
    return true;
}

/* Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }  RFC 5280 4.1 */
static bool der_tbs(const uint8_t *der, size_t len, mw_cur *tbs) {
    mw_cur c = mw_cur_make(der, len), cert;
    if (!der_element(&c, 0x30, &cert)) return false;
    mw_cur inner = cert;
    uint8_t tag, l0;
    if (!mw_cur_get_u8(&inner, &tag) || !mw_cur_get_u8(&inner, &l0)) /* outer header */
        return false;
    if (l0 >= 0x80 && !mw_cur_skip(&inner, l0 & 0x7f)) return false;
    return der_element(&inner, 0x30, tbs);
}

static bool tbs_hash(X509 *x, const uint8_t *orig, size_t orig_len, uint8_t out[32]) {
    int i_sct = X509_get_ext_by_NID(x, NID_ct_precert_scts, -1);
    int i_poison = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1);
    unsigned char *der = NULL;
    int len;
    if (i_sct < 0 && i_poison < 0) {
        mw_cur tbs; /* nothing to remove: hash the bytes as received */
        if (!der_tbs(orig, orig_len, &tbs)) return false;
        mw_sha256(tbs.data, tbs.len, out);
        return true;
    } else {
        X509 *d = X509_dup(x);
        if (!d) return false;
        int i;
        while ((i = X509_get_ext_by_NID(d, NID_ct_precert_scts, -1)) >= 0)
            X509_EXTENSION_free(X509_delete_ext(d, i));
        while ((i = X509_get_ext_by_NID(d, NID_ct_precert_poison, -1)) >= 0)
            X509_EXTENSION_free(X509_delete_ext(d, i));
        len = i2d_re_X509_tbs(d, &der);
        X509_free(d);
    }
    if (len <= 0) return false;
    mw_sha256(der, (size_t)len, out);
    OPENSSL_free(der);
    return true;
}

static void sans(mw_json *j, X509 *x) {
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    mw_json_arr_begin(j);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
            const ASN1_IA5STRING *s = g->d.ia5;
            mw_json_str_n(j, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        } else if (g->type == GEN_IPADD) {
            char ip[INET6_ADDRSTRLEN] = "";
            int l = ASN1_STRING_length(g->d.ip);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.ip);
            if (l == 4 || l == 16) {
                inet_ntop(l == 4 ? AF_INET : AF_INET6, p, ip, sizeof ip);
                mw_json_str(j, ip);
            }
        }
    }
    mw_json_arr_end(j);
    GENERAL_NAMES_free(gens);
}

static bool build_json(x509_info *e, an_stats *st) {
    X509 *x = e->x;
    bool ok = true;
    e->chain_json = x509_chain_entry_json(e, &ok);

    mw_buf b;
    mw_json j;

    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    sans(&j, x);
    ok = ok && j.ok;
    e->sans_json = x509_buf_to_str(&b);

    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *serial = bn ? BN_bn2hex(bn) : NULL;
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char grp[80] = "";
    if (pk && !EVP_PKEY_get_group_name(pk, grp, sizeof grp, NULL))
        grp[0] = '\0';
    x509_facts f = {.version = X509_get_version(x),
                    .serial_hex = serial,
                    .subject = X509_get_subject_name(x),
                    .issuer = X509_get_issuer_name(x),
                    .have_key = pk != NULL,
                    .key_type = pk ? EVP_PKEY_get0_type_name(pk) : NULL,
                    .key_bits = pk ? EVP_PKEY_get_bits(pk) : 0,
                    .key_curve = grp,
                    .sig_nid = X509_get_signature_nid(x)};
    e->x509_json = x509_object_json(e, &f, &ok);
    OPENSSL_free(serial);
    BN_free(bn);
    (void)st;
    return ok && e->chain_json && e->x509_json && e->sans_json;
}

x509_info *x509_ref_parse(const uint8_t *der, size_t len, an_stats *st) {
    const unsigned char *p = der;
    if (len == 0 || len > (size_t)INT32_MAX) {
        st->an[AN_AN_x509_malformed]++;
        return NULL;
    }
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) { /* all of it, and only it, must be the certificate */
        X509_free(x);
        st->an[AN_AN_x509_malformed]++;
        return NULL;
    }
    x509_info *e = calloc(1, sizeof *e);
    if (!e) {
        X509_free(x);
        return NULL;
    }
    e->x = x;
    mw_sha256(der, len, e->sha256);
    unsigned char *spki = NULL;
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (spki_len > 0) mw_sha256(spki, (size_t)spki_len, e->spki_sha256);
    OPENSSL_free(spki);
    if (!tbs_hash(x, der, len, e->tbs_sha256)) goto fail;
    e->subject = x509_name_str(X509_get_subject_name(x));
    e->issuer = x509_name_str(X509_get_issuer_name(x));
    if (!e->subject || !e->issuer) goto fail;
    e->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    e->not_before = asn1_time_epoch(X509_get0_notBefore(x));
    e->not_after = asn1_time_epoch(X509_get0_notAfter(x));
    e->is_precert = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1) >= 0;
    if (X509_get_ext_by_NID(x, NID_ct_precert_scts, -1) >= 0) {
        e->scts = X509_get_ext_d2i(x, NID_ct_precert_scts, NULL, NULL);
        if (!e->scts) st->an[AN_AN_sct_list_malformed]++;
        for (int i = 0; e->scts && i < sk_SCT_num(e->scts); i++)
            SCT_set_source(sk_SCT_value(e->scts, i), SCT_SOURCE_X509V3_EXTENSION);
    }
    if (!build_json(e, st)) goto fail;
    return e;
fail:
    st->an[AN_AN_x509_malformed]++;
    x509_info_free(e);
    return NULL;
}

static bool bytes_same(const unsigned char *a, size_t la, const unsigned char *b, size_t lb) {
    return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

/* Field by field: an SCT that o2i accepts may not encode back (i2o), e.g. a zero-length
 * signature, so encodings are not compared. */
static bool sct_same(const SCT *a, const SCT *b) {
    unsigned char *pa, *pb; /* SCT_get0_* take non-const pointers to const data */
    size_t la, lb;
    if (SCT_get_version(a) != SCT_get_version(b) || SCT_get_timestamp(a) != SCT_get_timestamp(b) ||
        SCT_get_signature_nid(a) != SCT_get_signature_nid(b) ||
        SCT_get_source(a) != SCT_get_source(b) ||
        SCT_get_log_entry_type(a) != SCT_get_log_entry_type(b))
        return false;
    la = SCT_get0_log_id(a, &pa);
    lb = SCT_get0_log_id(b, &pb);
    if (!bytes_same(pa, la, pb, lb)) return false;
    la = SCT_get0_extensions(a, &pa);
    lb = SCT_get0_extensions(b, &pb);
    if (!bytes_same(pa, la, pb, lb)) return false;
    la = SCT_get0_signature(a, &pa);
    lb = SCT_get0_signature(b, &pb);
    return bytes_same(pa, la, pb, lb);
}

static bool sct_lists_same(const STACK_OF(SCT) * a, const STACK_OF(SCT) * b) {
    if (!a || !b) return a == b;
    if (sk_SCT_num(a) != sk_SCT_num(b)) return false;
    for (int i = 0; i < sk_SCT_num(a); i++)
        if (!sct_same(sk_SCT_value(a, i), sk_SCT_value(b, i))) return false;
    return true;
}

static bool str_same(const char *a, const char *b) {
    return a && b && strcmp(a, b) == 0;
}

const char *x509_ref_diff(const x509_info *a, const x509_info *b) {
    if (memcmp(a->sha256, b->sha256, 32) != 0) return "sha256";
    if (memcmp(a->tbs_sha256, b->tbs_sha256, 32) != 0) return "tbs_sha256";
    if (memcmp(a->spki_sha256, b->spki_sha256, 32) != 0) return "spki_sha256";
    if (!str_same(a->subject, b->subject)) return "subject";
    if (!str_same(a->issuer, b->issuer)) return "issuer";
    if (a->not_before != b->not_before) return "not_before";
    if (a->not_after != b->not_after) return "not_after";
    if (a->is_precert != b->is_precert) return "is_precert";
    if (a->self_issued != b->self_issued) return "self_issued";
    if (!sct_lists_same(a->scts, b->scts)) return "scts";
    if (!str_same(a->chain_json, b->chain_json)) return "chain_json";
    if (!str_same(a->x509_json, b->x509_json)) return "x509_json";
    if (!str_same(a->sans_json, b->sans_json)) return "sans_json";
    return NULL;
}

int x509_ref_canonical(const uint8_t *der, size_t len) {
    const unsigned char *p = der;
    X509 *x = len <= (size_t)INT32_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (!x || p != der + len) {
        X509_free(x);
        return -1;
    }
    /* i2d_re_X509_tbs drops the cached TBS encoding, so i2d_X509 re-encodes every field */
    unsigned char *tbs = NULL, *all = NULL;
    int tl = i2d_re_X509_tbs(x, &tbs);
    int al = i2d_X509(x, &all);
    int r = tl > 0 && al > 0 && (size_t)al == len && memcmp(all, der, len) == 0;
    OPENSSL_free(tbs);
    OPENSSL_free(all);
    X509_free(x);
    return r;
}
