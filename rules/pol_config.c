#include "pol_config.h"

#include "out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    pol_policy *p;
} cfg;

static bool fail(cfg *c, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lines in messages are 1-based; libyaml's marks are 0-based. */
static bool fail(cfg *c, const yaml_node_t *n, const char *key, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%zu: key '%s': %s", c->file, n ? n->start_mark.line + 1 : 0,
             key, msg);
    return false;
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(cfg *c, int id) {
    return yaml_document_get_node(c->doc, id);
}

static bool want_str(cfg *c, const yaml_node_t *n, const char *key, const char **out) {
    const char *s = scalar(n);
    if (!s || !*s) return fail(c, n, key, "expected a non-empty string");
    *out = s;
    return true;
}

static bool want_dup(cfg *c, const yaml_node_t *n, const char *key, char **out) {
    const char *s = NULL;
    if (!want_str(c, n, key, &s)) return false;
    if (*out) return fail(c, n, key, "expected once, given twice");
    *out = strdup(s);
    return *out ? true : fail(c, n, key, "out of memory");
}

static bool want_bool(cfg *c, const yaml_node_t *n, const char *key, bool *out) {
    const char *s = scalar(n);
    if (s && strcmp(s, "true") == 0)
        *out = true;
    else if (s && strcmp(s, "false") == 0)
        *out = false;
    else
        return fail(c, n, key, "expected true or false");
    return true;
}

static bool want_uint(cfg *c, const yaml_node_t *n, const char *key, unsigned max, unsigned *out) {
    const char *s = scalar(n), *what;
    if (!s || !pol_parse_uint(s, max, out, &what))
        return fail(c, n, key, "expected a whole number from 0 to %u", max);
    return true;
}

static bool want_duration(cfg *c, const yaml_node_t *n, const char *key, uint32_t *out) {
    const char *s = scalar(n), *what = "a duration";
    if (!s || !pol_parse_duration(s, out, &what)) return fail(c, n, key, "expected %s", what);
    return true;
}

/* A list value: a sequence of items, or one scalar standing for a list of one. */
typedef bool (*item_fn)(cfg *c, yaml_node_t *item, const char *key, void *ctx);

static bool each_item(cfg *c, yaml_node_t *n, const char *key, item_fn fn, void *ctx) {
    if (n->type == YAML_SCALAR_NODE) return fn(c, n, key, ctx);
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, key, "expected a list");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        if (!fn(c, node(c, *it), key, ctx)) return false;
    }
    return true;
}

/* Walks a mapping: checks every key against the allowed set, rejects duplicates, and hands
 * each value to fn. */
typedef bool (*pair_fn)(cfg *c, const char *key, yaml_node_t *val, void *ctx);

static bool each_pair(cfg *c, yaml_node_t *n, const char *where, const char *const *allowed,
                      pair_fn fn, void *ctx) {
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, where, "expected a mapping of keys to values");
    char allowed_list[400] = "";
    size_t off = 0;
    for (size_t i = 0; allowed[i]; i++) {
        int w = snprintf(allowed_list + off, sizeof allowed_list - off, "%s%s", i ? ", " : "",
                         allowed[i]);
        if (w < 0 || (size_t)w >= sizeof allowed_list - off) break;
        off += (size_t)w;
    }
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
        const char *ks = scalar(k);
        if (!ks) return fail(c, k, where, "expected plain key names");
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], ks) == 0) break;
        if (!allowed[i]) return fail(c, k, ks, "unknown here; expected one of: %s", allowed_list);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++) {
            const char *qs = scalar(node(c, q->key));
            if (qs && strcmp(qs, ks) == 0) return fail(c, k, ks, "expected once, given twice");
        }
        if (!fn(c, ks, v, ctx)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------ list items */

typedef struct {
    pol_issuer *arr;
    size_t *n;
} issuer_list;

static bool issuer_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    issuer_list *l = ctx;
    const char *what;
    if (*l->n >= POL_MAX_LIST) return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    pol_issuer *dst = &l->arr[*l->n];
    if (it->type == YAML_SCALAR_NODE) {
        const char *s = NULL;
        if (!want_str(c, it, key, &s)) return false;
        if (!pol_parse_issuer_auto(s, dst, &what)) return fail(c, it, key, "expected %s", what);
    } else if (it->type == YAML_MAPPING_NODE &&
               it->data.mapping.pairs.top - it->data.mapping.pairs.start == 1) {
        yaml_node_pair_t *pr = it->data.mapping.pairs.start;
        const char *k = scalar(node(c, pr->key)), *v = NULL;
        if (!k || (strcmp(k, "ca") && strcmp(k, "dn") && strcmp(k, "spki_sha256")))
            return fail(c, it, key, "expected one of: ca, dn, spki_sha256");
        if (!want_str(c, node(c, pr->value), k, &v)) return false;
        if (!pol_parse_issuer(k, v, dst, &what))
            return fail(c, node(c, pr->value), k, "expected %s", what);
    } else {
        return fail(c, it, key, "expected {ca: NAME}, {dn: DN} or {spki_sha256: HEX}");
    }
    (*l->n)++;
    return true;
}

