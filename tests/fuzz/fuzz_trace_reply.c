/* libFuzzer target: any bytes as each kind of packet the tracer reads (an IPv4 datagram from
 * the raw ICMP and TCP sockets, an ICMPv6 message and a TCP segment from the IPv6 ones).
 * Invariants: the parsers return OK or MALFORMED only; on OK the kind is one they define, the
 * family is the parser's, and an answer from a router names a sender and a quoted peer. The
 * first input byte picks nothing: every input goes through all four parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(mw_rc rc, const trace_reply *r, int family) {
    if (rc != MW_OK && rc != MW_MALFORMED) abort();
    if (rc != MW_OK) return;
    if (r->family != family || r->kind > TRACE_R_RST) abort();
    if (r->kind == TRACE_R_SYNACK && r->rst_seq != r->seq + 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t from[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    trace_reply r;
    check(trace_parse_icmp4(data, size, &r), &r, AF_INET);
    check(trace_parse_tcp4(data, size, &r), &r, AF_INET);
    check(trace_parse_icmp6(data, size, from, &r), &r, AF_INET6);
    check(trace_parse_tcp6(data, size, from, &r), &r, AF_INET6);
    if (trace_parse_tcp6(data, size, from, &r) == MW_OK && memcmp(r.from, from, 16) != 0) abort();
    return 0;
}
