#include "mw_hostport.h"

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
