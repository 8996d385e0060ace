/* Link, IP and TCP decoding of one captured frame into a cap_pkt of views.
 *
 * Link types: Ethernet (with 802.1Q/802.1ad/QinQ tags), Linux cooked SLL and SLL2, raw IP
 * (DLT_RAW, LINKTYPE_RAW, IPV4, IPV6), BSD loopback (NULL, LOOP). IPv4 with options;
 * IPv6 with hop-by-hop, routing, destination-options, fragment and AH headers skipped.
 * Nothing is copied: the cap_pkt points into the frame. Checksums are not checked here: the
 * cap_pkt carries what cap_csum.h needs (the IP header, the transport bytes, whether they are
 * complete). */
#ifndef CAP_DECODE_H
#define CAP_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_stats.h"
#include "mw_result.h"

typedef struct {
    uint64_t ts_us;  /* capture time, microseconds since the epoch */
    uint32_t wire_len; /* original frame length */
    uint8_t ip_ver;  /* 4 or 6 */
    uint8_t ttl;     /* IPv4 TTL or IPv6 hop limit */
    uint8_t l4proto; /* IPPROTO_* of the transport header found */
    uint8_t tcp_flags;
    uint16_t vlan[2]; /* outer, inner; 0 = none */
    uint8_t nvlan;
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win;
    const uint8_t *l3; /* the IP header, for consumers that want the whole datagram */
    uint32_t l3_len;
    const uint8_t *payload;
    uint32_t payload_len;
    const uint8_t *l4; /* TCP or UDP header and payload, as far as the IP length says */
    uint32_t l4_len;
    uint8_t ip_hdr_len; /* IPv4 header with options (its checksum covers it); 0 for IPv6 */
    uint8_t l4_partial; /* l4 is not the whole datagram (snaplen, or IP length 0 from TSO), or
                           an IPv6 routing header leaves the final destination elsewhere: the
                           transport checksum cannot be checked */
} cap_pkt;

#define CAP_TH_FIN 0x01
#define CAP_TH_SYN 0x02
#define CAP_TH_RST 0x04
#define CAP_TH_PSH 0x08
#define CAP_TH_ACK 0x10

/* True when libpcap's link type is one we decode. */
bool cap_linktype_supported(int dlt);

/* Decodes frame[0..caplen) of link type dlt. Returns MW_OK for a TCP segment (pkt filled),
 * MW_NEED_MORE for a valid frame that carries no TCP (not an error; a UDP datagram has l4proto
 * 17 and l4 set, for its checksum), MW_MALFORMED for a truncated or invalid header (counted in
 * st under the kind that failed). */
MW_WUR mw_rc cap_decode(int dlt, const uint8_t *frame, uint32_t caplen, cap_pkt *pkt,
                        cap_stats *st);

#endif
