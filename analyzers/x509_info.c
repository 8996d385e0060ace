#include "x509_info.h"
#include "x509_render.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mw_cursor.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_json.h"

const char *const an_anomaly_names[AN_AN_COUNT] = {
#define X(n) #n,
    AN_ANOMALIES(X)
#undef X
};

#define NBUCKETS_MIN 1024u

struct x509_cache {
    x509_info **buckets;
    uint32_t mask;
    uint32_t count, capacity;
    x509_info *fifo_head, *fifo_tail; /* oldest first */
    an_stats *st;
};

/* ---- DER walk (X.690 DER, RFC 5280 4.1) ----
 *
 * The facts are read from the certificate's own bytes instead of d2i_X509, whose eager
 * decode of the public key through OpenSSL 3's provider decoders dominated the sensor's
 * time. The pieces with their own rules (names, times, SANs, SCT lists, unusual keys) are
 * still decoded by OpenSSL, one element at a time, so they accept what d2i_X509 accepts.
 * The walk itself refuses some BER that OpenSSL tolerates and would write back differently
 * (servers send DER): long-form lengths that fit a shorter form, indefinite lengths, high tag
 * numbers, constructed strings, an Extensions list tagged 0x10, parameter BIT STRINGs with
 * unused bits set. Such a certificate is counted as x509_malformed. tests/fuzz/fuzz_x509.c
 * checks that nothing else differs. */

/* One TLV: tag (low tag number form), then a minimal definite length (X.690 10.1).
 * *elem is the whole element, *body its contents. */
static bool der_get(mw_cur *c, uint8_t *tag, mw_cur *body, mw_cur *elem) {
    mw_cur save = *c;
    uint8_t t, l0;
    uint32_t len = 0;
    if (!mw_cur_get_u8(c, &t) || (t & 0x1f) == 0x1f || !mw_cur_get_u8(c, &l0)) goto bad;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4 || !mw_cur_get_uN(c, n, &len)) goto bad;
        /* minimal: no leading zero octet, and the short form when it fits */
        if (len < 0x80 || (n > 1 && len < (1u << (8 * (n - 1))))) goto bad;
    }
    if (!mw_cur_get_bytes(c, len, body)) goto bad;
    *tag = t;
    elem->data = save.data;
    elem->len = (size_t)(body->data + body->len - save.data);
    return true;
bad:
    *c = save;
    return false;
}

static bool der_expect(mw_cur *c, uint8_t want, mw_cur *body, mw_cur *elem) {
    mw_cur save = *c;
    uint8_t t;
    if (!der_get(c, &t, body, elem)) return false;
    if (t != want) {
        *c = save;
        return false;
    }
    return true;
}

static bool der_next_is(const mw_cur *c, uint8_t tag) {
    uint8_t t;
    return mw_cur_peek_u8(c, 0, &t) && t == tag;
}

/* OBJECT IDENTIFIER contents as OpenSSL's c2i_ASN1_OBJECT accepts them: non-empty, the last
 * octet ends a subidentifier, no subidentifier starts with 0x80. */
static bool der_oid_ok(const mw_cur *oid) {
    uint8_t b, prev = 0;
    if (!mw_cur_peek_u8(oid, oid->len - 1, &b) || (b & 0x80)) return false; /* also: empty */
    for (size_t i = 0; mw_cur_peek_u8(oid, i, &b); i++) {
        if (b == 0x80 && !(prev & 0x80)) return false;
        prev = b;
    }
    return true;
}

/* Whether the first octet of c is want. */
static bool first_is(const mw_cur *c, uint8_t want) {
    uint8_t b;
    return mw_cur_peek_u8(c, 0, &b) && b == want;
}

/* INTEGER contents: non-empty and minimal (X.690 8.3.2), as OpenSSL 3 requires. */
static bool der_int_ok(const mw_cur *v) {
    uint8_t b0, b1;
    if (!mw_cur_peek_u8(v, 0, &b0)) return false;
    if (mw_cur_peek_u8(v, 1, &b1) && ((b0 == 0x00 && !(b1 & 0x80)) || (b0 == 0xff && (b1 & 0x80))))
        return false;
    return true;
}

/* A non-negative INTEGER (contents already der_int_ok). */
static bool der_int_positive(const mw_cur *v) {
    uint8_t b0;
    return mw_cur_peek_u8(v, 0, &b0) && !(b0 & 0x80);
}

/* BIT STRING contents: the unused-bits octet, at most 7 (OpenSSL's c2i_ASN1_BIT_STRING). */
static bool der_bits_ok(const mw_cur *v) {
    uint8_t pad;
    return mw_cur_peek_u8(v, 0, &pad) && pad <= 7;
}

