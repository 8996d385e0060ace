/* Unit tests of the static-ct-api pieces: the note key ID (a vector computed outside this
 * code), checkpoint parsing and verification, tile paths, consistency paths built from hash
 * tiles (against ctlab.py's proofs and against roots computed leaf by leaf, with a fork and a
 * bad tile told apart), and gzip bodies.
 * usage: ct_tiles_test MERKLE_VECTORS_FILE */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ct_codec.h"
#include "ct_gzip.h"
#include "ct_merkle.h"
#include "ct_tilehash.h"
#include "ct_tiles.h"
#include "mw_hash.h"
#include "mw_test.h"


static void test_key_id(void) {
    /* The static-ct-api key ID for key name "rome.ct.example.com/2024h1" (the spec's example
     * origin) and LogID 00 01 02 .. 1f, computed independently of this code:
     *   python3 -c "import hashlib; print(hashlib.sha256(b'rome.ct.example.com/2024h1' +
     *               b'\n\x05' + bytes(range(32))).hexdigest()[:8])"
     * and the same bytes through `openssl dgst -sha256`: c5b82f9f. The SPKI-based ID this
     * replaced would differ, as would one without the 0x05 type byte. */
    uint8_t log_id[32], id[4];
    static const uint8_t want[4] = {0xc5, 0xb8, 0x2f, 0x9f};
    for (int i = 0; i < 32; i++)
        log_id[i] = (uint8_t)i;
    ct_note_key_id("rome.ct.example.com/2024h1", log_id, id);
    CHECK(!memcmp(id, want, 4));
    ct_note_key_id("rome.ct.example.com/2024h2", log_id, id);
    CHECK(memcmp(id, want, 4) != 0);
}

static void test_paths(void) {
    char p[128];
    ct_tile_path(p, sizeof p, CT_TILE_DATA, 1234067, 256);
    CHECK(!strcmp(p, "tile/data/x001/x234/067"));
    ct_tile_path(p, sizeof p, 0, 1, 4);
    CHECK(!strcmp(p, "tile/0/001.p/4"));
    ct_tile_path(p, sizeof p, 2, 0, 1);
    CHECK(!strcmp(p, "tile/2/000.p/1"));
    ct_tile_path(p, sizeof p, 1, 1000, 256);
    CHECK(!strcmp(p, "tile/1/x001/000"));
    ct_tiles_origin(p, sizeof p, "https://rome.ct.example.com/2024h1//");
    CHECK(!strcmp(p, "rome.ct.example.com/2024h1"));
    ct_tiles_origin(p, sizeof p, "127.0.0.1/t");
    CHECK(!strcmp(p, "127.0.0.1/t"));
}

/* ---------- checkpoints signed here with a fresh key ---------- */

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* "— NAME base64(key ID || timestamp || DigitallySigned)" for (size, root) */
static void sign_line(EVP_PKEY *pk, const ct_logkey *k, const char *name, uint64_t ts,
                      uint64_t size, const uint8_t root[32], char *out, size_t outlen) {
    uint8_t tbs[50], blob[400];
    tbs[0] = 0;
    tbs[1] = 1;
    put_u64(tbs + 2, ts);
    put_u64(tbs + 10, size);
    memcpy(tbs + 18, root, 32);
    size_t sl = 300;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    uint8_t sig[300];
    if (!m || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSign(m, sig, &sl, tbs, sizeof tbs) != 1)
        abort();
    EVP_MD_CTX_free(m);
    ct_note_key_id(name, k->log_id, blob);
    put_u64(blob + 4, ts);
    blob[12] = 4; /* sha256 */
    blob[13] = 3; /* ecdsa */
    blob[14] = (uint8_t)(sl >> 8);
    blob[15] = (uint8_t)sl;
    memcpy(blob + 16, sig, sl);
    char b64[600];
    EVP_EncodeBlock((unsigned char *)b64, blob, (int)(16 + sl));
    snprintf(out, outlen, "\xe2\x80\x94 %s %s\n", name, b64);
}