typedef struct {
    uint8_t (*arr)[32];
    size_t *n;
} pin_list;

static bool pin_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    pin_list *l = ctx;
    const char *s = NULL, *what = "";
    if (*l->n >= POL_MAX_LIST) return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    if (!want_str(c, it, key, &s)) return false;
    if (!pol_parse_pin(s, l->arr[*l->n], &what)) return fail(c, it, key, "expected %s", what);
    (*l->n)++;
    return true;
}

typedef struct {
    char **arr;
    size_t *n;
    unsigned *lines; /* the line of each item, for pol_where */
} str_list;

static unsigned line_of(const yaml_node_t *n) {
    return (unsigned)n->start_mark.line + 1;
}

static bool str_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    str_list *l = ctx;
    if (*l->n >= POL_MAX_LIST) return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    char *d = NULL;
    if (!want_dup(c, it, key, &d)) return false;
    l->lines[*l->n] = line_of(it);
    l->arr[(*l->n)++] = d;
    return true;
}

static bool port_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    pol_service *s = ctx;
    unsigned v = 0;
    if (s->nports >= POL_MAX_LIST)
        return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    if (!want_uint(c, it, key, 65535, &v) || v == 0)
        return fail(c, it, key, "expected a port number from 1 to 65535");
    s->ports[s->nports++] = (uint16_t)v;
    return true;
}

static bool ip_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    pol_service *s = ctx;
    const char *str = NULL, *what = "";
    if (s->nips >= POL_MAX_LIST)
        return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    if (!want_str(c, it, key, &str)) return false;
    if (!pol_parse_ip(str, &s->ips[s->nips], &what)) return fail(c, it, key, "expected %s", what);
    s->nips++;
    return true;
}

static bool version_value(cfg *c, yaml_node_t *v, const char *key, uint16_t *out) {
    const char *s = scalar(v), *what = "a TLS version";
    if (!s || !pol_parse_tls_version(s, out, &what)) return fail(c, v, key, "expected %s", what);
    return true;
}

/* expect_paths: {PORT: PATH or [PATH, ...]}, a PATH one string "ADDR, ADDR, ..." (only
 * strings: a YAML list of addresses would read as one-hop paths). */
typedef struct {
    int service;
    uint16_t port;
} path_ctx;

static bool path_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    static trace_path path;
    const path_ctx *pc = ctx;
    const char *s = scalar(it), *what;
    unsigned same = 0;
    for (size_t i = 0; i < c->p->npath_expect; i++)
        same +=
            c->p->path_expect[i].service == pc->service && c->p->path_expect[i].port == pc->port;
    if (same >= TRACE_SET_MAX)
        return fail(c, it, key, "expected at most %d paths per port", TRACE_SET_MAX);
    if (!s || !*s || trace_path_parse(s, &path) != MW_OK)
        return fail(c, it, key,
                    "expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * for any hop)%s%s",
                    s ? ": " : "", s ? s : "");
    if (!pol_add_path_expect(c->p, pc->service, NULL, pc->port, &path, &what))
        return fail(c, it, key, "expected %s", what);
    return true;
}

