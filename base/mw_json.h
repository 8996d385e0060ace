/* Streaming JSON writer into a capped mw_buf. Commas are placed automatically.
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become U+FFFD so that
 * every event is valid JSON whatever a certificate or SNI contains. A failed append (cap)
 * clears j->ok; the caller checks it once at the end. */
#ifndef MW_JSON_H
#define MW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"

#define MW_JSON_MAX_DEPTH 32

typedef struct {
    mw_buf *out;
    unsigned depth;
    bool need_comma[MW_JSON_MAX_DEPTH + 1];
    bool after_key;
    bool ok;
} mw_json;

void mw_json_init(mw_json *j, mw_buf *out);
void mw_json_obj_begin(mw_json *j);
void mw_json_obj_end(mw_json *j);
void mw_json_arr_begin(mw_json *j);
void mw_json_arr_end(mw_json *j);
void mw_json_key(mw_json *j, const char *key);
void mw_json_str(mw_json *j, const char *s);
void mw_json_str_n(mw_json *j, const char *s, size_t n);
void mw_json_int(mw_json *j, int64_t v);
void mw_json_uint(mw_json *j, uint64_t v);
void mw_json_bool(mw_json *j, bool v);
void mw_json_null(mw_json *j);
/* A value that is already valid JSON text (a cached fragment). */
void mw_json_raw(mw_json *j, const char *s, size_t n);

/* key + value shorthands */
static inline void mw_json_kstr(mw_json *j, const char *k, const char *v) {
    mw_json_key(j, k);
    mw_json_str(j, v);
}
static inline void mw_json_kint(mw_json *j, const char *k, int64_t v) {
    mw_json_key(j, k);
    mw_json_int(j, v);
}
static inline void mw_json_kuint(mw_json *j, const char *k, uint64_t v) {
    mw_json_key(j, k);
    mw_json_uint(j, v);
}
static inline void mw_json_kbool(mw_json *j, const char *k, bool v) {
    mw_json_key(j, k);
    mw_json_bool(j, v);
}
static inline void mw_json_kobj(mw_json *j, const char *k) {
    mw_json_key(j, k);
    mw_json_obj_begin(j);
}
static inline void mw_json_karr(mw_json *j, const char *k) {
    mw_json_key(j, k);
    mw_json_arr_begin(j);
}

#endif
