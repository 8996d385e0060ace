/* static-ct-api pieces that parse untrusted bytes, exposed for tests and fuzzing. */
#ifndef CT_TILES_H
#define CT_TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_log.h"
#include "mw_cursor.h"
#include "mw_result.h"

typedef struct {
    uint64_t size, timestamp;
    uint8_t root[32];
} ct_checkpoint;

/* Parses a signed-note checkpoint for origin and verifies one RFC6962NoteSignature by key;
 * false with a reason in why otherwise. */
bool ct_tiles_verify_checkpoint(const ct_logkey *key, const char *origin, const char *txt,
                                size_t len, ct_checkpoint *cp, char *why, size_t whylen);
/* One TileLeaf from c; ts_bytes is its TimestampedEntry (the leaf hash input after the
 * two MerkleTreeLeaf header bytes). */
MW_WUR mw_rc ct_tile_leaf(mw_cur *c, ct_tsentry *te, mw_cur *ts_bytes);

#endif
