/* analyzers/x509_info against OpenSSL. x509_info decodes with d2i_X509 and reads the facts
 * with OpenSSL's accessors; what it computes itself is the CT TBS hash of certificates with
 * an SCT list or poison extension (RFC 6962 3.2), which it writes from the decoded fields
 * instead of OpenSSL's X509_dup + X509_delete_ext + i2d_re_X509_tbs (x509_ref.c). Checked for
 *  - every certificate in the directory given as argv[1] (the benchmark seed's server
 *    certificates and the Mozilla root store: real encoders, T61/BMP/UTF8 names, v1 roots),
 *  - certificates generated here, one per feature that changes a fact (key types and sizes,
 *    versions, serials, names, SAN kinds, CT precert/final pairs, dates, very many SANs),
 *  - hand-made DER (BER forms, odd versions and unique IDs next to CT extensions),
 *  - every one-byte mutation (xor 0x01, 0x80, 0xff) and truncation of a few of those:
 * x509_info accepts exactly what the reference accepts, with the same TBS hash, and its event
 * fragments (output/ev_x509.c) are valid JSON. */
#include <dirent.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ct.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdlib.h>

#include "ev_x509.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_test.h"
#include "x509_info.h"
#include "x509_ref.h"

static unsigned n_accepted, n_refused;

enum { REFUSED = 0, ACCEPTED = 1 };
/* With X509_DIFF_DUMP=PREFIX, each failing input is written to PREFIX-N.der to look at. */
static void dump_case(const uint8_t *der, size_t len) {
    static int n;
    const char *prefix = getenv("X509_DIFF_DUMP");
    char fn[512];
    if (!prefix) return;
    snprintf(fn, sizeof fn, "%s-%d.der", prefix, n++);
    FILE *fp = fopen(fn, "wb");
    if (fp) {
        fwrite(der, 1, len, fp);
        fclose(fp);
        fprintf(stderr, "  -> %s\n", fn);
    }
}

/* With X509_DIFF_SEEDS=DIR, each generated certificate is written there (fuzz seeds). */
static void save_seed(const uint8_t *der, size_t len, const char *label) {
    const char *dir = getenv("X509_DIFF_SEEDS");
    char fn[512];
    size_t o;
    if (!dir || len > 16384) return;
    o = (size_t)snprintf(fn, sizeof fn, "%s/gen-", dir);
    for (const char *c = label; *c && o + 5 < sizeof fn; c++) {
        char ch = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        fn[o++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    memcpy(fn + o, ".der", 5);
    FILE *fp = fopen(fn, "wb");
    if (fp) {
        fwrite(der, 1, len, fp);
        fclose(fp);
    }
}

/* The chain entry and the x509 object, rendered twice (the second time from the entry's
 * render slot): valid JSON, the same both times, the chain entry naming the DER's hash. */
static void check_fragments(x509_info *e, const char *label) {
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, 64u << 20);
    mw_json_init(&j, &b);
    mw_json_arr_begin(&j);
    for (int i = 0; i < 2; i++) {
        ev_x509_chain_entry(&j, e);
        ev_x509_object(&j, e);
    }
    mw_json_arr_end(&j);
    CHECK(j.ok);
    json_error_t err;
    json_t *v = json_loadb((const char *)b.data, b.len, JSON_ALLOW_NUL, &err);
    if (!v) fprintf(stderr, "%s: fragments are not JSON: %s\n", label, err.text);
    CHECK(v != NULL && json_array_size(v) == 4);
    if (v && json_array_size(v) == 4) {
        char hex[65];
        mw_hex(hex, e->sha256, 32);
        CHECK(json_equal(json_array_get(v, 0), json_array_get(v, 2)));
        CHECK(json_equal(json_array_get(v, 1), json_array_get(v, 3)));
        const char *sha = json_string_value(json_object_get(json_array_get(v, 0), "sha256"));
        CHECK(sha && strcmp(sha, hex) == 0);
        CHECK(json_is_array(json_object_get(json_array_get(v, 1), "alternative_names")));
    }
    json_decref(v);
    mw_buf_free(&b);
}

/* Parses one DER; returns ACCEPTED or REFUSED after checking it against the reference. */
static int compare_one(const uint8_t *der, size_t len, const char *label, bool must_accept) {
    an_stats st;
    memset(&st, 0, sizeof st);
    uint8_t want[32];
    bool ref = x509_ref_tbs_sha256(der, len, want);
    x509_info *got = x509_info_parse(der, len, &st);
    if (must_accept) save_seed(der, len, label);
    if ((got != NULL) != ref || (must_accept && !got)) {
        fprintf(stderr, "%s: x509_info %s it, OpenSSL %s it\n", label, got ? "accepts" : "refuses",
                ref ? "accepts" : "refuses");
        dump_case(der, len);
    }
    CHECK((got != NULL) == ref);
    CHECK(!must_accept || got != NULL);
    if (!got) {
        n_refused++;
        CHECK_EQ_U(st.an[AN_AN_x509_malformed], 1);
        return REFUSED;
    }
    n_accepted++;
    if (ref && memcmp(got->tbs_sha256, want, 32) != 0) {
        fprintf(stderr, "%s: tbs_sha256 differs from OpenSSL's\n", label);
        dump_case(der, len);
    }
    CHECK(!ref || memcmp(got->tbs_sha256, want, 32) == 0);
    CHECK(x509_info_x509(got) != NULL);
    CHECK_EQ_U(st.an[AN_AN_x509_malformed], 0);
    check_fragments(got, label);
    x509_info_free(got);
    return ACCEPTED;
}

static int load_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    CHECK(d != NULL);
    if (!d) return 0;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".der") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        compare_one(buf, len, path, true);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- generated certificates ---- */

