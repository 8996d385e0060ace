/* Fuzz target: analyzers/x509_info (x509_decode, d2i_X509's decode in a short provider
 * context, and OpenSSL's accessors, the CT TBS written from
 * the decoded fields) and the event fragments output/ev_x509.c renders from it. Input: one DER
 * certificate. Invariants:
 *  - never crashes, leaks or reads out of bounds (whatever the bytes);
 *  - x509_info accepts exactly what OpenSSL's reference accepts (tests/unit/x509_ref.c:
 *    d2i_X509 takes all of the bytes, the TBS has a definite length), and then its CT TBS
 *    hash is OpenSSL's (X509_dup, X509_delete_ext, i2d_re_X509_tbs);
 *  - the chain entry and x509 object render, and render the same again from the slot. */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev_x509.h"
#include "mw_hash.h"
#include "x509_info.h"
#include "x509_ref.h"

static void render(x509_info *e, mw_buf *b) {
    mw_json j;
    mw_buf_reset(b);
    mw_json_init(&j, b);
    mw_json_arr_begin(&j);
    ev_x509_chain_entry(&j, e);
    ev_x509_object(&j, e);
    mw_json_arr_end(&j);
    if (!j.ok) abort(); /* an 8 MB cap: one certificate's fragments always fit */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    static mw_buf first, again;
    if (!ready) {
        if (!mw_hash_init()) abort();
        mw_buf_init(&first, 64u << 20);
        mw_buf_init(&again, 64u << 20);
        ready = 1;
    }
    an_stats st;
    memset(&st, 0, sizeof st);
    uint8_t want[32];
    bool ref = x509_ref_tbs_sha256(data, size, want);
    x509_info *got = x509_info_parse(data, size, &st);
    if ((got != NULL) != ref) {
        fprintf(stderr, "fuzz_x509: x509_info %s what OpenSSL %s\n", got ? "accepts" : "refuses",
                ref ? "accepts" : "refuses");
        abort();
    }
    if (got) {
        if (memcmp(got->tbs_sha256, want, 32) != 0) {
            fprintf(stderr, "fuzz_x509: tbs_sha256 differs from OpenSSL's\n");
            abort();
        }
        render(got, &first);
        render(got, &again);
        if (first.len != again.len || memcmp(first.data, again.data, first.len) != 0) abort();
    }
    x509_info_free(got);
    return 0;
}
