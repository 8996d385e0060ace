#include "mw_encode.h"

#include <stdio.h>

void mw_hex(char *out, const uint8_t *in, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void mw_b64(char *out, const uint8_t *in, size_t n) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = t[(v >> 6) & 63];
        out[o++] = t[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no gmtime, no TZ,
 * valid far outside time_t's 32-bit range, as certificate dates can be. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* "YYYY-MM-DDTHH:MM:SS" without printf (it runs for every event); years outside 0..9999 fall
 * back to snprintf. Returns the length written. */
static int fmt_sec(char *out, int64_t sec) {
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return snprintf(out, MW_TS_LEN, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long)y, m, d,
                        (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem % 60), 2);
    *p = '\0';
    return (int)(p - out);
}

void mw_ts_sec(char *out, int64_t sec) {
    int n = fmt_sec(out, sec);
    if (n > 0 && n < MW_TS_LEN - 1) {
        out[n] = 'Z';
        out[n + 1] = '\0';
    }
}

void mw_ts_us(char *out, uint64_t us) {
    int n = fmt_sec(out, (int64_t)(us / 1000000));
    if (n > 0 && n < MW_TS_LEN - 9) {
        char *p = out + n;
        *p++ = '.';
        p = put_digits(p, (unsigned)(us % 1000000), 6);
        *p++ = 'Z';
        *p = '\0';
    }
}

void mw_ts_ms(char *out, uint64_t ms) {
    int n = fmt_sec(out, (int64_t)(ms / 1000));
    if (n > 0 && n < MW_TS_LEN - 6) {
        char *p = out + n;
        *p++ = '.';
        p = put_digits(p, (unsigned)(ms % 1000), 3);
        *p++ = 'Z';
        *p = '\0';
    }
}