static EVP_PKEY *ca_key; /* signs everything unless a test signs with the subject key */

static X509 *cert_new(EVP_PKEY *subject_key, long version) {
    X509 *x = X509_new();
    if (version >= 0) X509_set_version(x, version);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"XX", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Diff Org", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"diff.example.test",
                               -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1800000000);
    X509_set_pubkey(x, subject_key);
    return x;
}

static void add_ext(X509 *x, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    CHECK(e != NULL);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static void add_poison(X509 *x) {
    ASN1_OCTET_STRING *null_der = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(null_der, (const unsigned char *)"\x05\x00", 2);
    X509_EXTENSION *e = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_poison, 1, null_der);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(null_der);
}

static void add_scts(X509 *x, int count) {
    STACK_OF(SCT) *scts = sk_SCT_new_null();
    for (int i = 0; i < count; i++) {
        SCT *sct = SCT_new();
        uint8_t logid[32];
        memset(logid, 0xa0 + i, 32);
        SCT_set_version(sct, SCT_VERSION_V1);
        SCT_set1_log_id(sct, logid, 32);
        SCT_set_timestamp(sct, 1700000000123ull + (uint64_t)i);
        SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256);
        SCT_set1_signature(sct, (const unsigned char *)"\x30\x06\x02\x01\x01\x02\x01\x01", 8);
        sk_SCT_push(scts, sct);
    }
    X509_add1_ext_i2d(x, NID_ct_precert_scts, scts, 0, X509V3_ADD_APPEND);
    SCT_LIST_free(scts);
}

/* Signs (NULL md for Ed25519/Ed448), compares, frees; returns 1 when both accepted. */
static int check_cert(X509 *x, EVP_PKEY *signer, const EVP_MD *md, const char *label) {
    CHECK(X509_sign(x, signer ? signer : ca_key, md) > 0);
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    CHECK(len > 0);
    int r = len > 0 ? compare_one(der, (size_t)len, label, true) : 0;
    CHECK_EQ_U(r, 1);
    OPENSSL_free(der);
    X509_free(x);
    return r;
}

static EVP_PKEY *keygen_dsa(void) {
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
    EVP_PKEY *params = NULL, *key = NULL;
    if (pc && EVP_PKEY_paramgen_init(pc) > 0 && EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, 1024) > 0 &&
        EVP_PKEY_paramgen(pc, &params) > 0) {
        EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
        if (kc && EVP_PKEY_keygen_init(kc) > 0) EVP_PKEY_keygen(kc, &key);
        EVP_PKEY_CTX_free(kc);
    }
    EVP_PKEY_free(params);
    EVP_PKEY_CTX_free(pc);
    return key;
}

static EVP_PKEY *keygen_rsa_pss(void) {
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    EVP_PKEY *key = NULL;
    if (kc && EVP_PKEY_keygen_init(kc) > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) > 0)
        EVP_PKEY_keygen(kc, &key);
    EVP_PKEY_CTX_free(kc);
    return key;
}

static void mutate_sweep(const uint8_t *der, size_t len, const char *label) {
    uint8_t *m = malloc(len);
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    char lab[128];
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(m, der, len);
            m[i] ^= flips[f];
            snprintf(lab, sizeof lab, "%s byte %zu ^ 0x%02x", label, i, flips[f]);
            compare_one(m, len, lab, false);
        }
        snprintf(lab, sizeof lab, "%s truncated to %zu", label, i);
        compare_one(der, i, lab, false);
    }
    free(m);
}

/* ---- hand-made DER: encodings OpenSSL's API does not produce ---- */

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static uint8_t arena[1 << 20];
static size_t arena_used;

static blob blob_new(size_t n) {
    blob b = {arena + arena_used, n};
    arena_used += n;
    if (arena_used > sizeof arena) abort();
    return b;
}

static blob hex(const char *h) {
    blob b = blob_new(strlen(h) / 2);
    for (size_t i = 0; i < b.n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[2 * i + (size_t)k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        b.p[i] = (uint8_t)v;
    }
    return b;
}

static blob str(const char *s) {
    blob b = blob_new(strlen(s));
    memcpy(b.p, s, b.n);
    return b;
}

/* Concatenation of n blobs. */
static blob cat(int n, ...) {
    va_list ap;
    size_t total = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        total += va_arg(ap, blob).n;
    va_end(ap);
    blob out = blob_new(total);
    size_t o = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        blob b = va_arg(ap, blob);
        memcpy(out.p + o, b.p, b.n);
        o += b.n;
    }
    va_end(ap);
    return out;
}

