#include "ct_gzip.h"

#define ZLIB_CONST /* next_in is const: zlib only reads the input */
#include <zlib.h>

bool ct_is_gzip(const uint8_t *p, size_t n) {
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

mw_rc ct_gunzip(const uint8_t *p, size_t n, mw_buf *out) {
    z_stream z = {0};
    uint8_t chunk[16384];
    mw_buf_reset(out);
    if (n > UINT32_MAX) return MW_ERR;
    /* 16 + MAX_WBITS: a gzip wrapper only (zlib or raw deflate are not what the spec allows) */
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return MW_ERR;
    z.next_in = p;
    z.avail_in = (uInt)n;
    mw_rc rc = MW_MALFORMED;
    for (;;) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        size_t got = sizeof chunk - z.avail_out;
        if (got && !mw_buf_append(out, chunk, got)) {
            rc = MW_ERR;
            break;
        }
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0) {
                rc = MW_OK;
                break;
            }
            /* RFC 1952 2.2: a file is a series of members; each must be a gzip member again */
            if (!ct_is_gzip(z.next_in, z.avail_in) || inflateReset(&z) != Z_OK) break;
            continue;
        }
        /* Z_BUF_ERROR: no progress with fresh output room, i.e. the input ended mid-stream */
        if (zr != Z_OK) break;
    }
    inflateEnd(&z);
    if (rc != MW_OK) mw_buf_reset(out);
    return rc;
}
