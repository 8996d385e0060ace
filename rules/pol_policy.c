#include "pol_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_names.h"

void pol_policy_init(pol_policy *p) {
    memset(p, 0, sizeof *p);
    p->system_trust = false; /* with ca_files, only them */
    p->sct_min_count = 1;
    p->sct_min_operators = 1;
    p->issuance_min_samples = 3;
    p->issuance_hour_tolerance = 2;
    p->issuance_lifetime_tolerance = 86400;
    p->issuance_min_renewals = 3;
    p->issuance_overlap_tolerance = 5 * 86400;
    p->suppress_window = 3600;
}

void pol_where(const pol_policy *p, unsigned line, const char *key, const char *flag,
               const char *value, char *out, size_t outlen) {
    if (line && p->file)
        snprintf(out, outlen, "%s:%u: %s: %s", p->file, line, key, value);
    else
        snprintf(out, outlen, "--%s %s", flag, value);
}

static void free_issuers(pol_issuer *is, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(is[i].text);
}

void pol_policy_free(pol_policy *p) {
    for (size_t i = 0; i < p->nservices; i++) {
        pol_service *s = &p->services[i];
        free(s->name.name);
        free(s->label);
        free(s->starttls);
        free_issuers(s->issuers, s->nissuers);
    }
    free_issuers(p->issuers, p->nissuers);
    for (size_t i = 0; i < p->nknown_dirs; i++)
        free(p->known_dirs[i]);
    for (size_t i = 0; i < p->nca_files; i++)
        free(p->ca_files[i]);
    for (size_t i = 0; i < p->noutputs; i++)
        free(p->outputs[i]);
    for (size_t i = 0; i < p->nct_sources; i++) {
        free(p->ct_sources[i].kind);
        free(p->ct_sources[i].url);
        free(p->ct_sources[i].key);
        free(p->ct_sources[i].origin);
    }
    for (size_t i = 0; i < p->npath_expect; i++)
        free(p->path_expect[i].host);
    free(p->path_expect);
    free(p->ct_log_list);
    free(p->ctcache);
    free(p->state);
    free(p->observer);
    free(p->file);
    memset(p, 0, sizeof *p);
}

/* LDH labels (RFC 1123 2.1), 1..63 octets, total <= 253; A-labels are LDH too. Underscores
 * are accepted because SRV-style names (_xmpp-client) appear in certificates in practice. */
static bool valid_host(const char *s) {
    size_t n = strlen(s), lab = 0;
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (lab == 0 || s[i - 1] == '-') return false;
            lab = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_')) return false;
        if (c == '-' && lab == 0) return false;
        if (++lab > 63) return false;
    }
    return lab > 0 && s[n - 1] != '-';
}

static char *lower_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

bool pol_parse_name(const char *s, pol_name *out, const char **what) {
    const char *body = s;
    enum pol_name_kind kind = POL_NAME_EXACT;
    if (strncmp(s, "*.", 2) == 0) {
        kind = POL_NAME_WILDCARD;
        body = s + 2;
    } else if (s[0] == '.') {
        kind = POL_NAME_SUFFIX;
        body = s + 1;
    }
    size_t n = strlen(body);
    if (n && body[n - 1] == '.') n--;
    char *d = lower_dup(body, n);
    if (!d) return (*what = "memory"), false;
    if (!valid_host(d) || (kind != POL_NAME_EXACT && !strchr(d, '.'))) {
        free(d);
        *what = "a host name, '*.' + domain, or '.' + domain (e.g. xmpp.example.org, "
                "*.example.org, .example.org)";
        return false;
    }
    out->kind = kind;
    out->name = d;
    return true;
}

const pol_service *pol_starttls_service(const pol_policy *p, const char *host, uint16_t port) {
    for (size_t i = 0; p && host && i < p->nservices; i++) {
        const pol_service *s = &p->services[i];
        if (!s->starttls || !pol_name_match(&s->name, host)) continue;
        size_t k = 0;
        while (port && k < s->nports && s->ports[k] != port)
            k++;
        if (port && s->nports && k == s->nports) continue;
        return s;
    }
    return NULL;
}