static void test_checkpoint(void) {
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int dl = pk ? i2d_PUBKEY(pk, &der) : -1;
    ct_logkey k;
    CHECK(dl > 0 && ct_logkey_from_der(der, (size_t)dl, &k));
    OPENSSL_free(der);
    uint8_t root[32];
    memset(root, 0xab, 32);
    char root64[64], sig[800], other[800], note[4096], why[256];
    EVP_EncodeBlock((unsigned char *)root64, root, 32);
    sign_line(pk, &k, "log.example/2026", 1700000000000ULL, 260, root, sig, sizeof sig);
    /* a witness's line: another name, ignored */
    sign_line(pk, &k, "witness.example/w", 1700000000000ULL, 260, root, other, sizeof other);
    ct_checkpoint cp;
    snprintf(note, sizeof note, "log.example/2026\n260\n%s\n\n%s%s", root64, other, sig);
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_OK);
    CHECK(cp.size == 260 && cp.timestamp == 1700000000000ULL && !memcmp(cp.root, root, 32));
    /* the same note read as another log's: wrong origin, not retried */
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2027", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_WRONG_ORIGIN);
    /* cut short: no final newline */
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note) - 1, &cp, why,
                                     sizeof why) == CT_CP_MALFORMED);
    /* the signature of size 260 on a note that says 261 */
    snprintf(note, sizeof note, "log.example/2026\n261\n%s\n\n%s", root64, sig);
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_BAD_SIG);
    /* only a witness signature */
    snprintf(note, sizeof note, "log.example/2026\n260\n%s\n\n%s", root64, other);
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_BAD_SIG);
    CHECK(strstr(why, "no signature by the log's key") != NULL);
    /* extension lines are not allowed with this signature type */
    snprintf(note, sizeof note, "log.example/2026\n260\n%s\next\n\n%s", root64, sig);
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_MALFORMED);
    /* a control character */
    snprintf(note, sizeof note, "log.example/2026\n260\r\n%s\n\n%s", root64, sig);
    CHECK(ct_tiles_verify_checkpoint(&k, "log.example/2026", note, strlen(note), &cp, why,
                                     sizeof why) == CT_CP_MALFORMED);
    ct_logkey_free(&k);
    EVP_PKEY_free(pk);
}

/* ---------- hash tiles of trees held here ---------- */

typedef struct {
    uint64_t n;            /* tree size */
    uint8_t (*lvl[4])[32]; /* level l hashes: lvl[l][i] */
    uint64_t cnt[4];
    int flip_level; /* serve this level's tiles with one byte changed; -1 none */
    int bad_width;  /* requests for a width the tree does not have */
} tree;

/* leaf i's hash; leaf `forked` hashes differently (another entry at that index) */
static void leaf(uint64_t i, uint64_t forked, uint8_t out[32]) {
    uint8_t d[9];
    put_u64(d, i);
    d[8] = i == forked ? 1 : 0;
    ct_leaf_hash(d, sizeof d, out);
}

static void tree_make(tree *t, uint64_t n, uint64_t forked) {
    memset(t, 0, sizeof *t);
    t->n = n;
    t->flip_level = -1;
    t->cnt[0] = n;
    t->lvl[0] = malloc((n ? n : 1) * 32);
    for (uint64_t i = 0; i < n; i++)
        leaf(i, forked, t->lvl[0][i]);
    for (int l = 1; l < 4; l++) {
        t->cnt[l] = t->cnt[l - 1] / 256;
        t->lvl[l] = malloc((t->cnt[l] ? t->cnt[l] : 1) * 32);
        for (uint64_t i = 0; i < t->cnt[l]; i++) {
            ct_frontier f; /* a full tile below is a perfect subtree: its MTH */
            ct_frontier_init(&f);
            for (int k = 0; k < 256; k++)
                ct_frontier_append(&f, t->lvl[l - 1][i * 256 + (uint64_t)k]);
            ct_frontier_root(&f, t->lvl[l][i]);
        }
    }
}

static void tree_free(tree *t) {
    for (int l = 0; l < 4; l++)
        free(t->lvl[l]);
}

static void tree_root(const tree *t, uint64_t m, uint8_t out[32]) {
    ct_frontier f;
    ct_frontier_init(&f);
    for (uint64_t i = 0; i < m; i++)
        ct_frontier_append(&f, t->lvl[0][i]);
    ct_frontier_root(&f, out);
}

static bool serve(void *ud, unsigned level, uint64_t index, unsigned width, uint8_t *out, char *why,
                  size_t whylen) {
    tree *t = ud;
    uint64_t have = level < 4 ? t->cnt[level] : 0;
    uint64_t first = index * 256;
    unsigned want = have > first ? (have - first >= 256 ? 256 : (unsigned)(have - first)) : 0;
    if (width != want || width == 0) {
        t->bad_width++;
        snprintf(why, whylen, "no tile %u/%llu.p/%u", level, (unsigned long long)index, width);
        return false;
    }
    memcpy(out, t->lvl[level][first], (size_t)width * 32);
    if ((int)level == t->flip_level) out[5] ^= 1;
    return true;
}