static bool expect_paths_value(cfg *c, yaml_node_t *v, const char *key, int service) {
    if (v->type != YAML_MAPPING_NODE)
        return fail(c, v, key, "expected a mapping of ports to paths (5222: \"A, B, C\")");
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node(c, pr->key), *val = node(c, pr->value);
        const char *ks = scalar(k), *what;
        unsigned port = 0;
        if (!ks || !pol_parse_uint(ks, 65535, &port, &what) || port == 0)
            return fail(c, k, key, "expected port numbers from 1 to 65535 as keys%s%s",
                        ks ? ": " : "", ks ? ks : "");
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < pr; q++) {
            const char *qs = scalar(node(c, q->key));
            unsigned qp = 0;
            if (qs && pol_parse_uint(qs, 65535, &qp, &what) && qp == port)
                return fail(c, k, ks, "expected once, given twice");
        }
        path_ctx pc = {service, (uint16_t)port};
        if (!each_item(c, val, ks, path_item, &pc)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------ services */

static const char *const starttls_protos[] = {"xmpp", "xmpp-server", "smtp", "imap",  "pop3", "ftp",
                                              "ldap", "postgres",    "nntp", "sieve", "lmtp", NULL};

static bool service_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_service *s = ctx;
    const char *str = NULL, *what = "";
    if (strcmp(key, "name") == 0) {
        if (!want_str(c, v, key, &str)) return false;
        if (!pol_parse_name(str, &s->name, &what)) return fail(c, v, key, "expected %s", what);
        s->label = strdup(str);
        return s->label ? true : fail(c, v, key, "out of memory");
    }
    if (strcmp(key, "ports") == 0) return each_item(c, v, key, port_item, s);
    if (strcmp(key, "ips") == 0) return each_item(c, v, key, ip_item, s);
    if (strcmp(key, "starttls") == 0) {
        if (!want_str(c, v, key, &str)) return false;
        size_t i;
        for (i = 0; starttls_protos[i]; i++)
            if (strcmp(starttls_protos[i], str) == 0) break;
        if (!starttls_protos[i])
            return fail(c, v, key,
                        "expected one of: xmpp, xmpp-server, smtp, imap, pop3, ftp, ldap, "
                        "postgres, nntp, sieve, lmtp");
        return want_dup(c, v, key, &s->starttls);
    }
    if (strcmp(key, "expect_issuers") == 0) {
        issuer_list l = {s->issuers, &s->nissuers};
        s->has_issuers = true;
        return each_item(c, v, key, issuer_item, &l);
    }
    if (strcmp(key, "pins") == 0) {
        pin_list l = {s->pins, &s->npins};
        s->has_pins = true;
        return each_item(c, v, key, pin_item, &l);
    }
    if (strcmp(key, "min_tls_version") == 0) return version_value(c, v, key, &s->min_version);
    if (strcmp(key, "expect_paths") == 0)
        return expect_paths_value(c, v, key, (int)(s - c->p->services));
    return fail(c, v, key, "internal: unhandled key");
}

static bool service_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    static const char *const keys[] = {
        "name", "ports",           "ips",          "starttls", "expect_issuers",
        "pins", "min_tls_version", "expect_paths", NULL};
    pol_policy *p = ctx;
    (void)key;
    if (p->nservices >= POL_MAX_LIST)
        return fail(c, it, "services", "expected at most %d entries", POL_MAX_LIST);
    if (it->type == YAML_SCALAR_NODE) { /* a bare name */
        const char *what;
        if (!pol_add_watch(p, scalar(it), &what))
            return fail(c, it, "services", "expected %s", what);
        return true;
    }
    pol_service *s = &p->services[p->nservices++];
    memset(s, 0, sizeof *s);
    if (!each_pair(c, it, "services", keys, service_pair, s)) return false;
    if (!s->label)
        return fail(c, it, "name",
                    "expected in every service (xmpp.example.org, *.example.org "
                    "or .example.org)");
    return true;
}

/* ------------------------------------------------------------------ sections */

static bool trust_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_policy *p = ctx;
    if (strcmp(key, "ca_files") == 0) {
        str_list l = {p->ca_files, &p->nca_files, p->ca_files_line};
        return each_item(c, v, key, str_item, &l);
    }
    return want_bool(c, v, key, &p->system_trust);
}

/* ct.sources item: {rfc6962|tiles|crtsh|certspotter: URL, key: FILE, origin: NAME, mmd: D} */
static bool ct_source_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    struct pol_ct_source *src = ctx;
    if (strcmp(key, "key") == 0) return want_dup(c, v, key, &src->key);
    if (strcmp(key, "origin") == 0) return want_dup(c, v, key, &src->origin);
    if (strcmp(key, "mmd") == 0) return want_duration(c, v, key, &src->mmd);
    if (src->kind)
        return fail(c, v, key,
                    "expected one source kind per entry (rfc6962, tiles, crtsh or "
                    "certspotter)");
    src->kind = strdup(key);
    return src->kind && want_dup(c, v, key, &src->url);
}

