#include "ct_sync.h"

#include <stdio.h>
#include <string.h>

void ct_sync_tiles(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r) {
    (void)x;
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "tiles");
    snprintf(r->url, sizeof r->url, "%s", log->url);
    ct_src_fail(r, CT_SRC_FAILED, "static-ct-api tiles: not implemented yet");
}
