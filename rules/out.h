/* Event records and their sinks.
 *
 * An event is one JSON object (one line, no newline inside) plus the routing facts sinks filter
 * on. Producers build the JSON with mw_json and call out_emit; the sinks own delivery. The
 * packet path never blocks here: file/stdout writes are buffered, network sinks queue. */
#ifndef OUT_H
#define OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum out_kind { OUT_KIND_EVENT, OUT_KIND_ALERT, OUT_KIND_METRIC };

typedef struct {
    const char *json; /* one JSON object, no trailing newline */
    size_t len;
    enum out_kind kind;
    const char *dataset; /* "mitmwatch.tls", "mitmwatch.alert", ... */
    int severity;        /* alerts: 1 low .. 4 critical; else 0 */
    const char *rule_id; /* alerts only, else NULL */
} out_event;

typedef struct out_set out_set;

out_set *out_set_new(void);
/* Adds a JSON-lines sink writing to path ("-" = stdout). Returns false with err filled. */
bool out_add_file(out_set *o, const char *path, char *err, size_t errlen);
void out_emit(out_set *o, const out_event *ev);
/* Reopens files (SIGHUP, logrotate). */
void out_reopen(out_set *o);
/* Flushes every sink (bounded time for network sinks). */
void out_flush(out_set *o);
/* Flushes and frees. */
void out_set_free(out_set *o);
uint64_t out_events_written(const out_set *o);

#endif