/* Whether OpenSSL writes this BIT STRING back unchanged: it clears the unused bits of the
 * last octet, and writes an empty string with 0 unused bits. */
static bool der_bits_canonical(const mw_cur *v) {
    uint8_t pad, last;
    if (!mw_cur_peek_u8(v, 0, &pad) || !mw_cur_peek_u8(v, v->len - 1, &last)) return false;
    if (v->len == 1) return pad == 0;
    return (last & ~(0xffu << pad) & 0xff) == 0;
}

static bool oid_is(const mw_cur *oid, const char *hex_der, size_t n) {
    return oid->len == n && memcmp(oid->data, hex_der, n) == 0;
}
#define OID_IS(oid, lit) oid_is((oid), (lit), sizeof(lit) - 1)

#define OID_SAN "\x55\x1d\x11"                                   /* 2.5.29.17 */
#define OID_CT_SCTS "\x2b\x06\x01\x04\x01\xd6\x79\x02\x04\x02"   /* 1.3.6.1.4.1.11129.2.4.2 */
#define OID_CT_POISON "\x2b\x06\x01\x04\x01\xd6\x79\x02\x04\x03" /* 1.3.6.1.4.1.11129.2.4.3 */
#define OID_RSA "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"           /* rsaEncryption */
#define OID_EC "\x2a\x86\x48\xce\x3d\x02\x01"                    /* id-ecPublicKey */
#define OID_P256 "\x2a\x86\x48\xce\x3d\x03\x01\x07"
#define OID_P384 "\x2b\x81\x04\x00\x22"
#define OID_P521 "\x2b\x81\x04\x00\x23"
#define OID_ED25519 "\x2b\x65\x70"
#define OID_ED448 "\x2b\x65\x71"

/* A parameters value (ANY) as OpenSSL's decoder takes it: any class and tag (tag 0 too, unless
 * empty), with the checks it makes on the universal types it decodes, and
 * SEQUENCE/SET or non-universal tags kept whole. Refused besides: constructed (BER) strings, and
 * BIT STRINGs with unused bits set (OpenSSL would write those back differently, so the bytes were
 * not DER). */
