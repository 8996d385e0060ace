/* Fuzz target: analyzers/x509_info's structural walk against OpenSSL (tests/unit/x509_ref.c,
 * the d2i_X509-based parser it replaced). Input: one DER certificate. Invariants:
 *  - never crashes or reads out of bounds (whatever the bytes);
 *  - when both accept, every fact is identical (hashes, names, times, flags, SCTs, JSON);
 *  - when OpenSSL accepts a certificate that it writes back byte for byte (canonical DER),
 *    the walk accepts it too; it may refuse BER that OpenSSL tolerates;
 *  - the walk accepts nothing that OpenSSL refuses.
 * The last one is the strictest claim; a counter-example goes to the seed corpus and the
 * report, and the invariant is relaxed only with a comment saying which case and why. */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"
#include "x509_info.h"
#include "x509_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (!mw_hash_init()) abort();
        ready = 1;
    }
    an_stats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    x509_info *got = x509_info_parse(data, size, &s2);
    x509_info *ref = x509_ref_parse(data, size, &s1);
    if (got && ref) {
        const char *d = x509_ref_diff(got, ref);
        if (d) {
            fprintf(stderr, "fuzz_x509: %s differs\n", d);
            abort();
        }
        X509 *x = x509_info_x509(got);
        if (!x || X509_cmp(x, ref->x) != 0) abort();
    } else if (ref) {
        if (x509_ref_canonical(data, size) == 1) {
            fprintf(stderr, "fuzz_x509: OpenSSL accepts canonical DER, the walk refuses\n");
            abort();
        }
    } else if (got) {
        fprintf(stderr, "fuzz_x509: the walk accepts what OpenSSL refuses\n");
        abort();
    }
    x509_info_free(got);
    x509_info_free(ref);
    return 0;
}
