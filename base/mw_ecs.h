/* The head every mitmwatch event starts with (docs/ARCHITECTURE.md): @timestamp (capture time, RFC 3339
 * with microseconds), ecs.version, event.{kind, category, type, dataset, severity, id},
 * observer.name. It opens the event's object; the caller adds its fields and closes it.
 * event.type is "indicator" for alerts, "protocol" for handshakes and "info" for the rest. */
#ifndef MW_ECS_H
#define MW_ECS_H

#include <stdint.h>

#include "mw_json.h"

/* The ECS release whose field names the events follow. */
#define MW_ECS_VERSION "8.11.0"

void mw_ecs_head(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                 const char *dataset, int severity /* 0: none */);
/* The same with event.outcome ("success", "failure"; NULL: none), for probes. */
void mw_ecs_head_outcome(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                         const char *dataset, int severity, const char *outcome);
/* The same with event.id (NULL: none), for handshakes. */
void mw_ecs_head_id(mw_json *j, const char *observer, uint64_t ts_us, const char *kind,
                    const char *dataset, int severity, const char *outcome, const char *id);

#endif