/* path from the tiles of t between m and t->n; true when it proves root(m) -> root(n) */
static bool check_pair(tree *t, uint64_t m) {
    ct_tilehash th;
    uint8_t path[CT_TILE_MAX_PATH][32], fr[32], sr[32], want_fr[32], want_sr[32];
    size_t n = 0;
    if (!ct_tilehash_init(&th, t->n, serve, t)) return false;
    bool ok = ct_tilehash_consistency(&th, m, path, &n) &&
              ct_consistency_roots(m, t->n, (const uint8_t(*)[32])path, n, fr, sr);
    ct_tilehash_free(&th);
    if (!ok) return false;
    tree_root(t, m, want_fr);
    tree_root(t, t->n, want_sr);
    bool pow2 = (m & (m - 1)) == 0;
    /* the same path, without the prepended root, is the proof RFC 6962 logs serve */
    bool std = ct_verify_consistency(m, t->n, want_fr, want_sr,
                                     (const uint8_t(*)[32])path + (pow2 ? 1 : 0), n - pow2);
    return std && !memcmp(fr, want_fr, 32) && !memcmp(sr, want_sr, 32);
}

static void test_tilehash_trees(void) {
    static const uint64_t sizes[] = {2, 3, 255, 256, 257, 264, 511, 512, 513, 65536 + 300, 70000};
    for (size_t s = 0; s < MW_ARRAY_LEN(sizes); s++) {
        tree t;
        tree_make(&t, sizes[s], UINT64_MAX);
        uint64_t n = sizes[s];
        const uint64_t ms[] = {1,   2,   3,   7,   8,    9,     255,   256,   257,
                               260, 300, 511, 512, 4096, 65535, 65536, 65537, n - 1};
        for (size_t i = 0; i < MW_ARRAY_LEN(ms); i++)
            if (ms[i] > 0 && ms[i] < n) CHECK(check_pair(&t, ms[i]));
        CHECK(t.bad_width == 0);
        /* the whole tree's root, from the highest tiles */
        ct_tilehash th;
        uint8_t r[32], want[32];
        CHECK(ct_tilehash_init(&th, n, serve, &t));
        CHECK(ct_tilehash_range(&th, 0, n, r));
        tree_root(&t, n, want);
        CHECK(!memcmp(r, want, 32));
        CHECK(!ct_tilehash_range(&th, 0, n + 1, r)); /* beyond the tree */
        ct_tilehash_free(&th);
        tree_free(&t);
    }
}

static void test_tilehash_fork(void) {
    /* Verified: a tree of 260 leaves. The log then signs 264 leaves whose leaf 3 differs. */
    tree a, b;
    tree_make(&a, 260, UINT64_MAX);
    tree_make(&b, 264, 3);
    uint8_t ra[32], rb[32], path[CT_TILE_MAX_PATH][32], fr[32], sr[32];
    tree_root(&a, 260, ra);
    tree_root(&b, 264, rb);
    ct_tilehash th;
    size_t n = 0;
    CHECK(ct_tilehash_init(&th, 264, serve, &b));
    CHECK(ct_tilehash_consistency(&th, 260, path, &n));
    CHECK(ct_consistency_roots(260, 264, (const uint8_t(*)[32])path, n, fr, sr));
    /* the tiles are the signed tree's (sr matches) and hold another prefix: a fork */
    CHECK(!memcmp(sr, rb, 32));
    CHECK(memcmp(fr, ra, 32) != 0);
    ct_tilehash_free(&th);
    /* a tile altered on the way instead: sr no longer matches, nothing proven */
    for (int lvl = 0; lvl <= 1; lvl++) {
        tree_free(&b);
        tree_make(&b, 264, UINT64_MAX);
        b.flip_level = lvl;
        CHECK(ct_tilehash_init(&th, 264, serve, &b));
        CHECK(ct_tilehash_consistency(&th, 260, path, &n));
        CHECK(ct_consistency_roots(260, 264, (const uint8_t(*)[32])path, n, fr, sr));
        CHECK(memcmp(sr, rb, 32) != 0);
        ct_tilehash_free(&th);
    }
    /* a power-of-two first size: the prepended root is authenticated as well */
    tree_free(&b);
    tree_make(&b, 264, 3);
    CHECK(ct_tilehash_init(&th, 264, serve, &b));
    CHECK(ct_tilehash_consistency(&th, 256, path, &n));
    CHECK(ct_consistency_roots(256, 264, (const uint8_t(*)[32])path, n, fr, sr));
    tree_root(&a, 256, ra);
    CHECK(!memcmp(sr, rb, 32) && memcmp(fr, ra, 32) != 0);
    ct_tilehash_free(&th);
    tree_free(&a);
    tree_free(&b);
}

