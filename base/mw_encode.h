/* Text encodings of binary values for events: lowercase hex, standard base64,
 * and RFC 3339 UTC timestamps with microseconds. Output buffers are sized by the caller
 * with the MW_*_LEN macros; every function NUL-terminates. */
#ifndef MW_ENCODE_H
#define MW_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MW_HEX_LEN(n) ((n) * 2 + 1)
#define MW_B64_LEN(n) ((((n) + 2) / 3) * 4 + 1)
#define MW_TS_LEN 32 /* "2026-11-28T14:10:45.123456Z" + NUL, with room */

void mw_hex(char *out, const uint8_t *in, size_t n);
void mw_b64(char *out, const uint8_t *in, size_t n);
/* Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
void mw_ts_us(char *out, uint64_t us);
/* Seconds since the epoch -> "YYYY-MM-DDTHH:MM:SSZ"; handles dates before 1970 and after 2038. */
void mw_ts_sec(char *out, int64_t sec);
/* Milliseconds since the epoch (CT timestamps) -> "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void mw_ts_ms(char *out, uint64_t ms);

#endif
