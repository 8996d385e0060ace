/* libFuzzer target: bytes as a static-ct-api checkpoint (signed note), as a data tile, or as
 * a gzip body (a compressed tile). The first byte selects which: odd a checkpoint, 2 mod 4
 * gzip, else a tile. Invariants: views stay inside the input; a checkpoint never verifies
 * (the fuzzer does not hold the log key's private half); inflation never passes its cap. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct_gzip.h"
#include "ct_tiles.h"
#include "mw_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ct_logkey key;

static void init_key(void) {
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int n = pk ? i2d_PUBKEY(pk, &der) : -1;
    if (n <= 0) abort();
    key.pk = pk;
    key.spki = malloc((size_t)n);
    if (!key.spki) abort();
    memcpy(key.spki, der, (size_t)n);
    key.spki_len = (size_t)n;
    mw_sha256(der, (size_t)n, key.log_id);
    OPENSSL_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        mw_hash_init();
        init_key();
        init = 1;
    }
    if (size < 1) return 0;
    if (data[0] & 1) {
        ct_checkpoint cp;
        char why[256];
        if (ct_tiles_verify_checkpoint(&key, "127.0.0.1/t", (const char *)data + 1, size - 1, &cp,
                                       why, sizeof why) == CT_CP_OK)
            abort();
        return 0;
    }
    if ((data[0] & 3) == 2) {
        mw_buf out;
        mw_buf_init(&out, 1 << 20);
        if (ct_gunzip(data + 1, size - 1, &out) != MW_OK && out.len != 0) abort();
        if (out.len > out.max) abort();
        mw_buf_free(&out);
        return 0;
    }
    mw_cur c = mw_cur_make(data + 1, size - 1);
    for (int i = 0; i < 256; i++) {
        ct_tsentry te;
        mw_cur tsb;
        if (ct_tile_leaf(&c, &te, &tsb) != MW_OK) break;
        if (tsb.data < data || tsb.data + tsb.len > data + size || te.cert.data < tsb.data ||
            te.cert.data + te.cert.len > tsb.data + tsb.len)
            abort();
    }
    return 0;
}
