/* Fuzz target: the whole passive path (decode, flow table, reassembly, TLS) on arbitrary frame
 * sequences (the input format of fuzz_frames.h); afterwards no reassembly byte is held.
 * Built twice: fuzz-engine without nDPI (fast: the parsers are what is fuzzed), and
 * fuzz-engine_ndpi (FUZZ_NDPI) with nDPI classifying the flows, its context started once per
 * process; nDPI's own caches then carry state from one input to the next. */
#include <openssl/err.h>
#include <stdlib.h>

#include "fuzz_frames.h"
#include "mw_hash.h"

static void on_hs(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    (void)f;
    (void)client_side;
    (*(int *)user) += hs->have_sh;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dpi_ctx *dpi = NULL;
#ifdef FUZZ_NDPI
    static dpi_ctx *shared;
    if (!shared && !(shared = dpi_new())) abort();
    dpi = shared;
#endif
    mw_hash_init();
    int n = 0;
    an_engine *e = fuzz_frames_run(data, size, on_hs, NULL, &n, dpi);
    if (!e) return 0;
    if (an_engine_cap_stats(e)->reasm_bytes_in_use != 0)
        abort(); /* everything is released when flows end */
    an_engine_free(e);
    /* OpenSSL's error queue keeps the errors of undecodable certificates (freed only when
     * later ones push them out): emptied so that no input's memory outlives it, or libFuzzer
     * takes the difference for a possible leak and runs LeakSanitizer over the heap */
    ERR_clear_error();
    return 0;
}
