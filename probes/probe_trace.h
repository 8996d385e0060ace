/* TCP traceroute per service port (the active half of path watching; docs/ARCHITECTURE.md).
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

#include "trace_path.h"
#include "trace_reply.h"
#include "trace_run.h"
#include "trace_sock.h"

#endif