bool pol_name_match(const pol_name *pat, const char *host) {
    size_t hn = strlen(host), pn = strlen(pat->name);
    if (hn && host[hn - 1] == '.') hn--;
    switch (pat->kind) {
    case POL_NAME_EXACT:
        return hn == pn && strncasecmp(host, pat->name, pn) == 0;
    case POL_NAME_SUFFIX:
        if (hn == pn) return strncasecmp(host, pat->name, pn) == 0;
        return hn > pn + 1 && host[hn - pn - 1] == '.' &&
               strncasecmp(host + hn - pn, pat->name, pn) == 0;
    case POL_NAME_WILDCARD: {
        /* one label, non-empty, then ".name" */
        if (hn <= pn + 1 || host[hn - pn - 1] != '.' ||
            strncasecmp(host + hn - pn, pat->name, pn) != 0)
            return false;
        return memchr(host, '.', hn - pn - 1) == NULL;
    }
    }
    return false;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* 64 hex digits, optionally with ':' between bytes (as `openssl x509 -fingerprint` prints). */
static bool parse_hex32(const char *s, uint8_t out[32]) {
    size_t n = 0;
    while (*s && n < 32) {
        int hi = hexval((unsigned char)s[0]);
        int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
        if (hi < 0 || lo < 0) return false;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s == ':' && n < 32) s++;
    }
    return n == 32 && *s == '\0';
}

bool pol_parse_issuer(const char *kind, const char *s, pol_issuer *out, const char **what) {
    memset(out, 0, sizeof *out);
    if (strcmp(kind, "spki_sha256") == 0) {
        if (!parse_hex32(s, out->spki))
            return (*what = "64 hex digits (SHA-256 of the issuer's SubjectPublicKeyInfo)"), false;
        out->kind = POL_ISSUER_SPKI;
    } else if (strcmp(kind, "dn") == 0) {
        if (!strchr(s, '='))
            return (*what = "an RFC 4514 DN such as \"CN=R3,O=Let's Encrypt,C=US\""), false;
        out->kind = POL_ISSUER_DN;
    } else if (strcmp(kind, "ca") == 0) {
        if (!*s) return (*what = "a CA name such as \"Let's Encrypt\""), false;
        out->kind = POL_ISSUER_CA_NAME;
    } else {
        return (*what = "one of ca, dn, spki_sha256"), false;
    }
    out->text = strdup(s);
    if (!out->text) return (*what = "memory"), false;
    return true;
}

bool pol_parse_issuer_auto(const char *s, pol_issuer *out, const char **what) {
    uint8_t tmp[32];
    if (parse_hex32(s, tmp)) return pol_parse_issuer("spki_sha256", s, out, what);
    if (strchr(s, '=')) return pol_parse_issuer("dn", s, out, what);
    return pol_parse_issuer("ca", s, out, what);
}

bool pol_parse_pin(const char *s, uint8_t out[32], const char **what) {
    *what = "\"sha256/\" + base64 of the SPKI SHA-256, or 64 hex digits";
    if (strncmp(s, "sha256/", 7) == 0) {
        const char *b = s + 7;
        size_t n = strlen(b);
        uint8_t dec[48];
        if (n != 44) /* base64 of 32 bytes */
            return false;
        int r = EVP_DecodeBlock(dec, (const unsigned char *)b, (int)n);
        if (r != 33 || b[43] != '=' || b[42] == '=') /* 33 = 32 + one padding byte */
            return false;
        memcpy(out, dec, 32);
        return true;
    }
    return parse_hex32(s, out);
}

bool pol_parse_ip(const char *s, pol_ip *out, const char **what) {
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->ip) == 1) {
        out->ver = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->ip) == 1) {
        out->ver = 6;
        return true;
    }
    *what = "an IPv4 or IPv6 address";
    return false;
}

bool pol_parse_tls_version(const char *s, uint16_t *out, const char **what) {
    static const struct {
        const char *n;
        uint16_t v;
    } vs[] = {{"1.0", 0x0301}, {"1.1", 0x0302}, {"1.2", 0x0303}, {"1.3", 0x0304}};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        if (strcmp(s, vs[i].n) == 0) {
            *out = vs[i].v;
            return true;
        }
    }
    *what = "a TLS version: 1.0, 1.1, 1.2 or 1.3";
    return false;
}

bool pol_parse_uint(const char *s, unsigned max, unsigned *out, const char **what) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || isspace((unsigned char)s[0]) ||
        v > max) {
        *what = "a whole number in range";
        return false;
    }
    *out = (unsigned)v;
    return true;
}

bool pol_parse_duration(const char *s, uint32_t *out, const char **what) {
    char *end;
    errno = 0;
    *what = "a duration: seconds, or a number with s, m, h or d (e.g. 3600, 90m, 1h, 7d)";
    if (!isdigit((unsigned char)s[0])) return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return false;
    unsigned long long mul = 1;
    if (*end) {
        switch (*end) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        default:
            return false;
        }
        if (end[1]) return false;
    }
    if (v > UINT32_MAX / mul) return false;
    *out = (uint32_t)(v * mul);
    return true;
}

