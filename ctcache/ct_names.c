#include "ct_names.h"

#include <stdlib.h>
#include <string.h>

void ct_watchlist_free(ct_watchlist *w) {
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}

static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Lowercases into out and drops one trailing dot; false when empty or too long. */
static bool normalize(const char *s, size_t len, char out[CT_NAME_MAX + 1], size_t *olen) {
    if (len && s[len - 1] == '.') len--;
    if (len == 0 || len > CT_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0') return false;
        out[i] = lower(s[i]);
    }
    out[len] = '\0';
    *olen = len;
    return true;
}

static bool parse_watch(const char *pattern, ct_watch *wt) {
    size_t len = strlen(pattern), n;
    ct_watch_kind k = CT_WATCH_EXACT;
    if (len >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        k = CT_WATCH_WILDCARD;
        pattern += 2;
        len -= 2;
    } else if (len >= 1 && pattern[0] == '.') {
        k = CT_WATCH_SUFFIX;
        pattern += 1;
        len -= 1;
    }
    if (!normalize(pattern, len, wt->name, &n) || wt->name[0] == '.' || strchr(wt->name, '*'))
        return false;
    wt->kind = k;
    return true;
}

bool ct_watchlist_add(ct_watchlist *w, const char *pattern) {
    ct_watch wt;
    if (!parse_watch(pattern, &wt)) return false;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 8;
        ct_watch *nv = realloc(w->v, nc * sizeof *nv);
        if (!nv) return false;
        w->v = nv;
        w->cap = nc;
    }
    w->v[w->n++] = wt;
    return true;
}

/* name == "<one label>.base" */
static bool one_label_under(const char *name, size_t len, const char *base, size_t blen) {
    if (len < blen + 2 || name[len - blen - 1] != '.' || memcmp(name + len - blen, base, blen))
        return false;
    return memchr(name, '.', len - blen - 1) == NULL;
}

/* name == base or name ends in ".base" */
static bool at_or_under(const char *name, size_t len, const char *base, size_t blen) {
    if (len == blen) return memcmp(name, base, blen) == 0;
    return len > blen && name[len - blen - 1] == '.' && !memcmp(name + len - blen, base, blen);
}

bool ct_watch_match_one(const ct_watch *wt, const char *cert_name, size_t len) {
    char n[CT_NAME_MAX + 1];
    size_t nl, bl = strlen(wt->name);
    if (!normalize(cert_name, len, n, &nl)) return false;
    bool cert_wild = nl >= 2 && n[0] == '*' && n[1] == '.';
    switch (wt->kind) {
    case CT_WATCH_EXACT:
        if (nl == bl && !memcmp(n, wt->name, bl)) return true;
        /* "*.example" on a certificate is valid for "www.example" (RFC 6125 6.4.3) */
        return cert_wild && one_label_under(wt->name, bl, n + 2, nl - 2);
    case CT_WATCH_WILDCARD:
        if (cert_wild) return nl - 2 == bl && !memcmp(n + 2, wt->name, bl);
        return one_label_under(n, nl, wt->name, bl);
    case CT_WATCH_SUFFIX:
        if (cert_wild) return at_or_under(n + 2, nl - 2, wt->name, bl);
        return at_or_under(n, nl, wt->name, bl);
    }
    return false;
}

bool ct_watch_match(const ct_watchlist *w, const char *cert_name, size_t len) {
    for (size_t i = 0; i < w->n; i++)
        if (ct_watch_match_one(&w->v[i], cert_name, len)) return true;
    return false;
}

bool ct_name_selects(const char *pattern, const char *cert_name, size_t len) {
    ct_watch wt;
    return parse_watch(pattern, &wt) && ct_watch_match_one(&wt, cert_name, len);
}
