/* The one bounded reader for untrusted bytes (STYLE.md rule 1), after OpenBSD's CBS.
 *
 * A cursor is a non-owning view {data, len}. Every read checks the length first and
 * advances only on success; a failed read leaves the cursor unchanged. Length-prefixed
 * fields come back as a child cursor, and callers check mw_cur_empty(child) after parsing
 * a block so that trailing bytes are rejected (picotls' decode_open_block rule).
 */
#ifndef MW_CURSOR_H
#define MW_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mw_result.h"

typedef struct {
    const uint8_t *data;
    size_t len;
} mw_cur;

static inline mw_cur mw_cur_make(const uint8_t *data, size_t len) {
    mw_cur c = {data, len};
    return c;
}

static inline bool mw_cur_empty(const mw_cur *c) { return c->len == 0; }

static inline MW_WUR bool mw_cur_skip(mw_cur *c, size_t n) {
    if (c->len < n)
        return false;
    c->data += n;
    c->len -= n;
    return true;
}

static inline MW_WUR bool mw_cur_get_bytes(mw_cur *c, size_t n, mw_cur *out) {
    if (c->len < n)
        return false;
    out->data = c->data;
    out->len = n;
    c->data += n;
    c->len -= n;
    return true;
}

static inline MW_WUR bool mw_cur_copy(mw_cur *c, void *dst, size_t n) {
    if (c->len < n)
        return false;
    memcpy(dst, c->data, n);
    c->data += n;
    c->len -= n;
    return true;
}

static inline MW_WUR bool mw_cur_peek_u8(const mw_cur *c, size_t off, uint8_t *out) {
    if (off >= c->len)
        return false;
    *out = c->data[off];
    return true;
}

/* The byte at off, or -1 past the end: for tests on single bytes inside expressions
 * (mw_cur_at(&line, 0) == ' '), where a bool-returning read would need a temporary. */
static inline int mw_cur_at(const mw_cur *c, size_t off) {
    return off < c->len ? c->data[off] : -1;
}

static inline MW_WUR bool mw_cur_get_uN(mw_cur *c, size_t n, uint32_t *out) {
    uint32_t v = 0;
    if (c->len < n || n > 4)
        return false;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | c->data[i];
    c->data += n;
    c->len -= n;
    *out = v;
    return true;
}

static inline MW_WUR bool mw_cur_get_u8(mw_cur *c, uint8_t *out) {
    uint32_t v;
    if (!mw_cur_get_uN(c, 1, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

static inline MW_WUR bool mw_cur_get_u16(mw_cur *c, uint16_t *out) {
    uint32_t v;
    if (!mw_cur_get_uN(c, 2, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

static inline MW_WUR bool mw_cur_get_u24(mw_cur *c, uint32_t *out) {
    return mw_cur_get_uN(c, 3, out);
}

static inline MW_WUR bool mw_cur_get_u32(mw_cur *c, uint32_t *out) {
    return mw_cur_get_uN(c, 4, out);
}

/* Reads an n-byte big-endian length, then that many bytes as a child cursor. */
static inline MW_WUR bool mw_cur_get_prefixed(mw_cur *c, size_t n, mw_cur *child) {
    mw_cur save = *c;
    uint32_t l;
    if (!mw_cur_get_uN(c, n, &l) || !mw_cur_get_bytes(c, l, child)) {
        *c = save;
        return false;
    }
    return true;
}

static inline MW_WUR bool mw_cur_get_u8_prefixed(mw_cur *c, mw_cur *child) {
    return mw_cur_get_prefixed(c, 1, child);
}
static inline MW_WUR bool mw_cur_get_u16_prefixed(mw_cur *c, mw_cur *child) {
    return mw_cur_get_prefixed(c, 2, child);
}
static inline MW_WUR bool mw_cur_get_u24_prefixed(mw_cur *c, mw_cur *child) {
    return mw_cur_get_prefixed(c, 3, child);
}

#endif
