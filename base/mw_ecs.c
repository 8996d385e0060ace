#include "mw_ecs.h"

#include <string.h>

#include "mw_encode.h"

void mw_ecs_head(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                 const char *dataset, int severity) {
    mw_ecs_head_outcome(j, observer, ts_us, kind, dataset, severity, NULL);
}

void mw_ecs_head_outcome(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                         const char *dataset, int severity, const char *outcome) {
    mw_ecs_head_id(j, observer, ts_us, kind, dataset, severity, outcome, NULL);
}

void mw_ecs_head_id(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                    const char *dataset, int severity, const char *outcome, const char *id) {
    char ts[MW_TS_LEN];
    mw_ts_us(ts, ts_us);
    mw_json_obj_begin(j);
    mw_json_kstr(j, "@timestamp", ts);
    mw_json_kobj(j, "ecs");
    mw_json_kstr(j, "version", MW_ECS_VERSION);
    mw_json_obj_end(j);
    mw_json_kobj(j, "event");
    if (id) mw_json_kstr(j, "id", id);
    mw_json_kstr(j, "kind", kind);
    mw_json_karr(j, "category");
    mw_json_str(j, "network");
    mw_json_arr_end(j);
    mw_json_karr(j, "type");
    mw_json_str(j, strcmp(kind, "alert") == 0              ? "indicator"
                   : strcmp(dataset, "mitmwatch.tls") == 0 ? "protocol"
                                                           : "info");
    mw_json_arr_end(j);
    mw_json_kstr(j, "dataset", dataset);
    if (severity > 0) mw_json_kint(j, "severity", severity);
    if (outcome) mw_json_kstr(j, "outcome", outcome);
    mw_json_obj_end(j);
    mw_json_kobj(j, "observer");
    mw_json_kstr(j, "name", observer ? observer : "mitmwatch");
    mw_json_obj_end(j);
}
