#include "ev_x509.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "mw_encode.h"

/* A fragment's cap: larger than any event may be (mitmwatch's EVENT_MAX), so that rendering
 * into the slot fails only when memory does. */
#define EV_X509_FRAG_MAX (8u << 20)

void ev_x509_name(mw_json *j, const char *key, const X509_NAME *n) {
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

static void chain_entry(mw_json *j, const x509_info *e) {
    char h1[65], h2[65], h3[65], nb[MW_TS_LEN], na[MW_TS_LEN];
    mw_hex(h1, e->sha256, 32);
    mw_hex(h2, e->tbs_sha256, 32);
    mw_hex(h3, e->spki_sha256, 32);
    mw_ts_sec(nb, e->not_before);
    mw_ts_sec(na, e->not_after);
    mw_json_obj_begin(j);
    mw_json_kstr(j, "sha256", h1);
    mw_json_kstr(j, "tbs_sha256", h2);
    mw_json_kstr(j, "spki_sha256", h3);
    mw_json_kstr(j, "subject", e->subject);
    mw_json_kstr(j, "issuer", e->issuer);
    mw_json_kstr(j, "not_before", nb);
    mw_json_kstr(j, "not_after", na);
    mw_json_obj_end(j);
}

/* The serial as BN_bn2hex writes it ("0", or "-" and upper-case hex octets); NULL: not shown. */
static char *serial_hex(const X509 *x) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    return hex;
}

static void object(mw_json *j, const x509_info *e) {
    const X509 *x = e->x;
    char nb[MW_TS_LEN], na[MW_TS_LEN];
    mw_ts_sec(nb, e->not_before);
    mw_ts_sec(na, e->not_after);
    mw_json_obj_begin(j);
    mw_json_kint(j, "version_number", X509_get_version(x) + 1);
    char *serial = serial_hex(x);
    if (serial) mw_json_kstr(j, "serial_number", serial);
    OPENSSL_free(serial);
    mw_json_kstr(j, "not_before", nb);
    mw_json_kstr(j, "not_after", na);
    ev_x509_name(j, "subject", X509_get_subject_name(x));
    ev_x509_name(j, "issuer", X509_get_issuer_name(x));
    mw_json_key(j, "alternative_names");
    mw_json_raw(j, e->sans_json, strlen(e->sans_json));
    EVP_PKEY *pk = X509_get0_pubkey(x); /* NULL: OpenSSL could not decode the key */
    if (pk) {
        char curve[80] = "";
        const char *type = EVP_PKEY_get0_type_name(pk);
        if (type) mw_json_kstr(j, "public_key_algorithm", type);
        mw_json_kint(j, "public_key_size", EVP_PKEY_get_bits(pk));
        if (EVP_PKEY_get_group_name(pk, curve, sizeof curve, NULL) && curve[0])
            mw_json_kstr(j, "public_key_curve", curve);
    }
    int sig = X509_get_signature_nid(x);
    mw_json_kstr(j, "signature_algorithm", sig != NID_undef ? OBJ_nid2ln(sig) : "unknown");
    mw_json_obj_end(j);
}

/* Writes the fragment from the slot, rendering it there first if it is empty. When the slot
 * cannot be filled (memory), the fragment is rendered into the event directly. Workers share
 * the entries: the slot is published with a compare-and-swap, and a worker that lost the race
 * frees its copy and uses the winner's (both are the same bytes). */
static void cached(mw_json *j, char **slot, void (*render)(mw_json *, const x509_info *),
                   const x509_info *e) {
    char *have = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!have) {
        mw_buf b;
        mw_json f;
        mw_buf_init(&b, EV_X509_FRAG_MAX);
        mw_json_init(&f, &b);
        render(&f, e);
        char *s = f.ok ? malloc(b.len + 1) : NULL;
        if (s) {
            memcpy(s, b.data, b.len);
            s[b.len] = '\0';
            if (__atomic_compare_exchange_n(slot, &have, s, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                have = s;
            else
                free(s); /* have: the other worker's */
        }
        mw_buf_free(&b);
    }
    if (have)
        mw_json_raw(j, have, strlen(have));
    else
        render(j, e);
}

void ev_x509_chain_entry(mw_json *j, x509_info *e) {
    cached(j, &e->render.chain_json, chain_entry, e);
}

void ev_x509_object(mw_json *j, x509_info *e) {
    cached(j, &e->render.x509_json, object, e);
}
