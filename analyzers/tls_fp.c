#include "tls_fp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_encode.h"
#include "mw_hash.h"

static bool put_num(mw_buf *b, unsigned v) {
    char t[12], *p = t + sizeof t;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return mw_buf_append(b, p, (size_t)(t + sizeof t - p));
}

static bool put_list16(mw_buf *b, const uint16_t *v, uint16_t n, bool drop_grease) {
    bool first = true;
    for (uint16_t i = 0; i < n; i++) {
        if (drop_grease && tls_is_grease(v[i])) continue;
        if (!first && !mw_buf_putc(b, '-')) return false;
        if (!put_num(b, v[i])) return false;
        first = false;
    }
    return true;
}

static void md5_hex(const mw_buf *b, char out[33]) {
    uint8_t d[16];
    mw_md5(b->data, b->len, d);
    mw_hex(out, d, 16);
}

bool tls_ja3(const tls_client_hello *ch, mw_buf *s, char out[33]) {
    mw_buf_reset(s);
    bool ok = put_num(s, ch->legacy_version) && mw_buf_putc(s, ',') &&
              put_list16(s, ch->ciphers, ch->nciphers, true) && mw_buf_putc(s, ',') &&
              put_list16(s, ch->exts, ch->nexts, true) && mw_buf_putc(s, ',') &&
              put_list16(s, ch->groups, ch->ngroups, true) && mw_buf_putc(s, ',');
    for (uint16_t i = 0; ok && i < ch->npoint_formats; i++)
        ok = (i == 0 || mw_buf_putc(s, '-')) && put_num(s, ch->point_formats[i]);
    if (!ok) return false;
    md5_hex(s, out);
    return true;
}

bool tls_ja3_sslv2(uint16_t version, const uint32_t *specs, size_t n, mw_buf *s, char out[33]) {
    mw_buf_reset(s);
    bool ok = put_num(s, version) && mw_buf_putc(s, ',');
    for (size_t i = 0; ok && i < n; i++)
        ok = (i == 0 || mw_buf_putc(s, '-')) && put_num(s, specs[i]);
    ok = ok && mw_buf_putc(s, ',') && mw_buf_putc(s, ',') && mw_buf_putc(s, ',');
    if (!ok) return false;
    md5_hex(s, out);
    return true;
}

bool tls_ja3s(const tls_server_hello *sh, mw_buf *s, char out[33]) {
    mw_buf_reset(s);
    bool ok = put_num(s, sh->legacy_version) && mw_buf_putc(s, ',') && put_num(s, sh->cipher) &&
              mw_buf_putc(s, ',') && put_list16(s, sh->exts, sh->nexts, true);
    if (!ok) return false;
    md5_hex(s, out);
    return true;
}

static int cmp_u16(const void *a, const void *b) {
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* Ascending, in place. A ClientHello's lists are short (a browser's: under 20 extensions and
 * 50 suites): insertion sort without qsort's calls through a pointer; a hostile list of up to
 * TLS_MAX_CIPHERS goes to qsort. */
static void sort_u16(uint16_t *v, size_t n) {
    if (n > 64) {
        qsort(v, n, sizeof v[0], cmp_u16);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint16_t x = v[i];
        size_t k = i;
        for (; k > 0 && v[k - 1] > x; k--)
            v[k] = v[k - 1];
        v[k] = x;
    }
}

static size_t put_hex16(char *out, uint16_t v) {
    static const char hx[] = "0123456789abcdef";
    out[0] = hx[v >> 12];
    out[1] = hx[(v >> 8) & 15];
    out[2] = hx[(v >> 4) & 15];
    out[3] = hx[v & 15];
    return 4;
}

/* sha256 of "hhhh,hhhh,..." truncated to 12 hex characters; "000000000000" for an empty list. */
static void hash12(const uint16_t *v, uint16_t n, const uint16_t *tail, uint16_t ntail,
                   char out[13]) {
    char buf[(TLS_MAX_EXTS + TLS_MAX_CIPHERS + TLS_MAX_SIGALGS) * 5 + 2];
    size_t len = 0;
    if (n == 0) {
        memcpy(out, "000000000000", 13);
        return;
    }
    for (uint16_t i = 0; i < n; i++) {
        if (i) buf[len++] = ',';
        len += put_hex16(buf + len, v[i]);
    }
    if (ntail > 0) {
        buf[len++] = '_';
        for (uint16_t i = 0; i < ntail; i++) {
            if (i) buf[len++] = ',';
            len += put_hex16(buf + len, tail[i]);
        }
    }
    uint8_t d[32];
    char hex[65];
    mw_sha256(buf, len, d);
    mw_hex(hex, d, 32);
    memcpy(out, hex, 12);
    out[12] = '\0';
}

static const char *ja4_version(uint16_t v) {
    switch (v) {
    case 0x0304:
        return "13";
    case 0x0303:
        return "12";
    case 0x0302:
        return "11";
    case 0x0301:
        return "10";
    case 0x0300:
        return "s3";
    case 0x0002:
        return "s2";
    default:
        return "00";
    }
}

/* JA4_a = t + version + d|i + cipher count + extension count + ALPN first/last character;
 * JA4_b = sorted ciphers hashed; JA4_c = sorted extensions minus SNI and ALPN, then the
 * signature algorithms in offered order, hashed. GREASE is ignored everywhere. */
void tls_ja4(const tls_client_hello *ch, char out[TLS_JA4_LEN]) {
    uint16_t ciphers[TLS_MAX_CIPHERS], exts[TLS_MAX_EXTS], sigalgs[TLS_MAX_SIGALGS];
    uint16_t nc = 0, ne = 0, next_all = 0, ns = 0;
    bool sni = false;
    for (uint16_t i = 0; i < ch->nciphers; i++)
        if (!tls_is_grease(ch->ciphers[i])) ciphers[nc++] = ch->ciphers[i];
    for (uint16_t i = 0; i < ch->nexts; i++) {
        uint16_t e = ch->exts[i];
        if (tls_is_grease(e)) continue;
        next_all++;
        if (e == TLS_EXT_SERVER_NAME) sni = true;
        if (e != TLS_EXT_SERVER_NAME && e != TLS_EXT_ALPN) exts[ne++] = e;
    }
    for (uint16_t i = 0; i < ch->nsigalgs; i++)
        if (!tls_is_grease(ch->sigalgs[i])) sigalgs[ns++] = ch->sigalgs[i];
    sort_u16(ciphers, nc);
    sort_u16(exts, ne);

    char alpn[3] = "00";
    mw_cur list = ch->alpn, first;
    if (mw_cur_get_u8_prefixed(&list, &first) && first.len > 0) {
        unsigned char a = (unsigned char)mw_cur_at(&first, 0),
                      z = (unsigned char)mw_cur_at(&first, first.len - 1);
        if (isalnum(a) && isalnum(z)) {
            alpn[0] = (char)a;
            alpn[1] = (char)z;
        } else { /* non-alphanumeric: first hex digit of the first byte, last of the last */
            static const char hx[] = "0123456789abcdef";
            alpn[0] = hx[a >> 4];
            alpn[1] = hx[z & 15];
        }
    }
    char b[13], c[13];
    hash12(ciphers, nc, NULL, 0, b);
    hash12(exts, ne, sigalgs, ns, c);
    snprintf(out, TLS_JA4_LEN, "t%s%c%02u%02u%s_%s_%s", ja4_version(tls_client_max_version(ch)),
             sni ? 'd' : 'i', nc > 99 ? 99 : nc, next_all > 99 ? 99 : next_all, alpn, b, c);
}
