/* Lines for people, from the events the JSON sinks get:
 *   TIME [SEVERITY] RULE.ID SERVICE SRC -> DST: MESSAGE
 *   TIME [handshake] tls SERVICE SRC -> DST: VERSION CIPHER, leaf SHA256, event.id ID
 * SERVICE is the watched service's name, else the SNI, else "-"; SRC/DST are ip:port
 * ([ip]:port for IPv6), "-" when the alert concerns no flow (then DST is the probed target). */
#include "out_text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *get_str(json_t *o, const char *a, const char *b, const char *c) {
    json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    if (c) v = json_object_get(v, c);
    return json_string_value(v);
}

static void endpoint(json_t *ev, const char *key, char *out, size_t cap) {
    json_t *e = json_object_get(ev, key);
    const char *ip = json_string_value(json_object_get(e, "ip"));
    if (!ip) ip = json_string_value(json_object_get(e, "address"));
    json_t *port = json_object_get(e, "port");
    if (!ip)
        snprintf(out, cap, "-");
    else if (!json_is_integer(port))
        snprintf(out, cap, "%s", ip);
    else
        snprintf(out, cap, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip,
                 (long long)json_integer_value(port));
}

static const char *severity_name(json_int_t s) {
    static const char *const names[] = {"info", "low", "medium", "high", "critical"};
    return s >= 0 && s <= 4 ? names[s] : "info";
}

/* Appends to line; *n stays <= cap - 1 and the line ends in "..." once it is full. */
static void put(char *line, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *line, size_t cap, size_t *n, const char *fmt, ...) {
    if (*n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    if ((size_t)w >= cap - *n) {
        *n = cap - 1;
        if (cap > 4) memcpy(line + cap - 4, "...", 4);
        return;
    }
    *n += (size_t)w;
}

size_t out_text_line(const out_sink_cfg *c, const out_event *ev, char *line, size_t cap) {
    bool handshake = ev->dataset && !strcmp(ev->dataset, "mitmwatch.tls");
    if (cap < 8 || !(ev->kind == OUT_KIND_ALERT || (handshake && c->text_handshakes))) return 0;
    json_t *j = json_loadb(ev->json, ev->len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    char src[80], dst[300];
    const char *ts = get_str(j, "@timestamp", NULL, NULL);
    const char *service = get_str(j, "mitmwatch", "service", NULL);
    if (!service) service = get_str(j, "tls", "client", "server_name");
    endpoint(j, "source", src, sizeof src);
    endpoint(j, "destination", dst, sizeof dst);
    size_t n = 0;
    line[0] = '\0';
    if (handshake) {
        const char *ver = get_str(j, "tls", "version", NULL);
        const char *cipher = get_str(j, "tls", "cipher", NULL);
        const char *leaf = get_str(json_object_get(j, "tls"), "server", "hash", "sha256");
        const char *proto = get_str(j, "network", "protocol", NULL);
        const char *id = get_str(j, "event", "id", NULL);
        put(line, cap, &n, "%s [handshake] %s %s %s -> %s: TLS %s %s, leaf %s, event.id %s",
            ts ? ts : "-", proto ? proto : "tls", service ? service : "-", src, dst,
            ver ? ver : "-", cipher ? cipher : "-", leaf ? leaf : "hidden", id ? id : "-");
    } else {
        const char *rule = get_str(j, "rule", "id", NULL);
        const char *msg = get_str(j, "message", NULL, NULL);
        json_int_t sev =
            json_integer_value(json_object_get(json_object_get(j, "event"), "severity"));
        put(line, cap, &n, "%s [%s] %s %s %s -> %s: %s", ts ? ts : "-", severity_name(sev),
            rule ? rule : "-", service ? service : "-", src, dst, msg ? msg : "");
    }
    json_decref(j);
    /* one line per event, whatever the message holds */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    return n;
}
