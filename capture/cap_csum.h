/* Checksum validation. A segment that the receiver's stack drops must not reach reassembly, or
 * an attacker could show the sensor bytes the client never accepted (an insertion: Ptacek and
 * Newsham, 1998). Checked: the IPv4 header checksum (RFC 791), and the TCP and UDP checksums
 * over the IPv4 or IPv6 pseudo-header (RFC 9293 3.1, RFC 768, RFC 8200 8.1).
 *
 * Captures taken on a host that offloads checksums to its NIC, and every loopback or veth
 * capture on Linux, hold the host's outgoing packets before the checksum is filled in: Linux
 * leaves the folded pseudo-header sum in the field (CHECKSUM_PARTIAL; packets merged by GRO
 * carry the same). That value is "the offload pattern" below. Modes:
 *   on    any wrong checksum drops the packet, the offload pattern included.
 *   off   nothing is checked.
 *   auto  (default; after Suricata's checksum-validation: auto) the first packets are a sample.
 *         While sampling, the offload pattern passes and any other wrong checksum is dropped;
 *         then the state becomes
 *         offload     8 or more sampled packets carry the pattern and they are over 1/10 of
 *                     the sample: the pattern passes from then on, other wrong checksums are
 *                     still dropped (Linux offload never produces them);
 *         off         the sample mostly fails without the pattern (32 or more and over half,
 *                     or over 1/10 of a full sample: another system's offload): no checks;
 *         validating  64 sampled packets, none with the pattern and under 1/10 wrong, or a
 *                     full sample (1000) otherwise: from then on as `on`.
 * Packets whose checksum cannot be computed (cut by the snaplen, IP length 0 from TSO) pass
 * and are counted in cap_stats.csum.unverified. Only TCP and UDP packets are looked at. */
#ifndef CAP_CSUM_H
#define CAP_CSUM_H

#include <stdbool.h>

#include "cap_decode.h"
#include "cap_stats.h"

typedef enum { CAP_CSUM_AUTO, CAP_CSUM_ON, CAP_CSUM_OFF } cap_csum_mode;
typedef enum {
    CAP_CSUM_SAMPLING,
    CAP_CSUM_VALIDATING,
    CAP_CSUM_OFFLOAD,
    CAP_CSUM_DISABLED
} cap_csum_state;

#define CAP_CSUM_SAMPLE 1000u

/* "auto", "on", "off" (the --checksum values); false for anything else. */
bool cap_csum_mode_parse(const char *s, cap_csum_mode *out);
const char *cap_csum_mode_name(cap_csum_mode m);
const char *cap_csum_state_name(cap_csum_state s); /* "sampling", "validating", "offload", "off" */

/* Sets st->csum for a run in mode m. */
void cap_csum_init(cap_stats *st, cap_csum_mode m);

/* The verdict on one decoded packet (cap_decode returned MW_OK, or MW_NEED_MORE with l4proto
 * 17): false when it must be dropped, counted as ip_bad_checksum, tcp_bad_checksum or
 * udp_bad_checksum. Advances the automatic mode. */
bool cap_csum_accept(const cap_pkt *p, cap_stats *st);

#endif
