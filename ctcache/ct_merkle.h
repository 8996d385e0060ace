/* Merkle tree hashing of RFC 6962 section 2.1 (= RFC 9162 2.1.1).
 *
 * A log's entries are checked without keeping them: the compact range ("frontier") holds the
 * roots of the perfect subtrees covering leaves [0, size), at most 64 hashes, so leaves can be
 * appended batch by batch, persisted between syncs, and the tree head of any size computed
 * and compared with a signed tree head. */
#ifndef CT_MERKLE_H
#define CT_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_MERKLE_MAX_DEPTH 64

typedef struct {
    uint64_t size;                      /* leaves appended so far */
    uint8_t h[CT_MERKLE_MAX_DEPTH][32]; /* h[k] valid when bit k of size is set */
} ct_frontier;

/* MTH({d}) = SHA-256(0x00 || d) */
void ct_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[32]);
/* SHA-256(0x01 || l || r) */
void ct_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]);

void ct_frontier_init(ct_frontier *f);
void ct_frontier_append(ct_frontier *f, const uint8_t leaf_hash[32]);
/* The tree head over the leaves so far; MTH({}) = SHA-256("") for an empty tree. */
void ct_frontier_root(const ct_frontier *f, uint8_t out[32]);

/* Verifies a consistency proof between tree heads of sizes first <= second
 * (RFC 9162 2.1.4.2; proofs as RFC 6962 2.1.2 builds them). first == 0 is trivially
 * consistent (RFC 6962 leaves it undefined: nothing to check). */
bool ct_verify_consistency(uint64_t first, uint64_t second, const uint8_t first_hash[32],
                           const uint8_t second_hash[32], const uint8_t (*proof)[32],
                           size_t proof_len);

/* The two roots a consistency path recomputes (RFC 9162 2.1.4.2): fr for the first tree, sr
 * for the second. path is the proof with the first tree's root prepended when first is a power
 * of two (so path[0] always seeds both). Every element goes into sr, fr uses a subset: when sr
 * equals a signed root, all elements are authenticated and fr is what the signed tree holds at
 * size first. false when the path cannot be a proof between these sizes. */
bool ct_consistency_roots(uint64_t first, uint64_t second, const uint8_t (*path)[32],
                          size_t path_len, uint8_t fr[32], uint8_t sr[32]);

#endif
