#include "mw_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void put(mw_json *j, const void *p, size_t n) {
    if (j->ok && !mw_buf_append(j->out, p, n)) j->ok = false;
}

/* Separator before a value (not after a key: the key wrote its own). */
static void pre_value(mw_json *j) {
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth]) put(j, ",", 1);
    j->need_comma[j->depth] = true;
}

void mw_json_init(mw_json *j, mw_buf *out) {
    j->out = out;
    j->depth = 0;
    j->need_comma[0] = false;
    j->after_key = false;
    j->ok = true;
}

static void open(mw_json *j, char ch) {
    pre_value(j);
    put(j, &ch, 1);
    if (j->depth >= MW_JSON_MAX_DEPTH) {
        j->ok = false;
        return;
    }
    j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_(mw_json *j, char ch) {
    put(j, &ch, 1);
    if (j->depth > 0) j->depth--;
}

void mw_json_obj_begin(mw_json *j) {
    open(j, '{');
}
void mw_json_obj_end(mw_json *j) {
    close_(j, '}');
}
void mw_json_arr_begin(mw_json *j) {
    open(j, '[');
}
void mw_json_arr_end(mw_json *j) {
    close_(j, ']');
}

/* Bytes that go out as they are: printable ASCII but the quote and the backslash. */
#define R8(c)                                                                                      \
    PLAIN(c), PLAIN(c + 1), PLAIN(c + 2), PLAIN(c + 3), PLAIN(c + 4), PLAIN(c + 5), PLAIN(c + 6),  \
        PLAIN(c + 7)
#define R32(c) R8(c), R8(c + 8), R8(c + 16), R8(c + 24)
#define PLAIN(c) ((c) >= 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\')
static const bool plain[256] = {R32(0),   R32(32),  R32(64),  R32(96),
                                R32(128), R32(160), R32(192), R32(224)};
#undef PLAIN
#undef R32
#undef R8

static void put_escaped(mw_json *j, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(j, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (plain[c]) {
            /* the common case: a run of printable ASCII goes out in one append */
            size_t k = i + 1;
            while (k < n && plain[s[k]])
                k++;
            put(j, s + i, k - i);
            i = k;
            continue;
        }
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                put(j, e, 2);
            } else {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(j, e, 6);
            }
            i++;
            continue;
        }
        /* Validate one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            put(j, "\\ufffd", 6);
            i++;
            continue;
        }
        bool good = (n - i - 1) >= need;
        for (size_t k = 1; good && k <= need; k++) {
            unsigned char cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                good = false;
            else
                cp = (cp << 6) | (cc & 0x3f);
        }
        if (good && ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                     (need == 3 && (cp < 0x10000 || cp > 0x10ffff))))
            good = false;
        if (!good) {
            put(j, "\\ufffd", 6);
            i++;
            continue;
        }
        put(j, &s[i], need + 1);
        i += need + 1;
    }
    put(j, "\"", 1);
}

/* Keys are nearly always short printable ASCII (the schema's own names): those go out as one
 * append of '"key":'; anything else is escaped as a string is. */
void mw_json_key(mw_json *j, const char *key) {
    pre_value(j);
    char tmp[96];
    size_t n = 0;
    tmp[n++] = '"';
    for (const char *k = key; *k; k++) {
        unsigned char c = (unsigned char)*k;
        if (n >= sizeof tmp - 2 || !plain[c]) {
            put_escaped(j, (const unsigned char *)key, strlen(key));
            put(j, ":", 1);
            j->after_key = true;
            return;
        }
        tmp[n++] = (char)c;
    }
    tmp[n++] = '"';
    tmp[n++] = ':';
    put(j, tmp, n);
    j->after_key = true;
}

void mw_json_str_n(mw_json *j, const char *s, size_t n) {
    pre_value(j);
    put_escaped(j, (const unsigned char *)s, n);
}

void mw_json_str(mw_json *j, const char *s) {
    mw_json_str_n(j, s, strlen(s));
}

/* Decimal digits of v, right-aligned in tmp[0..24); returns the first digit. */
static char *utoa(uint64_t v, char tmp[24]) {
    char *p = tmp + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void mw_json_int(mw_json *j, int64_t v) {
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = utoa(u, tmp);
    if (v < 0) *--p = '-';
    pre_value(j);
    put(j, p, (size_t)(tmp + 24 - p));
}

void mw_json_uint(mw_json *j, uint64_t v) {
    char tmp[24];
    char *p = utoa(v, tmp);
    pre_value(j);
    put(j, p, (size_t)(tmp + 24 - p));
}

void mw_json_bool(mw_json *j, bool v) {
    pre_value(j);
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

void mw_json_null(mw_json *j) {
    pre_value(j);
    put(j, "null", 4);
}

void mw_json_raw(mw_json *j, const char *s, size_t n) {
    pre_value(j);
    put(j, s, n);
}
