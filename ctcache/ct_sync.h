/* `ct sync`: configuration and per-source outcome.
 *
 * ct_config is the ctcache's own view of the policy; the command line fills it today, the
 * YAML policy layer maps onto it later. Each source syncs into the store independently: a
 * source that fails leaves its previous entries and state untouched. */
#ifndef CT_SYNC_H
#define CT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_http.h"
#include "ct_log.h"
#include "ct_merkle.h"
#include "ct_names.h"
#include "ct_snapshot.h"
#include "ct_stats.h"

typedef struct {
    const char *url;    /* RFC 6962: log base URL; tiles: monitoring prefix */
    const char *key;    /* the log's public key, as ct_logkey_load takes it (ct_log.h) */
    const char *origin; /* tiles: checkpoint origin / note key name; NULL = from the URL */
    uint64_t mmd_s;     /* maximum merge delay; 0 = ct_config.default_mmd_s */
} ct_log_cfg;

typedef struct {
    ct_watchlist watch;
    ct_log_cfg *logs;
    size_t n_logs;
    ct_log_cfg *tiles;
    size_t n_tiles;
    const char **crtsh;
    size_t n_crtsh;
    const char **certspotter;
    size_t n_certspotter;
    const char *certspotter_key;
    const char *ctcache;     /* snapshot path */
    const char **known_dirs; /* known-certificate stores */
    size_t n_known_dirs;
    const char *ack_file; /* acknowledged TBS hashes, one hex a line */
    ct_http_opts http;
    uint32_t batch;      /* get-entries batch size */
    uint64_t checkpoint; /* entries between verified, persisted checkpoints */
    uint64_t default_mmd_s;
    bool progress; /* progress line on a terminal */
} ct_config;

void ct_config_init(ct_config *c);
void ct_config_free(ct_config *c);

typedef enum {
    CT_SRC_OK,
    CT_SRC_FAILED,       /* transient or malformed: keep the last good state, retry next time */
    CT_SRC_INCONSISTENT, /* the log contradicted its own history: distrusted from now on */
    CT_SRC_DISTRUSTED,   /* distrusted by an earlier sync: skipped */
} ct_src_status;

typedef struct {
    ct_src_status status;
    char kind[16];
    char url[512];
    char message[512];
    uint64_t old_size, new_size, fetched, watched;
    bool have_new; /* a log's new signed tree head was verified: new_size is its size */
} ct_src_result;

/* Everything a source sync needs. write_checkpoint persists the store (atomic snapshot)
 * between batches so that an interrupted sync resumes where it was. */
typedef struct {
    const ct_config *cfg;
    ct_store *store;
    ct_http *http;
    ct_stats *st;
    mw_buf *resp; /* reused response buffer (capped) */
    int64_t now;
    bool dirty; /* the store or a source state changed: the snapshot must be written */
    bool (*write_checkpoint)(void *ud);
    void *ud;
} ct_sync_ctx;

void ct_sync_rfc6962(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r);
void ct_sync_tiles(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r);
void ct_sync_crtsh(ct_sync_ctx *x, const char *base, ct_src_result *r);
void ct_sync_certspotter(ct_sync_ctx *x, const char *base, ct_src_result *r);

/* Progress on a terminal: "\r<label> <done>/<total>"; silent when not enabled. */
void ct_progress(const ct_sync_ctx *x, const char *label, uint64_t done, uint64_t total);
void ct_progress_end(const ct_sync_ctx *x);

/* Shared by the JSON sources: GET url and parse the body as JSON (jansson); a body that does
 * not parse (truncated, an error page) is counted in json_malformed and asked for again like a
 * 503. NULL on any failure, with r->message set and the failure counted. */
struct json_t;
struct json_t *ct_get_json(ct_sync_ctx *x, const char *url, const char *bearer, ct_src_result *r);
void ct_src_fail(ct_src_result *r, ct_src_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The start every log source (RFC 6962, tiles) shares: fills r's kind and url and source
 * ("kind:url"), finds the log's persisted state and loads its key. NULL, with r failed, when
 * out of memory, when the log was distrusted by an earlier sync, or when the key does not load
 * (*key is then not loaded). */
ct_source_state *ct_src_begin(ct_sync_ctx *x, const char *kind, const ct_log_cfg *log,
                              ct_src_result *r, char *source, size_t srclen, ct_logkey *key);
/* The log contradicted its own signed history (a smaller tree, another root at the same size,
 * a proven fork): r becomes CT_SRC_INCONSISTENT with why, and the log is distrusted in the
 * snapshot for good. Every log kind ends up here, so `ct sync` alerts ct.log_inconsistent and
 * exits 2 the same way for all. */
void ct_src_distrust(ct_sync_ctx *x, ct_source_state *ss, ct_src_result *r, const char *why);

/* Entries of watched names read from a log but not yet proven part of its signed tree. */
typedef struct {
    ct_entry *v;
    size_t n, cap;
} ct_staged;

/* Takes e's contents (e is left empty); false when out of memory (e is untouched). */
bool ct_staged_push(ct_staged *s, ct_entry *e);
/* Commits every staged entry into the store (r->watched counts them), leaving s empty;
 * false when out of memory. */
bool ct_staged_commit(ct_sync_ctx *x, ct_staged *s, ct_src_result *r);
void ct_staged_free(ct_staged *s);
/* Makes verified progress durable: the staged entries into the store, the source's frontier
 * moved to work, and, when more of the tree remains, a checkpoint snapshot. False, with r
 * failed, when it could not. */
bool ct_sync_commit(ct_sync_ctx *x, ct_staged *stg, ct_frontier *frontier, const ct_frontier *work,
                    bool more, ct_src_result *r);

#endif
