/* The ctcache: entries for watched names keyed by TBS SHA-256, and the per-source sync state.
 *
 * Two forms. ct_store is the mutable, owning form `ct sync` builds and writes. ct_snapshot
 * is the read-only form a sensor loads: the file is mapped read-only, decoded by msgpack-c
 * into views that point into the mapping, and indexed by an open-addressing table so that
 * ct_snapshot_lookup() is O(1). A snapshot is a plain file: one central `ct sync` can serve
 * many sensors by copying it.
 *
 * File format (msgpack, version 1): a map
 *   format: "mitmwatch-ctcache", version: 1, created: unix seconds,
 *   sources: [ {kind, url, key, log_id, tree_size, root_hash, sth_timestamp, next_index,
 *               frontier: [bin32...], after, distrusted, reason, mmd} ],
 *   entries: [ {tbs_sha256: bin32, cert_sha256: bin32|nil, names: [str], issuer: str,
 *               not_before: int, not_after: int, source: str, log_id: bin32|nil,
 *               index: uint, timestamp: uint (ms), precert: bool} ]
 * source/log_id/index/timestamp are those of the first sighting; precert is true when a
 * precertificate of the issuance was seen, cert_sha256 is set once a final certificate was.
 * Precertificate and final certificate share a TBS hash and are one entry (one issuance). */
#ifndef CT_SNAPSHOT_H
#define CT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ct_merkle.h"
#include "mw_result.h"

#define CT_SNAPSHOT_VERSION 1
#define CT_SNAPSHOT_MAX_BYTES ((size_t)1 << 32)

typedef struct {
    const char *p;
    uint32_t n;
} ct_str;

/* A view of one entry; pointers into the snapshot (or the store) that owns it. */
typedef struct {
    const uint8_t *tbs;    /* 32 bytes */
    const uint8_t *cert;   /* 32 bytes, NULL when only a precertificate is known */
    const uint8_t *log_id; /* 32 bytes, NULL for sources without one */
    const ct_str *names;
    uint32_t n_names;
    ct_str issuer, source;
    int64_t not_before, not_after;
    uint64_t index, timestamp_ms;
    bool precert;
} ct_entry_view;

/* An owned entry as `ct sync` builds it. */
typedef struct {
    uint8_t tbs[32], cert[32], log_id[32];
    bool has_cert, has_log_id, precert;
    char **names;
    uint32_t n_names;
    char *issuer, *source;
    int64_t not_before, not_after;
    uint64_t index, timestamp_ms;
} ct_entry;

void ct_entry_clear(ct_entry *e);

/* Per-source sync state. For RFC 6962 and tiled logs: the last verified tree head and the
 * compact range of the leaves checked so far (a resumable position); for Cert Spotter the
 * paging cursor per queried domain (key). */
typedef struct {
    char *kind, *url, *key, *after, *reason;
    uint8_t log_id[32];
    bool has_log_id, distrusted;
    uint64_t tree_size, sth_timestamp, mmd_s;
    uint8_t root_hash[32];
    ct_frontier frontier; /* frontier.size = next index to fetch */
} ct_source_state;

void ct_source_state_clear(ct_source_state *s);

typedef struct {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    uint32_t mask;
} ct_index;

typedef struct {
    ct_entry *v;
    size_t n, cap;
    ct_index idx;
    ct_source_state *src;
    size_t n_src;
} ct_store;

void ct_store_init(ct_store *s);
void ct_store_free(ct_store *s);
ct_entry *ct_store_find(ct_store *s, const uint8_t tbs[32]);
/* Takes ownership of e's contents. When the TBS is already there the entries merge (a final
 * certificate adds its cert_sha256 to its precertificate's entry) and *is_new is false. */
MW_WUR mw_rc ct_store_put(ct_store *s, ct_entry *e, bool *is_new);
/* The state for (kind, url, key), created empty when absent; NULL on allocation failure. */
ct_source_state *ct_store_source(ct_store *s, const char *kind, const char *url, const char *key);
/* Writes atomically: a temporary file in the same folder, fsync, rename, fsync the folder. */
MW_WUR mw_rc ct_store_write(const ct_store *s, const char *path, int64_t created);

typedef struct ct_snapshot ct_snapshot;

/* Loads and validates a snapshot; NULL with a message in err on any defect (truncated,
 * wrong version, malformed entry): a bad file is never half used. */
ct_snapshot *ct_snapshot_load(const char *path, char *err, size_t errlen);
void ct_snapshot_free(ct_snapshot *s);
size_t ct_snapshot_count(const ct_snapshot *s);
int64_t ct_snapshot_created(const ct_snapshot *s);
const ct_entry_view *ct_snapshot_entry(const ct_snapshot *s, size_t i);
const ct_entry_view *ct_snapshot_lookup(const ct_snapshot *s, const uint8_t tbs[32]);
bool ct_snapshot_has(const ct_snapshot *s, const uint8_t tbs[32]);
size_t ct_snapshot_source_count(const ct_snapshot *s);
const ct_source_state *ct_snapshot_source(const ct_snapshot *s, size_t i);
/* Copies everything into a store, for an incremental sync. */
MW_WUR mw_rc ct_store_from_snapshot(ct_store *st, const ct_snapshot *s);

/* The largest maximum merge delay among the snapshot's log sources (seconds); the default
 * when none recorded one. */
uint64_t ct_snapshot_max_mmd(const ct_snapshot *s, uint64_t dflt);

typedef enum {
    CT_CHECK_LOGGED,    /* the snapshot holds this TBS hash */
    CT_CHECK_NOT_IN_CT, /* absent, and old enough that the logs had to include it */
    CT_CHECK_GRACE,     /* absent, but issued less than the merge delay before the sync */
    CT_CHECK_NO_SNAPSHOT,
} ct_check;

/* The cert.not_in_ct decision for a presented certificate of a watched name. issued_s is
 * the certificate's notBefore (or its newest SCT timestamp when later): a certificate logged
 * after the snapshot was taken minus the merge delay cannot be expected in it yet. */
ct_check ct_snapshot_check(const ct_snapshot *s, const uint8_t tbs[32], int64_t issued_s,
                           uint64_t mmd_s);

/* Reload-on-change for the sensor: remembers the file's identity (device, inode, size,
 * mtime) and loads a new snapshot when it differs. The caller swaps the pointer it uses and
 * frees the old snapshot once no reader holds it. */
typedef struct {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    bool have;
} ct_reloader;

void ct_reloader_init(ct_reloader *r, const char *path);
void ct_reloader_free(ct_reloader *r);
/* Returns a newly loaded snapshot when the file changed since the last successful load
 * (or force is set, e.g. on SIGHUP), NULL when unchanged or when the new file is bad (err
 * says why; keep using the current snapshot). */
ct_snapshot *ct_reloader_check(ct_reloader *r, bool force, char *err, size_t errlen);

#endif