/* A TLV; lenlen 0: minimal DER length, else the long form on lenlen octets (BER). */
static blob tlv_l(uint8_t tag, blob c, int lenlen) {
    int k = lenlen;
    if (k == 0) k = c.n < 0x80 ? 0 : c.n < 0x100 ? 1 : c.n < 0x10000 ? 2 : 3;
    blob b = blob_new(2 + (size_t)k + c.n);
    b.p[0] = tag;
    if (k == 0) {
        b.p[1] = (uint8_t)c.n;
    } else {
        b.p[1] = (uint8_t)(0x80 | k);
        for (int i = 0; i < k; i++)
            b.p[2 + i] = (uint8_t)(c.n >> (8 * (k - 1 - i)));
    }
    memcpy(b.p + 2 + k, c.p, c.n);
    b.n = 2 + (size_t)k + c.n;
    return b;
}
static blob tlv(uint8_t tag, blob c) {
    return tlv_l(tag, c, 0);
}

typedef struct {
    blob version, serial, sigalg, issuer, validity, subject, spki, uids, exts, outer_sigalg;
    int tbs_lenlen;
    bool tbs_indefinite; /* 30 80 .. 00 00 (BER) */
} parts;

static blob build(const parts *p) {
    blob fields = cat(9, p->version, p->serial, p->sigalg, p->issuer, p->validity, p->subject,
                      p->spki, p->uids, p->exts);
    blob tbs = p->tbs_indefinite ? cat(3, hex("3080"), fields, hex("0000"))
                                 : tlv_l(0x30, fields, p->tbs_lenlen);
    return tlv(0x30, cat(3, tbs, p->outer_sigalg, tlv(0x03, hex("000102030405060708"))));
}

static blob ext(const char *oid_hex, const char *crit_hex, blob value) {
    return tlv(0x30, cat(3, tlv(0x06, hex(oid_hex)), hex(crit_hex), tlv(0x04, value)));
}

