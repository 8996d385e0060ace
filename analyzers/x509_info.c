#include "x509_info.h"

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

static char *name_str(const X509_NAME *n) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (!b)
        return NULL;
    /* RFC 2253/4514 order and escaping, but keep UTF-8 as is (no \XX escapes of non-ASCII). */
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long len = BIO_get_mem_data(b, &p);
        out = malloc((size_t)len + 1);
        if (out) {
            memcpy(out, p, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

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

static char *buf_to_str(mw_buf *b) {
    char *s = malloc(b->len + 1);
    if (s) {
        if (b->len)
            memcpy(s, b->data, b->len);
        s[b->len] = '\0';
    }
    mw_buf_free(b);
    return s;
}

/* TBS as CT defines it for matching a precertificate to its final certificate (RFC 6962
 * section 3.2): the TBSCertificate without the SCT list and the poison extension. */
/* One DER TLV header: tag, then a definite length (X.690 8.1.3). Returns the whole element
 * (header and contents) as *elem. */
static bool der_element(mw_cur *c, uint8_t want_tag, mw_cur *elem) {
    mw_cur start = *c, body;
    uint8_t tag, l0;
    uint32_t len = 0;
    if (!mw_cur_get_u8(c, &tag) || tag != want_tag || !mw_cur_get_u8(c, &l0))
        return false;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4 || !mw_cur_get_uN(c, n, &len))
            return false;
    }
    if (!mw_cur_get_bytes(c, len, &body))
        return false;
    elem->data = start.data;
    elem->len = (size_t)(body.data + body.len - start.data);
    return true;
}

/* Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }  RFC 5280 4.1 */
static bool der_tbs(const uint8_t *der, size_t len, mw_cur *tbs) {
    mw_cur c = mw_cur_make(der, len), cert;
    if (!der_element(&c, 0x30, &cert))
        return false;
    mw_cur inner = cert;
    uint8_t tag, l0;
    if (!mw_cur_get_u8(&inner, &tag) || !mw_cur_get_u8(&inner, &l0)) /* outer header */
        return false;
    if (l0 >= 0x80 && !mw_cur_skip(&inner, l0 & 0x7f))
        return false;
    return der_element(&inner, 0x30, tbs);
}

static bool tbs_hash(X509 *x, const uint8_t *orig, size_t orig_len, uint8_t out[32]) {
    int i_sct = X509_get_ext_by_NID(x, NID_ct_precert_scts, -1);
    int i_poison = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1);
    unsigned char *der = NULL;
    int len;
    if (i_sct < 0 && i_poison < 0) {
        mw_cur tbs; /* nothing to remove: hash the bytes as received */
        if (!der_tbs(orig, orig_len, &tbs))
            return false;
        mw_sha256(tbs.data, tbs.len, out);
        return true;
    } else {
        X509 *d = X509_dup(x);
        if (!d)
            return false;
        int i;
        while ((i = X509_get_ext_by_NID(d, NID_ct_precert_scts, -1)) >= 0)
            X509_EXTENSION_free(X509_delete_ext(d, i));
        while ((i = X509_get_ext_by_NID(d, NID_ct_precert_poison, -1)) >= 0)
            X509_EXTENSION_free(X509_delete_ext(d, i));
        len = i2d_re_X509_tbs(d, &der);
        X509_free(d);
    }
    if (len <= 0)
        return false;
    mw_sha256(der, (size_t)len, out);
    OPENSSL_free(der);
    return true;
}