static bool der_any_ok(uint8_t tag, const mw_cur *body) {
    if (tag & 0xc0) return true; /* context, application, private: kept as they are */
    if (tag & 0x20) return tag == 0x30 || tag == 0x31;
    switch (tag) {
    case 0x00:
        return body->len > 0; /* 00 00 is an end-of-contents marker to OpenSSL, not a value */
    case 0x10:
    case 0x11:
        return false; /* SEQUENCE and SET must be constructed */
    case 0x01:
        return body->len == 1;
    case 0x02:
    case 0x0a:
        return der_int_ok(body);
    case 0x03:
        return der_bits_ok(body) && der_bits_canonical(body);
    case 0x05:
        return body->len == 0;
    case 0x06:
        return der_oid_ok(body);
    case 0x1c:
        return body->len % 4 == 0;
    case 0x1e:
        return body->len % 2 == 0;
    default:
        return true;
    }
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 * RFC 5280 4.1.1.2 */
static bool der_algid(mw_cur *c, mw_cur *oid, mw_cur *params) {
    mw_cur body, elem, pb;
    uint8_t t;
    if (!der_expect(c, 0x30, &body, &elem) || !der_expect(&body, 0x06, oid, &elem) ||
        !der_oid_ok(oid))
        return false;
    params->data = body.data;
    params->len = 0;
    if (mw_cur_empty(&body)) return true;
    return der_get(&body, &t, &pb, params) && mw_cur_empty(&body) && der_any_ok(t, &pb);
}

/* Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }  RFC 5280 4.1.2.5 */
static bool der_time(mw_cur *c, mw_cur *elem) {
    mw_cur body;
    return der_expect(c, 0x17, &body, elem) || der_expect(c, 0x18, &body, elem);
}

/* Name ::= SEQUENCE OF RelativeDistinguishedName  RFC 5280 4.1.2.4
 * Its contents are checked by d2i_X509_NAME later. OpenSSL does not check the constructed bit
 * of a SEQUENCE OF, and writes a Name back from the bytes it read, so a primitive-tagged Name
 * (0x10) is "canonical" to it: taken too. */
static bool der_name(mw_cur *c, mw_cur *elem) {
    mw_cur body;
    return der_expect(c, 0x30, &body, elem) || der_expect(c, 0x10, &body, elem);
}

typedef struct {
    mw_cur tbs;                   /* TBSCertificate element */
    mw_cur tbs_fields;            /* its contents up to (not including) the extensions */
    mw_cur version;               /* INTEGER contents; len 0 when absent (v1) */
    mw_cur serial;                /* INTEGER contents */
    mw_cur issuer, subject;       /* Name elements */
    mw_cur not_before, not_after; /* Time elements */
    mw_cur spki;                  /* SubjectPublicKeyInfo element */
    mw_cur pk_oid, pk_params;     /* its AlgorithmIdentifier (params: element, len 0 if absent) */
    mw_cur pk_bits;               /* subjectPublicKey BIT STRING contents */
    mw_cur uid[2]; /* issuerUniqueID, subjectUniqueID contents (data NULL if absent) */
    bool has_exts;
    mw_cur exts;      /* Extensions SEQUENCE contents */
    mw_cur sig_oid;   /* signatureAlgorithm OID contents (outer) */
    mw_cur san, scts; /* extnValue contents of the (single) extension, if any */
    unsigned n_san, n_scts, n_poison;
} x509_der;

/* Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * RFC 5280 4.1.2.9 */
static bool der_extensions(x509_der *d) {
    mw_cur list = d->exts;
    while (!mw_cur_empty(&list)) {
        mw_cur ext, elem, oid, crit, val;
        if (!der_expect(&list, 0x30, &ext, &elem) || !der_expect(&ext, 0x06, &oid, &elem) ||
            !der_oid_ok(&oid))
            return false;
        if (der_next_is(&ext, 0x01)) {
            if (!der_expect(&ext, 0x01, &crit, &elem) || crit.len != 1) return false;
        }
        if (!der_expect(&ext, 0x04, &val, &elem) || !mw_cur_empty(&ext)) return false;
        if (OID_IS(&oid, OID_SAN)) {
            d->n_san++;
            d->san = val;
        } else if (OID_IS(&oid, OID_CT_SCTS)) {
            d->n_scts++;
            d->scts = val;
        } else if (OID_IS(&oid, OID_CT_POISON)) {
            d->n_poison++;
        }
    }
    return true;
}

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE {
 *     version [0] EXPLICIT Version DEFAULT v1, serialNumber INTEGER,
 *     signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
 *     subjectPublicKeyInfo SubjectPublicKeyInfo,
 *     issuerUniqueID [1] IMPLICIT BIT STRING OPTIONAL,
 *     subjectUniqueID [2] IMPLICIT BIT STRING OPTIONAL,
 *     extensions [3] EXPLICIT Extensions OPTIONAL }                      RFC 5280 4.1 */
static bool der_cert(const uint8_t *der, size_t len, x509_der *d) {
    mw_cur in = mw_cur_make(der, len), cert, tbs, elem, params;
    memset(d, 0, sizeof *d);
    if (!der_expect(&in, 0x30, &cert, &elem) || !mw_cur_empty(&in)) return false;
    if (!der_expect(&cert, 0x30, &tbs, &d->tbs)) return false;
    mw_cur sig_params, sig_bits;
    if (!der_algid(&cert, &d->sig_oid, &sig_params) || !der_expect(&cert, 0x03, &sig_bits, &elem) ||
        !der_bits_ok(&sig_bits) || !mw_cur_empty(&cert))
        return false;

    d->tbs_fields = tbs;
    if (der_next_is(&tbs, 0xa0)) {
        mw_cur vwrap;
        if (!der_expect(&tbs, 0xa0, &vwrap, &elem) ||
            !der_expect(&vwrap, 0x02, &d->version, &elem) || !der_int_ok(&d->version) ||
            !mw_cur_empty(&vwrap))
            return false;
    }
    if (!der_expect(&tbs, 0x02, &d->serial, &elem) || !der_int_ok(&d->serial)) return false;
    mw_cur tbs_sig_oid;
    if (!der_algid(&tbs, &tbs_sig_oid, &params)) return false;
    if (!der_name(&tbs, &d->issuer)) return false;
    mw_cur validity;
    if (!der_expect(&tbs, 0x30, &validity, &elem) || !der_time(&validity, &d->not_before) ||
        !der_time(&validity, &d->not_after) || !mw_cur_empty(&validity))
        return false;
    if (!der_name(&tbs, &d->subject)) return false;
    mw_cur spki;
    if (!der_expect(&tbs, 0x30, &spki, &d->spki) || !der_algid(&spki, &d->pk_oid, &d->pk_params) ||
        !der_expect(&spki, 0x03, &d->pk_bits, &elem) || !der_bits_ok(&d->pk_bits) ||
        !mw_cur_empty(&spki))
        return false;
    for (int i = 0; i < 2; i++) {
        if (der_next_is(&tbs, (uint8_t)(0x81 + i)) &&
            (!der_expect(&tbs, (uint8_t)(0x81 + i), &d->uid[i], &elem) || !der_bits_ok(&d->uid[i])))
            return false;
    }
    d->tbs_fields.len = (size_t)(tbs.data - d->tbs_fields.data);
    if (der_next_is(&tbs, 0xa3)) {
        mw_cur xwrap;
        if (!der_expect(&tbs, 0xa3, &xwrap, &elem) || !der_expect(&xwrap, 0x30, &d->exts, &elem) ||
            !mw_cur_empty(&xwrap))
            return false;
        d->has_exts = true;
        if (!der_extensions(d)) return false;
    }
    return mw_cur_empty(&tbs);
}

/* ---- DER writer for the CT TBS (RFC 6962 3.2) ---- */

static size_t der_len_size(size_t n) {
    size_t s = 1;
    if (n >= 0x80)
        for (size_t v = n; v; v >>= 8)
            s++;
    return s;
}

static uint8_t *der_put_hdr(uint8_t *p, uint8_t tag, size_t n) {
    *p++ = tag;
    if (n < 0x80) {
        *p++ = (uint8_t)n;
        return p;
    }
    size_t k = der_len_size(n) - 1;
    *p++ = (uint8_t)(0x80 | k);
    for (size_t i = k; i > 0; i--)
        *p++ = (uint8_t)(n >> (8 * (i - 1)));
    return p;
}

static uint8_t *put_bytes(uint8_t *p, const mw_cur *c) {
    if (c->len) memcpy(p, c->data, c->len);
    return p + c->len;
}

/* The bytes OpenSSL writes back for a BIT STRING's contents; see der_bits_canonical. */
static void bits_canonicalize(uint8_t *contents, size_t len) {
    if (len == 1)
        contents[0] = 0;
    else
        contents[len - 1] &= (uint8_t)(0xffu << contents[0]);
}

/* Patches, in a copy of some bytes that contains the BIT STRING contents v (a view into the
 * original starting at orig), the unused bits OpenSSL would clear. */
static void patch_bits(uint8_t *copy, const uint8_t *orig, const mw_cur *v) {
    if (v->data && !der_bits_canonical(v)) bits_canonicalize(copy + (v->data - orig), v->len);
}

/* Rebuilds the TBSCertificate without the SCT-list and poison extensions, as
 * i2d_re_X509_tbs writes it after X509_delete_ext: the enclosing lengths re-encoded, the other
 * fields as received (OpenSSL writes DER fields back unchanged, an explicit critical FALSE
 * included), except unused bits of BIT STRINGs, which it clears. Two passes: size, bytes. */
static bool tbs_ct_hash(const x509_der *d, uint8_t out[32]) {
    size_t exts_len = 0;
    mw_cur list, elem, oid;
    list = d->exts;
    while (!mw_cur_empty(&list)) {
        mw_cur body, whole;
        if (!der_expect(&list, 0x30, &body, &whole) || !der_expect(&body, 0x06, &oid, &elem))
            return false;
        if (OID_IS(&oid, OID_CT_SCTS) || OID_IS(&oid, OID_CT_POISON)) continue;
        exts_len += whole.len;
    }
    /* X509_delete_ext of the last extension leaves no list: [3] is then omitted */
    bool keep = exts_len > 0;
    size_t seq_len = 1 + der_len_size(exts_len) + exts_len;
    size_t wrap_len = keep ? 1 + der_len_size(seq_len) + seq_len : 0;
    size_t body_len = d->tbs_fields.len + wrap_len;
    size_t total = 1 + der_len_size(body_len) + body_len;
    uint8_t *buf = malloc(total);
    if (!buf) return false;
    uint8_t *p = der_put_hdr(buf, 0x30, body_len);
    uint8_t *fields = p;
    p = put_bytes(p, &d->tbs_fields);
    patch_bits(fields, d->tbs_fields.data, &d->pk_bits);
    patch_bits(fields, d->tbs_fields.data, &d->uid[0]);
    patch_bits(fields, d->tbs_fields.data, &d->uid[1]);
    if (keep) {
        p = der_put_hdr(p, 0xa3, seq_len);
        p = der_put_hdr(p, 0x30, exts_len);
    }
    list = d->exts;
    while (!mw_cur_empty(&list)) {
        mw_cur body, whole;
        if (!der_expect(&list, 0x30, &body, &whole) || !der_expect(&body, 0x06, &oid, &elem)) break;
        if (OID_IS(&oid, OID_CT_SCTS) || OID_IS(&oid, OID_CT_POISON)) continue;
        p = put_bytes(p, &whole);
    }
    bool ok = (size_t)(p - buf) == total;
    if (ok) mw_sha256(buf, total, out);
    free(buf);
    return ok;
}

/* ---- facts ---- */

static X509_NAME *name_d2i(const mw_cur *elem) {
    const unsigned char *p = elem->data;
    X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)elem->len);
    if (n && p != elem->data + elem->len) {
        X509_NAME_free(n);
        n = NULL;
    }
    return n;
}

