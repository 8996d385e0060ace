/* The --output form: SCHEME://WHERE?key=value&... onto out_sink_cfg (see out.h for examples). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "out.h"

void out_sink_cfg_init(out_sink_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->rotate_keep = 5;
    cfg->queue_max = 65536;
    cfg->queue_bytes = 64u << 20;
    cfg->batch_max = 512;
    cfg->timeout_ms = 10000;
    cfg->backoff_ms = 100;
    cfg->backoff_max_ms = 5000;
    cfg->linger_ms = 20;
    cfg->ack_timeout_ms = 5000;
    cfg->spool_max = 256u << 20;
    cfg->facility = 16;
    snprintf(cfg->app_name, sizeof cfg->app_name, "mitmwatch");
    snprintf(cfg->tag, sizeof cfg->tag, "mitmwatch");
    snprintf(cfg->sourcetype, sizeof cfg->sourcetype, "_json");
    cfg->tls_verify = true;
}

static bool set_str(char *dst, size_t dstlen, const char *v, const char *key, char *err,
                    size_t errlen) {
    size_t n = strlen(v);
    if (n >= dstlen) {
        snprintf(err, errlen, "output option %s: value longer than %zu", key, dstlen - 1);
        return false;
    }
    memcpy(dst, v, n + 1);
    return true;
}

/* Unsigned number with an optional K/M/G (binary) suffix when sized. */
static bool parse_u64(const char *v, bool sized, uint64_t max, uint64_t *out, const char *key,
                      char *err, size_t errlen) {
    char *end;
    errno = 0;
    if (*v < '0' || *v > '9') goto bad;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0) goto bad;
    if (sized && *end) {
        unsigned shift = 0;
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            goto bad;
        }
        end++;
        if (x > (UINT64_MAX >> shift)) goto bad;
        x <<= shift;
    }
    if (*end || x > max) goto bad;
    *out = x;
    return true;
bad:
    snprintf(err, errlen, "output option %s: bad number \"%s\"", key, v);
    return false;
}

static bool parse_bool(const char *v, bool *out, const char *key, char *err, size_t errlen) {
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = false;
    else {
        snprintf(err, errlen, "output option %s: expected 0 or 1, got \"%s\"", key, v);
        return false;
    }
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* In place; "%2" followed by a non-hex digit is kept literally. */
static void pct_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        int h, l;
        if (*p == '%' && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static bool parse_kinds(char *v, unsigned *mask, char *err, size_t errlen) {
    *mask = 0;
    for (char *save = NULL, *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "event"))
            *mask |= 1u << OUT_KIND_EVENT;
        else if (!strcmp(t, "alert"))
            *mask |= 1u << OUT_KIND_ALERT;
        else if (!strcmp(t, "metric"))
            *mask |= 1u << OUT_KIND_METRIC;
        else {
            snprintf(err, errlen, "output filter: unknown event.kind \"%s\" (event, alert, metric)",
                     t);
            return false;
        }
    }
    return true;
}

