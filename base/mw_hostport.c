#include "mw_hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

mw_rc mw_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port) {
    const char *h = s, *p = NULL;
    size_t hl;
    MW_ENSURE(s && s[0], MW_MALFORMED);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        MW_ENSURE(close, MW_MALFORMED);
        h = s + 1;
        hl = (size_t)(close - h);
        if (close[1] == ':')
            p = close + 2;
        else
            MW_ENSURE(close[1] == '\0', MW_MALFORMED);
    } else {
        const char *colon = strchr(s, ':');
        if (colon && !strchr(colon + 1, ':')) {
            hl = (size_t)(colon - s);
            p = colon + 1;
        } else
            hl = strlen(s); /* no port, or a bare IPv6 literal */
    }
    MW_ENSURE(hl > 0 && hl < host_cap, MW_MALFORMED);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (p) {
        char *end = NULL;
        MW_ENSURE(*p >= '0' && *p <= '9', MW_MALFORMED);
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        MW_ENSURE(errno == 0 && end && *end == '\0' && v > 0 && v <= 65535, MW_MALFORMED);
        *port = (uint16_t)v;
    }
    return MW_OK;
}

/* Decimal digits of v (< 100000) at p; returns the end. */
static char *put_dec(char *p, unsigned v) {
    char tmp[5];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

char *mw_addr_str(int ip_ver, const uint8_t *addr, char out[MW_ADDR_STRLEN]) {
    if (ip_ver != 4) {
        if (!inet_ntop(AF_INET6, addr, out, MW_ADDR_STRLEN)) out[0] = '\0';
        return out;
    }
    char *p = out;
    for (int i = 0; i < 4; i++) {
        if (i) *p++ = '.';
        p = put_dec(p, addr[i]);
    }
    *p = '\0';
    return out;
}

char *mw_addr_port_str(int ip_ver, const uint8_t *addr, uint16_t port, char *out, size_t n) {
    char buf[MW_ADDR_STRLEN + 8], ip[MW_ADDR_STRLEN];
    char *p = buf;
    mw_addr_str(ip_ver, addr, ip);
    size_t l = strlen(ip);
    if (ip_ver != 4) *p++ = '[';
    memcpy(p, ip, l);
    p += l;
    if (ip_ver != 4) *p++ = ']';
    *p++ = ':';
    p = put_dec(p, port);
    size_t len = (size_t)(p - buf);
    if (n == 0) return out;
    if (len > n - 1) len = n - 1;
    memcpy(out, buf, len);
    out[len] = '\0';
    return out;
}
