/* analyzers/tls_hello + tls_fp: real hellos from openssl 3.0 parsed, fingerprints equal to
 * tshark's on the same capture; every truncation, trailing bytes, duplicate extensions and
 * GREASE handled. */
#include <stdlib.h>

#include "hello_vectors.h"
#include "mw_hash.h"
#include "mw_test.h"
#include "tls_fp.h"
#include "tls_hello.h"

static mw_cur body(const uint8_t *m, size_t n) { return mw_cur_make(m + 4, n - 4); }

static tls_client_hello ch;
static tls_server_hello sh;

static void test_real(void) {
    mw_buf s;
    char md5[33], ja4[TLS_JA4_LEN];
    mw_buf_init(&s, 1 << 16);

    CHECK(tls_parse_client_hello(body(ch12, sizeof ch12), &ch) == MW_OK);
    CHECK(tls_ja3(&ch, &s, md5));
    CHECK(mw_buf_putc(&s, 0));
    CHECK_STR((const char *)s.data,
              "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-"
              "103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13,"
              "29-23-30-25-24,0-1-2");
    CHECK_STR(md5, "22558766122974704364c9c75c5cce0a");
    CHECK_EQ_U(ch.sni.len, 10);
    CHECK(memcmp(ch.sni.data, "smoke.test", 10) == 0);
    CHECK_EQ_U(tls_client_max_version(&ch), 0x0303);
    tls_ja4(&ch, ja4);
    CHECK_STR(ja4, "t12d2808h1_d943125447b4_e7e480e5a997");

    CHECK(tls_parse_server_hello(body(sh12, sizeof sh12), &sh) == MW_OK);
    CHECK(tls_ja3s(&sh, &s, md5));
    CHECK(mw_buf_putc(&s, 0));
    CHECK_STR((const char *)s.data, "771,49200,65281-11-35-23");
    CHECK_STR(md5, "ec74a5c51106f0419184d0dd08fb05bc");
    CHECK_EQ_U(sh.cipher, 0xc030);
    CHECK(!sh.is_hrr);

    CHECK(tls_parse_client_hello(body(ch13, sizeof ch13), &ch) == MW_OK);
    CHECK(tls_ja3(&ch, &s, md5));
    CHECK_STR(md5, "f146948b4a599d4d7ddf071b74696983");
    CHECK_EQ_U(tls_client_max_version(&ch), 0x0304);
    CHECK_EQ_U(ch.session_id.len, 32);
    tls_ja4(&ch, ja4);
    CHECK_STR(ja4, "t13d041000_16476d049b0b_78f1d400d464");

    CHECK(tls_parse_server_hello(body(sh13, sizeof sh13), &sh) == MW_OK);
    CHECK(tls_ja3s(&sh, &s, md5));
    CHECK(mw_buf_putc(&s, 0));
    CHECK_STR((const char *)s.data, "771,4866,43-51"); /* legacy 771 even for TLS 1.3 */
    CHECK_STR(md5, "15af977ce25de452b96affa2addb1036");
    CHECK_EQ_U(sh.version, 0x0304);
    mw_buf_free(&s);
}

/* Every strict prefix of a valid hello is malformed, never OK, never a crash (each prefix is
 * copied to its own allocation so ASan catches any over-read). */
static void test_truncation(const uint8_t *m, size_t n, bool client) {
    int ok = 0;
    for (size_t k = 0; k < n - 4; k++) {
        uint8_t *p = malloc(k ? k : 1);
        memcpy(p, m + 4, k);
        mw_rc rc = client ? tls_parse_client_hello(mw_cur_make(p, k), &ch)
                          : tls_parse_server_hello(mw_cur_make(p, k), &sh);
        /* A hello cut exactly before its extensions block is a valid extension-less hello. */
        if (rc == MW_OK)
            ok++;
        free(p);
    }
    CHECK_EQ_U(ok, 1);
}

