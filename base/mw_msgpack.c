#include "mw_msgpack.h"

#include "mw_cursor.h"

size_t mw_msgpack_shape(const uint8_t *data, size_t len, bool *truncated) {
    mw_cur c = mw_cur_make(data, len);
    bool dummy;
    if (!truncated)
        truncated = &dummy;
    *truncated = false;
    uint64_t pending = 1;
    while (pending) {
        uint8_t t;
        uint32_t n = 0;
        uint64_t add = 0;
        if (!mw_cur_get_u8(&c, &t)) {
            *truncated = true;
            return 0;
        }
        pending--;
        bool ok = true;
        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            /* fixint, nil, bool */
        } else if (t >= 0x80 && t <= 0x8f) {
            add = 2u * (t & 0x0f);
        } else if (t >= 0x90 && t <= 0x9f) {
            add = t & 0x0f;
        } else if (t >= 0xa0 && t <= 0xbf) {
            ok = mw_cur_skip(&c, t & 0x1f);
        } else if (t == 0xc4 || t == 0xd9) { /* bin8, str8 */
            ok = mw_cur_get_uN(&c, 1, &n) && mw_cur_skip(&c, n);
        } else if (t == 0xc5 || t == 0xda) {
            ok = mw_cur_get_uN(&c, 2, &n) && mw_cur_skip(&c, n);
        } else if (t == 0xc6 || t == 0xdb) {
            ok = mw_cur_get_uN(&c, 4, &n) && mw_cur_skip(&c, n);
        } else if (t >= 0xc7 && t <= 0xc9) { /* ext8/16/32: length, type, data */
            ok = mw_cur_get_uN(&c, (size_t)1 << (t - 0xc7), &n) && mw_cur_skip(&c, (size_t)n + 1);
        } else if (t == 0xca || t == 0xcb) {
            ok = mw_cur_skip(&c, t == 0xca ? 4 : 8);
        } else if ((t >= 0xcc && t <= 0xcf) || (t >= 0xd0 && t <= 0xd3)) {
            ok = mw_cur_skip(&c, (size_t)1 << (t & 3));
        } else if (t >= 0xd4 && t <= 0xd8) { /* fixext 1..16 */
            ok = mw_cur_skip(&c, 1 + ((size_t)1 << (t - 0xd4)));
        } else if (t == 0xdc || t == 0xdd) {
            ok = mw_cur_get_uN(&c, t == 0xdc ? 2 : 4, &n);
            add = n;
        } else if (t == 0xde || t == 0xdf) {
            ok = mw_cur_get_uN(&c, t == 0xde ? 2 : 4, &n);
            add = 2u * (uint64_t)n;
        } else {
            return 0; /* 0xc1: never used */
        }
        if (!ok) {
            *truncated = true; /* a length or payload past the end */
            return 0;
        }
        pending += add;
        if (pending > c.len) {
            *truncated = true; /* more items declared than bytes left */
            return 0;
        }
    }
    return len - c.len;
}
