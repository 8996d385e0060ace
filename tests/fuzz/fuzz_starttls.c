/* Fuzz target: the STARTTLS plaintext phase. Input: chunks {u8 role (low bit), u16 length,
 * bytes}, appended to that role's buffer and fed as the engine does. Invariants: consumed never
 * exceeds what was given, and a role's unconsumed bytes stay within the line cap. */
#include <stdlib.h>
#include <string.h>

#include "mw_buf.h"
#include "mw_cursor.h"
#include "starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    an_stats st;
    stls_state s;
    mw_buf b[2];
    memset(&st, 0, sizeof st);
    stls_init(&s);
    mw_buf_init(&b[0], 1 << 20);
    mw_buf_init(&b[1], 1 << 20);
    mw_cur c = mw_cur_make(data, size);
    for (;;) {
        uint8_t role;
        mw_cur chunk;
        if (!mw_cur_get_u8(&c, &role) || !mw_cur_get_u16_prefixed(&c, &chunk))
            break;
        role &= 1;
        if (!mw_buf_append(&b[role], chunk.data, chunk.len))
            break;
        size_t used;
        stls_rc rc = stls_feed(&s, role, b[role].data, b[role].len, &used, &st);
        if (used > b[role].len)
            abort();
        mw_buf_consume(&b[role], used);
        if (rc != STLS_PENDING)
            break;
        if (s.proto != STLS_UNKNOWN && s.proto != STLS_POSTGRES && b[role].len > STLS_LINE_MAX + 4)
            abort(); /* the line cap must bound what waits */
    }
    mw_buf_free(&b[0]);
    mw_buf_free(&b[1]);
    return 0;
}