static bool ct_source_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    static const char *const keys[] = {"rfc6962", "tiles",  "crtsh", "certspotter",
                                       "key",     "origin", "mmd",   NULL};
    pol_policy *p = ctx;
    if (p->nct_sources >= POL_MAX_LIST)
        return fail(c, it, key, "expected at most %d entries", POL_MAX_LIST);
    struct pol_ct_source *src = &p->ct_sources[p->nct_sources++];
    if (!each_pair(c, it, key, keys, ct_source_pair, src)) return false;
    if (!src->kind)
        return fail(c, it, key, "expected one of rfc6962, tiles, crtsh, certspotter: URL");
    if ((!strcmp(src->kind, "rfc6962") || !strcmp(src->kind, "tiles")) && !src->key)
        return fail(c, it, src->kind, "expected key: the log's public key (PEM file)");
    return true;
}

static bool ct_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_policy *p = ctx;
    if (strcmp(key, "sources") == 0) return each_item(c, v, key, ct_source_item, p);
    if (strcmp(key, "log_list") == 0) {
        p->ct_log_list_line = line_of(v);
        return want_dup(c, v, key, &p->ct_log_list);
    }
    if (strcmp(key, "min_scts") == 0) {
        p->sct_min_given = true;
        return want_uint(c, v, key, 16, &p->sct_min_count);
    }
    return want_uint(c, v, key, 16, &p->sct_min_operators);
}

static bool alerts_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_policy *p = ctx;
    if (strcmp(key, "suppress_window") == 0) return want_duration(c, v, key, &p->suppress_window);
    if (strcmp(key, "suppress_keys") == 0) {
        unsigned n;
        if (!want_uint(c, v, key, 1u << 20, &n)) return false;
        p->suppress_keys = n;
        return true;
    }
    return version_value(c, v, key, &p->min_version);
}

static bool issuance_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_policy *p = ctx;
    if (strcmp(key, "min_samples") == 0)
        return want_uint(c, v, key, 1000, &p->issuance_min_samples);
    if (strcmp(key, "hour_tolerance") == 0)
        return want_uint(c, v, key, 12, &p->issuance_hour_tolerance);
    if (strcmp(key, "min_renewals") == 0)
        return want_uint(c, v, key, 1000, &p->issuance_min_renewals);
    if (strcmp(key, "overlap_tolerance") == 0) {
        /* under an hour every cron jitter alerts; over 60 days nothing ever would */
        if (!want_duration(c, v, key, &p->issuance_overlap_tolerance)) return false;
        if (p->issuance_overlap_tolerance < 3600 || p->issuance_overlap_tolerance > 60 * 86400)
            return fail(c, v, key, "expected a duration from 1h to 60d");
        return true;
    }
    return want_duration(c, v, key, &p->issuance_lifetime_tolerance);
}

/* An output: the --output sink spec (a path, "-", file://, syslog+udp://, fluentd://, ...),
 * or {file: PATH}. Specs are checked here so a typo fails with its line. */
static bool output_item(cfg *c, yaml_node_t *it, const char *key, void *ctx) {
    pol_policy *p = ctx;
    const char *spec = NULL;
    (void)key;
    if (p->noutputs >= POL_MAX_LIST)
        return fail(c, it, "outputs", "expected at most %d entries", POL_MAX_LIST);
    if (it->type == YAML_MAPPING_NODE &&
        it->data.mapping.pairs.top - it->data.mapping.pairs.start == 1) {
        yaml_node_pair_t *pr = it->data.mapping.pairs.start;
        const char *k = scalar(node(c, pr->key));
        if (!k || strcmp(k, "file") != 0)
            return fail(c, it, k ? k : "outputs",
                        "expected a sink spec (as for --output) or {file: PATH}");
        if (!want_str(c, node(c, pr->value), "file", &spec)) return false;
    } else if (!want_str(c, it, "outputs", &spec)) {
        return false;
    }
    out_sink_cfg oc;
    char oerr[256];
    out_sink_cfg_init(&oc);
    if (!out_parse_spec(spec, &oc, oerr, sizeof oerr))
        return fail(c, it, "outputs", "expected a sink spec as for --output: %s", oerr);
    p->outputs_line[p->noutputs] = line_of(it);
    p->outputs[p->noutputs] = strdup(spec);
    if (!p->outputs[p->noutputs]) return fail(c, it, "outputs", "out of memory");
    p->noutputs++;
    return true;
}

