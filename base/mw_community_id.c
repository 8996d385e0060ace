#include "mw_community_id.h"

#include <string.h>

#include "mw_hash.h"

bool mw_community_id(char out[MW_COMMUNITY_ID_LEN], uint16_t seed, int ip_ver, const uint8_t *src,
                     const uint8_t *dst, uint8_t proto, uint16_t sport, uint16_t dport) {
    size_t alen = ip_ver == 4 ? 4 : ip_ver == 6 ? 16 : 0;
    out[0] = '\0';
    if (!alen) return false;
    /* The spec orders the endpoints so both directions hash alike: the lower address first,
     * on equal addresses the lower port first. */
    int c = memcmp(src, dst, alen);
    if (c > 0 || (c == 0 && sport > dport)) {
        const uint8_t *t = src;
        src = dst;
        dst = t;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    /* seed (2) | src | dst | proto (1) | padding 0 (1) | sport (2) | dport (2), network order */
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, src, alen);
    n += alen;
    memcpy(buf + n, dst, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    buf[n++] = (uint8_t)(sport >> 8);
    buf[n++] = (uint8_t)sport;
    buf[n++] = (uint8_t)(dport >> 8);
    buf[n++] = (uint8_t)dport;
    uint8_t sha[20];
    mw_sha1(buf, n, sha);
    out[0] = '1';
    out[1] = ':';
    mw_b64(out + 2, sha, sizeof sha);
    return true;
}