/* Seconds since the epoch, as ASN1_TIME_diff counts them; 0 when the time does not parse
 * (what the OpenSSL-based parser produced). NULL when the element is not an ASN1_TIME. */
static bool time_epoch(const mw_cur *elem, const ASN1_TIME *epoch, int64_t *out) {
    const unsigned char *p = elem->data;
    ASN1_TIME *t = d2i_ASN1_TIME(NULL, &p, (long)elem->len);
    int days = 0, secs = 0;
    if (!t || p != elem->data + elem->len) {
        ASN1_TIME_free(t);
        return false;
    }
    *out = 0;
    if (epoch && ASN1_TIME_diff(&days, &secs, epoch, t)) *out = (int64_t)days * 86400 + secs;
    ASN1_TIME_free(t);
    return true;
}

/* SANs as X509_get_ext_d2i gives them: none when the extension is absent or repeated, and
 * the value decoded without requiring it to be consumed (X509V3_EXT_d2i). */
static void sans(mw_json *j, const x509_der *d) {
    GENERAL_NAMES *gens = NULL;
    if (d->n_san == 1) {
        const unsigned char *p = d->san.data;
        gens = d2i_GENERAL_NAMES(NULL, &p, (long)d->san.len);
    }
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

/* The serial as BN_bn2hex writes it: "0", or an optional "-" and two upper-case hex digits
 * per octet of the magnitude from its first non-zero octet. */
static char *serial_hex(const mw_cur *v) {
    static const char hx[] = "0123456789ABCDEF";
    size_t n = v->len, o = 0;
    uint8_t *mag = malloc(n);
    char *out = malloc(2 * n + 2);
    if (!mag || !out) {
        free(mag);
        free(out);
        return NULL;
    }
    memcpy(mag, v->data, n);
    if (mag[0] & 0x80) { /* negative: the magnitude is the two's complement */
        unsigned carry = 1;
        for (size_t i = n; i > 0; i--) {
            unsigned b = (unsigned)(uint8_t)~mag[i - 1] + carry;
            mag[i - 1] = (uint8_t)b;
            carry = b >> 8;
        }
        out[o++] = '-';
    }
    size_t i = 0;
    while (i < n && mag[i] == 0)
        i++;
    if (i == n) out[(o = 0)] = '0', o = 1;
    for (; i < n; i++) {
        out[o++] = hx[mag[i] >> 4];
        out[o++] = hx[mag[i] & 15];
    }
    out[o] = '\0';
    free(mag);
    return out;
}

/* version_number as X509_get_version()+1 gives it (ASN1_INTEGER_get semantics). */
static long version_of(const mw_cur *v) {
    if (v->len == 0) return 0;
    uint8_t b;
    if (v->len == 1 && mw_cur_peek_u8(v, 0, &b) && b < 0x80) return b;
    long r = -1;
    uint8_t tmp[2 + 8]; /* rare (negative, wide): OpenSSL decides, via a DER round trip */
    if (v->len <= 8) {
        tmp[0] = 0x02;
        tmp[1] = (uint8_t)v->len;
        memcpy(tmp + 2, v->data, v->len);
        const unsigned char *p = tmp;
        ASN1_INTEGER *x = d2i_ASN1_INTEGER(NULL, &p, (long)(2 + v->len));
        if (x) r = ASN1_INTEGER_get(x);
        ASN1_INTEGER_free(x);
    }
    return r;
}

typedef struct {
    const char *type; /* NULL: the key does not decode (no public_key_* fields) */
    int bits;
    char group[80]; /* "" when the key has no group name */
} pk_facts;

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }  RFC 8017 A.1.1
 * Fast path only for the strict DER shape; anything else goes to OpenSSL. */
