#include "ct_entry.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "an_stats.h"
#include "x509_info.h"

static bool add_name(ct_entry *e, const char *s, size_t n) {
    if (n == 0 || n > CT_NAME_MAX || memchr(s, '\0', n))
        return true; /* not a usable DNS name: skip it, keep the rest */
    for (uint32_t i = 0; i < e->n_names; i++)
        if (strlen(e->names[i]) == n && !memcmp(e->names[i], s, n)) return true;
    char **nv = realloc(e->names, (e->n_names + 1) * sizeof *nv);
    if (!nv) return false;
    e->names = nv;
    char *c = malloc(n + 1);
    if (!c) return false;
    memcpy(c, s, n);
    c[n] = '\0';
    e->names[e->n_names++] = c;
    return true;
}

static bool collect_names(X509 *x, ct_entry *e) {
    bool ok = true;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && ok && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS)
            ok = add_name(e, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
                          (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(gens);
    const X509_NAME *sn = X509_get_subject_name(x);
    for (int i = -1; ok && (i = X509_NAME_get_index_by_NID(sn, NID_commonName, i)) >= 0;) {
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sn, i));
        unsigned char *u = NULL;
        int n = ASN1_STRING_to_UTF8(&u, d);
        if (n > 0) ok = add_name(e, (const char *)u, (size_t)n);
        OPENSSL_free(u);
    }
    return ok;
}

static ct_entry_result from_info(x509_info *xi, bool final_cert, bool precert, const ct_origin *o,
                                 const ct_watchlist *w, ct_entry *out) {
    memset(out, 0, sizeof *out);
    X509 *x = x509_info_x509(xi);
    if (!x) return CT_ENTRY_BAD_DER;
    if (!collect_names(x, out)) goto nomem;
    bool watched = false;
    for (uint32_t i = 0; i < out->n_names && !watched; i++)
        watched = ct_watch_match(w, out->names[i], strlen(out->names[i]));
    if (!watched) {
        ct_entry_clear(out);
        return CT_ENTRY_UNWATCHED;
    }
    memcpy(out->tbs, xi->tbs_sha256, 32);
    if (final_cert) {
        memcpy(out->cert, xi->sha256, 32);
        out->has_cert = true;
    }
    out->precert = precert;
    out->issuer = strdup(xi->issuer);
    out->source = strdup(o->source);
    if (!out->issuer || !out->source) goto nomem;
    out->not_before = xi->not_before;
    out->not_after = xi->not_after;
    if (o->log_id) {
        memcpy(out->log_id, o->log_id, 32);
        out->has_log_id = true;
    }
    out->index = o->index;
    out->timestamp_ms = o->timestamp_ms;
    return CT_ENTRY_WATCHED;
nomem:
    ct_entry_clear(out);
    return CT_ENTRY_NOMEM;
}

ct_entry_result ct_entry_from_cert(const uint8_t *der, size_t len, const ct_origin *o,
                                   const ct_watchlist *w, ct_stats *st, ct_entry *out) {
    an_stats as = {0};
    x509_info *xi = x509_info_parse(der, len, &as);
    if (!xi) {
        st->der_malformed++;
        return CT_ENTRY_BAD_DER;
    }
    ct_entry_result r = from_info(xi, !xi->is_precert, xi->is_precert, o, w, out);
    x509_info_free(xi);
    return r;
}

/* A DER length header for n bytes into h; returns its size. */
static size_t der_len(uint8_t *h, size_t n) {
    if (n < 0x80) {
        h[0] = (uint8_t)n;
        return 1;
    }
    size_t k = 0;
    for (size_t t = n; t; t >>= 8)
        k++;
    h[0] = (uint8_t)(0x80 | k);
    for (size_t i = 0; i < k; i++)
        h[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    return 1 + k;
}

ct_entry_result ct_entry_from_precert_tbs(const uint8_t *tbs, size_t len, const ct_origin *o,
                                          const ct_watchlist *w, ct_stats *st, ct_entry *out) {
    /* Wrap the TBS in a Certificate with a placeholder signature so the one X.509 parser
     * reads it; the TBS bytes, and therefore their hash, are unchanged. Nothing verifies
     * this signature: the log's Merkle tree vouches for the entry. */
    static const uint8_t alg_sig[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                      0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00, 0x03, 0x01, 0x00};
    if (len == 0 || len > (1u << 24)) {
        st->der_malformed++;
        return CT_ENTRY_BAD_DER;
    }
    size_t body = len + sizeof alg_sig;
    uint8_t *der = malloc(body + 8);
    if (!der) return CT_ENTRY_NOMEM;
    der[0] = 0x30;
    size_t h = 1 + der_len(der + 1, body);
    memcpy(der + h, tbs, len);
    memcpy(der + h + len, alg_sig, sizeof alg_sig);
    an_stats as = {0};
    x509_info *xi = x509_info_parse(der, h + body, &as);
    free(der);
    if (!xi) {
        st->der_malformed++;
        return CT_ENTRY_BAD_DER;
    }
    ct_entry_result r = from_info(xi, false, true, o, w, out);
    x509_info_free(xi);
    return r;
}

mw_rc ct_entry_commit(ct_store *s, ct_entry *e, ct_stats *st) {
    bool is_new = false;
    st->entries_watched++;
    mw_rc rc = ct_store_put(s, e, &is_new);
    if (rc == MW_OK) {
        if (is_new)
            st->entries_new++;
        else
            st->issuances_merged++;
    }
    ct_entry_clear(e);
    return rc;
}
