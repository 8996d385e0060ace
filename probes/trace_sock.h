/* The tracer's sockets and privileges (docs/ARCHITECTURE.md): raw sockets opened once, before
 * privileges are dropped, and what goes out on them.
 *
 * Sockets, and why (all opened once by trace_sockets_open, before privileges are dropped):
 *  - IPv4 send and TCP receive: a raw IPPROTO_TCP socket with IP_TTL set before each probe. The
 *    kernel writes the IP header (routing, ID, DF) and we write only TCP; IP_HDRINCL would buy
 *    control of the IP ID, which matching does not need. The source address is pinned per
 *    packet with IP_PKTINFO so the checksum we compute over the pseudo header stays right.
 *  - IPv6 send and TCP receive: a raw IPPROTO_TCP socket with IPV6_UNICAST_HOPS per probe and
 *    IPV6_CHECKSUM at offset 16: IPv6 raw sockets never carry the IP header (without the
 *    non-portable IPV6_HDRINCL), so the kernel, which knows the source it picked, fills the
 *    checksum. The source is still pinned with IPV6_PKTINFO.
 *  - ICMP and ICMPv6 raw sockets for time-exceeded and destination-unreachable, filtered in the
 *    kernel to those types (ICMP_FILTER / ICMP6_FILTER).
 * The raw TCP sockets see every TCP segment the host receives; only those whose ports and
 * acknowledgement number match an outstanding probe count.
 *
 * Half-open cleanup: the local source port of each traced port is reserved by binding (never
 * connecting or listening) an ordinary TCP socket to it (trace_sock_reserve). No socket owns a
 * connection on that port, so the kernel itself answers any SYN-ACK with RST (the "no socket"
 * path of tcp_v4_rcv / tcp_v6_rcv), and nothing else on the host can be handed the port
 * meanwhile. We do not rely on that alone: a local firewall may drop the kernel's reset, so
 * every SYN-ACK is also answered by our own RST (seq = its ack) sent through the raw socket
 * with TTL/hop limit TRACE_RST_TTL, which also tells our resets apart from the kernel's (TTL
 * 64) on the wire. */
#ifndef TRACE_SOCK_H
#define TRACE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"

#define TRACE_RST_TTL 255

typedef struct {
    int tcp4, icmp4, tcp6, icmp6; /* -1 when not open */
    int err4, err6;               /* errno of a failed open (0 when open) */
} trace_sockets;

/* Opens the four raw sockets. MW_OK when at least one family works; MW_ERR otherwise (errno of
 * the IPv4 failure in err4: EPERM means no CAP_NET_RAW). A family whose sockets failed can
 * still be used by nothing: trace_run reports it. */
MW_WUR mw_rc trace_sockets_open(trace_sockets *s);
void trace_sockets_close(trace_sockets *s);
/* True when errno values say the failure was a missing privilege. */
bool trace_sockets_denied(const trace_sockets *s);

/* Drops privileges once the raw sockets are open: as root, to user (NULL: "nobody", or uid/gid
 * 65534 when that user is unknown; a set-user-ID root program goes back to its real user) with
 * no supplementary groups; in every case clears all
 * capabilities (effective, permitted, inheritable, ambient) and sets no_new_privs. Checks the
 * outcome and fails rather than continue privileged. err gets a sentence on failure. */
MW_WUR mw_rc trace_drop_privileges(const char *user, char *err, size_t errlen);

/* Builds a 20-byte TCP header (no options) with flags, checksum over the IPv4 pseudo header
 * when src/dst are given (family AF_INET), or 0 for IPv6 (the kernel fills it). */
void trace_build_tcp(uint8_t out[20], int family, const uint8_t *src, const uint8_t *dst,
                     uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags);

/* Sends one such header from src to dst on the family's raw TCP socket with the given TTL /
 * hop limit, the source pinned (IP_PKTINFO / IPV6_PKTINFO). err gets a sentence on failure. */
MW_WUR mw_rc trace_sock_send(const trace_sockets *s, int family, const uint8_t *src,
                             const uint8_t *dst, uint16_t sport, uint16_t dport, uint32_t seq,
                             uint8_t flags, int ttl, char *err, size_t errlen);

/* The source address the kernel would use towards dst (a connected UDP socket sends nothing),
 * so that the IPv4 checksum can be computed and every probe leaves from it. Writes 4 or 16
 * bytes of src. MW_ERR (err says why) when there is no route. */
MW_WUR mw_rc trace_sock_source(int family, const uint8_t *dst, uint16_t port, uint8_t *src,
                               char *err, size_t errlen);

/* Reserves a local port on src: an ordinary TCP socket bound, never connected or listening,
 * so that the kernel resets any SYN-ACK to it and hands it to nobody else while the trace
 * runs. *fd (to close afterwards) and *lport set on MW_OK. */
MW_WUR mw_rc trace_sock_reserve(int family, const uint8_t *src, int *fd, uint16_t *lport, char *err,
                                size_t errlen);

#endif
