/* base/: cursor, capped buffer, JSON writer, encoders. */
#include <stdlib.h>

#include <arpa/inet.h>

#include "mw_buf.h"
#include "mw_community_id.h"
#include "mw_cursor.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_hostport.h"
#include "mw_json.h"
#include "mw_test.h"

static void test_cursor(void) {
    const uint8_t d[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x02, 0xaa, 0xbb, 0xcc};
    mw_cur c = mw_cur_make(d, sizeof d), child;
    uint8_t u8;
    uint16_t u16;
    uint32_t u24, u32;
    CHECK(mw_cur_get_u8(&c, &u8) && u8 == 1);
    CHECK(mw_cur_get_u16(&c, &u16) && u16 == 0x0203);
    CHECK(mw_cur_get_u16(&c, &u16) && u16 == 0x0405);
    CHECK(mw_cur_get_u16_prefixed(&c, &child));
    CHECK_EQ_U(child.len, 2);
    CHECK(child.data[0] == 0xaa && child.data[1] == 0xbb);
    CHECK_EQ_U(c.len, 1);
    /* A failed read leaves the cursor where it was. */
    CHECK(!mw_cur_get_u16(&c, &u16));
    CHECK(!mw_cur_get_u24(&c, &u24));
    CHECK(!mw_cur_get_u32(&c, &u32));
    CHECK_EQ_U(c.len, 1);
    CHECK(mw_cur_get_u8(&c, &u8) && u8 == 0xcc);
    CHECK(mw_cur_empty(&c));
    CHECK(!mw_cur_get_u8(&c, &u8));
    /* A prefix longer than the data fails and does not move. */
    const uint8_t p[] = {0x00, 0x05, 0x01};
    c = mw_cur_make(p, sizeof p);
    CHECK(!mw_cur_get_u16_prefixed(&c, &child));
    CHECK_EQ_U(c.len, 3);
    const uint8_t p24[] = {0x00, 0x00, 0x02, 0x11, 0x22};
    c = mw_cur_make(p24, sizeof p24);
    CHECK(mw_cur_get_u24_prefixed(&c, &child) && child.len == 2 && mw_cur_empty(&c));
    CHECK(!mw_cur_skip(&c, 1));
    c = mw_cur_make(p24, sizeof p24);
    CHECK(mw_cur_get_u32(&c, &u32) && u32 == 0x00000211);
}

static void test_buf(void) {
    mw_buf b;
    mw_buf_init(&b, 10);
    CHECK(mw_buf_append(&b, "hello", 5));
    CHECK(mw_buf_append(&b, "world", 5));
    CHECK(!mw_buf_append(&b, "!", 1)); /* the cap holds */
    CHECK_EQ_U(b.len, 10);
    mw_buf_consume(&b, 3);
    CHECK(b.len == 7 && memcmp(b.data, "loworld", 7) == 0);
    CHECK(mw_buf_append(&b, "abc", 3));
    CHECK(!mw_buf_append(&b, "x", SIZE_MAX)); /* no overflow on huge sizes */
    mw_buf_free(&b);
}

static void json_of(void (*fn)(mw_json *), char *out, size_t n) {
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, 4096);
    mw_json_init(&j, &b);
    fn(&j);
    snprintf(out, n, "%.*s%s", (int)b.len, (const char *)b.data, j.ok ? "" : "<!ok>");
    mw_buf_free(&b);
}

static void j_nested(mw_json *j) {
    mw_json_obj_begin(j);
    mw_json_kstr(j, "a", "x");
    mw_json_karr(j, "b");
    mw_json_int(j, -1);
    mw_json_uint(j, 18446744073709551615ull);
    mw_json_bool(j, true);
    mw_json_null(j);
    mw_json_obj_begin(j);
    mw_json_obj_end(j);
    mw_json_arr_end(j);
    mw_json_kobj(j, "c");
    mw_json_kbool(j, "d", false);
    mw_json_obj_end(j);
    mw_json_obj_end(j);
}

static void j_escape(mw_json *j) {
    /* quote, backslash, control, DEL, valid 2/3/4-byte UTF-8, then invalid: lone continuation,
     * overlong, surrogate, truncated sequence at the end. */
    static const char s[] = "q\"b\\\n\x01\x7f"
                            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92"
                            "\x80\xc0\xaf\xed\xa0\x80\xe2\x82";
    mw_json_str_n(j, s, sizeof s - 1);
}

