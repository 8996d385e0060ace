/* The events of a TCP traceroute (docs/ARCHITECTURE.md) and its text view: the mitmwatch.path event
 * of one trace, the path.hops_changed alert of one port, and the traceroute-like text that
 * `mitmwatch probe trace` prints without --json. They render probes/trace_run.h's result; the
 * names are the ones these builders had in probes/probe_trace.h. */
#ifndef EV_TRACE_H
#define EV_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_buf.h"
#include "trace_path.h"
#include "trace_run.h"

/* "star", "time-exceeded", "unreachable", "syn-ack", "rst" (trace_hop_kind); "?" otherwise. */
const char *trace_hop_kind_name(unsigned kind);
/* The mitmwatch.path event (one JSON object, no newline): ECS head, destination, and
 * mitmwatch.path.{ports:[{port, source_port, reached, final, hop_count, hops:[...], path:[...]}],
 * last_n, ports_differ, differences}. False when it did not fit out's cap. */
bool trace_event_path(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                      const trace_result *r, unsigned last_n);
/* The path.hops_changed alert for port index pi of r against set. source ("configured",
 * "learned") goes into mitmwatch.path.source and the message; NULL leaves it out. */
bool trace_event_hops_changed(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                              const trace_result *r, unsigned pi, const trace_pathset *set,
                              unsigned last_n, const char *source);
/* Human-readable: one block per port, traceroute-like, then a line per port difference. */
bool trace_text(mw_buf *out, const char *host, const trace_result *r, unsigned last_n);

#endif