static bool pk_rsa(const x509_der *d, pk_facts *f) {
    if (d->pk_params.len != 2 || !first_is(&d->pk_params, 0x05) || !first_is(&d->pk_bits, 0))
        return false;
    mw_cur key = d->pk_bits, seq, elem, n, e;
    if (!mw_cur_skip(&key, 1) || !der_expect(&key, 0x30, &seq, &elem) || !mw_cur_empty(&key) ||
        !der_expect(&seq, 0x02, &n, &elem) || !der_int_ok(&n) || !der_int_positive(&n) ||
        !der_expect(&seq, 0x02, &e, &elem) || !der_int_ok(&e) || !der_int_positive(&e) ||
        !mw_cur_empty(&seq))
        return false;
    uint8_t b = 0; /* the modulus' bit length: skip zero octets, then count the top octet */
    while (mw_cur_peek_u8(&n, 0, &b) && b == 0)
        if (!mw_cur_skip(&n, 1)) break;
    if (mw_cur_empty(&n)) return false; /* zero modulus: let OpenSSL say what it makes of it */
    int top = 0;
    for (; b; b >>= 1)
        top++;
    f->type = "RSA";
    f->bits = (int)(8 * (n.len - 1)) + top;
    f->group[0] = '\0';
    return true;
}

/* Named curves OpenSSL resolves the same way; the point must be on the curve, as OpenSSL's
 * decoder (EC_POINT_oct2point) requires, or the key does not decode. */
