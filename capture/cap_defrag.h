/* IPv4 (RFC 791 3.2) and IPv6 (RFC 8200 4.5) fragment reassembly under hard bounds.
 *
 * A pending datagram is keyed by its addresses, identification, protocol (IPv4) and the tunnel
 * context it was seen in. Bounds: at most max_datagrams pending and max_bytes of buffers
 * (a fragment beyond either is refused: ip_frag_cap), at most CAP_DEFRAG_MAX_FRAGS fragments a
 * datagram, and a datagram not complete within timeout_us of capture time after its first
 * fragment is dropped (ip_frag_timeout). Every fragment of a dropped or refused datagram is
 * counted in ip_frag_dropped.
 *
 * Overlaps (an evasion: Ptacek and Newsham 1998, RFC 5722): the sensor must never judge bytes
 * the receiver did not accept. An exact duplicate (same offset, length and bytes) is ignored,
 * as Linux does; any other overlap drops the whole datagram (ip_frag_overlap), as RFC 5722
 * requires for IPv6 and Linux does for IPv4 too (inet_frag_queue_insert), so no reassembly
 * policy (first or last wins) is guessed for the receiver.
 *
 * A completed datagram is rebuilt with a fresh IP header (IPv4: 20 bytes without options, its
 * checksum computed; IPv6: the fixed header whose next header is the fragment header's), so it
 * decodes like any other datagram. */
#ifndef CAP_DEFRAG_H
#define CAP_DEFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_stats.h"
#include "mw_result.h"

#define CAP_DEFRAG_MAX_FRAGS 64

typedef struct cap_defrag cap_defrag;

typedef struct {
    uint32_t max_datagrams; /* 0: 512 */
    uint64_t max_bytes;     /* 0: 8 MiB */
    uint64_t timeout_us;    /* 0: 30 s (Linux's ipfrag_time) */
} cap_defrag_cfg;

/* What identifies a datagram (RFC 791: source, destination, protocol, identification; RFC
 * 8200: source, destination, identification), plus the header fields the rebuilt one needs. */
typedef struct {
    uint8_t ip_ver;
    uint8_t proto; /* IPv4 protocol; IPv6 the fragment header's next header */
    uint8_t ttl;
    uint32_t id;
    uint32_t ctx; /* tunnel context (cap_pkt.ctx) */
    uint8_t src[16], dst[16];
} cap_frag;

cap_defrag *cap_defrag_new(const cap_defrag_cfg *cfg);
void cap_defrag_free(cap_defrag *df);

/* One fragment: data[0..len) at byte offset off of the datagram's payload, more set when
 * more fragments follow. MW_OK when it completed the datagram: *out (valid until the next
 * call) holds the rebuilt datagram, IP header included; MW_NEED_MORE when it is held;
 * MW_MALFORMED when it was dropped or its datagram was (counted in st). Expires old
 * datagrams at now_us first. */
MW_WUR mw_rc cap_defrag_add(cap_defrag *df, const cap_frag *f, uint32_t off, const uint8_t *data,
                            uint32_t len, bool more, uint64_t now_us, const uint8_t **out,
                            uint32_t *out_len, cap_stats *st);

/* Drops every datagram pending for longer than the timeout at capture time now_us. */
void cap_defrag_expire(cap_defrag *df, uint64_t now_us, cap_stats *st);

/* Datagrams and bytes held now. */
uint32_t cap_defrag_pending(const cap_defrag *df);
uint64_t cap_defrag_bytes(const cap_defrag *df);

#endif
