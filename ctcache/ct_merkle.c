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

bool ct_verify_consistency(uint64_t first, uint64_t second, const uint8_t first_hash[32],
                           const uint8_t second_hash[32], const uint8_t (*proof)[32],
                           size_t proof_len) {
    if (first > second) return false;
    if (first == 0) return proof_len == 0;
    if (first == second) return proof_len == 0 && memcmp(first_hash, second_hash, 32) == 0;
    if (proof_len == 0) return false;
    /* RFC 9162 2.1.4.2, step by step. */
    bool pow2 = (first & (first - 1)) == 0;
    size_t n = proof_len + (pow2 ? 1 : 0);
    if (proof_len > 2 * CT_MERKLE_MAX_DEPTH) return false;
    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    const uint8_t *p0 = pow2 ? first_hash : proof[0];
    memcpy(fr, p0, 32);
    memcpy(sr, p0, 32);
    for (size_t i = 1; i < n; i++) {
        const uint8_t *c = proof[pow2 ? i - 1 : i];
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
    return sn == 0 && memcmp(fr, first_hash, 32) == 0 && memcmp(sr, second_hash, 32) == 0;
}
