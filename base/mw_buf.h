/* Owning, growable byte buffer with a hard cap (STYLE.md rule 2, after curl's dynbuf).
 * An append that would pass the cap fails and leaves the buffer as it was; the caller
 * counts the refusal. Memory grows geometrically up to the cap and is freed by mw_buf_free. */
#ifndef MW_BUF_H
#define MW_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mw_result.h"

typedef struct {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t max; /* hard cap on len */
} mw_buf;

void mw_buf_init(mw_buf *b, size_t max);
void mw_buf_free(mw_buf *b);
static inline void mw_buf_reset(mw_buf *b) { b->len = 0; }
MW_WUR bool mw_buf_append_slow(mw_buf *b, const void *data, size_t n);
/* Inline fast path: room already allocated (events are built into a reused buffer). */
static inline MW_WUR bool mw_buf_append(mw_buf *b, const void *data, size_t n) {
    if (n <= b->alloc - b->len) {
        if (n)
            memcpy(b->data + b->len, data, n);
        b->len += n;
        return true;
    }
    return mw_buf_append_slow(b, data, n);
}
MW_WUR bool mw_buf_append_str(mw_buf *b, const char *s);
MW_WUR bool mw_buf_putc(mw_buf *b, char ch);
/* Drops the first n bytes (n <= len). */
void mw_buf_consume(mw_buf *b, size_t n);

#endif
