/* The end-of-run summary: fixed-size tables, so a hostile capture costs it bounded memory; what
 * does not fit is counted as such rather than dropped silently. */
#include "summary.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define SUM_CERTS (1u << 18) /* distinct leaves remembered (8 bytes of SHA-256 each) */
#define SUM_SERVICES 4096u   /* distinct services counted by name */
#define SUM_RULES 64u        /* distinct rule ids */
#define SUM_TOP 5u

typedef struct {
    char name[264];
    uint64_t n;
} sum_service;

struct summary {
    uint64_t handshakes, certs, certs_untracked, other_services, alerts;
    uint64_t *cert_set; /* open addressing on the SHA-256's first 8 bytes; 0 = empty */
    sum_service *svc;   /* open addressing on the name */
    uint32_t nsvc;
    struct {
        const char *id; /* string literals of the rules and the catalogue */
        uint64_t n;
    } rules[SUM_RULES];
    uint32_t nrules;
};

summary *summary_new(void) {
    summary *sm = calloc(1, sizeof *sm);
    if (!sm) return NULL;
    sm->cert_set = calloc(SUM_CERTS, sizeof *sm->cert_set);
    sm->svc = calloc(SUM_SERVICES, sizeof *sm->svc);
    if (!sm->cert_set || !sm->svc) {
        summary_free(sm);
        return NULL;
    }
    return sm;
}

void summary_free(summary *sm) {
    if (!sm) return;
    free(sm->cert_set);
    free(sm->svc);
    free(sm);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void count_cert(summary *sm, const uint8_t sha256[32]) {
    uint64_t k;
    memcpy(&k, sha256, sizeof k);
    if (k == 0) k = 1;
    if (sm->certs >= SUM_CERTS / 2) { /* keep the table at most half full */
        sm->certs_untracked++;
        return;
    }
    for (uint32_t i = (uint32_t)k & (SUM_CERTS - 1);; i = (i + 1) & (SUM_CERTS - 1)) {
        if (sm->cert_set[i] == k) return;
        if (sm->cert_set[i] == 0) {
            sm->cert_set[i] = k;
            sm->certs++;
            return;
        }
    }
}

static void count_service(summary *sm, const char *name) {
    for (uint32_t i = (uint32_t)fnv1a(name) & (SUM_SERVICES - 1), probes = 0; probes < SUM_SERVICES;
         i = (i + 1) & (SUM_SERVICES - 1), probes++) {
        sum_service *e = &sm->svc[i];
        if (e->n && strcmp(e->name, name) == 0) {
            e->n++;
            return;
        }
        if (e->n == 0) {
            if (sm->nsvc >= SUM_SERVICES / 2) break;
            snprintf(e->name, sizeof e->name, "%s", name);
            e->n = 1;
            sm->nsvc++;
            return;
        }
    }
    sm->other_services++;
}

void summary_handshake(summary *sm, const tls_hs *hs, const cap_flow *f, int client_side) {
    sm->handshakes++;
    if (hs->nchain && hs->chain[0]) count_cert(sm, hs->chain[0]->sha256);
    char name[264], ip[INET6_ADDRSTRLEN] = "";
    int ss = !client_side;
    inet_ntop(f->key.ip_ver == 4 ? AF_INET : AF_INET6, f->key.addr[ss], ip, sizeof ip);
    if (hs->have_ch && hs->sni[0])
        snprintf(name, sizeof name, "%s:%u", hs->sni, f->key.port[ss]);
    else
        snprintf(name, sizeof name, f->key.ip_ver == 4 ? "%s:%u" : "[%s]:%u", ip, f->key.port[ss]);
    count_service(sm, name);
}

void summary_alert(summary *sm, const char *rule_id) {
    sm->alerts++;
    uint32_t i;
    for (i = 0; i < sm->nrules && strcmp(sm->rules[i].id, rule_id) != 0; i++)
        ;
    if (i == sm->nrules) {
        if (sm->nrules == SUM_RULES) return;
        sm->rules[sm->nrules++].id = rule_id;
    }
    sm->rules[i].n++;
}

static int by_count_then_name(const void *a, const void *b) {
    const sum_service *x = *(sum_service *const *)a, *y = *(sum_service *const *)b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int rule_order(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

void summary_print(const summary *sm, FILE *out) {
    fprintf(out, "mitmwatch summary: %llu handshakes, %llu distinct certificates%s, %llu alerts\n",
            (unsigned long long)sm->handshakes, (unsigned long long)sm->certs,
            sm->certs_untracked ? " (and more not tracked)" : "", (unsigned long long)sm->alerts);
    const char *ids[SUM_RULES];
    for (uint32_t i = 0; i < sm->nrules; i++)
        ids[i] = sm->rules[i].id;
    qsort(ids, sm->nrules, sizeof ids[0], rule_order);
    for (uint32_t i = 0; i < sm->nrules; i++)
        for (uint32_t k = 0; k < sm->nrules; k++)
            if (sm->rules[k].id == ids[i])
                fprintf(out, "  alerts %-24s %llu\n", ids[i], (unsigned long long)sm->rules[k].n);
    if (!sm->nsvc) return;
    const sum_service **v = malloc(sm->nsvc * sizeof *v);
    if (!v) return;
    uint32_t n = 0;
    for (uint32_t i = 0; i < SUM_SERVICES; i++)
        if (sm->svc[i].n) v[n++] = &sm->svc[i];
    qsort(v, n, sizeof *v, by_count_then_name);
    fprintf(out, "  top services by handshakes:\n");
    for (uint32_t i = 0; i < n && i < SUM_TOP; i++)
        fprintf(out, "    %-40s %llu\n", v[i]->name, (unsigned long long)v[i]->n);
    if (sm->other_services)
        fprintf(out, "    (%llu handshakes to services past the table's %u)\n",
                (unsigned long long)sm->other_services, SUM_SERVICES / 2);
    free(v);
}