static bool parse_facility(const char *v, int *out, char *err, size_t errlen) {
    static const struct {
        const char *name;
        int code;
    } names[] = {{"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
                 {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
                 {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
                 {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(v, names[i].name)) {
            *out = names[i].code;
            return true;
        }
    uint64_t x;
    if (!parse_u64(v, false, 23, &x, "facility", err, errlen)) return false;
    *out = (int)x;
    return true;
}

static bool apply_option(out_sink_cfg *c, const char *k, char *v, char *err, size_t errlen) {
    uint64_t x;
    bool b;
#define STR(field) set_str(c->field, sizeof c->field, v, k, err, errlen)
    if (!strcmp(k, "filter") || !strcmp(k, "kind"))
        return parse_kinds(v, &c->kinds_mask, err, errlen);
    if (!strcmp(k, "dataset")) {
        c->ndatasets = 0;
        for (char *save = NULL, *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (c->ndatasets >= OUT_MAX_DATASETS) {
                snprintf(err, errlen, "output dataset: at most %d prefixes", OUT_MAX_DATASETS);
                return false;
            }
            if (!set_str(c->datasets[c->ndatasets], sizeof c->datasets[0], t, k, err, errlen))
                return false;
            c->ndatasets++;
        }
        return true;
    }
    if (!strcmp(k, "name")) return STR(name);
    if (!strcmp(k, "queue")) {
        if (!parse_u64(v, true, 1u << 24, &x, k, err, errlen)) return false;
        c->queue_max = x;
        return true;
    }
    if (!strcmp(k, "queue_bytes")) {
        if (!parse_u64(v, true, (uint64_t)16 << 30, &x, k, err, errlen)) return false;
        c->queue_bytes = x;
        return true;
    }
    if (!strcmp(k, "batch")) {
        if (!parse_u64(v, false, 100000, &x, k, err, errlen)) return false;
        c->batch_max = x;
        return true;
    }
    if (!strcmp(k, "timeout") || !strcmp(k, "backoff") || !strcmp(k, "backoff_max") ||
        !strcmp(k, "linger") || !strcmp(k, "flush_budget") || !strcmp(k, "ack_timeout")) {
        if (!parse_u64(v, false, 3600000, &x, k, err, errlen)) return false;
        if (!strcmp(k, "timeout"))
            c->timeout_ms = (unsigned)x;
        else if (!strcmp(k, "backoff"))
            c->backoff_ms = (unsigned)x;
        else if (!strcmp(k, "backoff_max"))
            c->backoff_max_ms = (unsigned)x;
        else if (!strcmp(k, "linger"))
            c->linger_ms = (unsigned)x;
        else if (!strcmp(k, "flush_budget"))
            c->flush_ms = (unsigned)x;
        else
            c->ack_timeout_ms = (unsigned)x;
        return true;
    }
    if (!strcmp(k, "spool")) return STR(spool_dir);
    if (!strcmp(k, "spool_max")) {
        if (!parse_u64(v, true, (uint64_t)1 << 40, &x, k, err, errlen)) return false;
        if (x < 4096) {
            snprintf(err, errlen, "output option spool_max: at least 4K");
            return false;
        }
        c->spool_max = x;
        return true;
    }
    if (!strcmp(k, "rotate"))
        return parse_u64(v, true, UINT64_MAX, &c->rotate_bytes, k, err, errlen);
    if (!strcmp(k, "keep")) {
        if (!parse_u64(v, false, 1000, &x, k, err, errlen)) return false;
        if (x == 0) {
            snprintf(err, errlen, "output option keep: at least 1");
            return false;
        }
        c->rotate_keep = (unsigned)x;
        return true;
    }
    if (!strcmp(k, "format")) {
        if (!strcmp(v, "5424") || !strcasecmp(v, "rfc5424"))
            c->format = OUT_SYSLOG_5424;
        else if (!strcmp(v, "3164") || !strcasecmp(v, "rfc3164"))
            c->format = OUT_SYSLOG_3164;
        else {
            snprintf(err, errlen, "output format: 5424 or 3164, not \"%s\"", v);
            return false;
        }
        return true;
    }
    if (!strcmp(k, "framing")) {
        if (!strcmp(v, "octet"))
            c->framing = OUT_FRAMING_OCTET;
        else if (!strcmp(v, "lf"))
            c->framing = OUT_FRAMING_LF;
        else {
            snprintf(err, errlen, "output framing: octet or lf, not \"%s\"", v);
            return false;
        }
        return true;
    }
    if (!strcmp(k, "facility")) return parse_facility(v, &c->facility, err, errlen);
    if (!strcmp(k, "app")) return STR(app_name);
    if (!strcmp(k, "hostname")) return STR(hostname);
    if (!strcmp(k, "tag")) return STR(tag);
    if (!strcmp(k, "ack")) {
        if (!parse_bool(v, &b, k, err, errlen)) return false;
        c->ack = b;
        return true;
    }
    if (!strcmp(k, "token")) return STR(token);
    if (!strcmp(k, "apikey")) return STR(apikey);
    if (!strcmp(k, "user")) return STR(user);
    if (!strcmp(k, "password")) return STR(password);
    if (!strcmp(k, "index")) return STR(index);
    if (!strcmp(k, "sourcetype")) return STR(sourcetype);
    if (!strcmp(k, "ca")) return STR(ca_file);
    if (!strcmp(k, "tls_verify")) {
        if (!parse_bool(v, &b, k, err, errlen)) return false;
        c->tls_verify = b;
        return true;
    }
#undef STR
    snprintf(err, errlen, "unknown output option \"%s\"", k);
    return false;
}

/* "host:port", "[v6]:port" or "host" (default port). */
static bool parse_hostport(const char *s, size_t n, unsigned defport, out_sink_cfg *c, char *err,
                           size_t errlen) {
    const char *hs = s, *he, *ps = NULL;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb) {
            snprintf(err, errlen, "output address: missing ']'");
            return false;
        }
        hs = s + 1;
        he = rb;
        if (rb + 1 < s + n) {
            if (rb[1] != ':') {
                snprintf(err, errlen, "output address: expected ':' after ']'");
                return false;
            }
            ps = rb + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        he = colon ? colon : s + n;
        ps = colon ? colon + 1 : NULL;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof c->host) {
        snprintf(err, errlen, "output address: bad host");
        return false;
    }
    memcpy(c->host, hs, (size_t)(he - hs));
    c->host[he - hs] = '\0';
    c->port = defport;
    if (ps) {
        char pb[8];
        size_t pl = (size_t)(s + n - ps);
        uint64_t x;
        if (pl == 0 || pl >= sizeof pb) {
            snprintf(err, errlen, "output address: bad port");
            return false;
        }
        memcpy(pb, ps, pl);
        pb[pl] = '\0';
        if (!parse_u64(pb, false, 65535, &x, "port", err, errlen)) return false;
        if (x == 0) {
            snprintf(err, errlen, "output address: port 0");
            return false;
        }
        c->port = (unsigned)x;
    }
    return true;
}

bool out_parse_spec(const char *spec, out_sink_cfg *c, char *err, size_t errlen) {
    if (!strcmp(spec, "-") || !strcmp(spec, "stdout") || !strcmp(spec, "stdout:") ||
        !strcmp(spec, "stdout://")) {
        c->type = OUT_SINK_STDOUT;
        snprintf(c->name, sizeof c->name, "stdout");
        return true;
    }
    const char *sep = strstr(spec, "://");
    if (!sep) { /* a plain path, taken literally */
        c->type = OUT_SINK_FILE;
        if (!set_str(c->path, sizeof c->path, spec, "path", err, errlen)) return false;
        snprintf(c->name, sizeof c->name, "file:%.120s", spec);
        return true;
    }
    char scheme[32];
    size_t sl = (size_t)(sep - spec);
    if (sl >= sizeof scheme) {
        snprintf(err, errlen, "output %s: unknown scheme", spec);
        return false;
    }
    memcpy(scheme, spec, sl);
    scheme[sl] = '\0';
    const char *rest = sep + 3;
    const char *q = strchr(rest, '?');
    size_t rl = q ? (size_t)(q - rest) : strlen(rest);
    /* Name: the spec without its query, so a token never reaches the stats. */
    snprintf(c->name, sizeof c->name, "%.*s", (int)(sl + 3 + rl > 127 ? 127 : sl + 3 + rl), spec);

    const char *slash = memchr(rest, '/', rl);
    size_t hl = slash ? (size_t)(slash - rest) : rl;
    bool ok = true;
    if (!strcmp(scheme, "file")) {
        c->type = OUT_SINK_FILE;
        if (rl == 0 || rl >= sizeof c->path) {
            snprintf(err, errlen, "output %s: bad path", spec);
            return false;
        }
        memcpy(c->path, rest, rl);
        c->path[rl] = '\0';
    } else if (!strcmp(scheme, "stdout")) {
        c->type = OUT_SINK_STDOUT;
    } else if (!strncmp(scheme, "syslog", 6)) {
        c->type = OUT_SINK_SYSLOG;
        c->linger_ms = 0; /* one message each: nothing to batch for */
        const char *t = scheme + 6;
        if (!strcmp(t, "+unix") || (!*t && rl > 0 && rest[0] == '/')) {
            c->transport = OUT_SYSLOG_UNIX;
            c->format = OUT_SYSLOG_3164; /* what a local syslogd expects on /dev/log */
            if (rl == 0 || rl >= sizeof c->path) {
                snprintf(err, errlen, "output %s: bad socket path", spec);
                return false;
            }
            memcpy(c->path, rest, rl);
            c->path[rl] = '\0';
        } else if (!strcmp(t, "+udp") || !strcmp(t, "+tcp") || !*t) {
            c->transport = !strcmp(t, "+tcp") ? OUT_SYSLOG_TCP : OUT_SYSLOG_UDP;
            ok = parse_hostport(rest, hl, 514, c, err, errlen);
        } else {
            snprintf(err, errlen, "output %s: unknown scheme %s", spec, scheme);
            return false;
        }
    } else if (!strcmp(scheme, "fluentd") || !strcmp(scheme, "fluentd+tcp") ||
               !strcmp(scheme, "forward")) {
        c->type = OUT_SINK_FLUENTD;
        ok = parse_hostport(rest, hl, 24224, c, err, errlen);
    } else if (!strcmp(scheme, "relp")) {
        c->type = OUT_SINK_RELP;
        ok = parse_hostport(rest, hl, 2514, c, err, errlen);
    } else if (!strcmp(scheme, "hec+http") || !strcmp(scheme, "hec+https") ||
               !strcmp(scheme, "bulk+http") || !strcmp(scheme, "bulk+https")) {
        bool hec = scheme[0] == 'h';
        c->type = hec ? OUT_SINK_HEC : OUT_SINK_BULK;
        const char *proto = strchr(scheme, '+') + 1;
        const char *defpath = hec ? "/services/collector/event" : "/_bulk";
        int w = snprintf(c->url, sizeof c->url, "%s://%.*s%s", proto, (int)rl, rest,
                         slash ? "" : defpath);
        if (w < 0 || (size_t)w >= sizeof c->url || hl == 0) {
            snprintf(err, errlen, "output %s: bad URL", spec);
            return false;
        }
    } else {
        snprintf(err, errlen,
                 "output %s: unknown scheme %s (file, stdout, syslog, syslog+udp, "
                 "syslog+tcp, syslog+unix, relp, fluentd, hec+http(s), bulk+http(s))",
                 spec, scheme);
        return false;
    }
    if (!ok) return false;

    if (q) {
        char qs[2048];
        if (strlen(q + 1) >= sizeof qs) {
            snprintf(err, errlen, "output %s: options too long", c->name);
            return false;
        }
        memcpy(qs, q + 1, strlen(q + 1) + 1);
        for (char *save = NULL, *kv = strtok_r(qs, "&", &save); kv;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq) {
                snprintf(err, errlen, "output option \"%s\": expected key=value", kv);
                return false;
            }
            *eq = '\0';
            pct_decode(eq + 1);
            if (!apply_option(c, kv, eq + 1, err, errlen)) return false;
        }
    }
    if (c->spool_dir[0] && (c->type == OUT_SINK_FILE || c->type == OUT_SINK_STDOUT)) {
        snprintf(err, errlen, "output %s: spool= is for network outputs", c->name);
        return false;
    }
    if (c->type == OUT_SINK_HEC && !c->token[0]) {
        snprintf(err, errlen, "output %s: HEC needs token=", c->name);
        return false;
    }
    return true;
}
