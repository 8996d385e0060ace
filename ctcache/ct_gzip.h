/* gzip (RFC 1952) bodies: static-ct-api data tiles "SHOULD be compressed at the HTTP layer" and
 * clients "MUST support Content-Encoding: gzip ... with no negotiation". libcurl decodes a body
 * that says so in Content-Encoding; a tile stored compressed and served without that header
 * (or through a libcurl without zlib) still starts with the gzip magic, which no uncompressed
 * tile can: its first bytes are a TileLeaf timestamp in milliseconds, and 0x1f8b... would be
 * millions of years from now. */
#ifndef CT_GZIP_H
#define CT_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_result.h"

/* Does p start with the gzip magic (1f 8b)? */
bool ct_is_gzip(const uint8_t *p, size_t n);

/* Inflates every gzip member of [p, p+n) into out (reset first). MW_MALFORMED for a corrupt or
 * truncated stream or trailing garbage, MW_ERR when the output would pass out's cap (a
 * decompression bomb is refused, never buffered) or on allocation failure. */
MW_WUR mw_rc ct_gunzip(const uint8_t *p, size_t n, mw_buf *out);

#endif
