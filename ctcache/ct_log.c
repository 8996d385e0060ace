#include "ct_log.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "mw_hash.h"

bool ct_logkey_from_der(const uint8_t *der, size_t len, ct_logkey *k) {
    memset(k, 0, sizeof *k);
    if (len == 0 || len > 16384) return false;
    const unsigned char *p = der;
    k->pk = d2i_PUBKEY(NULL, &p, (long)len);
    if (!k->pk || p != der + len) {
        ct_logkey_free(k);
        return false;
    }
    k->spki = malloc(len);
    if (!k->spki) {
        ct_logkey_free(k);
        return false;
    }
    memcpy(k->spki, der, len);
    k->spki_len = len;
    mw_sha256(der, len, k->log_id);
    return true;
}

/* base64 text with the whitespace of a wrapped file removed, decoded and loaded */
static bool key_from_b64(const char *s, size_t n, ct_logkey *k) {
    char *t = malloc(n + 1);
    size_t m = 0;
    if (!t) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') t[m++] = s[i];
    size_t dl = 0;
    uint8_t *der = ct_b64_decode(t, m, 16384, &dl);
    free(t);
    bool ok = der && ct_logkey_from_der(der, dl, k);
    free(der);
    return ok;
}

bool ct_logkey_load(const char *key, ct_logkey *k, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    if (!key || !*key) {
        snprintf(err, errlen, "no key for the log");
        return false;
    }
    /* Inline first: a path is never valid padded base64 of a DER key (its '.' and length
     * rule that out in practice), and a key is what the log list gives. */
    if (key_from_b64(key, strlen(key), k)) return true;
    FILE *f = fopen(key, "rb");
    if (!f) {
        snprintf(err, errlen,
                 "%.300s: neither a base64 DER public key (as in the log list) nor a readable file",
                 key);
        return false;
    }
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool more = n == sizeof buf && fgetc(f) != EOF;
    fclose(f);
    if (!more && n > 0) {
        BIO *b = BIO_new_mem_buf(buf, (int)n);
        k->pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (k->pk) {
            unsigned char *der = NULL;
            int dl = i2d_PUBKEY(k->pk, &der);
            EVP_PKEY_free(k->pk);
            k->pk = NULL;
            bool ok = dl > 0 && ct_logkey_from_der(der, (size_t)dl, k);
            OPENSSL_free(der);
            if (ok) return true;
        } else if (key_from_b64(buf, n, k)) {
            return true;
        }
    }
    snprintf(err, errlen, "%.300s: not a public key (PEM, or base64 DER as in the log list)", key);
    return false;
}

void ct_logkey_free(ct_logkey *k) {
    EVP_PKEY_free(k->pk);
    free(k->spki);
    memset(k, 0, sizeof *k);
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

bool ct_sth_verify(const ct_logkey *k, uint64_t timestamp, uint64_t tree_size,
                   const uint8_t root[32], const uint8_t *ds, size_t ds_len) {
    mw_cur c = mw_cur_make(ds, ds_len), sig;
    uint8_t hash_alg, sig_alg;
    if (!mw_cur_get_u8(&c, &hash_alg) || !mw_cur_get_u8(&c, &sig_alg) ||
        !mw_cur_get_u16_prefixed(&c, &sig) || !mw_cur_empty(&c) || sig.len == 0)
        return false;
    int base = EVP_PKEY_get_base_id(k->pk);
    /* RFC 5246 7.4.1.4.1: hash 4 = sha256; signature 1 = rsa, 3 = ecdsa. */
    if (hash_alg != 4 ||
        !((sig_alg == 3 && base == EVP_PKEY_EC) || (sig_alg == 1 && base == EVP_PKEY_RSA)))
        return false;
    uint8_t tbs[2 + 8 + 8 + 32];
    tbs[0] = 0; /* v1 */
    tbs[1] = 1; /* tree_hash */
    put_u64(tbs + 2, timestamp);
    put_u64(tbs + 10, tree_size);
    memcpy(tbs + 18, root, 32);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k->pk) == 1 &&
              EVP_DigestVerify(m, sig.data, sig.len, tbs, sizeof tbs) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

/*  struct {
 *      uint64 timestamp;
 *      LogEntryType entry_type;            -- uint16
 *      select(entry_type) {
 *          case x509_entry: ASN.1Cert;     -- opaque <1..2^24-1>
 *          case precert_entry: PreCert;    -- opaque issuer_key_hash[32];
 *      } signed_entry;                     --   TBSCertificate <1..2^24-1>
 *      CtExtensions extensions;            -- opaque <0..2^16-1>
 *  } TimestampedEntry;                     RFC 6962 3.4 */
mw_rc ct_parse_tsentry(mw_cur *c, ct_tsentry *e) {
    uint32_t hi, lo;
    mw_cur ikh;
    memset(e, 0, sizeof *e);
    MW_GUARD_B(mw_cur_get_u32(c, &hi) && mw_cur_get_u32(c, &lo), MW_MALFORMED);
    e->timestamp = (uint64_t)hi << 32 | lo;
    MW_GUARD_B(mw_cur_get_u16(c, &e->entry_type), MW_MALFORMED);
    if (e->entry_type == CT_ENTRY_X509) {
        MW_GUARD_B(mw_cur_get_u24_prefixed(c, &e->cert), MW_MALFORMED);
    } else if (e->entry_type == CT_ENTRY_PRECERT) {
        MW_GUARD_B(mw_cur_get_bytes(c, 32, &ikh), MW_MALFORMED);
        e->issuer_key_hash = ikh.data;
        MW_GUARD_B(mw_cur_get_u24_prefixed(c, &e->cert), MW_MALFORMED);
    } else {
        return MW_MALFORMED;
    }
    MW_ENSURE(e->cert.len > 0, MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16_prefixed(c, &e->extensions), MW_MALFORMED);
    return MW_OK;
}

mw_rc ct_parse_leaf(const uint8_t *leaf, size_t len, ct_tsentry *e) {
    mw_cur c = mw_cur_make(leaf, len);
    uint8_t version, leaf_type;
    MW_GUARD_B(mw_cur_get_u8(&c, &version) && mw_cur_get_u8(&c, &leaf_type), MW_MALFORMED);
    MW_ENSURE(version == 0 && leaf_type == 0, MW_MALFORMED);
    MW_GUARD(ct_parse_tsentry(&c, e));
    MW_ENSURE(mw_cur_empty(&c), MW_MALFORMED);
    return MW_OK;
}
