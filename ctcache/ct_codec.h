/* Strict decoders for the text encodings CT sources use (RFC 4648 base64 with padding,
 * hex). Anything else is rejected rather than guessed at. */
#ifndef CT_CODEC_H
#define CT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes standard base64 (padding required, no whitespace) into a new buffer of *outlen
 * bytes; NULL when malformed or longer than max bytes. Free with free(). */
uint8_t *ct_b64_decode(const char *s, size_t len, size_t max, size_t *outlen);
/* Decodes exactly 2*n hex digits (either case) into out. */
bool ct_hex_decode(const char *s, size_t len, uint8_t *out, size_t n);

/* "YYYY-MM-DDTHH:MM:SS[.fff...][Z]" (crt.sh, Cert Spotter) -> milliseconds since the epoch. */
bool ct_time_parse_ms(const char *s, size_t len, int64_t *ms);
#endif
