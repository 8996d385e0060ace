/* Unit tests of the ctcache: Merkle hashing and consistency proofs (vectors computed
 * independently by ctlab.py, plus the RFC 6962 reference tree), watched-name matching,
 * the snapshot (round trip, O(1) look-up, truncated and corrupt files rejected), decoders.
 * usage: ct_unit_test MERKLE_VECTORS_FILE TMPDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_audit.h"
#include "ct_codec.h"
#include "ct_merkle.h"
#include "ct_names.h"
#include "ct_snapshot.h"
#include "mw_hash.h"

static int failures, checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

static void hex2(const char *h, uint8_t out[32]) {
    if (!ct_hex_decode(h, strlen(h), out, 32)) {
        fprintf(stderr, "bad hex in vectors: %s\n", h);
        exit(1);
    }
}

static void test_rfc6962_reference(void) {
    /* The reference tree of the certificate-transparency test suite (8 leaves). */
    static const char *const leaves[] = {"",
                                         "00",
                                         "10",
                                         "2021",
                                         "3031",
                                         "40414243",
                                         "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f"};
    ct_frontier f;
    uint8_t root[32], want[32], d[16], lh[32];
    ct_frontier_init(&f);
    ct_frontier_root(&f, root);
    hex2("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    CHECK(!memcmp(root, want, 32));
    for (size_t i = 0; i < 8; i++) {
        size_t n = strlen(leaves[i]) / 2;
        CHECK(n == 0 || ct_hex_decode(leaves[i], 2 * n, d, n));
        ct_leaf_hash(d, n, lh);
        ct_frontier_append(&f, lh);
        if (i == 0) {
            ct_frontier_root(&f, root);
            hex2("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
            CHECK(!memcmp(root, want, 32));
        }
    }
    ct_frontier_root(&f, root);
    hex2("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", want);
    CHECK(!memcmp(root, want, 32));
}

static void test_vectors(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    static char line[8192];
    int ok_lines = 0, bad_lines = 0, root_lines = 0;
    /* leaves as ctlab.py builds them: leaf i = byte i repeated i % 7 + 1 times */
    uint8_t lh[20][32];
    for (int i = 0; i < 20; i++) {
        uint8_t d[8];
        memset(d, i, sizeof d);
        ct_leaf_hash(d, (size_t)(i % 7 + 1), lh[i]);
    }
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok[80];
        int nt = 0;
        for (char *t = strtok_r(line, " \n", &save); t && nt < 80; t = strtok_r(NULL, " \n", &save))
            tok[nt++] = t;
        if (nt == 3 && !strcmp(tok[0], "root")) {
            unsigned long n = strtoul(tok[1], NULL, 10);
            ct_frontier fr;
            uint8_t r[32], want[32];
            ct_frontier_init(&fr);
            for (unsigned long i = 0; i < n; i++)
                ct_frontier_append(&fr, lh[i]);
            ct_frontier_root(&fr, r);
            hex2(tok[2], want);
            CHECK(!memcmp(r, want, 32));
            root_lines++;
            continue;
        }
        if (nt < 5) continue;
        uint64_t m = strtoull(tok[1], NULL, 10), n = strtoull(tok[2], NULL, 10);
        uint8_t r1[32], r2[32], proof[64][32];
        hex2(tok[3], r1);
        hex2(tok[4], r2);
        int np = nt - 5;
        for (int i = 0; i < np; i++)
            hex2(tok[5 + i], proof[i]);
        bool v = ct_verify_consistency(m, n, r1, r2, (const uint8_t(*)[32])proof, (size_t)np);
        if (!strcmp(tok[0], "ok")) {
            CHECK(v);
            ok_lines++;
            /* the same proof must not prove anything else */
            if (m < n) {
                uint8_t x[32];
                memcpy(x, r1, 32);
                x[31] ^= 1;
                CHECK(!ct_verify_consistency(m, n, x, r2, (const uint8_t(*)[32])proof, (size_t)np));
                CHECK(!ct_verify_consistency(m, n, r1, x, (const uint8_t(*)[32])proof, (size_t)np));
                if (np > 0)
                    CHECK(!ct_verify_consistency(m, n, r1, r2, (const uint8_t(*)[32])proof,
                                                 (size_t)np - 1));
            }
        } else {
            CHECK(!v);
            bad_lines++;
        }
    }
    fclose(f);
    /* all pairs 1 <= m <= n <= 20 */
    CHECK(ok_lines == 210);
    CHECK(bad_lines == 190);
    CHECK(root_lines == 21);
    /* first > second never verifies; first == 0 needs an empty proof */
    uint8_t z[32] = {0};
    CHECK(!ct_verify_consistency(5, 4, z, z, NULL, 0));
    CHECK(ct_verify_consistency(0, 4, z, z, NULL, 0));
}

