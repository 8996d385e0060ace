/* One trace: SYNs to each service port with a rising IP TTL / IPv6 hop limit, the replies
 * matched to them, and the result per port (docs/ARCHITECTURE.md); and when the live sensor's next
 * scheduled trace is due.
 *
 * Every probe of one port keeps the same five-tuple (Paris-traceroute style), so routers that
 * balance per flow send all of them the way the service's own connections go; probes are told
 * apart by the TCP sequence number alone (trace_reply.h).
 *
 * Scheduling: probes go out in TTL order, at most `window` outstanding per port and at most
 * `rate` per second over all ports; a probe unanswered after timeout_ms is resent (`attempts`
 * in all) and then becomes a star. A port is done when the target answered (SYN-ACK or RST:
 * the path length is the smallest TTL it answered at), a router said unreachable, max_ttl was
 * reached, or `gap` consecutive TTLs above the last answer stayed silent (hosts that drop
 * ICMP and SYNs alike), so the worst case is bounded by the timeout, not by max_ttl. */
#ifndef TRACE_RUN_H
#define TRACE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"
#include "trace_sock.h"

#define TRACE_MAX_PORTS 16
#define TRACE_MAX_TTL 64 /* hard cap for max_ttl */
#define TRACE_DEFAULT_MAX_TTL 30
#define TRACE_DEFAULT_TIMEOUT_MS 1000
#define TRACE_DEFAULT_RATE 50 /* probes per second, all ports together */
#define TRACE_DEFAULT_ATTEMPTS 2
#define TRACE_DEFAULT_WINDOW 4
#define TRACE_DEFAULT_GAP 5

/* What answered one TTL. */
typedef enum {
    TRACE_HOP_STAR = 0,      /* nothing within the timeout (after every attempt) */
    TRACE_HOP_TIME_EXCEEDED, /* a router: ICMP type 11 / ICMPv6 type 3 */
    TRACE_HOP_UNREACH,       /* ICMP type 3 / ICMPv6 type 1 (code kept); ends the port */
    TRACE_HOP_SYNACK,        /* the target: port open */
    TRACE_HOP_RST,           /* the target: port closed */
} trace_hop_kind;

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint16_t ports[TRACE_MAX_PORTS];
    unsigned nports;
    unsigned max_ttl;  /* 0: default; capped at TRACE_MAX_TTL */
    int timeout_ms;    /* per probe; <= 0: default */
    unsigned rate;     /* probes per second; 0: default */
    unsigned attempts; /* per TTL; 0: default */
    unsigned window;   /* outstanding probes per port; 0: default */
    unsigned gap;      /* silent TTLs in a row that end a port; 0: default */
    uint32_t seq_base; /* 0: random */
} trace_opts;

typedef struct {
    uint8_t kind; /* trace_hop_kind */
    uint8_t icmp_code;
    uint8_t addr[16];
    uint32_t rtt_us;
} trace_hop;

typedef struct {
    uint16_t port;
    uint16_t lport; /* our source port */
    unsigned nhops; /* hops[i] answered TTL i+1 */
    trace_hop hops[TRACE_MAX_TTL];
    bool reached;       /* the last hop is the target's SYN-ACK or RST */
    uint8_t final_kind; /* kind of the last hop */
    unsigned probes;    /* SYNs sent */
    unsigned resets;    /* RSTs we sent for SYN-ACKs */
} trace_port;

typedef struct {
    int family;
    uint8_t target[16];
    uint8_t source[16];
    unsigned max_ttl;
    unsigned nports;
    trace_port ports[TRACE_MAX_PORTS];
    uint64_t elapsed_us;
    uint64_t malformed; /* received packets the parsers refused (counted anomalies) */
} trace_result;

/* Traces every port of o. MW_OK with r filled (unreached ports are a result, not an error);
 * MW_ERR when the family's sockets are not open, there is no route (no source address), or
 * sending fails; err then says why. */
MW_WUR mw_rc trace_run(const trace_sockets *s, const trace_opts *o, trace_result *r, char *err,
                       size_t errlen);

/* When the next scheduled trace is due: now + interval, moved by up to jitter_pct percent of
 * the interval either way, uniformly by rnd (a fresh random 32-bit value each call), so that
 * sensors started together do not probe in step and a watcher cannot predict the probe. Never
 * earlier than now + 1 s. */
uint64_t trace_schedule_next(uint64_t now_us, uint64_t interval_us, unsigned jitter_pct,
                             uint32_t rnd);

#endif