bool pol_add_watch(pol_policy *p, const char *name, const char **what) {
    if (p->nservices >= POL_MAX_LIST) return (*what = "at most 64 services"), false;
    pol_service *s = &p->services[p->nservices];
    memset(s, 0, sizeof *s);
    if (!pol_parse_name(name, &s->name, what)) return false;
    s->label = strdup(name);
    if (!s->label) {
        free(s->name.name);
        return (*what = "memory"), false;
    }
    p->nservices++;
    return true;
}

/* ------------------------------------------------------------------ trace paths */

bool pol_canon_host(const char *in, char *out, size_t cap) {
    uint8_t a[16];
    size_t n = strlen(in);
    if (n == 0 || n >= cap || n > 254) /* 253 and a trailing dot */
        return false;
    if (inet_pton(AF_INET, in, a) == 1) return inet_ntop(AF_INET, a, out, (socklen_t)cap) != NULL;
    if (inet_pton(AF_INET6, in, a) == 1) return inet_ntop(AF_INET6, a, out, (socklen_t)cap) != NULL;
    if (in[n - 1] == '.') n--;
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_') return false;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    return true;
}

bool pol_add_path_expect(pol_policy *p, int service, const char *host, uint16_t port,
                         const trace_path *path, const char **what) {
    if (p->npath_expect >= POL_MAX_PATHS)
        return (*what = "at most 256 expected paths in all"), false;
    if (p->npath_expect % 16 == 0) {
        pol_path_expect *n =
            realloc(p->path_expect, (p->npath_expect + 16) * sizeof *p->path_expect);
        if (!n) return (*what = "memory for the expected paths"), false;
        p->path_expect = n;
    }
    pol_path_expect *e = &p->path_expect[p->npath_expect];
    memset(e, 0, sizeof *e);
    e->service = service;
    e->port = port;
    e->path = *path;
    if (host && !(e->host = strdup(host))) return (*what = "memory for the expected paths"), false;
    p->npath_expect++;
    return true;
}

bool pol_parse_expect_hops(pol_policy *p, const char *arg, const char **what) {
    static trace_path path;
    char host[256], canon[256];
    const char *eq = strchr(arg, '='), *colon;
    *what = "HOST:PORT=ADDR,ADDR,... or [IPV6]:PORT=ADDR,... (hops: IPv4, IPv6 or *)";
    if (!eq) return false;
    const char *hs = arg, *he;
    if (*arg == '[') {
        hs = arg + 1;
        he = memchr(arg, ']', (size_t)(eq - arg));
        if (!he || he[1] != ':') return false;
        colon = he + 1;
    } else {
        colon = NULL;
        for (const char *c = arg; c < eq; c++)
            if (*c == ':') colon = c;
        he = colon;
        if (!colon || memchr(arg, ':', (size_t)(colon - arg)))
            return false; /* an IPv6 address needs brackets */
    }
    size_t hl = (size_t)(he - hs), pl = (size_t)(eq - colon - 1);
    char port[8];
    unsigned v;
    if (hl == 0 || hl >= sizeof host || pl == 0 || pl >= sizeof port) return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl);
    port[pl] = '\0';
    const char *w;
    if (!pol_canon_host(host, canon, sizeof canon) || !pol_parse_uint(port, 65535, &v, &w) ||
        v == 0 || trace_path_parse(eq + 1, &path) != MW_OK)
        return false;
    return pol_add_path_expect(p, -1, canon, (uint16_t)v, &path, what);
}

/* Whether a service entry speaks for a traced host: by address (its ips) or by name. */
static bool service_names_host(const pol_service *s, const char *host) {
    uint8_t a[16];
    int fam = inet_pton(AF_INET, host, a) == 1 ? 4 : inet_pton(AF_INET6, host, a) == 1 ? 6 : 0;
    if (!fam) return s->name.name && pol_name_match(&s->name, host);
    for (size_t i = 0; i < s->nips; i++)
        if (s->ips[i].ver == fam && memcmp(s->ips[i].ip, a, fam == 4 ? 4 : 16) == 0) return true;
    return false;
}

bool pol_expected_paths(const pol_policy *p, const char *host, uint16_t port, trace_pathset *out) {
    memset(out, 0, sizeof *out);
    out->port = port;
    for (size_t i = 0; i < p->npath_expect; i++) {
        const pol_path_expect *e = &p->path_expect[i];
        if (e->port != port) continue;
        bool match = e->service >= 0 ? (size_t)e->service < p->nservices &&
                                           service_names_host(&p->services[e->service], host)
                                     : e->host && strcmp(e->host, host) == 0;
        if (match && trace_pathset_add(out, &e->path) != MW_OK) return false;
    }
    return true;
}