static void test_names(void) {
    ct_watchlist w = {0};
    CHECK(ct_watchlist_add(&w, "*.Example.test"));
    CHECK(ct_watchlist_add(&w, ".corp.test"));
    CHECK(ct_watchlist_add(&w, "exact.test."));
    CHECK(!ct_watchlist_add(&w, ""));
    CHECK(!ct_watchlist_add(&w, "*."));
    CHECK(!ct_watchlist_add(&w, "a.*.test"));
#define M(s) ct_watch_match(&w, s, strlen(s))
    CHECK(M("www.example.test"));
    CHECK(M("WWW.EXAMPLE.TEST."));
    CHECK(!M("example.test"));
    CHECK(!M("a.b.example.test"));
    CHECK(M("*.example.test"));
    CHECK(!M("*.b.example.test"));
    CHECK(!M("wwwexample.test"));
    CHECK(M("corp.test"));
    CHECK(M("vpn.corp.test"));
    CHECK(M("a.b.corp.test"));
    CHECK(M("*.corp.test"));
    CHECK(M("*.x.corp.test"));
    CHECK(!M("xcorp.test"));
    CHECK(M("exact.test"));
    CHECK(M("*.test")); /* a wildcard certificate valid for exact.test */
    CHECK(!M("a.exact.test"));
    CHECK(!M("other.test"));
#undef M
    CHECK(ct_name_selects("www.example.test", "*.example.test", 14));
    CHECK(!ct_name_selects("www.example.test", "api.example.test", 16));
    ct_watchlist_free(&w);
}

static void test_codec(void) {
    size_t n = 0;
    uint8_t *b = ct_b64_decode("aGVsbG8=", 8, 100, &n);
    CHECK(b && n == 5 && !memcmp(b, "hello", 5));
    free(b);
    CHECK(ct_b64_decode("aGVsbG9=", 8, 100, &n) == NULL); /* stray bits under the padding */
    CHECK(ct_b64_decode("aGVsbG8", 7, 100, &n) == NULL);
    CHECK(ct_b64_decode("aGV*bG8=", 8, 100, &n) == NULL);
    CHECK(ct_b64_decode("aGVsbG8=", 8, 4, &n) == NULL); /* over the cap */
    b = ct_b64_decode("", 0, 100, &n);
    CHECK(b && n == 0);
    free(b);
    int64_t ms = 0;
    CHECK(ct_time_parse_ms("2025-11-24T16:00:00.123", 23, &ms) && ms == 1764000000123LL);
    CHECK(ct_time_parse_ms("1970-01-01T00:00:00Z", 20, &ms) && ms == 0);
    CHECK(!ct_time_parse_ms("2025-13-24T16:00:00", 19, &ms));
}