static void handmade(EVP_PKEY *ec, EVP_PKEY *rsa) {
    uint8_t *spki_der = NULL, *rsa_der = NULL;
    int spki_len = i2d_PUBKEY(ec, &spki_der), rsa_len = i2d_PUBKEY(rsa, &rsa_der);
    blob spki = blob_new((size_t)spki_len), rsa_spki = blob_new((size_t)rsa_len);
    memcpy(spki.p, spki_der, spki.n);
    memcpy(rsa_spki.p, rsa_der, rsa_spki.n);
    OPENSSL_free(spki_der);
    OPENSSL_free(rsa_der);
    blob none = {arena, 0};
    blob name = tlv(0x30, tlv(0x31, tlv(0x30, cat(2, tlv(0x06, hex("550403")),
                                                  tlv(0x0c, str("hand.example.test"))))));
    blob ecdsa = tlv(0x30, tlv(0x06, hex("2a8648ce3d040302")));
    blob san = ext("551d11", "", tlv(0x30, tlv(0x82, str("hand.example.test"))));
    blob sct_list = tlv(0x04, hex("0000")); /* an empty SCT list: o2i refuses it */
    blob scts = ext("2b06010401d679020402", "", sct_list);
    blob v3 = tlv(0xa0, tlv(0x02, hex("02")));
    parts base = {
        .version = v3,
        .serial = tlv(0x02, hex("00c0ffee")),
        .sigalg = ecdsa,
        .issuer = name,
        .validity =
            tlv(0x30, cat(2, tlv(0x17, str("231114221320Z")), tlv(0x18, str("20510101000000Z")))),
        .subject = name,
        .spki = spki,
        .uids = none,
        .exts = tlv(0xa3, tlv(0x30, san)),
        .outer_sigalg = ecdsa,
    };
    static const char *const names[] = {"refused", "accepted"};
    struct {
        const char *label;
        int want;
        parts p;
    } cases[80];
    int n = 0;
#define CASE(lab, w, ...)                                                                          \
    do {                                                                                           \
        if (n >= (int)(sizeof cases / sizeof cases[0])) abort();                                   \
        cases[n].label = lab;                                                                      \
        cases[n].want = w;                                                                         \
        cases[n].p = base;                                                                         \
        __VA_ARGS__;                                                                               \
        n++;                                                                                       \
    } while (0)
#define P cases[n].p
    CASE("baseline", ACCEPTED, (void)0);
    CASE("v1 with extensions", ACCEPTED, P.version = none);
    CASE("version 1 explicit", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("00"))));
    CASE("version 4 (value 3)", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("03"))));
    CASE("version -1", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("ff"))));
    CASE("version 2^40", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("010000000000"))));
    CASE("issuer and subject unique IDs", ACCEPTED,
         P.uids = cat(2, tlv(0x81, hex("0001ff")), tlv(0x82, hex("0380"))));
    CASE("unique ID with unused bits set", ACCEPTED, P.uids = tlv(0x81, hex("03ff")));
    CASE("empty extension list", ACCEPTED, P.exts = tlv(0xa3, tlv(0x30, none)));
    CASE("explicit critical FALSE, SCT list", ACCEPTED,
         P.exts = tlv(0xa3,
                      tlv(0x30, cat(2, ext("551d11", "010100", tlv(0x30, tlv(0x82, str("a.test")))),
                                    scts))));
    CASE("critical 0x01, poison", ACCEPTED,
         P.exts = tlv(0xa3, tlv(0x30, cat(2, ext("2b06010401d679020403", "0101ff", hex("0500")),
                                          ext("551d13", "010101", hex("3000"))))));
    CASE("SPKI BIT STRING with unused bits set, SCT list", ACCEPTED, {
        blob k = cat(1, spki);
        k.p[k.n - 1] |= 1;
        k.p[spki.n - 66] = 1; /* unused-bits octet of the 65-octet point's BIT STRING */
        P.spki = k;
        P.exts = tlv(0xa3, tlv(0x30, cat(2, san, scts)));
    });
    CASE("EC point not on the curve", ACCEPTED, {
        blob k = cat(1, spki);
        k.p[k.n - 1] ^= 1;
        P.spki = k;
    });
    CASE("RSA key, AlgorithmIdentifier without NULL", ACCEPTED,
         P.spki = tlv(
             0x30,
             cat(2, tlv(0x30, tlv(0x06, hex("2a864886f70d010101"))),
                 tlv(0x03, cat(2, hex("00"),
                               tlv(0x30, cat(2, tlv(0x02, hex("00c5")), tlv(0x02, hex("03")))))))));
    CASE("RSA key with a negative modulus", ACCEPTED,
         P.spki = tlv(
             0x30,
             cat(2, tlv(0x30, cat(2, tlv(0x06, hex("2a864886f70d010101")), hex("0500"))),
                 tlv(0x03, cat(2, hex("00"),
                               tlv(0x30, cat(2, tlv(0x02, hex("c5")), tlv(0x02, hex("03")))))))));
    CASE("real RSA key", ACCEPTED, P.spki = rsa_spki);
    CASE("signature parameters INTEGER", ACCEPTED,
         P.sigalg = P.outer_sigalg =
             tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x02, hex("05")))));
    CASE("signature parameters [0] IMPLICIT", ACCEPTED,
         P.outer_sigalg =
             tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x80, hex("05")))));
    CASE("GeneralizedTime with fraction", ACCEPTED,
         P.validity = tlv(
             0x30, cat(2, tlv(0x18, str("20230101000000.5Z")), tlv(0x17, str("491231235959Z")))));
    CASE("UTCTime with offset", ACCEPTED,
         P.validity =
             tlv(0x30, cat(2, tlv(0x17, str("2301010000+0100")), tlv(0x17, str("491231235959Z")))));
    CASE("SAN without the DER sequence consumed", ACCEPTED,
         P.exts = tlv(
             0xa3,
             tlv(0x30, ext("551d11", "", cat(2, tlv(0x30, tlv(0x82, str("x.test"))), hex("00"))))));
    CASE("Name tagged 0x10 (primitive SEQUENCE)", ACCEPTED, {
        blob nm = cat(1, name);
        nm.p[0] = 0x10;
        P.subject = nm;
    });
    CASE("signature parameters of tag 0 (EOC) with contents", ACCEPTED,
         P.outer_sigalg =
             tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x00, hex("0102")))));
    CASE("unique IDs with unused bits set, poison", ACCEPTED, {
        P.uids = cat(2, tlv(0x81, hex("03ff")), tlv(0x82, hex("05")));
        P.exts = tlv(0xa3, tlv(0x30, ext("2b06010401d679020403", "0101ff", hex("0500"))));
    });
    CASE("signature parameters 00 00 (end-of-contents)", REFUSED,
         P.sigalg = tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), hex("0000"))));
    CASE("signature parameters: primitive SEQUENCE", REFUSED,
         P.sigalg = tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x10, hex("00")))));
    CASE("signature parameters: RELATIVE-OID, REAL, reserved tag 14", ACCEPTED, {
        P.sigalg = tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x0d, hex("01"))));
        P.outer_sigalg = tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d040302")), tlv(0x09, none)));
        P.spki = tlv(0x30, cat(2, tlv(0x30, cat(2, tlv(0x06, hex("2b6570")), tlv(0x0e, hex("aa")))),
                               tlv(0x03, cat(2, hex("00"), blob_new(32)))));
    });
    CASE("EC point at infinity (00)", ACCEPTED,
         P.spki = tlv(0x30, cat(2,
                                tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d0201")),
                                              tlv(0x06, hex("2a8648ce3d030107")))),
                                tlv(0x03, hex("0000")))));
    CASE("EC compressed point, P-384 curve OID with a P-256 point", ACCEPTED, {
        blob k = cat(1, spki);
        P.spki = tlv(0x30, cat(2,
                               tlv(0x30, cat(2, tlv(0x06, hex("2a8648ce3d0201")),
                                             tlv(0x06, hex("2b81040022")))),
                               tlv(0x03, cat(2, hex("0002"), (blob){k.p + k.n - 64, 32}))));
    });
    CASE("RSA key with exponent 0 and an even 20000-bit modulus", ACCEPTED, {
        blob m = blob_new(2501);
        m.p[1] = 0x80; /* 00 80 00 .. 00: 20000 bits */
        P.spki =
            tlv(0x30, cat(2, tlv(0x30, cat(2, tlv(0x06, hex("2a864886f70d010101")), hex("0500"))),
                          tlv(0x03, cat(2, hex("00"),
                                        tlv(0x30, cat(2, tlv(0x02, m), tlv(0x02, hex("00"))))))));
    });
    CASE("RSA key with trailing bytes after RSAPublicKey", ACCEPTED,
         P.spki =
             tlv(0x30,
                 cat(2, tlv(0x30, cat(2, tlv(0x06, hex("2a864886f70d010101")), hex("0500"))),
                     tlv(0x03, cat(3, hex("00"),
                                   tlv(0x30, cat(2, tlv(0x02, hex("00c5")), tlv(0x02, hex("03")))),
                                   hex("0000"))))));
    /* BER that OpenSSL tolerates (and writes back as DER) */
    CASE("TBS length in long form, 3 octets", ACCEPTED, P.tbs_lenlen = 3);
    CASE("serial length 0x81 0x04 (long form, fits short)", ACCEPTED,
         P.serial = tlv_l(0x02, hex("00c0ffee"), 1));
    CASE("extnValue as a constructed OCTET STRING", ACCEPTED,
         P.exts = tlv(0xa3, tlv(0x30, tlv(0x30, cat(2, tlv(0x06, hex("551d0e")),
                                                    tlv(0x24, tlv(0x04, hex("040101"))))))));
    /* CT extensions beside versions other than 3 and 2: the TBS is rebuilt the X509_dup way */
    CASE("v1 with an SCT list", ACCEPTED, P.version = none,
         P.exts = tlv(0xa3, tlv(0x30, cat(2, san, scts))));
    CASE("version 1 explicit, poison", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("00"))),
         P.exts = tlv(0xa3, tlv(0x30, ext("2b06010401d679020403", "0101ff", hex("0500")))));
    CASE("version 2, SCT list and poison only", ACCEPTED,
         P.version = tlv(0xa0, tlv(0x02, hex("01"))),
         P.exts = tlv(0xa3,
                      tlv(0x30, cat(2, scts, ext("2b06010401d679020403", "0101ff", hex("0500"))))));
    CASE("version -1, SCT list", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("ff"))),
         P.exts = tlv(0xa3, tlv(0x30, cat(2, scts, san))));
    CASE("version 2^40, poison", ACCEPTED, P.version = tlv(0xa0, tlv(0x02, hex("010000000000"))),
         P.exts = tlv(0xa3, tlv(0x30, ext("2b06010401d679020403", "0101ff", hex("0500")))));
    CASE("BER lengths around an SCT list", ACCEPTED, P.tbs_lenlen = 2,
         P.serial = tlv_l(0x02, hex("00c0ffee"), 2),
         P.exts = tlv_l(0xa3, tlv_l(0x30, cat(2, scts, san), 1), 2));
    CASE("constructed extnValue beside an SCT list", ACCEPTED,
         P.exts = tlv(0xa3, tlv(0x30, cat(2, scts,
                                          tlv(0x30, cat(2, tlv(0x06, hex("551d0e")),
                                                        tlv(0x24, tlv(0x04, hex("040101")))))))));
    CASE("SPKI parameters with a constructed reserved tag, SCT list", ACCEPTED,
         P.spki = tlv(
             0x30,
             cat(2, tlv(0x30, cat(2, tlv(0x06, hex("2a864886f70d010101")), tlv(0x2f, none))),
                 tlv(0x03, cat(2, hex("00"),
                               tlv(0x30, cat(2, tlv(0x02, hex("00c5")), tlv(0x02, hex("03")))))))),
         P.exts = tlv(0xa3, tlv(0x30, cat(2, san, scts))));
    /* refused */
    CASE("TBS of indefinite length (OpenSSL takes it, its CT TBS has none)", REFUSED,
         P.tbs_indefinite = true);
    CASE("serial with a padding octet", REFUSED, P.serial = tlv(0x02, hex("0001")));
    CASE("empty serial", REFUSED, P.serial = tlv(0x02, none));
    CASE("critical of 2 octets", REFUSED,
         P.exts = tlv(0xa3, tlv(0x30, ext("551d13", "01020000", hex("3000")))));
    CASE("bytes after the extensions", REFUSED,
         P.exts = cat(2, tlv(0xa3, tlv(0x30, san)), hex("0500")));
    CASE("OID with a 0x80 octet", REFUSED, P.sigalg = tlv(0x30, tlv(0x06, hex("2a80"))));
    CASE("Time of another type", REFUSED,
         P.validity =
             tlv(0x30, cat(2, tlv(0x13, str("231114221320Z")), tlv(0x17, str("491231235959Z")))));
