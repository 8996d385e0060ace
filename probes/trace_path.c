/* Paths and their comparison; see trace_path.h. */
#include "trace_path.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void trace_addr_str(int family, const uint8_t *a, char out[TRACE_ADDR_STR]) {
    if (!inet_ntop(family, a, out, TRACE_ADDR_STR)) snprintf(out, TRACE_ADDR_STR, "?");
}

void trace_path_of(const trace_result *r, unsigned pi, trace_path *out) {
    memset(out, 0, sizeof *out);
    if (pi >= r->nports) return;
    const trace_port *p = &r->ports[pi];
    out->n = p->nhops;
    for (unsigned i = 0; i < p->nhops; i++) {
        if (p->hops[i].kind == TRACE_HOP_STAR)
            snprintf(out->hop[i], TRACE_ADDR_STR, "*");
        else
            trace_addr_str(r->family, p->hops[i].addr, out->hop[i]);
    }
}

mw_rc trace_hop_parse(const char *s, size_t n, char out[TRACE_ADDR_STR]) {
    char tok[TRACE_ADDR_STR + 1];
    MW_ENSURE(n > 0 && n < sizeof tok, MW_MALFORMED);
    memcpy(tok, s, n);
    tok[n] = '\0';
    uint8_t a[16];
    if (strcmp(tok, "*") == 0)
        snprintf(out, TRACE_ADDR_STR, "*");
    else if (inet_pton(AF_INET, tok, a) == 1)
        trace_addr_str(AF_INET, a, out);
    else if (inet_pton(AF_INET6, tok, a) == 1)
        trace_addr_str(AF_INET6, a, out);
    else
        return MW_MALFORMED;
    return MW_OK;
}

mw_rc trace_path_parse(const char *s, trace_path *out) {
    memset(out, 0, sizeof *out);
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ')) {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        MW_ENSURE(out->n < TRACE_PATH_MAX, MW_MALFORMED);
        MW_GUARD(trace_hop_parse(p, n, out->hop[out->n]));
        out->n++;
        if (!e) break;
        p = e + 1;
    }
    return MW_OK;
}

static bool path_eq(const trace_path *a, const trace_path *b) {
    if (a->n != b->n) return false;
    for (unsigned i = 0; i < a->n; i++)
        if (strcmp(a->hop[i], b->hop[i]) != 0) return false;
    return true;
}

mw_rc trace_pathset_add(trace_pathset *set, const trace_path *p) {
    for (unsigned i = 0; i < set->n; i++)
        if (path_eq(&set->paths[i], p)) return MW_OK;
    MW_ENSURE(set->n < TRACE_SET_MAX, MW_ERR);
    set->paths[set->n++] = *p;
    return MW_OK;
}

/* Last n hops of e against o; wild: '*' in e matches anything. */
static bool last_n_match(const trace_path *e, const trace_path *o, unsigned n, bool wild) {
    if (n == 0 || e->n < n || o->n < n) {
        if (e->n != o->n) return false;
        n = e->n;
    }
    for (unsigned k = 0; k < n; k++) {
        const char *x = e->hop[e->n - n + k], *y = o->hop[o->n - n + k];
        if (wild && strcmp(x, "*") == 0) continue;
        if (strcmp(x, y) != 0) return false;
    }
    return true;
}

bool trace_compare(const trace_pathset *set, const trace_path *observed, unsigned n) {
    if (set->n == 0) return true;
    for (unsigned i = 0; i < set->n; i++)
        if (last_n_match(&set->paths[i], observed, n, true)) return true;
    return false;
}

unsigned trace_port_differences(const trace_result *r, unsigned n, unsigned (*pairs)[2],
                                unsigned cap) {
    static trace_path a, b; /* ~3 KB each */
    unsigned k = 0;
    for (unsigned i = 0; i < r->nports; i++) {
        for (unsigned j = i + 1; j < r->nports; j++) {
            trace_path_of(r, i, &a);
            trace_path_of(r, j, &b);
            if (last_n_match(&a, &b, n, false)) continue;
            if (k < cap) {
                pairs[k][0] = i;
                pairs[k][1] = j;
            }
            k++;
        }
    }
    return k < cap ? k : cap;
}
