/* Unit tests for probes/jarm.c and jarm_hello.c against values produced by Salesforce's
 * reference jarm.py (tests/data/jarm, see the headers there for how each was recorded):
 *  - hellos_localhost.txt: the ten ClientHellos jarm.py sent with a scripted random source;
 *    jarm_build_hello must produce the same bytes from the same stream;
 *  - answers/NAME.txt: the server answers jarm.py parsed for real server NAME, and
 *    scripted_*.txt: crafted answers; parsed and joined they must equal the raw JARM jarm.py
 *    printed (expected.txt), and hash to its JARM (or be refused where jarm.py raised);
 *  - every (raw, hash) pair of expected.txt as an offline vector for jarm_hash.
 * Usage: jarm_test DATA_DIR (tests/data/jarm). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jarm.h"

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define MAX_LINES 16
#define LINE_MAX_LEN 70000

typedef struct {
    char *line[MAX_LINES];
    int n;
} lines;

/* Reads the non-comment lines of a file (without their newline). */
static int read_lines(const char *dir, const char *name, lines *out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    out->n = 0;
    if (!f) return -1;
    char *buf = malloc(LINE_MAX_LEN);
    while (buf && fgets(buf, LINE_MAX_LEN, f)) {
        size_t l = strlen(buf);
        while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
            buf[--l] = '\0';
        if (buf[0] == '#' || l == 0 || out->n >= MAX_LINES) continue;
        out->line[out->n++] = strdup(buf);
    }
    free(buf);
    fclose(f);
    return 0;
}

static void free_lines(lines *l) {
    for (int i = 0; i < l->n; i++)
        free(l->line[i]);
    l->n = 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes hex; returns the byte count or -1. */
static long unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = strlen(s);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

/* expected.txt row: name \t hash \t raw */
static int expected(const char *dir, const char *name, char *hash, size_t hcap, char *raw,
                    size_t rcap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *buf = malloc(LINE_MAX_LEN);
    int found = -1;
    size_t nl = strlen(name);
    while (buf && fgets(buf, LINE_MAX_LEN, f)) {
        if (strncmp(buf, name, nl) != 0 || buf[nl] != '\t') continue;
        buf[strcspn(buf, "\n")] = '\0';
        char *h = buf + nl + 1, *r = strchr(h, '\t');
        if (!r) break;
        *r++ = '\0';
        snprintf(hash, hcap, "%s", h);
        snprintf(raw, rcap, "%s", r);
        found = 0;
        break;
    }
    free(buf);
    fclose(f);
    return found;
}

/* The scripted random stream of hellos_localhost.txt: byte k is (29k + 7) mod 256. */
static void stream_fill(void *ctx, uint8_t *out, size_t n) {
    size_t *k = ctx;
    for (size_t i = 0; i < n; i++, (*k)++)
        out[i] = (uint8_t)(*k * 29 + 7);
}

static void test_hellos(const char *dir) {
    lines want;
    size_t k = 0;
    jarm_rand r = {stream_fill, &k};
    CHECK(read_lines(dir, "hellos_localhost.txt", &want) == 0 && want.n == JARM_PROBES,
          "hellos_localhost.txt: need %d hellos", JARM_PROBES);
    for (int i = 0; i < want.n && i < JARM_PROBES; i++) {
        uint8_t got[JARM_HELLO_MAX], ref[JARM_HELLO_MAX];
        size_t gl = 0;
        long rl = unhex(want.line[i], ref, sizeof ref);
        CHECK(jarm_build_hello((unsigned)i, "localhost", 9, &r, got, sizeof got, &gl) == MW_OK,
              "build hello %d", i);
        CHECK(rl > 0 && (size_t)rl == gl && memcmp(got, ref, gl) == 0,
              "hello %d differs from jarm.py's (%zu vs %ld bytes)", i + 1, gl, rl);
    }
    free_lines(&want);
    /* The randomness really is taken from the source: another stream, other bytes. */
    uint8_t a[JARM_HELLO_MAX], b[JARM_HELLO_MAX];
    size_t al, bl, k1 = 0, k2 = 1;
    jarm_rand r1 = {stream_fill, &k1}, r2 = {stream_fill, &k2};
    CHECK(jarm_build_hello(9, "x", 1, &r1, a, sizeof a, &al) == MW_OK &&
              jarm_build_hello(9, "x", 1, &r2, b, sizeof b, &bl) == MW_OK && al == bl &&
              memcmp(a, b, al) != 0,
          "random source ignored");
    CHECK(jarm_build_hello(10, "x", 1, NULL, a, sizeof a, &al) == MW_ERR, "probe 10 exists");
    CHECK(jarm_build_hello(0, "x", 1, NULL, a, 100, &al) == MW_ERR, "short buffer accepted");
}

/* Parses a file of answers (hex lines, or "-"/"close"/"read-close" for none) and compares the
 * joined raw and its hash with jarm.py's. */
static void test_answers(const char *dir, const char *file, const char *name) {
    static char raw[JARM_RAW_MAX], want_raw[JARM_RAW_MAX];
    char want_hash[128], hash[JARM_HASH_LEN + 1];
    lines ans;
    size_t rl = 0;
    CHECK(read_lines(dir, file, &ans) == 0 && ans.n == JARM_PROBES, "%s: need 10 answers", file);
    CHECK(expected(dir, name, want_hash, sizeof want_hash, want_raw, sizeof want_raw) == 0,
          "%s: not in expected.txt", name);
    for (int i = 0; i < ans.n; i++) {
        static uint8_t data[65536];
        char one[JARM_ANSWER_STR_MAX];
        size_t ol = 0;
        const char *h = ans.line[i];
        bool none = !strcmp(h, "-") || !strcmp(h, "close") || !strcmp(h, "read-close");
        if (!strncmp(h, "hex:", 4)) h += 4;
        long dl = none ? 0 : unhex(h, data, sizeof data);
        CHECK(dl >= 0, "%s line %d: bad hex", file, i + 1);
        if (dl > JARM_RECV_MAX) dl = JARM_RECV_MAX;
        CHECK(jarm_parse_answer(data, dl < 0 ? 0 : (size_t)dl, one, sizeof one, &ol) == MW_OK &&
                  ol == strlen(one),
              "%s line %d: parse", file, i + 1);
        if (i) raw[rl++] = ',';
        memcpy(raw + rl, one, ol);
        rl += ol;
        raw[rl] = '\0';
    }
    free_lines(&ans);
    mw_rc rc = jarm_hash(raw, rl, hash);
    if (!strcmp(want_hash, "CRASH")) {
        CHECK(rc == MW_MALFORMED && hash[0] == '\0', "%s: jarm.py raised, we gave %s", name, hash);
        return;
    }
    CHECK(strcmp(raw, want_raw) == 0, "%s: raw differs\n  want %s\n  got  %s", name, want_raw, raw);
    CHECK(rc == MW_OK && strcmp(hash, want_hash) == 0, "%s: hash %s, jarm.py %s", name, hash,
          want_hash);
}

/* Every recorded (raw, hash) pair as an offline vector for the hash alone. */
static void test_hash_vectors(const char *dir) {
    static const char *const names[] = {"nginx_v4",
                                        "openssl_default_rsa",
                                        "openssl_tls12_two_ciphers",
                                        "openssl_ecdsa_chacha_serverpref",
                                        "openssl_tls13_aes256_only",
                                        "gnutls_default_rsa",
                                        "gnutls_no13_ecdsa",
                                        "closed_port",
                                        "scripted_a",
                                        "scripted_b"};
    static char raw[JARM_RAW_MAX];
    char want[128], got[JARM_HASH_LEN + 1];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(expected(dir, names[i], want, sizeof want, raw, sizeof raw) == 0, "%s missing",
              names[i]);
        CHECK(jarm_hash(raw, strlen(raw), got) == MW_OK && strcmp(got, want) == 0,
              "hash(%s) = %s, jarm.py %s", names[i], got, want);
    }
    /* The reference's own rules, spelled out. */
    CHECK(jarm_hash(JARM_RAW_EMPTY, strlen(JARM_RAW_EMPTY), got) == MW_OK &&
              !strcmp(got, "00000000000000000000000000000000000000000000000000000000000000"),
          "empty raw must hash to 62 zeros");
    const char *nine = "|||,|||,|||,|||,|||,|||,|||,|||,|||";
    CHECK(jarm_hash(nine, strlen(nine), got) == MW_MALFORMED, "nine probes hashed");
    const char *bad_ver = "c02f|0309||,|||,|||,|||,|||,|||,|||,|||,|||,|||";
    CHECK(jarm_hash(bad_ver, strlen(bad_ver), got) == MW_MALFORMED, "version digit 9 hashed");
    const char *three = "c02f|0303|,|||,|||,|||,|||,|||,|||,|||,|||,|||";
    CHECK(jarm_hash(three, strlen(three), got) == MW_MALFORMED, "3-field probe hashed");
}

