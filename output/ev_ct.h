/* The events of `mitmwatch ct` (docs/ARCHITECTURE.md), one JSON object a line like every alert:
 *   probe.failed         a CT source that did not sync (failed, or distrusted since an earlier
 *                        sync); the snapshot keeps its last verified data for it
 *   ct.log_inconsistent  a log whose signed tree contradicted its verified history (RFC 6962
 *                        or static-ct-api alike)
 *   ct.unknown_issuance  from `ct audit`: a cached issuance the known store lacks
 * and the entry object `ct show` prints and the audit alert carries under mitmwatch.ct.
 * The source alerts carry mitmwatch.ct {source, url, log (a log's URL), status, reason,
 * verified_tree_size and tree_size (logs), fetched, watched}. */
#ifndef EV_CT_H
#define EV_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_snapshot.h"
#include "ev_tls.h"
#include "mw_buf.h"
#include "mw_json.h"

typedef struct {
    const char *kind; /* rfc6962, tiles, crtsh, certspotter */
    const char *url;
    const char *status; /* failed, distrusted, inconsistent */
    const char *reason; /* one line */
    bool is_log;        /* rfc6962 or tiles: verified_tree_size is meaningful */
    uint64_t verified_tree_size;
    bool have_tree_size; /* the log's new signed tree head was seen: tree_size */
    uint64_t tree_size;
    uint64_t fetched, watched;
} ev_ct_source;

bool ev_ct_source_failed_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                               const ev_ct_source *s);
bool ev_ct_log_inconsistent_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ev_ct_source *s);
bool ev_ct_unknown_issuance_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                                  const ct_entry_view *e);
/* {"tbs_sha256":..,"cert_sha256":..,"names":[..],"issuer":..,"not_before":..,"not_after":..,
 *  "source":..,"log_id":..,"index":..,"timestamp":..,"precert":..} */
void ev_ct_entry(mw_json *j, const ct_entry_view *e);

#endif