static const struct {
    const char *oid;
    size_t oid_len;
    int nid, bits;
    const char *name;
} ec_curves[] = {
    {OID_P256, sizeof OID_P256 - 1, NID_X9_62_prime256v1, 256, "prime256v1"},
    {OID_P384, sizeof OID_P384 - 1, NID_secp384r1, 384, "secp384r1"},
    {OID_P521, sizeof OID_P521 - 1, NID_secp521r1, 521, "secp521r1"},
};
static EC_GROUP *ec_groups[3];
static pthread_once_t ec_once = PTHREAD_ONCE_INIT;

static void ec_groups_init(void) {
    for (size_t i = 0; i < 3; i++)
        ec_groups[i] = EC_GROUP_new_by_curve_name(ec_curves[i].nid);
}

static bool pk_ec(const x509_der *d, pk_facts *f) {
    mw_cur params = d->pk_params, oid, elem, point = d->pk_bits;
    if (!first_is(&d->pk_bits, 0) || !mw_cur_skip(&point, 1) ||
        !der_expect(&params, 0x06, &oid, &elem))
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (!oid_is(&oid, ec_curves[i].oid, ec_curves[i].oid_len)) continue;
        pthread_once(&ec_once, ec_groups_init);
        if (!ec_groups[i]) return false;
        EC_POINT *pt = EC_POINT_new(ec_groups[i]);
        bool on = pt && EC_POINT_oct2point(ec_groups[i], pt, point.data, point.len, NULL);
        EC_POINT_free(pt);
        if (!on) return false; /* OpenSSL decides (it will not decode it either) */
        f->type = "EC";
        f->bits = ec_curves[i].bits;
        memcpy(f->group, ec_curves[i].name, strlen(ec_curves[i].name) + 1);
        return true;
    }
    return false;
}

/* Ed25519/Ed448 (RFC 8410 3): no parameters, a raw key of fixed length. */
static bool pk_ecx(const x509_der *d, pk_facts *f) {
    if (d->pk_params.len != 0 || !first_is(&d->pk_bits, 0)) return false;
    if (OID_IS(&d->pk_oid, OID_ED25519) && d->pk_bits.len - 1 == 32) {
        f->type = "ED25519";
        f->bits = 256; /* what OpenSSL 3's EVP_PKEY_get_bits says (ED25519_BITS) */
    } else if (OID_IS(&d->pk_oid, OID_ED448) && d->pk_bits.len - 1 == 57) {
        f->type = "ED448";
        f->bits = 456;
    } else {
        return false;
    }
    f->group[0] = '\0';
    return true;
}

/* Anything else (DSA, RSA-PSS, other curves, explicit parameters, odd encodings): OpenSSL
 * decodes the SubjectPublicKeyInfo alone, as d2i_X509 would have. Rare, so its cost is fine. */
static void pk_openssl(const x509_der *d, pk_facts *f) {
    const unsigned char *p = d->spki.data;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)d->spki.len);
    f->type = NULL;
    f->group[0] = '\0';
    if (!pk) return;
    f->type = EVP_PKEY_get0_type_name(pk);
    f->bits = EVP_PKEY_get_bits(pk);
    if (!EVP_PKEY_get_group_name(pk, f->group, sizeof f->group, NULL)) f->group[0] = '\0';
    EVP_PKEY_free(pk); /* type names are static strings of the provider */
}

static void pk_of(const x509_der *d, pk_facts *f) {
    bool done = false;
    if (OID_IS(&d->pk_oid, OID_RSA))
        done = pk_rsa(d, f);
    else if (OID_IS(&d->pk_oid, OID_EC))
        done = pk_ec(d, f);
    else if (OID_IS(&d->pk_oid, OID_ED25519) || OID_IS(&d->pk_oid, OID_ED448))
        done = pk_ecx(d, f);
    if (!done) pk_openssl(d, f);
}

