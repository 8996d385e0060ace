/* crt.sh: ?q=NAME&output=json lists the logged certificates and precertificates for a
 * name; ?d=ID returns one (PEM or DER). The listing is only a hint: every kept entry comes
 * from the certificate itself, parsed here. Per query the highest id fetched is remembered
 * so a later sync fetches only newer ones. */
#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_entry.h"
#include "ct_sync.h"

#define CRTSH_MAX_FETCH 2000 /* certificates fetched per query and sync: crt.sh is shared */

static bool url_query(char *out, size_t n, const char *base, const char *query) {
    int w = snprintf(out, n, "%s%s%s", base, strchr(base, '?') ? "&" : "?", query);
    return w > 0 && (size_t)w < n;
}

/* DER from a PEM or DER body; a new buffer. */
static uint8_t *cert_der(const uint8_t *p, size_t n, size_t *len) {
    if (n > 27 && !memcmp(p, "-----BEGIN CERTIFICATE-----", 27)) {
        BIO *b = BIO_new_mem_buf(p, (int)n);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        unsigned char *der = NULL;
        int l = x ? i2d_X509(x, &der) : -1;
        X509_free(x);
        if (l <= 0) return NULL;
        uint8_t *r = malloc((size_t)l);
        if (r) memcpy(r, der, (size_t)l);
        OPENSSL_free(der);
        *len = (size_t)l;
        return r;
    }
    uint8_t *r = malloc(n ? n : 1);
    if (r && n) memcpy(r, p, n);
    *len = n;
    return r;
}

/* Does any name in a crt.sh row ("name_value": names separated by newlines, and
 * "common_name") concern a watched name? */
static bool row_watched(const ct_watchlist *w, const json_t *row) {
    const json_t *nv = json_object_get(row, "name_value"),
                 *cn = json_object_get(row, "common_name");
    if (json_is_string(cn) && ct_watch_match(w, json_string_value(cn), json_string_length(cn)))
        return true;
    if (!json_is_string(nv)) return false;
    const char *s = json_string_value(nv), *end = s + json_string_length(nv);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (ct_watch_match(w, s, l)) return true;
        s += l + 1;
    }
    return false;
}

/* A downloaded certificate must parse whole: a body cut short is asked for again rather than
 * skipped (the cursor would move past it for good). */
static bool check_cert(mw_buf *body, void *ud, char *why, size_t whylen) {
    (void)ud;
    size_t dl = 0;
    uint8_t *der = cert_der(body->data, body->len, &dl);
    const unsigned char *p = der;
    X509 *x = der ? d2i_X509(NULL, &p, (long)dl) : NULL;
    bool ok = x && p == der + dl;
    X509_free(x);
    free(der);
    if (!ok) snprintf(why, whylen, "not a whole certificate (PEM or DER)");
    return ok;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void sync_query(ct_sync_ctx *x, const char *base, const char *q, const char *source,
                       ct_src_result *r) {
    char esc[1024], query[1200], url[2600];
    ct_source_state *ss = ct_store_source(x->store, "crtsh", base, q);
    if (!ss || !ct_url_escape(q, esc, sizeof esc)) {
        ct_src_fail(r, CT_SRC_FAILED, "out of memory or name too long");
        return;
    }
    int64_t after = 0;
    if (ss->after) {
        char *end = NULL;
        after = strtoll(ss->after, &end, 10);
        if (!end || *end) after = 0;
    }
    snprintf(query, sizeof query, "q=%s&output=json", esc);
    if (!url_query(url, sizeof url, base, query)) {
        ct_src_fail(r, CT_SRC_FAILED, "URL too long");
        return;
    }
    json_t *j = ct_get_json(x, url, NULL, r);
    if (!j) return;
    if (!json_is_array(j)) {
        x->st->json_malformed++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: not a JSON array", url);
        json_decref(j);
        return;
    }
    /* Distinct ids of watched rows, oldest first, so the cursor only ever advances past
     * certificates actually fetched. */
    size_t n = json_array_size(j), k = 0;
    int64_t *ids = calloc(n + 1, sizeof *ids);
    if (!ids) {
        json_decref(j);
        ct_src_fail(r, CT_SRC_FAILED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(j, i), *id = json_object_get(row, "id");
        if (!json_is_object(row) || !json_is_integer(id) || json_integer_value(id) <= 0) {
            x->st->json_malformed++;
            continue;
        }
        if (json_integer_value(id) > after && row_watched(&x->cfg->watch, row))
            ids[k++] = json_integer_value(id);
    }
    json_decref(j);
    qsort(ids, k, sizeof *ids, cmp_id);
    int64_t done = after;
    size_t fetched = 0;
    for (size_t i = 0; i < k && fetched < CRTSH_MAX_FETCH; i++) {
        if (i && ids[i] == ids[i - 1]) continue;
        char dq[64];
        ct_http_result hr;
        snprintf(dq, sizeof dq, "d=%lld", (long long)ids[i]);
        if (!url_query(url, sizeof url, base, dq)) break;
        if (ct_http_get(x->http, url, NULL, x->resp, check_cert, NULL, &hr) != MW_OK) {
            ct_src_fail(r, CT_SRC_FAILED, "%s: %s", url, hr.error);
            break;
        }
        fetched++;
        r->fetched++;
        x->st->entries_fetched++;
        size_t dl = 0;
        uint8_t *der = cert_der(x->resp->data, x->resp->len, &dl);
        ct_origin o = {source, NULL, (uint64_t)ids[i], 0};
        ct_entry e;
        ct_entry_result er =
            der ? ct_entry_from_cert(der, dl, &o, &x->cfg->watch, x->st, &e) : CT_ENTRY_BAD_DER;
        if (!der) x->st->der_malformed++;
        free(der);
        if (er == CT_ENTRY_NOMEM) {
            ct_src_fail(r, CT_SRC_FAILED, "out of memory");
            break;
        }
        if (er == CT_ENTRY_WATCHED) {
            if (ct_entry_commit(x->store, &e, x->st) != MW_OK) {
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                break;
            }
            r->watched++;
        }
        done = ids[i];
        ct_progress(x, url, i + 1, k);
    }
    ct_progress_end(x);
    free(ids);
    if (done != after) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)done);
        free(ss->after);
        ss->after = strdup(buf);
        x->dirty = true;
    }
}

void ct_sync_crtsh(ct_sync_ctx *x, const char *base, ct_src_result *r) {
    char source[600];
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "crtsh");
    snprintf(r->url, sizeof r->url, "%s", base);
    snprintf(source, sizeof source, "crtsh:%s", base);
    for (size_t i = 0; i < x->cfg->watch.n && r->status == CT_SRC_OK; i++) {
        const ct_watch *w = &x->cfg->watch.v[i];
        char q[CT_NAME_MAX + 3];
        /* crt.sh's "%." prefix matches every name below; the name itself is a second query */
        if (w->kind != CT_WATCH_WILDCARD) {
            snprintf(q, sizeof q, "%s", w->name);
            sync_query(x, base, q, source, r);
        }
        if (w->kind != CT_WATCH_EXACT && r->status == CT_SRC_OK) {
            snprintf(q, sizeof q, "%%.%s", w->name);
            sync_query(x, base, q, source, r);
        }
    }
}
