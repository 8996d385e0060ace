/* "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 literal (two or more ':'), as the command
 * line gives a target. */
#ifndef MW_HOSTPORT_H
#define MW_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"

/* Splits s into host (NUL-terminated, brackets removed) and *port; *port is left unchanged
 * when s has none. MW_MALFORMED for an empty host, a host longer than host_cap - 1, an
 * unclosed bracket, or a port outside 1..65535. */
MW_WUR mw_rc mw_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port);

#endif
