/* Fuzz target: the whole passive path (decode, flow table, reassembly, TLS) on arbitrary frame
 * sequences. Input: byte 0 = link type index, then frames {u16 length, bytes}, each 1 ms
 * after the previous one. The flow table is small so eviction and timeouts run too. */
#include <pcap/dlt.h>
#include <stdlib.h>

#include "an_engine.h"
#include "mw_cursor.h"
#include "mw_hash.h"

static void on_hs(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    (void)f;
    (void)client_side;
    (*(int *)user) += hs->have_sh;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW, DLT_NULL, DLT_LOOP, 228, 229};
    mw_hash_init();
    mw_cur c = mw_cur_make(data, size);
    uint8_t li;
    if (!mw_cur_get_u8(&c, &li))
        return 0;
    int n = 0;
    an_engine_cfg cfg = {.max_flows = 8,
                         .idle_timeout_us = 50000,
                         .stream_max_bytes = 64 * 1024,
                         .reasm_max_bytes = 1 << 20,
                         .cert_cache_entries = 16,
                         .on_handshake = on_hs,
                         .user = &n};
    an_engine *e = an_engine_new(&cfg);
    uint64_t ts = 1700000000000000ull;
    for (;;) {
        mw_cur frame;
        if (!mw_cur_get_u16_prefixed(&c, &frame))
            break;
        /* a private copy of exactly the frame's size, so over-reads fault under ASan */
        uint8_t *f = malloc(frame.len ? frame.len : 1);
        memcpy(f, frame.data, frame.len);
        an_engine_frame(e, dlts[li % (sizeof dlts / sizeof dlts[0])], ts, f,
                        (uint32_t)frame.len, (uint32_t)frame.len);
        free(f);
        ts += 1000;
    }
    an_engine_flush(e);
    if (an_engine_cap_stats(e)->reasm_bytes_in_use != 0)
        abort(); /* everything is released when flows end */
    an_engine_free(e);
    return 0;
}