static void test_json(void) {
    char out[512];
    json_of(j_nested, out, sizeof out);
    CHECK_STR(out,
              "{\"a\":\"x\",\"b\":[-1,18446744073709551615,true,null,{}],\"c\":{\"d\":false}}");
    json_of(j_escape, out, sizeof out);
    CHECK_STR(out, "\"q\\\"b\\\\\\u000a\\u0001\\u007f\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x92"
                   "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* cap reached: ok is cleared */
    mw_buf b;
    mw_json j;
    mw_buf_init(&b, 8);
    mw_json_init(&j, &b);
    mw_json_str(&j, "0123456789");
    CHECK(!j.ok);
    mw_buf_free(&b);
}

static void test_encode(void) {
    char out[128];
    const uint8_t h[] = {0x00, 0xab, 0xff};
    mw_hex(out, h, 3);
    CHECK_STR(out, "00abff");
    /* RFC 4648 section 10 vectors */
    mw_b64(out, (const uint8_t *)"", 0);
    CHECK_STR(out, "");
    mw_b64(out, (const uint8_t *)"f", 1);
    CHECK_STR(out, "Zg==");
    mw_b64(out, (const uint8_t *)"fo", 2);
    CHECK_STR(out, "Zm8=");
    mw_b64(out, (const uint8_t *)"foobar", 6);
    CHECK_STR(out, "Zm9vYmFy");
    mw_ts_us(out, 0);
    CHECK_STR(out, "1970-01-01T00:00:00.000000Z");
    mw_ts_us(out, 1700000000123456ull);
    CHECK_STR(out, "2023-11-14T22:13:20.123456Z");
    mw_ts_sec(out, 4102444800ll); /* after 2038 */
    CHECK_STR(out, "2100-01-01T00:00:00Z");
    mw_ts_sec(out, -86401); /* before 1970 */
    CHECK_STR(out, "1969-12-30T23:59:59Z");
    mw_ts_sec(out, 951782400); /* leap day */
    CHECK_STR(out, "2000-02-29T00:00:00Z");
    mw_ts_ms(out, 1700000000999ull);
    CHECK_STR(out, "2023-11-14T22:13:20.999Z");
    uint8_t d[32];
    mw_sha256("abc", 3, d);
    mw_hex(out, d, 32);
    CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mw_md5("abc", 3, d);
    mw_hex(out, d, 16);
    CHECK_STR(out, "900150983cd24fb0d6963f7d28e17f72");
}

/* Community ID v1: the spec's published vectors (corelight/community-id-spec,
 * baseline/baseline_deflt.json, seed 0), each in both directions. */
static void cid_check(int ver, const char *a, const char *b, uint8_t proto, uint16_t pa,
                      uint16_t pb, const char *want) {
    uint8_t x[16], y[16];
    char got[MW_COMMUNITY_ID_LEN];
    int af = ver == 4 ? AF_INET : AF_INET6;
    CHECK(inet_pton(af, a, x) == 1 && inet_pton(af, b, y) == 1);
    CHECK(mw_community_id(got, 0, ver, x, y, proto, pa, pb));
    CHECK_STR(got, want);
    CHECK(mw_community_id(got, 0, ver, y, x, proto, pb, pa));
    CHECK_STR(got, want);
}

static void test_community_id(void) {
    cid_check(4, "128.232.110.120", "66.35.250.204", 6, 34855, 80,
              "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    cid_check(6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25,
              "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
    cid_check(4, "192.168.1.52", "8.8.8.8", 17, 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
    /* equal ports, SCTP: the address alone orders the endpoints */
    cid_check(4, "192.168.170.8", "192.168.170.56", 132, 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
    char out[MW_COMMUNITY_ID_LEN];
    uint8_t z[16] = {0};
    CHECK(!mw_community_id(out, 0, 5, z, z, 6, 1, 2) && out[0] == '\0');
}

/* mw_addr_str writes IPv4 itself: the same text as inet_ntop for every kind of octet */
static void test_addr_str(void) {
    const char *v4[] = {"0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.99.100.9"};
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        uint8_t a[4];
        char got[MW_ADDR_STRLEN], want[MW_ADDR_STRLEN];
        CHECK(inet_pton(AF_INET, v4[i], a) == 1);
        CHECK(inet_ntop(AF_INET, a, want, sizeof want));
        CHECK_STR(mw_addr_str(4, a, got), want);
    }
    for (unsigned o = 0; o < 256; o++) { /* each octet value in each position */
        uint8_t a[4] = {(uint8_t)o, (uint8_t)(255 - o), (uint8_t)(o * 7), (uint8_t)o};
        char got[MW_ADDR_STRLEN], want[MW_ADDR_STRLEN];
        CHECK(inet_ntop(AF_INET, a, want, sizeof want));
        CHECK_STR(mw_addr_str(4, a, got), want);
    }
    uint8_t a6[16];
    char s[MW_ADDR_STRLEN], hp[64];
    CHECK(inet_pton(AF_INET6, "2001:db8::1", a6) == 1);
    CHECK_STR(mw_addr_str(6, a6, s), "2001:db8::1");
    CHECK_STR(mw_addr_port_str(6, a6, 5222, hp, sizeof hp), "[2001:db8::1]:5222");
    uint8_t a4[4] = {192, 0, 2, 7};
    CHECK_STR(mw_addr_port_str(4, a4, 443, hp, sizeof hp), "192.0.2.7:443");
    CHECK_STR(mw_addr_port_str(4, a4, 65535, hp, sizeof hp), "192.0.2.7:65535");
    CHECK_STR(mw_addr_port_str(4, a4, 0, hp, sizeof hp), "192.0.2.7:0");
    CHECK_STR(mw_addr_port_str(4, a4, 443, hp, 8), "192.0.2"); /* cut to n - 1 */
    CHECK_STR(mw_addr_port_str(4, a4, 443, hp, 1), "");
}

int main(void) {
    CHECK(mw_hash_init());
    test_addr_str();
    test_cursor();
    test_buf();
    test_json();
    test_encode();
    test_community_id();
    mw_hash_cleanup();
    MW_TEST_END();
}
