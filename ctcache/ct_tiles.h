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

/* The note key ID of a log's RFC6962NoteSignature (c2sp.org/static-ct-api, "Checkpoints"):
 * the first four bytes of SHA-256(key name || 0x0A || 0x05 || the 32-byte RFC 6962 LogID). */
void ct_note_key_id(const char *key_name, const uint8_t log_id[32], uint8_t out[4]);

typedef enum {
    CT_CP_OK,
    CT_CP_MALFORMED,    /* not a checkpoint note (truncated, bad lines): worth asking again */
    CT_CP_WRONG_ORIGIN, /* another log's checkpoint: a configuration error, not a fault */
    CT_CP_BAD_SIG,      /* a checkpoint, but no valid signature by the log's key */
} ct_cp_result;

/* Parses a signed-note checkpoint for origin and verifies the RFC6962NoteSignature by key;
 * the reason in why otherwise. */
ct_cp_result ct_tiles_verify_checkpoint(const ct_logkey *key, const char *origin, const char *txt,
                                        size_t len, ct_checkpoint *cp, char *why, size_t whylen);
/* One TileLeaf from c; ts_bytes is its TimestampedEntry (the leaf hash input after the
 * two MerkleTreeLeaf header bytes). */
MW_WUR mw_rc ct_tile_leaf(mw_cur *c, ct_tsentry *te, mw_cur *ts_bytes);

/* The path of a tile below the monitoring prefix: "tile/<L>/<N>[.p/<W>]", or for level
 * CT_TILE_DATA "tile/data/<N>[.p/<W>]"; N in 3-digit elements, all but the last with an x
 * ("x001/x234/067"). width 256 is a full tile. */
#define CT_TILE_DATA (-1)
void ct_tile_path(char *out, size_t n, int level, uint64_t index, unsigned width);

/* The origin a log's checkpoints carry: its submission prefix without the scheme and the
 * trailing slashes (https://rome.ct.example.com/2024h1/ -> rome.ct.example.com/2024h1). */
void ct_tiles_origin(char *out, size_t n, const char *submission_url);

#endif
