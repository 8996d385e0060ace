/* Fuzz target: TCP reassembly of arbitrary segment sequences. Input: byte 0-1 = stream cap,
 * then segments {u8 flags, u32 seq, u8 len, bytes}; flags bit 0 = SYN (seq is the ISN), bit 1 =
 * consume half of what is buffered, bit 2 = flush holes, bits 3-4 = the segment's TTL (64 +
 * the value). Invariants checked after every step: caps hold, the budget is what the stream
 * holds, next_seq = base_seq + buffered, and every byte is released at the end. */
#include <stdlib.h>

#include "cap_reasm.h"
#include "mw_cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_cur c = mw_cur_make(data, size);
    uint16_t cap;
    if (!mw_cur_get_u16(&c, &cap))
        return 0;
    cap_reasm r;
    cap_stats st;
    cap_stream s;
    memset(&st, 0, sizeof st);
    cap_reasm_init(&r, (uint32_t)cap + 1, 1 << 16);
    cap_stream_init(&s);
    for (;;) {
        uint8_t flags, len;
        uint32_t seq;
        mw_cur payload;
        if (!mw_cur_get_u8(&c, &flags) || !mw_cur_get_u32(&c, &seq) || !mw_cur_get_u8(&c, &len) ||
            !mw_cur_get_bytes(&c, len, &payload))
            break;
        if (flags & 1)
            cap_stream_syn(&s, seq);
        else
            cap_stream_segment(&r, &s, seq, payload.data, (uint32_t)payload.len,
                               (uint8_t)(64 + ((flags >> 3) & 3)), &st);
        if (flags & 2)
            cap_stream_consume(&r, &s, s.buf.len / 2, &st);
        if (flags & 4)
            cap_stream_flush_gaps(&r, &s, &st);
        if (s.buf.len + s.ooo_bytes > r.stream_max || r.in_use > r.global_max)
            abort();
        if (cap_stream_mem(&s) != r.in_use || s.nooo > CAP_OOO_MAX_RANGES)
            abort();
        if (s.seq_known && s.next_seq != s.base_seq + (uint32_t)s.buf.len)
            abort();
    }
    cap_stream_release(&r, &s);
    if (r.in_use != 0)
        abort();
    return 0;
}
