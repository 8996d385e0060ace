/* JARM's ten ClientHellos, byte for byte as Salesforce's jarm.py v1.0 builds them (see
 * jarm.h): the probe descriptions, the reference's cipher, ALPN and extension lists and its
 * orderings. Written from the reference's behaviour, not its code; every place where the
 * reference is odd is marked "reference:" so nobody "fixes" it and breaks fingerprint
 * compatibility. Reading the answers and the hash are in jarm.c. */
#include "jarm.h"

#include <string.h>

#include <openssl/rand.h>

/* ---------------------------------------------------------------- probe descriptions */

enum jarm_order { ORD_FORWARD, ORD_REVERSE, ORD_TOP_HALF, ORD_BOTTOM_HALF, ORD_MIDDLE_OUT };
enum jarm_sv { SV_NONE, SV_12, SV_13 };

typedef struct {
    uint16_t version; /* 0x0302, 0x0303, or 0x0304 meaning the reference's "TLS_1.3" */
    bool no13;        /* cipher list without the TLS 1.3 suites ("NO1.3") */
    uint8_t cipher_order;
    bool grease;
    bool rare_alpn;
    uint8_t sv;        /* supported_versions contents: none, up to 1.2, up to 1.3 */
    uint8_t ext_order; /* ALPN and supported_versions order: forward or reverse */
} jarm_spec;

/* The reference's queue, in order: 1.2 forward, 1.2 reverse, 1.2 top half, 1.2 bottom half,
 * 1.2 middle out, "1.1 middle out" (whose ciphers are in fact forward), 1.3 forward,
 * 1.3 reverse, 1.3 "invalid" (no 1.3 suites), 1.3 middle out. */
static const jarm_spec jarm_specs[JARM_PROBES] = {
    {0x0303, false, ORD_FORWARD, false, false, SV_12, ORD_REVERSE},
    {0x0303, false, ORD_REVERSE, false, false, SV_12, ORD_FORWARD},
    {0x0303, false, ORD_TOP_HALF, false, false, SV_NONE, ORD_FORWARD},
    {0x0303, false, ORD_BOTTOM_HALF, false, true, SV_NONE, ORD_FORWARD},
    {0x0303, false, ORD_MIDDLE_OUT, true, true, SV_NONE, ORD_REVERSE},
    {0x0302, false, ORD_FORWARD, false, false, SV_NONE, ORD_FORWARD},
    {0x0304, false, ORD_FORWARD, false, false, SV_13, ORD_REVERSE},
    {0x0304, false, ORD_REVERSE, false, false, SV_13, ORD_FORWARD},
    {0x0304, true, ORD_FORWARD, false, false, SV_13, ORD_FORWARD},
    {0x0304, false, ORD_MIDDLE_OUT, true, false, SV_13, ORD_REVERSE},
};

/* The reference's "ALL" list, weakest-looking first; "NO1.3" is the same without 0x13xx. */
static const uint16_t jarm_ciphers_all[] = {
    0x0016, 0x0033, 0x0067, 0xc09e, 0xc0a2, 0x009e, 0x0039, 0x006b, 0xc09f, 0xc0a3, 0x009f, 0x0045,
    0x00be, 0x0088, 0x00c4, 0x009a, 0xc008, 0xc009, 0xc023, 0xc0ac, 0xc0ae, 0xc02b, 0xc00a, 0xc024,
    0xc0ad, 0xc0af, 0xc02c, 0xc072, 0xc073, 0xcca9, 0x1302, 0x1301, 0xcc14, 0xc007, 0xc012, 0xc013,
    0xc027, 0xc02f, 0xc014, 0xc028, 0xc030, 0xc060, 0xc061, 0xc076, 0xc077, 0xcca8, 0x1305, 0x1304,
    0x1303, 0xcc13, 0xc011, 0x000a, 0x002f, 0x003c, 0xc09c, 0xc0a0, 0x009c, 0x0035, 0x003d, 0xc09d,
    0xc0a1, 0x009d, 0x0041, 0x00ba, 0x0084, 0x00c0, 0x0007, 0x0004, 0x0005,
};

/* ALPN protocol names (RFC 7301 wire form is length + name), oldest first. */
static const char *const jarm_alpn_all[] = {"http/0.9", "http/1.0", "http/1.1", "spdy/1", "spdy/2",
                                            "spdy/3",   "h2",       "h2c",      "hq"};
static const char *const jarm_alpn_rare[] = {"http/0.9", "http/1.0", "spdy/1", "spdy/2",
                                             "spdy/3",   "h2c",      "hq"};

/* Fixed extension bodies, byte for byte as the reference sends them. */
static const uint8_t ext_ems[] = {0x00, 0x17, 0x00, 0x00};
static const uint8_t ext_max_frag[] = {0x00, 0x01, 0x00, 0x01, 0x01};
static const uint8_t ext_reneg[] = {0xff, 0x01, 0x00, 0x01, 0x00};
static const uint8_t ext_groups[] = {0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x00,
                                     0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19};
