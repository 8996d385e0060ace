/* What the tracer reads back: ICMP time-exceeded / destination-unreachable quoting one of our
 * SYNs, and the target's SYN-ACK or RST (docs/ARCHITECTURE.md). Pure functions over the bytes a raw
 * socket returns; the headers are decoded by capture's decoder (cap_decode.h), so every read
 * is bounded through mw_cursor. The unit tests and tests/fuzz/fuzz_trace_reply.c drive them
 * directly.
 *
 * Probes are told apart by the TCP sequence number alone, which every ICMP error quotes (RFC
 * 792 guarantees the first 8 octets of the original datagram: ports and sequence; RFC 4443
 * 2.4(c) quotes even more); a SYN-ACK or RST acknowledges it plus one. */
#ifndef TRACE_REPLY_H
#define TRACE_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"

typedef enum {
    TRACE_R_IGNORE = 0, /* well formed, but not an answer to a SYN (echo, data, our own SYN) */
    TRACE_R_TIME_EXCEEDED,
    TRACE_R_UNREACH,
    TRACE_R_SYNACK,
    TRACE_R_RST,
} trace_reply_kind;

typedef struct {
    trace_reply_kind kind;
    uint8_t icmp_code;
    int family;       /* AF_INET or AF_INET6 */
    uint8_t from[16]; /* who sent the reply (IPv4 in the first 4 bytes) */
    uint8_t peer[16]; /* the probe's destination: quoted (ICMP) or the sender (TCP) */
    uint16_t lport;   /* the probe's source port (ours) */
    uint16_t rport;   /* the probe's destination port */
    uint32_t seq;     /* the probe's sequence number: quoted, or the reply's ack - 1 */
    uint32_t rst_seq; /* for TRACE_R_SYNACK: the sequence number our RST must carry */
} trace_reply;

/* A whole IPv4 datagram as a raw IPPROTO_ICMP socket returns it (IP header included). */
MW_WUR mw_rc trace_parse_icmp4(const uint8_t *pkt, size_t len, trace_reply *out);
/* An ICMPv6 message as a raw IPPROTO_ICMPV6 socket returns it (no IPv6 header); from is the
 * sender's address (recvfrom). */
MW_WUR mw_rc trace_parse_icmp6(const uint8_t *msg, size_t len, const uint8_t from[16],
                               trace_reply *out);
/* A whole IPv4 datagram carrying TCP, as a raw IPPROTO_TCP socket returns it. */
MW_WUR mw_rc trace_parse_tcp4(const uint8_t *pkt, size_t len, trace_reply *out);
/* A TCP segment as an IPv6 raw IPPROTO_TCP socket returns it; from is the sender's address. */
MW_WUR mw_rc trace_parse_tcp6(const uint8_t *seg, size_t len, const uint8_t from[16],
                              trace_reply *out);

#endif