static int oid_nid(const mw_cur *oid) {
    uint8_t tmp[2 + 127];
    if (oid->len > 127) return NID_undef;
    tmp[0] = 0x06;
    tmp[1] = (uint8_t)oid->len;
    memcpy(tmp + 2, oid->data, oid->len);
    const unsigned char *p = tmp;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)(2 + oid->len));
    int nid = o ? OBJ_obj2nid(o) : NID_undef;
    ASN1_OBJECT_free(o);
    return nid;
}

static bool build_json(x509_info *e, const x509_der *d, const X509_NAME *subj,
                       const X509_NAME *iss) {
    bool ok = true;
    e->chain_json = x509_chain_entry_json(e, &ok);

    mw_buf b;
    mw_json j;

    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    sans(&j, d);
    ok = ok && j.ok;
    e->sans_json = x509_buf_to_str(&b);

    char *serial = serial_hex(&d->serial);
    pk_facts pk;
    pk_of(d, &pk);
    x509_facts f = {.version = version_of(&d->version),
                    .serial_hex = serial,
                    .subject = subj,
                    .issuer = iss,
                    .have_key = pk.type != NULL,
                    .key_type = pk.type,
                    .key_bits = pk.bits,
                    .key_curve = pk.group,
                    .sig_nid = oid_nid(&d->sig_oid)};
    e->x509_json = x509_object_json(e, &f, &ok);
    free(serial);
    return ok && e->chain_json && e->x509_json && e->sans_json;
}

/* SHA-256 of the SubjectPublicKeyInfo as OpenSSL writes it back (i2d_X509_PUBKEY): the bytes
 * received, unless the key's BIT STRING has unused bits set. */
static bool spki_hash(const x509_der *d, uint8_t out[32]) {
    if (der_bits_canonical(&d->pk_bits)) {
        mw_sha256(d->spki.data, d->spki.len, out);
        return true;
    }
    uint8_t *copy = malloc(d->spki.len);
    if (!copy) return false;
    memcpy(copy, d->spki.data, d->spki.len);
    patch_bits(copy, d->spki.data, &d->pk_bits);
    mw_sha256(copy, d->spki.len, out);
    free(copy);
    return true;
}

/* sha: the SHA-256 of der when the caller has it already (the cache does), else NULL. */
static x509_info *info_parse(const uint8_t *der, size_t len, const uint8_t *sha, an_stats *st) {
    x509_der d;
    X509_NAME *subj = NULL, *iss = NULL;
    ASN1_TIME *epoch = NULL;
    if (len == 0 || len > (size_t)INT32_MAX || !der_cert(der, len, &d)) {
        st->an[AN_AN_x509_malformed]++;
        return NULL;
    }
    x509_info *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->der = malloc(len);
    if (!e->der) goto fail;
    memcpy(e->der, der, len);
    e->der_len = len;
    if (sha)
        memcpy(e->sha256, sha, 32);
    else
        mw_sha256(der, len, e->sha256);
    if (!spki_hash(&d, e->spki_sha256)) goto fail;
    if (d.n_scts == 0 && d.n_poison == 0)
        mw_sha256(d.tbs.data, d.tbs.len, e->tbs_sha256); /* nothing to remove */
    else if (!tbs_ct_hash(&d, e->tbs_sha256))
        goto fail;
    subj = name_d2i(&d.subject);
    iss = name_d2i(&d.issuer);
    if (!subj || !iss) goto fail;
    e->subject = x509_name_str(subj);
    e->issuer = x509_name_str(iss);
    if (!e->subject || !e->issuer) goto fail;
    e->self_issued = X509_NAME_cmp(subj, iss) == 0;
    epoch = ASN1_TIME_set(NULL, 0);
    if (!time_epoch(&d.not_before, epoch, &e->not_before) ||
        !time_epoch(&d.not_after, epoch, &e->not_after))
        goto fail;
    e->is_precert = d.n_poison > 0;
    if (d.n_scts > 0) {
        /* X509_get_ext_d2i: a repeated extension gives nothing */
        if (d.n_scts == 1) {
            const unsigned char *p = d.scts.data;
            e->scts = d2i_SCT_LIST(NULL, &p, (long)d.scts.len);
        }
        if (!e->scts) st->an[AN_AN_sct_list_malformed]++;
        for (int i = 0; e->scts && i < sk_SCT_num(e->scts); i++)
            SCT_set_source(sk_SCT_value(e->scts, i), SCT_SOURCE_X509V3_EXTENSION);
    }
    if (!build_json(e, &d, subj, iss)) goto fail;
    if (iss != subj) X509_NAME_free(iss);
    X509_NAME_free(subj);
    ASN1_TIME_free(epoch);
    return e;
fail:
    st->an[AN_AN_x509_malformed]++;
    if (iss != subj) X509_NAME_free(iss);
    X509_NAME_free(subj);
    ASN1_TIME_free(epoch);
    x509_info_free(e);
    return NULL;
}

