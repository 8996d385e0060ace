/* The head every mitmwatch event starts with (DESIGN.md 3): @timestamp (capture time, RFC 3339
 * with microseconds), event.{kind, category, type, dataset, severity}, observer.name. It opens
 * the event's object; the caller adds its fields and closes it. event.type is "indicator" for
 * alerts, "protocol" for handshakes and "info" for the rest. */
#ifndef MW_ECS_H
#define MW_ECS_H

#include <stdint.h>

#include "mw_json.h"

void mw_ecs_head(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                 const char *dataset, int severity /* 0: none */);
/* The same with event.outcome ("success", "failure"; NULL: none), for probes. */
void mw_ecs_head_outcome(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                         const char *dataset, int severity, const char *outcome);

#endif
