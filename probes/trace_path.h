/* Paths and their comparison (docs/ARCHITECTURE.md): a traced port's result as the list of hops that
 * answered, the configured or learned acceptable paths, and the last-N-hops comparison that
 * raises path.hops_changed (jabber.ru's extra hop showed on 5222 only, so ports are also
 * compared with each other). */
#ifndef TRACE_PATH_H
#define TRACE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"
#include "trace_run.h"

#define TRACE_DEFAULT_LAST_N 3
#define TRACE_ADDR_STR 46 /* INET6_ADDRSTRLEN */

/* A path as compared: one address string per TTL, "*" for a star (and, in an expectation, a
 * wildcard). The target itself is the last element when it was reached. */
#define TRACE_PATH_MAX TRACE_MAX_TTL
typedef struct {
    unsigned n;
    char hop[TRACE_PATH_MAX][TRACE_ADDR_STR];
} trace_path;

#define TRACE_SET_MAX 8
/* Acceptable paths for one port (port 0: every port), configured or learned. */
typedef struct {
    uint16_t port;
    unsigned n;
    trace_path paths[TRACE_SET_MAX];
} trace_pathset;

/* An address of family (4 or 16 bytes) in its canonical inet_ntop form; "?" if it has none. */
void trace_addr_str(int family, const uint8_t *a, char out[TRACE_ADDR_STR]);
/* The compared form of one port's result. */
void trace_path_of(const trace_result *r, unsigned port_idx, trace_path *out);
/* Parses "A,B,C" (addresses or "*"); MW_MALFORMED names nothing, the caller does. An address
 * is kept in its canonical inet_ntop form so "2001:DB8::1" equals "2001:db8::1". */
MW_WUR mw_rc trace_path_parse(const char *s, trace_path *out);
/* One hop of n bytes (no NUL needed): "*" or an IPv4/IPv6 address, written canonical. */
MW_WUR mw_rc trace_hop_parse(const char *s, size_t n, char out[TRACE_ADDR_STR]);
/* Adds p unless an equal path is there (learning). MW_ERR when full. */
MW_WUR mw_rc trace_pathset_add(trace_pathset *set, const trace_path *p);

/* True when the last n hops of observed equal the last n hops of at least one path in set
 * ('*' in an expected path matches anything; a star observed matches only '*'). n = 0 compares
 * whole paths. A path shorter than n is compared whole, and then the lengths must agree, so an
 * extra hop is always a difference. An empty set accepts everything. */
bool trace_compare(const trace_pathset *set, const trace_path *observed, unsigned n);

/* Per-port differences for one host: pairs (i, j) of result ports whose last n hops differ.
 * Returns how many pairs were written (at most cap). */
unsigned trace_port_differences(const trace_result *r, unsigned n, unsigned (*pairs)[2],
                                unsigned cap);

#endif