x509_info *x509_info_parse(const uint8_t *der, size_t len, an_stats *st) {
    return info_parse(der, len, NULL, st);
}

X509 *x509_info_x509(const x509_info *ce) {
    union {
        const x509_info *c;
        x509_info *m;
    } u = {ce}; /* the cached X509 is the one mutable member */
    x509_info *e = u.m;
    if (!e->x_tried && e->der) {
        e->x_tried = true;
        const unsigned char *p = e->der;
        e->x = d2i_X509(NULL, &p, (long)e->der_len);
        if (e->x && p != e->der + e->der_len) {
            X509_free(e->x);
            e->x = NULL;
        }
    }
    return e->x;
}

void x509_info_free(x509_info *e) {
    if (!e) return;
    X509_free(e->x);
    free(e->der);
    SCT_LIST_free(e->scts);
    free(e->subject);
    free(e->issuer);
    free(e->chain_json);
    free(e->x509_json);
    free(e->sans_json);
    free(e);
}

const char *x509_sct_source_name(const SCT *sct) {
    switch (SCT_get_source(sct)) {
    case SCT_SOURCE_X509V3_EXTENSION:
        return "x509";
    case SCT_SOURCE_TLS_EXTENSION:
        return "tls";
    case SCT_SOURCE_OCSP_STAPLED_RESPONSE:
        return "ocsp";
    default:
        return "unknown";
    }
}

x509_cache *x509_cache_new(uint32_t capacity, an_stats *st) {
    x509_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    uint32_t nb = NBUCKETS_MIN;
    while (nb < capacity)
        nb <<= 1;
    c->buckets = calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->mask = nb - 1;
    c->capacity = capacity ? capacity : 1;
    c->st = st;
    return c;
}

static uint32_t bucket_of(const x509_cache *c, const uint8_t sha[32]) {
    uint32_t h;
    memcpy(&h, sha, 4); /* a SHA-256 is already uniformly distributed */
    return h & c->mask;
}

static void cache_remove(x509_cache *c, x509_info *e) {
    x509_info **pp = &c->buckets[bucket_of(c, e->sha256)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    if (e->fifo_prev)
        e->fifo_prev->fifo_next = e->fifo_next;
    else
        c->fifo_head = e->fifo_next;
    if (e->fifo_next)
        e->fifo_next->fifo_prev = e->fifo_prev;
    else
        c->fifo_tail = e->fifo_prev;
    c->count--;
}

static void evict_one(x509_cache *c) {
    for (x509_info *e = c->fifo_head; e; e = e->fifo_next) {
        if (e->refs == 0) {
            cache_remove(c, e);
            x509_info_free(e);
            c->st->cert_cache_evictions++;
            return;
        }
    }
}

x509_info *x509_cache_get(x509_cache *c, const uint8_t *der, size_t len) {
    uint8_t sha[32];
    mw_sha256(der, len, sha);
    uint32_t b = bucket_of(c, sha);
    for (x509_info *e = c->buckets[b]; e; e = e->hnext) {
        if (memcmp(e->sha256, sha, 32) == 0) {
            c->st->cert_cache_hits++;
            e->refs++;
            return e;
        }
    }
    c->st->cert_cache_misses++;
    x509_info *e = info_parse(der, len, sha, c->st);
    if (!e) return NULL;
    if (c->count >= c->capacity) evict_one(c);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->fifo_prev = c->fifo_tail;
    if (c->fifo_tail)
        c->fifo_tail->fifo_next = e;
    else
        c->fifo_head = e;
    c->fifo_tail = e;
    c->count++;
    e->refs = 1;
    return e;
}

void x509_info_ref(x509_info *e) {
    e->refs++;
}

void x509_info_unref(x509_cache *c, x509_info *e) {
    (void)c;
    if (e && e->refs > 0) e->refs--;
}

void x509_cache_free(x509_cache *c) {
    if (!c) return;
    x509_info *e = c->fifo_head;
    while (e) {
        x509_info *n = e->fifo_next;
        x509_info_free(e);
        e = n;
    }
    free(c->buckets);
    free(c);
}
