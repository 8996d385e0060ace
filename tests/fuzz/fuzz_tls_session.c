/* Fuzz target: the TLS record layer, handshake reassembly, hello/certificate/OCSP parsing and
 * the event writer. Input: byte 0 = which side the flow guessed as client, then chunks
 * {u8 side (low bit), u16 length, bytes}; each chunk is appended to that side's stream and
 * parsed as the engine would. Every event written must be valid JSON. */
#include <jansson.h>
#include <stdlib.h>

#include "ev_tls.h"
#include "mw_cursor.h"
#include "mw_hash.h"
#include "tls_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static an_stats st;
    static x509_cache *certs;
    if (!certs) {
        mw_hash_init();
        certs = x509_cache_new(64, &st);
    }
    mw_cur c = mw_cur_make(data, size);
    uint8_t guess;
    if (!mw_cur_get_u8(&c, &guess))
        return 0;
    tls_session s;
    tls_session_init(&s, guess & 1, certs, &st);
    mw_buf stream[2];
    mw_buf_init(&stream[0], 1 << 20);
    mw_buf_init(&stream[1], 1 << 20);
    uint64_t now = 1700000000000000ull;
    for (;;) {
        uint8_t side;
        mw_cur chunk;
        if (!mw_cur_get_u8(&c, &side) || !mw_cur_get_u16_prefixed(&c, &chunk))
            break;
        side &= 1;
        if (!mw_buf_append(&stream[side], chunk.data, chunk.len))
            break;
        size_t used = tls_session_feed(&s, side, stream[side].data, stream[side].len, now++);
        if (used > stream[side].len)
            abort();
        mw_buf_consume(&stream[side], used);
        if (s.ready)
            break;
    }
    tls_session_finish(&s);
    if (s.ready) {
        cap_flow f;
        memset(&f, 0, sizeof f);
        f.key.ip_ver = 4;
        mw_buf out;
        mw_buf_init(&out, 4 << 20);
        ev_ctx ctx = {"fuzz"};
        if (ev_tls_build(&out, &ctx, &s.hs, &f, s.client_side, "0123", NULL)) {
            json_error_t err;
            json_t *j = json_loadb((const char *)out.data, out.len, JSON_ALLOW_NUL, &err);
            if (!j)
                abort(); /* the writer produced invalid JSON */
            json_decref(j);
        }
        mw_buf_free(&out);
    }
    tls_session_free(&s);
    mw_buf_free(&stream[0]);
    mw_buf_free(&stream[1]);
    return 0;
}
