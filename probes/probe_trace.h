/* TCP traceroute per service port (issue 6, active half; DESIGN.md 7).
 *
 * Why per port: in the jabber.ru interception a TCP traceroute to 5222 showed one hop more than
 * to 22 on the same machine; a path for ICMP or UDP says nothing about where one TCP port goes.
 * So each probe is a real SYN to the service port with a rising IP TTL / IPv6 hop limit. Every
 * probe of one port keeps the same five-tuple (Paris-traceroute style), so routers that balance
 * per flow send all of them the way the service's own connections go; probes are told apart by
 * the TCP sequence number alone, which every ICMP error quotes (RFC 792 guarantees the first 8
 * octets of the original datagram: ports and sequence; RFC 4443 2.4(c) quotes even more).
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
 * connecting or listening) an ordinary TCP socket to it. No socket owns a connection on that
 * port, so the kernel itself answers any SYN-ACK with RST (the "no socket" path of tcp_v4_rcv /
 * tcp_v6_rcv), and nothing else on the host can be handed the port meanwhile. We do not rely on
 * that alone: a local firewall may drop the kernel's reset, so every SYN-ACK is also answered
 * by our own RST (seq = its ack) sent through the raw socket with TTL/hop limit 255, which also
 * tells our resets apart from the kernel's (TTL 64) on the wire.
 *
 * Scheduling: probes go out in TTL order, at most `window` outstanding per port and at most
 * `rate` per second over all ports; a probe unanswered after timeout_ms is resent (`attempts`
 * in all) and then becomes a star. A port is done when the target answered (SYN-ACK or RST:
 * the path length is the smallest TTL it answered at), a router said unreachable, max_ttl was
 * reached, or `gap` consecutive TTLs above the last answer stayed silent (hosts that drop
 * ICMP and SYNs alike), so the worst case is bounded by the timeout, not by max_ttl.
 *
 * Every received packet is parsed through mw_cursor (trace_parse_*), pure functions that the
 * unit tests and tests/fuzz/fuzz_trace_reply.c drive directly. */
#ifndef PROBE_TRACE_H
#define PROBE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_json.h"
#include "mw_result.h"

#define TRACE_MAX_PORTS 16
#define TRACE_MAX_TTL 64 /* hard cap for max_ttl */
#define TRACE_DEFAULT_MAX_TTL 30
#define TRACE_DEFAULT_TIMEOUT_MS 1000
#define TRACE_DEFAULT_RATE 50 /* probes per second, all ports together */
#define TRACE_DEFAULT_ATTEMPTS 2
#define TRACE_DEFAULT_WINDOW 4
#define TRACE_DEFAULT_GAP 5
#define TRACE_DEFAULT_LAST_N 3
#define TRACE_RST_TTL 255
#define TRACE_ADDR_STR 46 /* INET6_ADDRSTRLEN */

/* What answered one TTL. */
typedef enum {
    TRACE_HOP_STAR = 0,      /* nothing within the timeout (after every attempt) */
    TRACE_HOP_TIME_EXCEEDED, /* a router: ICMP type 11 / ICMPv6 type 3 */
    TRACE_HOP_UNREACH,       /* ICMP type 3 / ICMPv6 type 1 (code kept); ends the port */
    TRACE_HOP_SYNACK,        /* the target: port open */
    TRACE_HOP_RST,           /* the target: port closed */
} trace_hop_kind;

/* ---- reply parsing (pure) ---- */

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

/* Builds a 20-byte TCP header (no options) with flags, checksum over the IPv4 pseudo header
 * when src/dst are given (family AF_INET), or 0 for IPv6 (the kernel fills it). */
void trace_build_tcp(uint8_t out[20], int family, const uint8_t *src, const uint8_t *dst,
                     uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags);

/* ---- sockets and privileges ---- */

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

/* ---- tracing ---- */

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

/* ---- paths and their comparison ---- */

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

/* ---- scheduling (the live sensor's periodic trace) ---- */

/* When the next scheduled trace is due: now + interval, moved by up to jitter_pct percent of
 * the interval either way, uniformly by rnd (a fresh random 32-bit value each call), so that
 * sensors started together do not probe in step and a watcher cannot predict the probe. Never
 * earlier than now + 1 s. */
uint64_t trace_schedule_next(uint64_t now_us, uint64_t interval_us, unsigned jitter_pct,
                             uint32_t rnd);

/* ---- output ---- */

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
