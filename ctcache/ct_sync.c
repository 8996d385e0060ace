#include "ct_sync.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_entry.h"

void ct_config_init(ct_config *c) {
    memset(c, 0, sizeof *c);
    ct_http_opts_default(&c->http);
    c->batch = 256;
    c->checkpoint = 65536;
    c->default_mmd_s = 86400; /* RFC 6962 logs in Chrome's and Apple's programs: 24 hours */
}

void ct_config_free(ct_config *c) {
    ct_watchlist_free(&c->watch);
    free(c->logs);
    free(c->tiles);
    free(c->crtsh);
    free(c->certspotter);
    free(c->known_dirs);
    memset(c, 0, sizeof *c);
}

void ct_progress(const ct_sync_ctx *x, const char *label, uint64_t done, uint64_t total) {
    if (!x->cfg->progress || !isatty(STDERR_FILENO)) return;
    fprintf(stderr, "\r%s %llu/%llu", label, (unsigned long long)done, (unsigned long long)total);
    fflush(stderr);
}

void ct_progress_end(const ct_sync_ctx *x) {
    if (x->cfg->progress && isatty(STDERR_FILENO)) fputc('\n', stderr);
}

void ct_src_fail(ct_src_result *r, ct_src_status st, const char *fmt, ...) {
    va_list ap;
    r->status = st;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

typedef struct {
    ct_stats *st;
    json_t *j;
} json_check;

static bool parse_json(mw_buf *body, void *ud, char *why, size_t whylen) {
    json_check *c = ud;
    json_error_t je;
    json_decref(c->j);
    c->j = json_loadb((const char *)body->data, body->len, JSON_REJECT_DUPLICATES, &je);
    if (!c->j) {
        c->st->json_malformed++;
        snprintf(why, whylen, "malformed JSON at line %d: %s", je.line, je.text);
    }
    return c->j != NULL;
}

json_t *ct_get_json(ct_sync_ctx *x, const char *url, const char *bearer, ct_src_result *r) {
    ct_http_result hr;
    json_check c = {x->st, NULL};
    if (ct_http_get(x->http, url, bearer, x->resp, parse_json, &c, &hr) != MW_OK) {
        ct_src_fail(r, CT_SRC_FAILED, "%s: %s (after %u attempt%s)", url, hr.error, hr.attempts,
                    hr.attempts == 1 ? "" : "s");
        json_decref(c.j);
        return NULL;
    }
    return c.j;
}

ct_source_state *ct_src_begin(ct_sync_ctx *x, const char *kind, const ct_log_cfg *log,
                              ct_src_result *r, char *source, size_t srclen, ct_logkey *key) {
    char err[512];
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->url, sizeof r->url, "%s", log->url);
    snprintf(source, srclen, "%s:%s", kind, log->url);
    ct_source_state *ss = ct_store_source(x->store, kind, log->url, NULL);
    if (!ss) {
        ct_src_fail(r, CT_SRC_FAILED, "out of memory");
        return NULL;
    }
    r->old_size = ss->tree_size;
    if (ss->distrusted) {
        ct_src_fail(r, CT_SRC_DISTRUSTED, "distrusted since an earlier sync: %s",
                    ss->reason ? ss->reason : "inconsistent");
        return NULL;
    }
    if (!ct_logkey_load(log->key, key, err, sizeof err)) {
        ct_src_fail(r, CT_SRC_FAILED, "%s", err);
        return NULL;
    }
    return ss;
}

void ct_src_distrust(ct_sync_ctx *x, ct_source_state *ss, ct_src_result *r, const char *why) {
    ct_src_fail(r, CT_SRC_INCONSISTENT, "%s", why);
    x->st->consistency_failed++;
    ss->distrusted = true;
    free(ss->reason);
    ss->reason = strdup(why);
    x->dirty = true;
}

bool ct_staged_push(ct_staged *s, ct_entry *e) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        ct_entry *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = *e;
    memset(e, 0, sizeof *e);
    return true;
}

bool ct_staged_commit(ct_sync_ctx *x, ct_staged *s, ct_src_result *r) {
    bool ok = true;
    for (size_t i = 0; i < s->n; i++) {
        /* ct_entry_commit frees the entry either way */
        if (ok && ct_entry_commit(x->store, &s->v[i], x->st) != MW_OK)
            ok = false;
        else if (ok)
            r->watched++;
        else
            ct_entry_clear(&s->v[i]);
    }
    s->n = 0;
    return ok;
}

bool ct_sync_commit(ct_sync_ctx *x, ct_staged *stg, ct_frontier *frontier, const ct_frontier *work,
                    bool more, ct_src_result *r) {
    if (!ct_staged_commit(x, stg, r)) {
        ct_src_fail(r, CT_SRC_FAILED, "out of memory");
        return false;
    }
    *frontier = *work;
    x->dirty = true;
    if (more && x->write_checkpoint && !x->write_checkpoint(x->ud)) {
        ct_src_fail(r, CT_SRC_FAILED, "cannot write the checkpoint snapshot");
        return false;
    }
    return true;
}

void ct_staged_free(ct_staged *s) {
    for (size_t i = 0; i < s->n; i++)
        ct_entry_clear(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}