static void make_entry(ct_entry *e, int i) {
    memset(e, 0, sizeof *e);
    mw_sha256(&i, sizeof i, e->tbs);
    e->has_cert = i % 2 == 0;
    if (e->has_cert) mw_sha256("c", 1, e->cert);
    e->names = calloc(2, sizeof *e->names);
    e->names[0] = strdup("www.example.test");
    e->names[1] = strdup(i % 3 ? "a.example.test" : "b.example.test");
    e->n_names = 2;
    e->issuer = strdup("CN=test CA");
    e->source = strdup("rfc6962:http://127.0.0.1/a/");
    e->not_before = -86400 + i; /* before 1970: signed values survive */
    e->not_after = 4102444800LL;
    e->index = (uint64_t)i;
    e->timestamp_ms = 1764000000000ULL + (uint64_t)i;
    e->precert = i % 5 == 0;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void copy_prefix(const char *from, const char *to, long n) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    for (long i = 0; a && b && i < n; i++)
        fputc(fgetc(a), b);
    if (a) fclose(a);
    if (b) fclose(b);
}

static void test_snapshot(const char *dir) {
    char path[512], bad[560], err[256];
    snprintf(path, sizeof path, "%s/unit.ctcache", dir);
    snprintf(bad, sizeof bad, "%s.bad", path);
    ct_store st;
    ct_store_init(&st);
    const int N = 1000;
    for (int i = 0; i < N; i++) {
        ct_entry e;
        bool is_new = false;
        make_entry(&e, i);
        CHECK(ct_store_put(&st, &e, &is_new) == MW_OK && is_new);
    }
    /* a second entry with a known TBS merges (precertificate + final certificate) */
    ct_entry dup;
    bool is_new = true;
    make_entry(&dup, 1);
    dup.has_cert = true;
    memset(dup.cert, 0xab, 32);
    CHECK(ct_store_put(&st, &dup, &is_new) == MW_OK && !is_new);
    CHECK(st.n == (size_t)N);
    ct_source_state *ss = ct_store_source(&st, "rfc6962", "http://127.0.0.1/a/", NULL);
    CHECK(ss != NULL);
    uint8_t lh[32];
    for (int i = 0; i < 11; i++) {
        ct_leaf_hash((const uint8_t *)&i, sizeof i, lh);
        ct_frontier_append(&ss->frontier, lh);
    }
    ss->tree_size = 14;
    ss->sth_timestamp = 77;
    ss->mmd_s = 3600;
    CHECK(ct_store_write(&st, path, 1700000000) == MW_OK);

    ct_snapshot *s = ct_snapshot_load(path, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        CHECK(ct_snapshot_count(s) == (size_t)N);
        CHECK(ct_snapshot_created(s) == 1700000000);
        CHECK(ct_snapshot_max_mmd(s, 99) == 3600);
        for (int i = 0; i < N; i++) {
            uint8_t t[32];
            mw_sha256(&i, sizeof i, t);
            const ct_entry_view *v = ct_snapshot_lookup(s, t);
            CHECK(v && v->index == (uint64_t)i && v->not_before == -86400 + i);
            CHECK(v && (v->cert != NULL) == (i % 2 == 0 || i == 1));
            CHECK(v && v->n_names == 2 && v->names[1].n == 14);
            CHECK(v && v->precert == (i % 5 == 0));
        }
        const ct_entry_view *v1 = ct_snapshot_lookup(s, st.v[1].tbs);
        CHECK(v1 && v1->cert && v1->cert[0] == 0xab);
        uint8_t absent[32];
        memset(absent, 0x55, 32);
        CHECK(!ct_snapshot_has(s, absent));
        CHECK(ct_snapshot_check(s, absent, 1000, 3600) == CT_CHECK_NOT_IN_CT);
        CHECK(ct_snapshot_check(s, absent, 1700000000 - 3599, 3600) == CT_CHECK_GRACE);
        CHECK(ct_snapshot_check(s, st.v[3].tbs, 1700000000, 3600) == CT_CHECK_LOGGED);
        CHECK(ct_snapshot_check(NULL, absent, 0, 0) == CT_CHECK_NO_SNAPSHOT);
        const ct_source_state *src = ct_snapshot_source(s, 0);
        CHECK(ct_snapshot_source_count(s) == 1);
        CHECK(src && src->frontier.size == 11 && src->tree_size == 14 && src->mmd_s == 3600);
        uint8_t r1[32], r2[32];
        ct_frontier_root(&ss->frontier, r1);
        if (src) ct_frontier_root(&src->frontier, r2);
        CHECK(src && !memcmp(r1, r2, 32));
        /* store <- snapshot -> store -> file: identical bytes */
        ct_store st2;
        ct_store_init(&st2);
        CHECK(ct_store_from_snapshot(&st2, s) == MW_OK);
        char path2[560];
        snprintf(path2, sizeof path2, "%s.2", path);
        CHECK(ct_store_write(&st2, path2, 1700000000) == MW_OK);
        CHECK(file_size(path2) == file_size(path));
        ct_store_free(&st2);
        unlink(path2);
        ct_snapshot_free(s);
    }
    /* every truncation is rejected, never half loaded */
    long size = file_size(path);
    int rejected = 0, tried = 0;
    for (long cut = 0; cut < size; cut += (cut < 64 ? 1 : 997)) {
        copy_prefix(path, bad, cut);
        ct_snapshot *t = ct_snapshot_load(bad, err, sizeof err);
        tried++;
        rejected += t == NULL;
        ct_snapshot_free(t);
    }
    CHECK(tried > 60 && rejected == tried);
    /* trailing garbage and a wrong version are rejected */
    copy_prefix(path, bad, size);
    FILE *f = fopen(bad, "ab");
    fputc(0xc0, f);
    fclose(f);
    ct_snapshot *t = ct_snapshot_load(bad, err, sizeof err);
    CHECK(t == NULL && strstr(err, "trailing"));
    ct_snapshot_free(t);
    f = fopen(bad, "wb");
    /* {"format":"mitmwatch-ctcache","version":2} */
    static const uint8_t v2[] = {0x82, 0xa6, 'f',  'o', 'r', 'm', 'a', 't', 0xb1, 'm', 'i', 't',
                                 'm',  'w',  'a',  't', 'c', 'h', '-', 'c', 't',  'c', 'a', 'c',
                                 'h',  'e',  0xa7, 'v', 'e', 'r', 's', 'i', 'o',  'n', 0x02};
    fwrite(v2, 1, sizeof v2, f);
    fclose(f);
    t = ct_snapshot_load(bad, err, sizeof err);
    CHECK(t == NULL && strstr(err, "version 2"));
    ct_snapshot_free(t);
    unlink(bad);

    /* the reloader sees a replaced file and nothing else */
    ct_reloader rl;
    ct_reloader_init(&rl, path);
    ct_snapshot *a = ct_reloader_check(&rl, false, err, sizeof err);
    CHECK(a != NULL);
    ct_snapshot *b = ct_reloader_check(&rl, false, err, sizeof err);
    CHECK(b == NULL && err[0] == '\0');
    CHECK(ct_store_write(&st, path, 1700000001) == MW_OK); /* rename: a new inode */
    b = ct_reloader_check(&rl, false, err, sizeof err);
    CHECK(b != NULL && ct_snapshot_created(b) == 1700000001);
    ct_snapshot *c = ct_reloader_check(&rl, true, err, sizeof err); /* SIGHUP */
    CHECK(c != NULL);
    ct_snapshot_free(a);
    ct_snapshot_free(b);
    ct_snapshot_free(c);
    ct_reloader_free(&rl);
    unlink(path);
    ct_store_free(&st);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ct_unit_test MERKLE_VECTORS TMPDIR\n");
        return 2;
    }
    if (!mw_hash_init()) return 1;
    test_rfc6962_reference();
    test_vectors(argv[1]);
    test_names();
    test_codec();
    test_snapshot(argv[2]);
    printf("ct_unit_test: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
