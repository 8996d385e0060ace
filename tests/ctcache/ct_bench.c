/* Benchmark (not a test): a ctcache snapshot of N entries (default 1,000,000) with realistic
 * names, issuer and source strings: write time, file size, load time (median of 5), look-up
 * rate. usage: ct_bench [N] [PATH] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ct_snapshot.h"
#include "mw_hash.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    const char *path = argc > 2 ? argv[2] : "/tmp/ct_bench.ctcache";
    char err[256];
    mw_hash_init();
    ct_store st;
    ct_store_init(&st);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        ct_entry e;
        bool is_new;
        char name[64];
        memset(&e, 0, sizeof e);
        mw_sha256(&i, sizeof i, e.tbs);
        e.has_cert = true;
        mw_sha256(e.tbs, 32, e.cert);
        snprintf(name, sizeof name, "host%ld.example.test", i);
        e.names = calloc(2, sizeof *e.names);
        e.names[0] = strdup(name);
        e.names[1] = strdup("example.test");
        e.n_names = 2;
        e.issuer = strdup("CN=R11,O=Let's Encrypt,C=US");
        e.source = strdup("rfc6962:https://ct.example.net/logs/2026h1/");
        e.not_before = 1764000000 + i;
        e.not_after = e.not_before + 90 * 86400;
        e.index = (uint64_t)i;
        e.timestamp_ms = 1764000000000ULL + (uint64_t)i;
        if (ct_store_put(&st, &e, &is_new) != MW_OK) {
            fprintf(stderr, "put failed at %ld\n", i);
            return 1;
        }
    }
    double t1 = now_s();
    if (ct_store_write(&st, path, 1764000000) != MW_OK) {
        fprintf(stderr, "write failed\n");
        return 1;
    }
    double t2 = now_s();
    struct stat sb;
    stat(path, &sb);
    double loads[5];
    ct_snapshot *s = NULL;
    for (int k = 0; k < 5; k++) {
        ct_snapshot_free(s);
        double a = now_s();
        s = ct_snapshot_load(path, err, sizeof err);
        loads[k] = now_s() - a;
        if (!s) {
            fprintf(stderr, "load: %s\n", err);
            return 1;
        }
    }
    qsort(loads, 5, sizeof loads[0], cmp_d);
    double a = now_s();
    long hits = 0;
    for (long i = 0; i < n; i++) {
        uint8_t tbs[32];
        mw_sha256(&i, sizeof i, tbs);
        hits += ct_snapshot_has(s, tbs);
    }
    double lookups = now_s() - a;
    printf("entries %ld: build %.2f s, write %.2f s, file %.1f MB, load median %.3f s "
           "(min %.3f, max %.3f), %ld/%ld look-ups hit, %.2f M look-ups/s (with SHA-256 of the "
           "key)\n",
           n, t1 - t0, t2 - t1, (double)sb.st_size / 1e6, loads[2], loads[0], loads[4], hits, n,
           (double)n / lookups / 1e6);
    ct_snapshot_free(s);
    return hits == n ? 0 : 1;
}
