/* The input both engine fuzz targets read: byte 0 = link type index, then frames {u16 length,
 * bytes}, each 1 ms after the previous one. fuzz_frames_run feeds them to a small engine (8
 * flows, 50 ms idle timeout: eviction and timeouts run too) with the given callbacks, flushes
 * it and returns it for the caller's checks; the caller frees it. NULL when the input has no
 * link type byte. dpi: an nDPI context made once per process (dpi_new), or NULL to run without
 * nDPI (an engine starting its own nDPI per input ran at ~10 execs/s). */
#ifndef FUZZ_FRAMES_H
#define FUZZ_FRAMES_H

#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "an_engine.h"
#include "mw_cursor.h"

static inline an_engine *fuzz_frames_run(const uint8_t *data, size_t size, an_handshake_fn on_hs,
                                         an_plaintext_fn on_plain, void *user, dpi_ctx *dpi) {
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW,
                               DLT_NULL,   DLT_LOOP,      228, 229};
    mw_cur c = mw_cur_make(data, size);
    uint8_t li;
    if (!mw_cur_get_u8(&c, &li))
        return NULL;
    an_engine_cfg cfg = {.max_flows = 8,
                         .idle_timeout_us = 50000,
                         .stream_max_bytes = 64 * 1024,
                         .reasm_max_bytes = 1 << 20,
                         .cert_cache_entries = 16,
                         .no_ndpi = !dpi,
                         .shared_dpi = dpi,
                         /* mutated frames rarely keep their checksums: only li >= 128 checks */
                         .checksum = li & 0x80 ? CAP_CSUM_AUTO : CAP_CSUM_OFF,
                         .on_handshake = on_hs,
                         .on_plaintext = on_plain,
                         .user = user};
    an_engine *e = an_engine_new(&cfg);
    if (!e)
        abort();
    uint64_t ts = 1700000000000000ull;
    for (;;) {
        mw_cur frame;
        if (!mw_cur_get_u16_prefixed(&c, &frame))
            break;
        /* a private copy of exactly the frame's size, so over-reads fault under ASan */
        uint8_t *f = malloc(frame.len ? frame.len : 1);
        if (!f)
            abort();
        memcpy(f, frame.data, frame.len);
        an_engine_frame(e, dlts[li % (sizeof dlts / sizeof dlts[0])], ts, f,
                        (uint32_t)frame.len, (uint32_t)frame.len);
        free(f);
        ts += 1000;
    }
    an_engine_flush(e);
    return e;
}

#endif