static void test_targets(void) {
    char h[64];
    uint16_t p = 443;
    CHECK(jarm_parse_target("example.org", h, sizeof h, &p) == MW_OK && !strcmp(h, "example.org") &&
              p == 443,
          "name");
    CHECK(jarm_parse_target("192.0.2.1:8443", h, sizeof h, &p) == MW_OK &&
              !strcmp(h, "192.0.2.1") && p == 8443,
          "v4:port");
    p = 443;
    CHECK(jarm_parse_target("2001:db8::1", h, sizeof h, &p) == MW_OK && !strcmp(h, "2001:db8::1") &&
              p == 443,
          "bare v6");
    CHECK(jarm_parse_target("[2001:db8::1]:5223", h, sizeof h, &p) == MW_OK &&
              !strcmp(h, "2001:db8::1") && p == 5223,
          "[v6]:port");
    CHECK(jarm_parse_target("host:0", h, sizeof h, &p) == MW_MALFORMED, "port 0");
    CHECK(jarm_parse_target("host:65536", h, sizeof h, &p) == MW_MALFORMED, "port 65536");
    CHECK(jarm_parse_target("host:-1", h, sizeof h, &p) == MW_MALFORMED, "port -1");
    CHECK(jarm_parse_target("[::1", h, sizeof h, &p) == MW_MALFORMED, "unclosed [");
    CHECK(jarm_parse_target(":443", h, sizeof h, &p) == MW_MALFORMED, "no host");
}

int main(int argc, char **argv) {
    static const char *const real[] = {"nginx_v4",
                                       "openssl_default_rsa",
                                       "openssl_tls12_two_ciphers",
                                       "openssl_ecdsa_chacha_serverpref",
                                       "openssl_tls13_aes256_only",
                                       "gnutls_default_rsa",
                                       "gnutls_no13_ecdsa"};
    if (argc != 2) {
        fprintf(stderr, "usage: jarm_test DATA_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    test_hellos(dir);
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        char file[128];
        snprintf(file, sizeof file, "answers/%s.txt", real[i]);
        test_answers(dir, file, real[i]);
    }
    test_answers(dir, "scripted_a.txt", "scripted_a");
    test_answers(dir, "scripted_b.txt", "scripted_b");
    test_answers(dir, "scripted_c.txt", "scripted_c");
    test_hash_vectors(dir);
    test_targets();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