/* ctlab.py's proofs (merkle_vectors.txt: leaf i = byte i repeated i % 7 + 1 times) are what a
 * path from tiles must be, with the first root prepended for a power of two. */
static void test_tilehash_vectors(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    tree t;
    memset(&t, 0, sizeof t);
    t.flip_level = -1;
    t.lvl[0] = malloc(20 * 32);
    for (int i = 0; i < 20; i++) {
        uint8_t d[8];
        memset(d, i, sizeof d);
        ct_leaf_hash(d, (size_t)(i % 7 + 1), t.lvl[0][i]);
    }
    static char line[8192];
    int compared = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok[80];
        int nt = 0;
        for (char *s = strtok_r(line, " \n", &save); s && nt < 80; s = strtok_r(NULL, " \n", &save))
            tok[nt++] = s;
        if (nt < 5 || strcmp(tok[0], "ok")) continue;
        uint64_t m = strtoull(tok[1], NULL, 10), n = strtoull(tok[2], NULL, 10);
        if (m >= n) continue;
        t.n = t.cnt[0] = n;
        ct_tilehash th;
        uint8_t p[CT_TILE_MAX_PATH][32], want[32];
        size_t np = 0;
        CHECK(ct_tilehash_init(&th, n, serve, &t));
        CHECK(ct_tilehash_consistency(&th, m, p, &np));
        size_t off = (m & (m - 1)) == 0 ? 1 : 0;
        CHECK(np == (size_t)(nt - 5) + off);
        if (off) {
            CHECK(ct_hex_decode(tok[3], 64, want, 32) && !memcmp(p[0], want, 32));
        }
        for (int i = 5; i < nt && (size_t)(i - 5) + off < np; i++)
            CHECK(ct_hex_decode(tok[i], 64, want, 32) &&
                  !memcmp(p[(size_t)(i - 5) + off], want, 32));
        ct_tilehash_free(&th);
        compared++;
    }
    fclose(f);
    CHECK(compared == 190); /* every pair 1 <= m < n <= 20 */
    free(t.lvl[0]);
}

/* ---------- gzip ---------- */

static size_t gz(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t l = cap - z.avail_out;
    deflateEnd(&z);
    return l;
}

static void test_gzip(void) {
    uint8_t plain[5000], packed[12000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 7 % 251);
    size_t pl = gz(plain, sizeof plain, packed, sizeof packed / 2);
    mw_buf out;
    mw_buf_init(&out, 1 << 20);
    CHECK(ct_is_gzip(packed, pl) && !ct_is_gzip(plain, sizeof plain));
    CHECK(ct_gunzip(packed, pl, &out) == MW_OK);
    CHECK(out.len == sizeof plain && !memcmp(out.data, plain, sizeof plain));
    /* two members: their concatenation (RFC 1952 2.2) */
    memcpy(packed + pl, packed, pl);
    CHECK(ct_gunzip(packed, 2 * pl, &out) == MW_OK);
    CHECK(out.len == 2 * sizeof plain && !memcmp(out.data + sizeof plain, plain, sizeof plain));
    /* cut short, trailing garbage, a flipped byte */
    CHECK(ct_gunzip(packed, pl - 5, &out) == MW_MALFORMED && out.len == 0);
    packed[pl] = 'x';
    CHECK(ct_gunzip(packed, pl + 3, &out) == MW_MALFORMED);
    packed[pl / 2] ^= 0x55;
    CHECK(ct_gunzip(packed, pl, &out) != MW_OK);
    mw_buf_free(&out);
    /* a bomb: 5000 bytes into a 1000-byte cap is refused, not buffered */
    pl = gz(plain, sizeof plain, packed, sizeof packed / 2);
    mw_buf_init(&out, 1000);
    CHECK(ct_gunzip(packed, pl, &out) == MW_ERR && out.len == 0);
    mw_buf_free(&out);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ct_tiles_test MERKLE_VECTORS\n");
        return 2;
    }
    if (!mw_hash_init()) return 1;
    test_key_id();
    test_paths();
    test_checkpoint();
    test_tilehash_trees();
    test_tilehash_fork();
    test_tilehash_vectors(argv[1]);
    test_gzip();
    MW_TEST_END();
}
