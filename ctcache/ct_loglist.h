/* The CT sources of a Google v3 log list (log_list.json, what Chrome ships): every log a
 * monitor can use, RFC 6962 logs ("logs": url) and static-ct-api logs ("tiled_logs":
 * monitoring_url to read, submission_url whose schemeless form is the checkpoint origin),
 * each with its key (base64 DER SubjectPublicKeyInfo, checked against its log_id) and MMD.
 *
 * Usable means the log holds certificates browsers accept: state usable, qualified or
 * readonly (frozen, its SCTs still count). Left out: pending, rejected and retired logs, and
 * temporal shards whose end_exclusive has passed (every certificate in them has expired). */
#ifndef CT_LOGLIST_H
#define CT_LOGLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_sync.h"

typedef struct {
    ct_log_cfg *logs; /* RFC 6962 */
    size_t n_logs;
    ct_log_cfg *tiles; /* static-ct-api */
    size_t n_tiles;
    size_t skipped_state;   /* pending, rejected, retired, or no state */
    size_t skipped_expired; /* shard ended before now */
    size_t skipped_invalid; /* no URL, a key that does not load or does not hash to log_id */
    char **strs;            /* owned strings the cfgs point to */
    size_t n_strs;
} ct_loglist;

/* Reads path; now_s decides which shards have ended. false with err set when the file is not
 * a v3 log list (an OpenSSL CTLOG file carries no URLs to sync from). */
bool ct_loglist_load(const char *path, int64_t now_s, ct_loglist *l, char *err, size_t errlen);
void ct_loglist_free(ct_loglist *l);

#endif