static const uint8_t ext_point_formats[] = {0x00, 0x0b, 0x00, 0x02, 0x01, 0x00};
static const uint8_t ext_ticket[] = {0x00, 0x23, 0x00, 0x00};
static const uint8_t ext_sigalgs[] = {0x00, 0x0d, 0x00, 0x14, 0x00, 0x12, 0x04, 0x03,
                                      0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05,
                                      0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x02, 0x01};
static const uint8_t ext_psk_modes[] = {0x00, 0x2d, 0x00, 0x02, 0x01, 0x01};

/* Fills idx[] with the positions 0..n-1 in the given order and returns how many were kept
 * (the halves keep fewer). Reference: for an odd n, "bottom half" skips the middle element
 * and "top half" starts with it, then the lower half from the middle down; "middle out"
 * alternates above and below the middle. */
static size_t jarm_order_indices(size_t n, unsigned order, size_t *idx) {
    size_t k = 0, half = n / 2;
    switch (order) {
    case ORD_FORWARD:
        for (size_t i = 0; i < n; i++)
            idx[k++] = i;
        break;
    case ORD_REVERSE:
        for (size_t i = n; i-- > 0;)
            idx[k++] = i;
        break;
    case ORD_BOTTOM_HALF:
        for (size_t i = half + (n & 1); i < n; i++)
            idx[k++] = i;
        break;
    case ORD_TOP_HALF:
        if (n & 1) idx[k++] = half;
        /* reversed list, its bottom half: positions n-1-j for j from half+(n&1) to n-1 */
        for (size_t j = half + (n & 1); j < n; j++)
            idx[k++] = n - 1 - j;
        break;
    case ORD_MIDDLE_OUT:
        if (n & 1) {
            idx[k++] = half;
            for (size_t i = 1; i <= half; i++) {
                idx[k++] = half + i;
                idx[k++] = half - i;
            }
        } else {
            for (size_t i = 1; i <= half; i++) {
                idx[k++] = half - 1 + i;
                idx[k++] = half - i;
            }
        }
        break;
    }
    return k;
}

/* ---------------------------------------------------------------- ClientHello building */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool full;
} jarm_wbuf;

static void wb_bytes(jarm_wbuf *w, const void *d, size_t n) {
    if (w->full || w->cap - w->len < n) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}