static bool top_pair(cfg *c, const char *key, yaml_node_t *v, void *ctx) {
    pol_policy *p = ctx;
    if (strcmp(key, "version") == 0) {
        const char *s = scalar(v);
        if (!s || strcmp(s, "1") != 0) return fail(c, v, key, "expected 1");
        return true;
    }
    if (strcmp(key, "observer") == 0) return want_dup(c, v, key, &p->observer);
    if (strcmp(key, "services") == 0) return each_item(c, v, key, service_item, p);
    if (strcmp(key, "expect_issuers") == 0) {
        issuer_list l = {p->issuers, &p->nissuers};
        return each_item(c, v, key, issuer_item, &l);
    }
    if (strcmp(key, "pins") == 0) {
        pin_list l = {p->pins, &p->npins};
        return each_item(c, v, key, pin_item, &l);
    }
    if (strcmp(key, "known_certs") == 0) {
        str_list l = {p->known_dirs, &p->nknown_dirs, p->known_dirs_line};
        return each_item(c, v, key, str_item, &l);
    }
    if (strcmp(key, "trust") == 0) {
        static const char *const keys[] = {"ca_files", "system", NULL};
        return each_pair(c, v, key, keys, trust_pair, p);
    }
    if (strcmp(key, "ct") == 0) {
        static const char *const keys[] = {"log_list", "min_scts", "min_operators", "sources",
                                           NULL};
        return each_pair(c, v, key, keys, ct_pair, p);
    }
    if (strcmp(key, "alerts") == 0) {
        static const char *const keys[] = {"suppress_window", "suppress_keys", "min_tls_version",
                                           NULL};
        return each_pair(c, v, key, keys, alerts_pair, p);
    }
    if (strcmp(key, "issuance") == 0) {
        static const char *const keys[] = {"min_samples",        "hour_tolerance",
                                           "lifetime_tolerance", "min_renewals",
                                           "overlap_tolerance",  NULL};
        return each_pair(c, v, key, keys, issuance_pair, p);
    }
    if (strcmp(key, "ctcache") == 0) {
        p->ctcache_line = line_of(v);
        return want_dup(c, v, key, &p->ctcache);
    }
    if (strcmp(key, "state") == 0) {
        p->state_line = line_of(v);
        return want_dup(c, v, key, &p->state);
    }
    if (strcmp(key, "outputs") == 0) {
        if (v->type != YAML_SEQUENCE_NODE)
            return fail(c, v, key, "expected a list of sink specs (as for --output)");
        return each_item(c, v, key, output_item, p);
    }
    return fail(c, v, key, "internal: unhandled key");
}

bool pol_load_string(pol_policy *p, const char *name, const char *text, size_t len, char *err,
                     size_t errlen) {
    static const char *const keys[] = {
        "version", "observer", "services", "expect_issuers", "pins",  "known_certs", "trust",
        "ct",      "alerts",   "issuance", "ctcache",        "state", "outputs",     NULL};
    yaml_parser_t yp;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&yp)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return false;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &doc)) {
        snprintf(err, errlen, "%s:%zu: not valid YAML: %s%s%s", name, yp.problem_mark.line + 1,
                 yp.problem ? yp.problem : "syntax error", yp.context ? " " : "",
                 yp.context ? yp.context : "");
        yaml_parser_delete(&yp);
        return false;
    }
    free(p->file);
    p->file = strdup(name);
    cfg c = {.doc = &doc, .file = name, .err = err, .errlen = errlen, .p = p};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    bool ok;
    if (!root) {
        ok = true; /* an empty file: all defaults */
    } else {
        ok = each_pair(&c, root, "(top level)", keys, top_pair, p);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    return ok;
}

bool pol_load_file(pol_policy *p, const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    char *buf = malloc(POL_CONFIG_MAX_BYTES + 1);
    if (!buf) {
        fclose(fp);
        snprintf(err, errlen, "%s: out of memory", path);
        return false;
    }
    size_t n = fread(buf, 1, POL_CONFIG_MAX_BYTES + 1, fp);
    bool rerr = ferror(fp);
    fclose(fp);
    if (rerr || n > POL_CONFIG_MAX_BYTES) {
        snprintf(err, errlen, "%s: %s", path,
                 rerr ? "read error" : "larger than 1 MiB; not a policy file");
        free(buf);
        return false;
    }
    bool ok = pol_load_string(p, path, buf, n, err, errlen);
    free(buf);
    return ok;
}