static void name_attrs(mw_json *j, const char *key, const X509_NAME *n) {
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
            if (ulen < 0)
                continue;
            if (!open) {
                mw_json_karr(j, attrs[a].ecs);
                open = true;
            }
            mw_json_str_n(j, (const char *)u, (size_t)ulen);
            OPENSSL_free(u);
        }
        if (open)
            mw_json_arr_end(j);
    }
    mw_json_obj_end(j);
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
    bool ok = j.ok;
    e->chain_json = buf_to_str(&b);

    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    sans(&j, x);
    ok = ok && j.ok;
    e->sans_json = buf_to_str(&b);

    mw_buf_init(&b, 1 << 20);
    mw_json_init(&j, &b);
    mw_json_obj_begin(&j);
    mw_json_kint(&j, "version_number", X509_get_version(x) + 1);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *serial = bn ? BN_bn2hex(bn) : NULL;
    if (serial)
        mw_json_kstr(&j, "serial_number", serial);
    OPENSSL_free(serial);
    BN_free(bn);
    mw_json_kstr(&j, "not_before", nb);
    mw_json_kstr(&j, "not_after", na);
    name_attrs(&j, "subject", X509_get_subject_name(x));
    name_attrs(&j, "issuer", X509_get_issuer_name(x));
    mw_json_key(&j, "alternative_names");
    mw_json_raw(&j, e->sans_json ? e->sans_json : "[]", e->sans_json ? strlen(e->sans_json) : 2);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    if (pk) {
        const char *tn = EVP_PKEY_get0_type_name(pk);
        if (tn)
            mw_json_kstr(&j, "public_key_algorithm", tn);
        mw_json_kint(&j, "public_key_size", EVP_PKEY_get_bits(pk));
        char grp[80];
        if (EVP_PKEY_get_group_name(pk, grp, sizeof grp, NULL))
            mw_json_kstr(&j, "public_key_curve", grp);
    }
    int signid = X509_get_signature_nid(x);
    mw_json_kstr(&j, "signature_algorithm",
                 signid != NID_undef ? OBJ_nid2ln(signid) : "unknown");
    mw_json_obj_end(&j);
    ok = ok && j.ok;
    e->x509_json = buf_to_str(&b);
    (void)st;
    return ok && e->chain_json && e->x509_json && e->sans_json;
}

x509_info *x509_info_parse(const uint8_t *der, size_t len, an_stats *st) {
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
    if (spki_len > 0)
        mw_sha256(spki, (size_t)spki_len, e->spki_sha256);
    OPENSSL_free(spki);
    if (!tbs_hash(x, der, len, e->tbs_sha256))
        goto fail;
    e->subject = name_str(X509_get_subject_name(x));
    e->issuer = name_str(X509_get_issuer_name(x));
    if (!e->subject || !e->issuer)
        goto fail;
    e->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    e->not_before = asn1_time_epoch(X509_get0_notBefore(x));
    e->not_after = asn1_time_epoch(X509_get0_notAfter(x));
    e->is_precert = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1) >= 0;
    if (X509_get_ext_by_NID(x, NID_ct_precert_scts, -1) >= 0) {
        e->scts = X509_get_ext_d2i(x, NID_ct_precert_scts, NULL, NULL);
        if (!e->scts)
            st->an[AN_AN_sct_list_malformed]++;
        for (int i = 0; e->scts && i < sk_SCT_num(e->scts); i++)
            SCT_set_source(sk_SCT_value(e->scts, i), SCT_SOURCE_X509V3_EXTENSION);
    }
    if (!build_json(e, st))
        goto fail;
    return e;
fail:
    st->an[AN_AN_x509_malformed]++;
    x509_info_free(e);
    return NULL;
}

void x509_info_free(x509_info *e) {
    if (!e)
        return;
    X509_free(e->x);
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
    if (!c)
        return NULL;
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
    if (*pp)
        *pp = e->hnext;
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
    x509_info *e = x509_info_parse(der, len, c->st);
    if (!e)
        return NULL;
    if (c->count >= c->capacity)
        evict_one(c);
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

void x509_info_ref(x509_info *e) { e->refs++; }

void x509_info_unref(x509_cache *c, x509_info *e) {
    (void)c;
    if (e && e->refs > 0)
        e->refs--;
}

void x509_cache_free(x509_cache *c) {
    if (!c)
        return;
    x509_info *e = c->fifo_head;
    while (e) {
        x509_info *n = e->fifo_next;
        x509_info_free(e);
        e = n;
    }
    free(c->buckets);
    free(c);
}