static void wb_u8(jarm_wbuf *w, unsigned v) {
    uint8_t b = (uint8_t)v;
    wb_bytes(w, &b, 1);
}
static void wb_u16(jarm_wbuf *w, unsigned v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wb_bytes(w, b, 2);
}
/* Reserves an n-byte length field, returning where it is; wb_patch fills it later. */
static size_t wb_len(jarm_wbuf *w, size_t n) {
    static const uint8_t zero[3] = {0, 0, 0};
    size_t at = w->len;
    wb_bytes(w, zero, n);
    return at;
}
static void wb_patch(jarm_wbuf *w, size_t at, size_t n) {
    if (w->full) return;
    size_t v = w->len - at - n;
    for (size_t i = 0; i < n; i++)
        w->p[at + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void jarm_rand_openssl(void *ctx, uint8_t *out, size_t n) {
    (void)ctx;
    if (RAND_bytes(out, (int)n) != 1)
        memset(out, 0x5a, n); /* never reached in practice; a probe needs no secrecy */
}

static void wb_random(jarm_wbuf *w, const jarm_rand *r, size_t n) {
    uint8_t tmp[32];
    r->fill(r->ctx, tmp, n);
    wb_bytes(w, tmp, n);
}

static void wb_grease(jarm_wbuf *w, const jarm_rand *r) {
    uint8_t b;
    r->fill(r->ctx, &b, 1);
    unsigned g = ((unsigned)(b & 0x0f) << 4) | 0x0a; /* 0x0a0a, 0x1a1a, ... 0xfafa */
    wb_u8(w, g);
    wb_u8(w, g);
}

mw_rc jarm_build_hello(unsigned idx, const char *sni, size_t sni_len, const jarm_rand *rand,
                       uint8_t *out, size_t cap, size_t *out_len) {
    static const jarm_rand openssl_rand = {jarm_rand_openssl, NULL};
    MW_ENSURE(idx < JARM_PROBES && sni && sni_len <= JARM_SNI_MAX, MW_ERR);
    const jarm_spec *s = &jarm_specs[idx];
    const jarm_rand *r = rand ? rand : &openssl_rand;
    jarm_wbuf w = {out, 0, cap, false};
    size_t order[MW_ARRAY_LEN(jarm_ciphers_all)];

    /* Reference: "TLS_1.3" probes use record version 3.1 and legacy_version 3.3. */
    uint16_t legacy = s->version == 0x0304 ? 0x0303 : s->version;
    wb_u8(&w, 0x16);
    wb_u16(&w, s->version == 0x0304 ? 0x0301 : s->version);
    size_t rec_len = wb_len(&w, 2);
    wb_u8(&w, 0x01); /* client_hello */
    size_t hs_len = wb_len(&w, 3);
    wb_u16(&w, legacy);
    wb_random(&w, r, 32);
    wb_u8(&w, 32);
    wb_random(&w, r, 32); /* session id */

    size_t cs_len = wb_len(&w, 2);
    if (s->grease) wb_grease(&w, r);
    uint16_t list[MW_ARRAY_LEN(jarm_ciphers_all)];
    size_t nlist = 0;
    for (size_t i = 0; i < MW_ARRAY_LEN(jarm_ciphers_all); i++)
        if (!s->no13 || (jarm_ciphers_all[i] >> 8) != 0x13) list[nlist++] = jarm_ciphers_all[i];
    size_t nord = jarm_order_indices(nlist, s->cipher_order, order);
    for (size_t i = 0; i < nord; i++)
        wb_u16(&w, list[order[i]]);
    wb_patch(&w, cs_len, 2);
    wb_u8(&w, 0x01); /* one compression method: null */
    wb_u8(&w, 0x00);

    size_t ext_len = wb_len(&w, 2);
    if (s->grease) {
        wb_grease(&w, r);
        wb_u16(&w, 0);
    }
    /* server_name (RFC 6066 section 3): one host_name entry */
    wb_u16(&w, 0x0000);
    wb_u16(&w, (unsigned)sni_len + 5);
    wb_u16(&w, (unsigned)sni_len + 3);
    wb_u8(&w, 0);
    wb_u16(&w, (unsigned)sni_len);
    wb_bytes(&w, sni, sni_len);
    wb_bytes(&w, ext_ems, sizeof ext_ems);
    wb_bytes(&w, ext_max_frag, sizeof ext_max_frag);
    wb_bytes(&w, ext_reneg, sizeof ext_reneg);
    wb_bytes(&w, ext_groups, sizeof ext_groups);
    wb_bytes(&w, ext_point_formats, sizeof ext_point_formats);
    wb_bytes(&w, ext_ticket, sizeof ext_ticket);

    /* ALPN (RFC 7301), ordered by the probe's extension order */
    const char *const *alpn = s->rare_alpn ? jarm_alpn_rare : jarm_alpn_all;
    size_t nalpn = s->rare_alpn ? MW_ARRAY_LEN(jarm_alpn_rare) : MW_ARRAY_LEN(jarm_alpn_all);
    wb_u16(&w, 0x0010);
    size_t alpn_outer = wb_len(&w, 2);
    size_t alpn_inner = wb_len(&w, 2);
    nord = jarm_order_indices(nalpn, s->ext_order, order);
    for (size_t i = 0; i < nord; i++) {
        size_t l = strlen(alpn[order[i]]);
        wb_u8(&w, (unsigned)l);
        wb_bytes(&w, alpn[order[i]], l);
    }
    wb_patch(&w, alpn_inner, 2);
    wb_patch(&w, alpn_outer, 2);
    wb_bytes(&w, ext_sigalgs, sizeof ext_sigalgs);

    /* key_share (RFC 8446 section 4.2.8): with GREASE, a one-byte GREASE share first */
    wb_u16(&w, 0x0033);
    size_t ks_outer = wb_len(&w, 2);
    size_t ks_inner = wb_len(&w, 2);
    if (s->grease) {
        wb_grease(&w, r);
        wb_u16(&w, 1);
        wb_u8(&w, 0);
    }
    wb_u16(&w, 0x001d); /* x25519 */
    wb_u16(&w, 32);
    wb_random(&w, r, 32); /* reference: random bytes, not a real public key */
    wb_patch(&w, ks_inner, 2);
    wb_patch(&w, ks_outer, 2);
    wb_bytes(&w, ext_psk_modes, sizeof ext_psk_modes);

    if (s->version == 0x0304 || s->sv == SV_12) {
        static const uint16_t versions[] = {0x0301, 0x0302, 0x0303, 0x0304};
        size_t nv = s->sv == SV_12 ? 3 : 4;
        wb_u16(&w, 0x002b);
        size_t sv_outer = wb_len(&w, 2);
        size_t sv_inner = wb_len(&w, 1);
        if (s->grease) wb_grease(&w, r);
        nord = jarm_order_indices(nv, s->ext_order, order);
        for (size_t i = 0; i < nord; i++)
            wb_u16(&w, versions[order[i]]);
        wb_patch(&w, sv_inner, 1);
        wb_patch(&w, sv_outer, 2);
    }
    wb_patch(&w, ext_len, 2);
    wb_patch(&w, hs_len, 3);
    wb_patch(&w, rec_len, 2);
    MW_ENSURE(!w.full, MW_ERR);
    *out_len = w.len;
    return MW_OK;
}
