/* Unit tests of the log keys as the log list writes them (base64 DER SubjectPublicKeyInfo,
 * inline or in a file, or a PEM file) and of picking the usable logs of a Google v3 log list.
 * usage: ct_loglist_test TMPDIR */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_log.h"
#include "ct_loglist.h"
#include "mw_hash.h"
#include "mw_test.h"


static char key_b64[400], id_b64[64], key2_b64[400];
static uint8_t key_id[32];
static EVP_PKEY *pk;

static void make_keys(void) {
    pk = EVP_EC_gen("P-256");
    EVP_PKEY *pk2 = EVP_EC_gen("P-256");
    unsigned char *der = NULL, *der2 = NULL;
    int n = pk ? i2d_PUBKEY(pk, &der) : -1, n2 = pk2 ? i2d_PUBKEY(pk2, &der2) : -1;
    if (n <= 0 || n2 <= 0) abort();
    EVP_EncodeBlock((unsigned char *)key_b64, der, n);
    EVP_EncodeBlock((unsigned char *)key2_b64, der2, n2);
    mw_sha256(der, (size_t)n, key_id);
    EVP_EncodeBlock((unsigned char *)id_b64, key_id, 32);
    OPENSSL_free(der);
    OPENSSL_free(der2);
    EVP_PKEY_free(pk2);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static void test_keys(const char *dir) {
    ct_logkey k;
    char err[512], path[512];
    /* inline, as in log_list.json */
    CHECK(ct_logkey_load(key_b64, &k, err, sizeof err));
    CHECK(!memcmp(k.log_id, key_id, 32));
    ct_logkey_free(&k);
    /* a PEM file */
    snprintf(path, sizeof path, "%s/log.pem", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && PEM_write_PUBKEY(f, pk) == 1);
    if (f) fclose(f);
    CHECK(ct_logkey_load(path, &k, err, sizeof err));
    CHECK(!memcmp(k.log_id, key_id, 32));
    ct_logkey_free(&k);
    /* a file holding the base64 (copied from the list), with a newline */
    snprintf(path, sizeof path, "%s/log.b64", dir);
    char line[500];
    snprintf(line, sizeof line, "%s\n", key_b64);
    write_file(path, line);
    CHECK(ct_logkey_load(path, &k, err, sizeof err));
    CHECK(!memcmp(k.log_id, key_id, 32));
    ct_logkey_free(&k);
    /* not a key */
    CHECK(!ct_logkey_load("QUJD", &k, err, sizeof err));
    CHECK(!strcmp(err, "QUJD: neither a base64 DER public key (as in the log list) nor a readable "
                       "file"));
    write_file(path, "hello\n");
    CHECK(!ct_logkey_load(path, &k, err, sizeof err));
    CHECK(strstr(err, "not a public key (PEM, or base64 DER as in the log list)") != NULL);
    /* DER with a byte after it */
    uint8_t der[200];
    unsigned char *d = NULL;
    int n = i2d_PUBKEY(pk, &d);
    CHECK(n > 0 && (size_t)n < sizeof der);
    memcpy(der, d, (size_t)n);
    der[n] = 0;
    OPENSSL_free(d);
    CHECK(ct_logkey_from_der(der, (size_t)n, &k));
    ct_logkey_free(&k);
    CHECK(!ct_logkey_from_der(der, (size_t)n + 1, &k));
    unlink(path);
    snprintf(path, sizeof path, "%s/log.pem", dir);
    unlink(path);
}

static void test_list(const char *dir) {
    char path[512], json[8192], err[512];
    snprintf(path, sizeof path, "%s/log_list.json", dir);
    /* now = 2026-01-01: the 2025h2 shard has ended, the 2026h1 one has not */
    snprintf(json, sizeof json,
             "{\"version\":\"1.0\",\"operators\":["
             "{\"name\":\"A\",\"logs\":["
             "{\"description\":\"usable\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/2026h1/\",\"mmd\":86400,"
             "\"state\":{\"usable\":{\"timestamp\":\"2025-01-01T00:00:00Z\"}},"
             "\"temporal_interval\":{\"start_inclusive\":\"2026-01-01T00:00:00Z\","
             "\"end_exclusive\":\"2026-07-01T00:00:00Z\"}},"
             "{\"description\":\"ended\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/2025h2/\",\"mmd\":86400,"
             "\"state\":{\"usable\":{\"timestamp\":\"2025-01-01T00:00:00Z\"}},"
             "\"temporal_interval\":{\"start_inclusive\":\"2025-07-01T00:00:00Z\","
             "\"end_exclusive\":\"2026-01-01T00:00:00Z\"}},"
             "{\"description\":\"readonly\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/frozen/\",\"mmd\":3600,"
             "\"state\":{\"readonly\":{\"timestamp\":\"2025-01-01T00:00:00Z\","
             "\"final_tree_head\":{\"sha256_root_hash\":\"x\",\"tree_size\":1}}}},"
             "{\"description\":\"retired\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/old/\",\"state\":{\"retired\":{}}},"
             "{\"description\":\"rejected\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/no/\",\"state\":{\"rejected\":{}}},"
             "{\"description\":\"wrong id\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"url\":\"https://a.example/x/\",\"state\":{\"usable\":{}}}],"
             "\"tiled_logs\":["
             "{\"description\":\"tiled\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"submission_url\":\"https://rome.example/2026h1/\","
             "\"monitoring_url\":\"https://rome2026h1.bucket.example/\",\"mmd\":60,"
             "\"state\":{\"qualified\":{\"timestamp\":\"2025-01-01T00:00:00Z\"}}},"
             "{\"description\":\"tiled pending\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"submission_url\":\"https://rome.example/2027h1/\","
             "\"monitoring_url\":\"https://rome2027h1.bucket.example/\","
             "\"state\":{\"pending\":{}}},"
             "{\"description\":\"tiled without submission_url\",\"log_id\":\"%s\",\"key\":\"%s\","
             "\"monitoring_url\":\"https://m.example/\",\"state\":{\"usable\":{}}}]}]}",
             id_b64, key_b64, id_b64, key_b64, id_b64, key_b64, id_b64, key_b64, id_b64, key_b64,
             id_b64, key2_b64, id_b64, key_b64, id_b64, key_b64, id_b64, key_b64);
    write_file(path, json);
    ct_loglist l;
    CHECK(ct_loglist_load(path, 1767225600 /* 2026-01-01T00:00:00Z */, &l, err, sizeof err));
    CHECK(l.n_logs == 2 && l.n_tiles == 1);
    CHECK(l.skipped_state == 3 && l.skipped_expired == 1 && l.skipped_invalid == 2);
    if (l.n_logs == 2 && l.n_tiles == 1) {
        CHECK(!strcmp(l.logs[0].url, "https://a.example/2026h1/") && l.logs[0].mmd_s == 86400);
        CHECK(!strcmp(l.logs[0].key, key_b64) && l.logs[0].origin == NULL);
        CHECK(!strcmp(l.logs[1].url, "https://a.example/frozen/") && l.logs[1].mmd_s == 3600);
        CHECK(!strcmp(l.tiles[0].url, "https://rome2026h1.bucket.example/"));
        CHECK(!strcmp(l.tiles[0].origin, "https://rome.example/2026h1/"));
        CHECK(l.tiles[0].mmd_s == 60);
    }
    ct_loglist_free(&l);
    /* an OpenSSL CTLOG file has no URLs */
    write_file(path, "enabled_logs = a\n[a]\nkey = MFkw\n");
    CHECK(!ct_loglist_load(path, 0, &l, err, sizeof err));
    CHECK(strstr(err, "not a Google v3 log_list.json") != NULL);
    unlink(path);
    CHECK(!ct_loglist_load(path, 0, &l, err, sizeof err));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ct_loglist_test TMPDIR\n");
        return 2;
    }
    if (!mw_hash_init()) return 1;
    make_keys();
    test_keys(argv[1]);
    test_list(argv[1]);
    EVP_PKEY_free(pk);
    MW_TEST_END();
}
