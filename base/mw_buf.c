#include "mw_buf.h"

#include <stdlib.h>
#include <string.h>

void mw_buf_init(mw_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void mw_buf_free(mw_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

bool mw_buf_append_slow(mw_buf *b, const void *data, size_t n) {
    if (n > b->max || b->len > b->max - n)
        return false;
    if (n == 0)
        return true;
    size_t need = b->len + n;
    if (need > b->alloc) {
        /* alloc never exceeds max, so the inline fast path cannot pass the cap */
        size_t na = b->alloc ? b->alloc : (b->max < 256 ? b->max : 256);
        while (na < need)
            na = na > b->max / 2 ? b->max : na * 2;
        uint8_t *p = realloc(b->data, na);
        if (p == NULL)
            return false;
        b->data = p;
        b->alloc = na;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

bool mw_buf_append_str(mw_buf *b, const char *s) { return mw_buf_append(b, s, strlen(s)); }

bool mw_buf_putc(mw_buf *b, char ch) { return mw_buf_append(b, &ch, 1); }

void mw_buf_consume(mw_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
