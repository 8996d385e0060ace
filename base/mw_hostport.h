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

#define MW_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
/* An address as inet_ntop writes it: IPv4 (ip_ver 4, 4 bytes) in dotted decimal without printf
 * (every handshake event names two), IPv6 (16 bytes) by inet_ntop. Returns out. */
char *mw_addr_str(int ip_ver, const uint8_t *addr, char out[MW_ADDR_STRLEN]);
/* "ADDR:PORT", or "[ADDR]:PORT" for IPv6, truncated to n - 1 characters. Returns out. */
char *mw_addr_port_str(int ip_ver, const uint8_t *addr, uint16_t port, char *out, size_t n);

#endif