#undef P
#undef CASE
    for (int i = 0; i < n; i++) {
        blob der = build(&cases[i].p);
        int got = compare_one(der.p, der.n, cases[i].label, false);
        if (got != cases[i].want)
            fprintf(stderr, "hand-made \"%s\": %s, expected %s\n", cases[i].label, names[got],
                    names[cases[i].want]);
        CHECK_EQ_U(got, cases[i].want);
    }
}

static void generated(void) {
    struct {
        const char *alg, *param;
        const char *label;
    } keys[] = {
        {"RSA", "1024", "RSA 1024"},         {"RSA", "2048", "RSA 2048"},
        {"RSA", "4096", "RSA 4096"},         {"EC", "P-256", "EC P-256"},
        {"EC", "P-384", "EC P-384"},         {"EC", "P-521", "EC P-521"},
        {"EC", "secp256k1", "EC secp256k1"}, {"EC", "brainpoolP256r1", "EC brainpoolP256r1"},
        {"ED25519", NULL, "Ed25519"},        {"ED448", NULL, "Ed448"},
        {"X25519", NULL, "X25519"},          {"X448", NULL, "X448"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        EVP_PKEY *k;
        if (strcmp(keys[i].alg, "RSA") == 0)
            k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(keys[i].param, NULL, 10));
        else if (keys[i].param)
            k = EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg, keys[i].param);
        else
            k = EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg);
        CHECK(k != NULL);
        if (!k) continue;
        X509 *x = cert_new(k, 2);
        add_ext(x, NID_subject_alt_name, "DNS:diff.example.test");
        bool can_sign = strcmp(keys[i].alg, "X25519") != 0 && strcmp(keys[i].alg, "X448") != 0;
        bool ed = strncmp(keys[i].alg, "ED", 2) == 0;
        /* self-signed where the key can sign (its own signature algorithm), else by the CA */
        check_cert(x, can_sign ? k : NULL, ed ? NULL : EVP_sha256(), keys[i].label);
        EVP_PKEY_free(k);
    }
    EVP_PKEY *dsa = keygen_dsa();
    CHECK(dsa != NULL);
    if (dsa) {
        check_cert(cert_new(dsa, 2), dsa, EVP_sha256(), "DSA 1024 self-signed");
        check_cert(cert_new(dsa, 2), NULL, EVP_sha256(), "DSA 1024 key");
        EVP_PKEY_free(dsa);
    }
    EVP_PKEY *pss = keygen_rsa_pss();
    CHECK(pss != NULL);
    if (pss) {
        check_cert(cert_new(pss, 2), pss, EVP_sha256(), "RSA-PSS key, PSS signature");
        EVP_PKEY_free(pss);
    }

    /* signature algorithms */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    check_cert(cert_new(rsa, 2), rsa, EVP_sha1(), "sha1WithRSAEncryption");
    check_cert(cert_new(rsa, 2), rsa, EVP_sha384(), "sha384WithRSAEncryption");
    check_cert(cert_new(rsa, 2), rsa, EVP_sha512(), "sha512WithRSAEncryption");
    check_cert(cert_new(rsa, 2), NULL, EVP_sha384(), "ecdsa-with-SHA384");

    /* versions: v1 without extensions, v2, explicit v3 with no extensions */
    check_cert(cert_new(rsa, -1), NULL, EVP_sha256(), "v1 (version omitted)");
    check_cert(cert_new(rsa, 1), NULL, EVP_sha256(), "v2");
    check_cert(cert_new(rsa, 2), NULL, EVP_sha256(), "v3 without extensions");

    /* serials */
    static const struct {
        const char *hex;
        bool neg;
        const char *label;
    } serials[] = {{"0", false, "serial 0"},
                   {"80", false, "serial 0x80 (leading zero octet)"},
                   {"1", true, "serial -1"},
                   {"80", true, "serial -128"},
                   {"81", true, "serial -129"},
                   {"10000", true, "serial -65536"},
                   {"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", false, "serial 20 octets"},
                   {"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", false, "serial 21 octets"},
                   {"123456789ABCDEF0123456789ABCDEF", true, "serial negative 16 octets"}};
    for (size_t i = 0; i < sizeof serials / sizeof serials[0]; i++) {
        X509 *x = cert_new(rsa, 2);
        BIGNUM *bn = NULL;
        BN_hex2bn(&bn, serials[i].hex);
        BN_set_negative(bn, serials[i].neg);
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
        check_cert(x, NULL, EVP_sha256(), serials[i].label);
    }

    /* names: string types, non-ASCII, escaping, multi-valued RDN, empty subject */
    {
        X509 *x = cert_new(rsa, 2);
        X509_NAME *n = X509_NAME_new();
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)"b\xc3\xbc"
                                                          "cher.example \xe6\x97\xa5\xe6\x9c\xac",
                                   -1, -1, 0);
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                   (const unsigned char *)"Caf\xc3\xa9, \"Quotes\" + <x>;#", -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)" lead", -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)"second", -1, -1,
                                   1); /* same RDN: multi-valued */
        X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8, (const unsigned char *)"Z\xc3\xbcrich",
                                   -1, -1, 0);
        X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_UTF8, (const unsigned char *)"S", -1, -1, 0);
        X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
                                   (const unsigned char *)"a@example.test", -1, -1, 0);
        X509_set_subject_name(x, n);
        X509_NAME_free(n);
        check_cert(x, NULL, EVP_sha256(), "UTF8 names with escapes");
    }
    {
        static const struct {
            int type;
            const char *bytes;
            int len;
            const char *label;
        } st[] = {
            {V_ASN1_PRINTABLESTRING, "Printable Name", 14, "PrintableString CN"},
            {V_ASN1_T61STRING, "T61 \xe9t\xe9", 8, "T61String CN"},
            {V_ASN1_BMPSTRING, "\x00\x42\x00\xdc\x4e\x2d", 6, "BMPString CN"},
            {V_ASN1_UNIVERSALSTRING, "\x00\x00\x00\x55\x00\x01\xf6\x00", 8, "UniversalString CN"},
            {V_ASN1_IA5STRING, "ia5@example.test", 16, "IA5String CN"},
            {V_ASN1_UTF8STRING, "", 0, "empty UTF8String CN"}};
        for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
            X509 *x = cert_new(rsa, 2);
            X509_NAME *n = X509_NAME_new();
            X509_NAME_add_entry_by_NID(n, NID_organizationName, V_ASN1_PRINTABLESTRING,
                                       (const unsigned char *)"Org", 3, -1, 0);
            X509_NAME_ENTRY *ne = X509_NAME_ENTRY_create_by_NID(
                NULL, NID_commonName, st[i].type, (const unsigned char *)st[i].bytes, st[i].len);
            CHECK(ne != NULL);
            X509_NAME_add_entry(n, ne, -1, 0);
            X509_NAME_ENTRY_free(ne);
            X509_set_issuer_name(x, n);
            X509_NAME_free(n);
            check_cert(x, NULL, EVP_sha256(), st[i].label);
        }
    }
    {
        X509 *x = cert_new(rsa, 2);
        X509_NAME *n = X509_NAME_new();
        X509_set_subject_name(x, n);
        X509_NAME_free(n);
        add_ext(x, NID_subject_alt_name, "critical,DNS:only-san.example.test");
        check_cert(x, NULL, EVP_sha256(), "empty subject, critical SAN");
    }

    /* SANs */
    {
        X509 *x = cert_new(rsa, 2);
        add_ext(x, NID_subject_alt_name,
                "DNS:a.example.test,IP:192.0.2.7,IP:2001:db8::1,email:who@example.test,"
                "URI:https://example.test/x?y=\"z\",RID:1.2.3.4,otherName:1.2.3.4;UTF8:other");
        check_cert(x, NULL, EVP_sha256(), "SAN kinds");
    }
    {
        X509 *x = cert_new(rsa, 2);
        GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
        for (int i = 0; i < 5000; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "host-%d.many.example.test", i);
            GENERAL_NAME *gn = GENERAL_NAME_new();
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            ASN1_STRING_set(s, nm, -1);
            GENERAL_NAME_set0_value(gn, GEN_DNS, s);
            sk_GENERAL_NAME_push(g, gn);
        }
        X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, 0);
        GENERAL_NAMES_free(g);
        check_cert(x, NULL, EVP_sha256(), "5000 SANs");
    }
    {
        X509 *x = cert_new(rsa, 2);
        add_ext(x, NID_subject_alt_name, "DNS:one.example.test");
        add_ext(x, NID_subject_alt_name, "DNS:two.example.test");
        check_cert(x, NULL, EVP_sha256(), "SAN extension twice");
    }

    /* dates */
    static const struct {
        int64_t nb, na;
        const char *label;
    } dates[] = {{-631152000, -1, "1950 .. 1969-12-31T23:59:59 (UTCTime)"},
                 {0, 2524608000, "1970 .. 2050-01-01 (GeneralizedTime)"},
                 {2461449599, 2524607999, "2047 .. 2049-12-31T23:59:59"},
                 {4102444800, 253402300799, "2100 .. 9999-12-31T23:59:59"},
                 {-2208988800, 1700000000, "1900 (GeneralizedTime before 1950)"}};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        X509 *x = cert_new(rsa, 2);
        CHECK(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)dates[i].nb) != NULL);
        CHECK(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)dates[i].na) != NULL);
        check_cert(x, NULL, EVP_sha256(), dates[i].label);
    }
    {
        X509 *x = cert_new(rsa, 2); /* GeneralizedTime for a date UTCTime could hold */
        ASN1_GENERALIZEDTIME_set_string(X509_getm_notBefore(x), "20200101000000Z");
        ASN1_UTCTIME_set_string(X509_getm_notAfter(x), "491231235959Z");
        check_cert(x, NULL, EVP_sha256(), "GeneralizedTime in 2020, UTCTime 2049");
    }

    /* CT: precertificate / final certificate pairs (TBS rebuilt without the CT extensions) */
    for (int variant = 0; variant < 4; variant++) {
        char lab[80];
        X509 *pre = cert_new(rsa, 2), *fin = cert_new(rsa, 2);
        if (variant != 1) { /* variant 1: the CT extension is the only one */
            add_ext(pre, NID_subject_alt_name, "DNS:ct.example.test");
            add_ext(fin, NID_subject_alt_name, "DNS:ct.example.test");
        }
        add_poison(pre);
        add_scts(fin, variant == 3 ? 5 : 1);
        if (variant >= 2) { /* extensions after the CT one, one critical */
            add_ext(pre, NID_basic_constraints, "critical,CA:FALSE");
            add_ext(fin, NID_basic_constraints, "critical,CA:FALSE");
            add_ext(pre, NID_key_usage, "digitalSignature");
            add_ext(fin, NID_key_usage, "digitalSignature");
        }
        CHECK(X509_sign(pre, ca_key, EVP_sha256()) > 0);
        CHECK(X509_sign(fin, ca_key, EVP_sha256()) > 0);
        uint8_t *dp = NULL, *df = NULL;
        int lp = i2d_X509(pre, &dp), lf = i2d_X509(fin, &df);
        snprintf(lab, sizeof lab, "precert variant %d", variant);
        CHECK_EQ_U(compare_one(dp, (size_t)lp, lab, true), 1);
        snprintf(lab, sizeof lab, "final cert variant %d", variant);
        CHECK_EQ_U(compare_one(df, (size_t)lf, lab, true), 1);
        an_stats st;
        memset(&st, 0, sizeof st);
        x509_info *a = x509_info_parse(dp, (size_t)lp, &st),
                  *b = x509_info_parse(df, (size_t)lf, &st);
        CHECK(a && b && memcmp(a->tbs_sha256, b->tbs_sha256, 32) == 0); /* RFC 6962 3.2 */
        CHECK(a && b && a->is_precert && !b->is_precert && !a->scts && b->scts &&
              sk_SCT_num(b->scts) == (variant == 3 ? 5 : 1));
        x509_info_free(a);
        x509_info_free(b);
        if (variant == 2) {
            mutate_sweep(dp, (size_t)lp, "precert");
            mutate_sweep(df, (size_t)lf, "final");
        }
        OPENSSL_free(dp);
        OPENSSL_free(df);
        X509_free(pre);
        X509_free(fin);
    }
    {
        X509 *x = cert_new(rsa, 2); /* SCT list twice: X509_get_ext_d2i gives none */
        add_scts(x, 1);
        add_scts(x, 2);
        check_cert(x, NULL, EVP_sha256(), "SCT list twice");
    }
    {
        X509 *x = cert_new(rsa, 2); /* SCT extension that is not an SCT list */
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x04\x03\x00\x05\x01", 5);
        X509_EXTENSION *e = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_scts, 0, v);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(v);
        check_cert(x, NULL, EVP_sha256(), "malformed SCT list");
    }
    {
        /* a typical leaf, for the mutation sweep: v3, EC key, SANs, several extensions */
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *x = cert_new(ec, 2);
        add_ext(x, NID_subject_alt_name, "DNS:sweep.example.test,IP:192.0.2.9");
        add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, NID_ext_key_usage, "serverAuth");
        CHECK(X509_sign(x, ca_key, EVP_sha256()) > 0);
        uint8_t *d = NULL;
        int l = i2d_X509(x, &d);
        mutate_sweep(d, (size_t)l, "leaf");
        OPENSSL_free(d);
        X509_free(x);
        x = cert_new(rsa, -1);
        CHECK(X509_sign(x, ca_key, EVP_sha256()) > 0);
        d = NULL;
        l = i2d_X509(x, &d);
        mutate_sweep(d, (size_t)l, "v1");
        OPENSSL_free(d);
        X509_free(x);
        EVP_PKEY_free(ec);
    }
    handmade(ca_key, rsa);
    EVP_PKEY_free(rsa);
}

int main(int argc, char **argv) {
    CHECK(mw_hash_init());
    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(ca_key != NULL);
    int files = argc > 1 ? load_dir(argv[1]) : 0;
    CHECK(files >= 100);
    CHECK_EQ_U(n_accepted, files);
    generated();
    printf("x509 diff: %d files; %u accepted with OpenSSL's TBS hash and valid fragments, %u "
           "refused by both (files, generated, hand-made and mutants)\n",
           files, n_accepted, n_refused);
    EVP_PKEY_free(ca_key);
    mw_hash_cleanup();
    MW_TEST_END();
}