static void test_edges(void) {
    uint8_t buf[512];
    /* trailing byte after the extensions: malformed */
    memcpy(buf, ch12 + 4, sizeof ch12 - 4);
    buf[sizeof ch12 - 4] = 0;
    CHECK(tls_parse_client_hello(mw_cur_make(buf, sizeof ch12 - 3), &ch) == MW_MALFORMED);
    /* duplicate extension (RFC 8446 4.2): a minimal hello with two server_name extensions */
    static const uint8_t dup[] = {
        0x03, 0x03, /* version */
        0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0,    0,    0, 0, 0, 0, /* random */
        0x00, /* session id */
        0x00, 0x02, 0x13, 0x01, /* ciphers */
        0x01, 0x00,             /* compression */
        0x00, 0x08, 0x00, 0x17, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00};
    CHECK(tls_parse_client_hello(mw_cur_make(dup, sizeof dup), &ch) == MW_MALFORMED);
    /* GREASE dropped from the JA3 lists: ciphers 0x0a0a,0x1301; ext 0x1a1a and 23 */
    static const uint8_t grease[] = {
        0x03, 0x03, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, /* version, random */
        0x00, 0x00, 0x04, 0x0a, 0x0a, 0x13, 0x01, 0x01, 0x00, 0x00, 0x08, 0x1a, 0x1a, 0x00,
        0x00, 0x00, 0x17, 0x00, 0x00};
    mw_buf s;
    char md5[33];
    mw_buf_init(&s, 4096);
    CHECK(tls_parse_client_hello(mw_cur_make(grease, sizeof grease), &ch) == MW_OK);
    CHECK(tls_ja3(&ch, &s, md5));
    CHECK(mw_buf_putc(&s, 0));
    CHECK_STR((const char *)s.data, "771,4865,23,,");
    mw_buf_free(&s);
    /* JA4's ALPN characters (FoxIO JA4.md "ALPN Extension Value"): "h2" -> h2; bytes that are not
     * ASCII alphanumeric -> the first hex digit of the first byte and the last of the last. */
    static const uint8_t alpn_hex[] = {
        0x03, 0x03, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, /* version, random */
        0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,                        /* ciphers, comp */
        0x00, 0x09, 0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 0xab, 0xcd}; /* ALPN {ab cd} */
    char ja4[TLS_JA4_LEN];
    CHECK(tls_parse_client_hello(mw_cur_make(alpn_hex, sizeof alpn_hex), &ch) == MW_OK);
    tls_ja4(&ch, ja4);
    CHECK(strncmp(ja4, "t12i0101ad_", 11) == 0);
    uint8_t alpn_h2[sizeof alpn_hex];
    memcpy(alpn_h2, alpn_hex, sizeof alpn_hex);
    alpn_h2[sizeof alpn_h2 - 2] = 'h';
    alpn_h2[sizeof alpn_h2 - 1] = '2';
    CHECK(tls_parse_client_hello(mw_cur_make(alpn_h2, sizeof alpn_h2), &ch) == MW_OK);
    tls_ja4(&ch, ja4);
    CHECK(strncmp(ja4, "t12i0101h2_", 11) == 0);
    /* an odd-length cipher list is malformed */
    static const uint8_t odd[] = {0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00,
                                  0x00, 0x03, 0x13, 0x01, 0x13, 0x01, 0x00};
    CHECK(tls_parse_client_hello(mw_cur_make(odd, sizeof odd), &ch) == MW_MALFORMED);
    /* HelloRetryRequest is recognised by its random */
    uint8_t hrr[sizeof sh13];
    memcpy(hrr, sh13, sizeof sh13);
    static const uint8_t r[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                  0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                  0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    memcpy(hrr + 6, r, 32);
    CHECK(tls_parse_server_hello(body(hrr, sizeof hrr), &sh) == MW_OK);
    CHECK(sh.is_hrr);
}

int main(void) {
    CHECK(mw_hash_init());
    test_real();
    test_truncation(ch12, sizeof ch12, true);
    test_truncation(sh12, sizeof sh12, false);
    test_truncation(ch13, sizeof ch13, true);
    test_truncation(sh13, sizeof sh13, false);
    test_edges();
    mw_hash_cleanup();
    MW_TEST_END();
}
