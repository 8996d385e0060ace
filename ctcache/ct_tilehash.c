#include "ct_tilehash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 16

struct ct_tile_cached {
    bool used;
    unsigned level, width;
    uint64_t index;
    uint8_t h[CT_TILE_WIDTH][32];
};

bool ct_tilehash_init(ct_tilehash *t, uint64_t tree_size, ct_tile_fetch fetch, void *ud) {
    memset(t, 0, sizeof *t);
    t->tree_size = tree_size;
    t->fetch = fetch;
    t->ud = ud;
    t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);
    return t->cache != NULL;
}

void ct_tilehash_free(ct_tilehash *t) {
    free(t->cache);
    memset(t, 0, sizeof *t);
}

/* The tile of level holding hash number idx of that level, for this tree size: full when the
 * tree has all 256 of its hashes, else partial with the ones it has. */
static const ct_tile_cached *tile(ct_tilehash *t, unsigned level, uint64_t idx) {
    uint64_t index = idx / CT_TILE_WIDTH;
    uint64_t have = t->tree_size >> (8 * level); /* hashes of this level in the tree */
    uint64_t first = index * CT_TILE_WIDTH;
    if (idx >= have) {
        snprintf(t->why, sizeof t->why, "hash %llu of level %u is beyond the tree",
                 (unsigned long long)idx, level);
        return NULL;
    }
    unsigned width = have - first >= CT_TILE_WIDTH ? CT_TILE_WIDTH : (unsigned)(have - first);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        const ct_tile_cached *c = &t->cache[i];
        if (c->used && c->level == level && c->index == index && c->width == width) return c;
    }
    ct_tile_cached *c = &t->cache[t->next];
    t->next = (t->next + 1) % CACHE_SLOTS;
    c->used = false;
    t->fetches++;
    if (!t->fetch(t->ud, level, index, width, &c->h[0][0], t->why, sizeof t->why)) return NULL;
    c->used = true;
    c->level = level;
    c->index = index;
    c->width = width;
    return c;
}

/* MTH of the perfect subtree [o, o + 2^k), o a multiple of 2^k: 2^(k - 8L) consecutive hashes
 * of level L = k / 8, all in one tile, folded pairwise. */
static bool perfect(ct_tilehash *t, uint64_t o, unsigned k, uint8_t out[32]) {
    unsigned level = k / 8 > CT_TILE_MAX_LEVEL ? CT_TILE_MAX_LEVEL : k / 8;
    unsigned span = k - 8 * level; /* 2^span hashes of that level */
    if (span > 8 || (o & ((UINT64_C(1) << k) - 1)) != 0) {
        snprintf(t->why, sizeof t->why, "subtree at %llu of 2^%u leaves is not aligned",
                 (unsigned long long)o, k);
        return false;
    }
    uint64_t idx = o >> (8 * level);
    size_t cnt = (size_t)1 << span;
    if (cnt > CT_TILE_WIDTH) { /* only past level 5: 2^48 leaves */
        snprintf(t->why, sizeof t->why, "tree too large for level-%u tiles", level);
        return false;
    }
    const ct_tile_cached *c = tile(t, level, idx + cnt - 1);
    if (!c) return false;
    size_t pos = (size_t)(idx % CT_TILE_WIDTH);
    uint8_t(*h)[32] = malloc(cnt * 32);
    if (!h) {
        snprintf(t->why, sizeof t->why, "out of memory");
        return false;
    }
    memcpy(h, c->h[pos], cnt * 32);
    for (size_t n = cnt; n > 1; n /= 2)
        for (size_t i = 0; i < n / 2; i++)
            ct_node_hash(h[2 * i], h[2 * i + 1], h[i]);
    memcpy(out, h[0], 32);
    free(h);
    return true;
}

static uint64_t largest_pow2_below(uint64_t n) { /* n >= 2 */
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

bool ct_tilehash_range(ct_tilehash *t, uint64_t a, uint64_t b, uint8_t out[32]) {
    if (a >= b || b > t->tree_size) {
        snprintf(t->why, sizeof t->why, "range %llu..%llu is not in a tree of %llu",
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)t->tree_size);
        return false;
    }
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0) {
        unsigned k = 0;
        while ((UINT64_C(1) << k) < n)
            k++;
        return perfect(t, a, k, out);
    }
    /* RFC 6962 2.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) */
    uint64_t k = largest_pow2_below(n);
    uint8_t l[32], r[32];
    if (!ct_tilehash_range(t, a, a + k, l) || !ct_tilehash_range(t, a + k, b, r)) return false;
    ct_node_hash(l, r, out);
    return true;
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[a:b], flag), appended to path */
static bool subproof(ct_tilehash *t, uint64_t m, uint64_t a, uint64_t b, bool flag,
                     uint8_t (*path)[32], size_t *len) {
    if (*len >= CT_TILE_MAX_PATH) {
        snprintf(t->why, sizeof t->why, "consistency path too long");
        return false;
    }
    if (m == b - a) {
        if (flag) return true;
        return ct_tilehash_range(t, a, b, path[(*len)++]);
    }
    uint64_t k = largest_pow2_below(b - a);
    if (m <= k) {
        if (!subproof(t, m, a, a + k, flag, path, len)) return false;
        if (*len >= CT_TILE_MAX_PATH) return false;
        return ct_tilehash_range(t, a + k, b, path[(*len)++]);
    }
    if (!subproof(t, m - k, a + k, b, false, path, len)) return false;
    if (*len >= CT_TILE_MAX_PATH) return false;
    return ct_tilehash_range(t, a, a + k, path[(*len)++]);
}

bool ct_tilehash_consistency(ct_tilehash *t, uint64_t first, uint8_t (*path)[32], size_t *len) {
    *len = 0;
    if (first == 0 || first >= t->tree_size) {
        snprintf(t->why, sizeof t->why, "no consistency proof from %llu to %llu",
                 (unsigned long long)first, (unsigned long long)t->tree_size);
        return false;
    }
    /* RFC 9162 2.1.4.2 step 2: with first a power of two the proof leaves out first's root,
     * which the verifier holds; here it comes from the tiles, so that sr authenticates it
     * too and a different fr proves a fork rather than a bad tile. */
    if ((first & (first - 1)) == 0 && !ct_tilehash_range(t, 0, first, path[(*len)++])) return false;
    return subproof(t, first, 0, t->tree_size, true, path, len);
}
