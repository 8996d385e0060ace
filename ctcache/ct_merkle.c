#include "ct_merkle.h"

#include <openssl/evp.h>
#include <string.h>

#include "mw_hash.h"

void ct_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[32]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int ol = 32;
    static const uint8_t zero = 0x00;
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, &zero, 1) ||
        !EVP_DigestUpdate(c, leaf, len) || !EVP_DigestFinal_ex(c, out, &ol))
        memset(out, 0, 32); /* cannot match any real root: the sync fails closed */
    EVP_MD_CTX_free(c);
}

void ct_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]) {
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    mw_sha256(buf, sizeof buf, out);
}

void ct_frontier_init(ct_frontier *f) {
    memset(f, 0, sizeof *f);
}

void ct_frontier_append(ct_frontier *f, const uint8_t leaf_hash[32]) {
    uint8_t cur[32];
    memcpy(cur, leaf_hash, 32);
    int k = 0;
    /* Carry like a binary counter: each set low bit is a perfect subtree to merge with. */
    while (k < CT_MERKLE_MAX_DEPTH && (f->size >> k) & 1) {
        ct_node_hash(f->h[k], cur, cur);
        k++;
    }
    if (k < CT_MERKLE_MAX_DEPTH) memcpy(f->h[k], cur, 32);
    f->size++;
}

void ct_frontier_root(const ct_frontier *f, uint8_t out[32]) {
    if (f->size == 0) {
        mw_sha256("", 0, out);
        return;
    }
    /* The root folds the subtrees from the smallest (rightmost) up: MTH splits at the largest
     * power of two below n, so the right part is always the smaller subtrees combined. */
    uint8_t acc[32];
    bool have = false;
    for (int k = 0; k < CT_MERKLE_MAX_DEPTH; k++) {
        if (!((f->size >> k) & 1)) continue;
        if (!have) {
            memcpy(acc, f->h[k], 32);
            have = true;
        } else {
            ct_node_hash(f->h[k], acc, acc);
        }
    }
    memcpy(out, acc, 32);
}

bool ct_consistency_roots(uint64_t first, uint64_t second, const uint8_t (*path)[32],
                          size_t path_len, uint8_t fr[32], uint8_t sr[32]) {
    if (first == 0 || first >= second || path_len == 0 || path_len > 2 * CT_MERKLE_MAX_DEPTH + 1)
        return false;
    /* RFC 9162 2.1.4.2 steps 3-6, with the first tree's root already prepended to the path
     * when first is a power of two (step 2). Every path element goes into sr; fr uses a subset
     * of them. */
    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, path[0], 32);
    memcpy(sr, path[0], 32);
    for (size_t i = 1; i < path_len; i++) {
        const uint8_t *c = path[i];
        if (sn == 0) return false;
        if ((fn & 1) || fn == sn) {
            ct_node_hash(c, fr, fr);
            ct_node_hash(c, sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ct_node_hash(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0;
}

bool ct_verify_consistency(uint64_t first, uint64_t second, const uint8_t first_hash[32],
                           const uint8_t second_hash[32], const uint8_t (*proof)[32],
                           size_t proof_len) {
    if (first > second) return false;
    if (first == 0) return proof_len == 0;
    if (first == second) return proof_len == 0 && memcmp(first_hash, second_hash, 32) == 0;
    if (proof_len == 0 || proof_len > 2 * CT_MERKLE_MAX_DEPTH) return false;
    bool pow2 = (first & (first - 1)) == 0;
    uint8_t path[2 * CT_MERKLE_MAX_DEPTH + 1][32], fr[32], sr[32];
    size_t n = 0;
    if (pow2) memcpy(path[n++], first_hash, 32);
    memcpy(path + n, proof, proof_len * 32);
    n += proof_len;
    return ct_consistency_roots(first, second, (const uint8_t(*)[32])path, n, fr, sr) &&
           memcmp(fr, first_hash, 32) == 0 && memcmp(sr, second_hash, 32) == 0;
}
