/* libFuzzer target: a log entry's leaf_input as get-entries returns it, through the
 * MerkleTreeLeaf parser and on to a ctcache entry, as ct_sync_rfc6962 chains them.
 * Invariants: a parsed leaf's certificate view lies inside the input; entries built from it
 * have a TBS hash and at least one watched name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_entry.h"
#include "ct_log.h"
#include "mw_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ct_watchlist w;
    static int init;
    if (!init) {
        mw_hash_init();
        if (!ct_watchlist_add(&w, "*.example.test") || !ct_watchlist_add(&w, ".corp.test")) abort();
        init = 1;
    }
    ct_tsentry te;
    uint8_t lh[32];
    ct_leaf_hash(data, size, lh);
    if (ct_parse_leaf(data, size, &te) != MW_OK) return 0;
    if (te.cert.data < data || te.cert.data + te.cert.len > data + size) abort();
    ct_stats st = {0};
    ct_origin o = {"fuzz", NULL, 0, te.timestamp};
    ct_entry e;
    ct_entry_result r = te.entry_type == CT_ENTRY_X509
                            ? ct_entry_from_cert(te.cert.data, te.cert.len, &o, &w, &st, &e)
                            : ct_entry_from_precert_tbs(te.cert.data, te.cert.len, &o, &w, &st, &e);
    if (r == CT_ENTRY_WATCHED) {
        if (e.n_names == 0 || !e.issuer) abort();
        ct_entry_clear(&e);
    }
    return 0;
}
