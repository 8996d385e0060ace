/* Merkle tree hashes of a static-ct-api log read from its hash tiles (c2sp.org/static-ct-api,
 * "Merkle Tree"): tile L/N holds, for i in 0..255, MTH(D[(N*256 + i) * 256^L : (N*256 + i + 1)
 * * 256^L]), the rightmost tile of each level partial. From them any subtree hash of the tree
 * of a given size is computed, and so the RFC 6962 2.1.2 consistency proof between an older
 * size and that one: what get-sth-consistency returns for an RFC 6962 log.
 *
 * Tiles come through a fetch callback (HTTP in ct_tiles.c, tables in the unit test) and are
 * kept in a small cache for the life of the reader: one proof touches about two tiles a
 * level. */
#ifndef CT_TILEHASH_H
#define CT_TILEHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_merkle.h"

#define CT_TILE_WIDTH 256
#define CT_TILE_MAX_LEVEL 5 /* "<L> ... MUST be a decimal ASCII integer between 0 and 5" */
/* A consistency path: the RFC 6962 proof plus the first root when first is a power of two */
#define CT_TILE_MAX_PATH (2 * CT_MERKLE_MAX_DEPTH + 1)

/* Fills out with the width hashes (32 bytes each) of tile level/index; width < 256 is the
 * partial tile ".p/<width>". false, with why set, when it cannot. */
typedef bool (*ct_tile_fetch)(void *ud, unsigned level, uint64_t index, unsigned width,
                              uint8_t *out, char *why, size_t whylen);

typedef struct ct_tile_cached ct_tile_cached;

typedef struct {
    uint64_t tree_size; /* the signed tree the tiles belong to */
    ct_tile_fetch fetch;
    void *ud;
    ct_tile_cached *cache;
    size_t next; /* round-robin slot to replace */
    uint64_t fetches;
    char why[256]; /* why the last call failed */
} ct_tilehash;

/* false when out of memory */
bool ct_tilehash_init(ct_tilehash *t, uint64_t tree_size, ct_tile_fetch fetch, void *ud);
void ct_tilehash_free(ct_tilehash *t);

/* MTH(D[a:b]) of the tree, for a range whose left parts are aligned the way RFC 6962 splits a
 * tree: any node of the tree, and any prefix [0, b). false (t->why) when the range is not one
 * of those or a tile could not be had. */
bool ct_tilehash_range(ct_tilehash *t, uint64_t a, uint64_t b, uint8_t out[32]);

/* The consistency path between first (0 < first < tree_size) and tree_size, in the form
 * ct_consistency_roots takes (first's own root prepended when first is a power of two).
 * false (t->why) when a tile could not be had. */
bool ct_tilehash_consistency(ct_tilehash *t, uint64_t first, uint8_t (*path)[32], size_t *len);

#endif
