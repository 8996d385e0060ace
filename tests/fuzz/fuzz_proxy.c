/* Fuzz target: the proxy dialogue (HTTP CONNECT, SOCKS4/4a/5). Input: byte 0 picks the proxy
 * type, then chunks {u8 role (low bit), u16 length, bytes}, appended to that role's buffer and
 * fed as the engine does. Invariants: consumed never exceeds what was given, a tunnel has a
 * target, and what waits stays within the dialogue cap. */
#include <stdlib.h>
#include <string.h>

#include "mw_buf.h"
#include "mw_cursor.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    prx_state s;
    mw_buf b[2];
    mw_cur c = mw_cur_make(data, size);
    uint8_t type;
    if (!mw_cur_get_u8(&c, &type)) return 0;
    prx_init(&s);
    s.type = (prx_type)(1 + type % 4);
    mw_buf_init(&b[0], 1 << 20);
    mw_buf_init(&b[1], 1 << 20);
    for (;;) {
        uint8_t role;
        mw_cur chunk;
        if (!mw_cur_get_u8(&c, &role) || !mw_cur_get_u16_prefixed(&c, &chunk)) break;
        role &= 1;
        if (!mw_buf_append(&b[role], chunk.data, chunk.len)) break;
        size_t used;
        prx_rc rc = prx_feed(&s, role, b[role].data, b[role].len, &used);
        if (used > b[role].len) abort();
        mw_buf_consume(&b[role], used);
        if (rc == PRX_TUNNEL &&
            (s.host[0] == '\0' || s.port == 0 || memchr(s.host, '\0', sizeof s.host) == NULL))
            abort(); /* a tunnel always names its target */
        if (rc != PRX_PENDING) break;
        if (b[role].len > PRX_DIALOGUE_MAX) abort(); /* the dialogue cap must bound what waits */
    }
    mw_buf_free(&b[0]);
    mw_buf_free(&b[1]);
    return 0;
}
