/* TCP traceroute per service port (issue 6, active half; DESIGN.md 7).
 *
 * Why per port: in the jabber.ru interception a TCP traceroute to 5222 showed one hop more than
 * to 22 on the same machine; a path for ICMP or UDP says nothing about where one TCP port goes.
 * So each probe is a real SYN to the service port with a rising IP TTL / IPv6 hop limit.
 *
 * This header gathers the tracer's parts, one concern each:
 *   trace_sock.h   raw sockets, privileges, what is sent (probes/trace_sock.c)
 *   trace_reply.h  reply parsing over capture's decoder (probes/trace_reply.c)
 *   trace_run.h    the probe loop, timing, rounds; the result (probes/trace_run.c)
 *   trace_path.h   paths and their comparison (probes/trace_path.c)
 * The events and the text view of a result are output's: output/ev_trace.h. */
#ifndef PROBE_TRACE_H
#define PROBE_TRACE_H

#include "mw_buf.h"
#include "trace_path.h"
#include "trace_reply.h"
#include "trace_run.h"
#include "trace_sock.h"

/* Transitional, for the layout issue: the builders below are defined in output/ev_trace.c
 * (library mw_output) and declared in output/ev_trace.h. They are repeated here, unchanged,
 * only because probes/probe_sched.c and tests/unit/trace_test.c include this header alone;
 * only targets that link mw_output may call them. Remove this block once both include
 * "ev_trace.h". */
bool trace_event_path(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                      const trace_result *r, unsigned last_n);
bool trace_event_hops_changed(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                              const trace_result *r, unsigned pi, const trace_pathset *set,
                              unsigned last_n, const char *source);
bool trace_text(mw_buf *out, const char *host, const trace_result *r, unsigned last_n);

#endif
