/* Cert Spotter v1 issuances API: GET /v1/issuances?domain=..&include_subdomains=..
 * &match_wildcards=true&expand=dns_names&expand=issuer&expand=cert_der[&after=ID], pages
 * until an empty array, with an optional API key as a bearer token. The certificate DER is
 * parsed here; the TBS hash the API reports must agree with ours or the issuance is skipped. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_entry.h"
#include "ct_sync.h"

#define CS_MAX_PAGES 1000
#define CS_MAX_DER (1u << 20)

static bool sync_domain(ct_sync_ctx *x, const char *base, const char *domain, bool subdomains,
                        const char *source, ct_src_result *r) {
    char esc[1024], url[2600];
    ct_source_state *ss = ct_store_source(x->store, "certspotter", base, domain);
    if (!ss || !ct_url_escape(domain, esc, sizeof esc)) {
        ct_src_fail(r, CT_SRC_FAILED, "out of memory or name too long");
        return false;
    }
    size_t bl = strlen(base);
    for (int page = 0; page < CS_MAX_PAGES; page++) {
        char after[300] = "";
        if (ss->after) {
            char ae[256];
            if (!ct_url_escape(ss->after, ae, sizeof ae)) {
                ct_src_fail(r, CT_SRC_FAILED, "stored cursor too long");
                return false;
            }
            snprintf(after, sizeof after, "&after=%s", ae);
        }
        int w = snprintf(url, sizeof url,
                         "%s%sv1/issuances?domain=%s&include_subdomains=%s&match_wildcards=true"
                         "&expand=dns_names&expand=issuer&expand=cert_der%s",
                         base, bl && base[bl - 1] == '/' ? "" : "/", esc,
                         subdomains ? "true" : "false", after);
        if (w < 0 || (size_t)w >= sizeof url) {
            ct_src_fail(r, CT_SRC_FAILED, "URL too long");
            return false;
        }
        json_t *j = ct_get_json(x, url, x->cfg->certspotter_key, r);
        if (!j) return false;
        if (!json_is_array(j)) {
            x->st->json_malformed++;
            ct_src_fail(r, CT_SRC_FAILED, "%s: not a JSON array", url);
            json_decref(j);
            return false;
        }
        size_t n = json_array_size(j);
        if (n == 0) {
            json_decref(j);
            return true;
        }
        const char *last_id = NULL;
        for (size_t i = 0; i < n; i++) {
            const json_t *iss = json_array_get(j, i), *id = json_object_get(iss, "id"),
                         *tbs = json_object_get(iss, "tbs_sha256");
            if (!json_is_object(iss) || !json_is_string(id) || json_string_length(id) == 0 ||
                json_string_length(id) > 200) {
                x->st->json_malformed++;
                continue;
            }
            last_id = json_string_value(id);
            r->fetched++;
            x->st->entries_fetched++;
            const json_t *d = json_object_get(iss, "cert_der");
            size_t dl = 0;
            uint8_t *der = json_is_string(d) ? ct_b64_decode(json_string_value(d),
                                                             json_string_length(d), CS_MAX_DER, &dl)
                                             : NULL;
            if (!der) {
                x->st->json_malformed++;
                continue;
            }
            ct_origin o = {source, NULL, 0, 0};
            ct_entry e;
            ct_entry_result er = ct_entry_from_cert(der, dl, &o, &x->cfg->watch, x->st, &e);
            free(der);
            if (er == CT_ENTRY_NOMEM) {
                json_decref(j);
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                return false;
            }
            if (er != CT_ENTRY_WATCHED) continue;
            uint8_t their[32];
            if (!json_is_string(tbs) ||
                !ct_hex_decode(json_string_value(tbs), json_string_length(tbs), their, 32) ||
                memcmp(their, e.tbs, 32) != 0) {
                x->st->hash_mismatch++;
                ct_entry_clear(&e);
                continue;
            }
            if (ct_entry_commit(x->store, &e, x->st) != MW_OK) {
                json_decref(j);
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                return false;
            }
            r->watched++;
        }
        if (!last_id) {
            json_decref(j);
            ct_src_fail(r, CT_SRC_FAILED, "%s: a page without one valid issuance id", url);
            return false;
        }
        /* The page is applied: advance the cursor so a failure later resumes after it. */
        free(ss->after);
        ss->after = strdup(last_id);
        x->dirty = true;
        json_decref(j);
        if (!ss->after) {
            ct_src_fail(r, CT_SRC_FAILED, "out of memory");
            return false;
        }
    }
    ct_src_fail(r, CT_SRC_FAILED, "more than %d pages for %s", CS_MAX_PAGES, domain);
    return false;
}

void ct_sync_certspotter(ct_sync_ctx *x, const char *base, ct_src_result *r) {
    char source[600];
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "certspotter");
    snprintf(r->url, sizeof r->url, "%s", base);
    snprintf(source, sizeof source, "certspotter:%s", base);
    for (size_t i = 0; i < x->cfg->watch.n; i++) {
        const ct_watch *w = &x->cfg->watch.v[i];
        if (!sync_domain(x, base, w->name, w->kind != CT_WATCH_EXACT, source, r)) return;
    }
}
