/* Link, IP and TCP decoding of one captured frame into a cap_pkt of views, and the pieces the
 * active side reads from raw sockets: an IP datagram without link layer, a bare TCP segment,
 * an ICMP/ICMPv6 header and the invoking packet an ICMP error quotes.
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
#include <stddef.h>
#include <stdint.h>

#include "cap_stats.h"
#include "mw_result.h"

/* What a packet was seen through, outermost first (docs/ARCHITECTURE.md, "Decoders"): VLAN
 * tags, PPPoE sessions, MPLS labels and the tunnels. The stack is bounded: a packet nested
 * deeper is counted as encap_too_deep and not decoded. */
#define CAP_ENCAP_MAX 8

enum cap_encap_kind {
    CAP_ENC_VLAN = 1, /* id: VLAN id */
    CAP_ENC_PPPOE,    /* id: session id */
    CAP_ENC_MPLS,     /* id: label */
    CAP_ENC_GRE,      /* id: key when has_id */
    CAP_ENC_ERSPAN1,  /* GRE 0x88be without sequence number: no ERSPAN header */
    CAP_ENC_ERSPAN2,  /* id: session id */
    CAP_ENC_ERSPAN3,  /* id: session id */
    CAP_ENC_VXLAN,    /* id: VNI */
    CAP_ENC_GENEVE,   /* id: VNI */
    CAP_ENC_IP4IN4,   /* IP-in-IP: inner version in outer version */
    CAP_ENC_IP6IN4,
    CAP_ENC_IP4IN6,
    CAP_ENC_IP6IN6,
};

typedef struct {
    uint8_t kind;   /* cap_encap_kind */
    uint8_t has_id; /* id is meaningful (GRE carries a key only with the K flag) */
    uint32_t id;
} cap_encap;

/* "vxlan:vni=42", "vlan:100", "gre", "ipip:6in4"...: the name of one layer, as the event
 * field mitmwatch.encapsulation lists it. Returns the length written (truncated to n-1). */
size_t cap_encap_name(const cap_encap *e, char *out, size_t n);

typedef struct cap_defrag cap_defrag;

typedef struct {
    uint64_t ts_us;    /* capture time, microseconds since the epoch */
    uint32_t wire_len; /* original frame length */
    uint8_t ip_ver;    /* 4 or 6 */
    uint8_t ttl;       /* IPv4 TTL or IPv6 hop limit */
    uint8_t l4proto;   /* IPPROTO_* of the transport header found */
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
    const uint8_t *l4; /* the transport header onwards, as far as the IP length says;
                          NULL for a fragment in cap_decode */
    uint32_t l4_len;
    uint8_t ip_hdr_len; /* IPv4 header with options (its checksum covers it); 0 for IPv6 */
    uint8_t l4_partial; /* l4 is not the whole datagram (snaplen, or IP length 0 from TSO), or
                           an IPv6 routing header leaves the final destination elsewhere: the
                           transport checksum cannot be checked */
    uint8_t frag;       /* CAP_FRAG_* */
    uint8_t frag_mf;    /* more fragments follow */
    uint32_t frag_id;   /* IPv4 or IPv6 identification of a fragment */
    uint32_t frag_off;  /* its offset in bytes */
    uint8_t nencap;
    uint8_t tunneled; /* a layer other than VLAN tags is in encap (PPPoE, MPLS, a tunnel) */
    uint8_t nreasm;   /* IP datagrams reassembled to decode this frame (cap_defrag.h) */
    uint32_t ctx;     /* tunnel context: a hash of the encapsulation (0 when not tunneled) that
                         keeps flows in different tunnels apart; the same in both directions */
    cap_encap encap[CAP_ENCAP_MAX];
} cap_pkt;

#define CAP_TH_FIN 0x01
#define CAP_TH_SYN 0x02
#define CAP_TH_RST 0x04
#define CAP_TH_PSH 0x08
#define CAP_TH_ACK 0x10

/* Where a datagram stands among fragments: only a first one starts with the transport header.
 * An IPv6 fragment stops the walk at its fragment header: l4proto is that header's next
 * header and l4 what follows it. */
enum { CAP_FRAG_NONE = 0, CAP_FRAG_FIRST, CAP_FRAG_LATER };

/* True when libpcap's link type is one we decode. */
bool cap_linktype_supported(int dlt);

/* Decodes frame[0..caplen) of link type dlt, through every encapsulation the decoder knows
 * (PPPoE, MPLS, GRE, ERSPAN I/II/III, VXLAN on UDP 4789, Geneve on UDP 6081, IP-in-IP), so pkt
 * describes the innermost packet. Returns MW_OK for a TCP segment (pkt filled), MW_NEED_MORE
 * for a frame that carries no TCP (not an error; a UDP datagram has l4proto 17 and l4 set, for
 * its checksum; a frame the decoder cannot see into is counted in st, see
 * cap_stats_undecoded), MW_MALFORMED for a truncated or invalid header (counted in st under
 * the kind that failed). IP fragments are counted as ip_fragment and not decoded. */
MW_WUR mw_rc cap_decode(int dlt, const uint8_t *frame, uint32_t caplen, cap_pkt *pkt,
                        cap_stats *st);

/* cap_decode with IP reassembly: fragments go to df (capture time ts_us) and the datagram
 * they complete is decoded in their place; pkt may then point into df's buffers, valid until
 * the next call with df. df NULL: as cap_decode. */
MW_WUR mw_rc cap_decode_df(cap_defrag *df, uint64_t ts_us, int dlt, const uint8_t *frame,
                           uint32_t caplen, cap_pkt *pkt, cap_stats *st);

/* The IP layer alone of a datagram without link layer (as a raw socket returns it), picked by
 * its version nibble and decoded as cap_decode does: IPv4 options skipped, IPv6 extension
 * headers walked, the payload bounded by the IP length. Fills ip_ver, ttl, src, dst, l4proto,
 * frag, l3 and the l4 view; reads nothing above the IP layer. MW_OK for a valid header,
 * fragments included (frag says which, nothing is counted for them); MW_MALFORMED for a
 * truncated or invalid one, counted in st as cap_decode counts it (st may be NULL). */
MW_WUR mw_rc cap_decode_ip(const uint8_t *l3, uint32_t len, cap_pkt *pkt, cap_stats *st);

/* A TCP header at seg (RFC 9293 3.1; e.g. what an IPv6 raw socket returns, or the l4 view of
 * cap_decode_ip): ports, seq, ack, window, flags and the payload after the options. MW_OK or
 * MW_MALFORMED (counted in st unless NULL). */
MW_WUR mw_rc cap_decode_tcp(const uint8_t *seg, uint32_t len, cap_pkt *pkt, cap_stats *st);

/* ICMP (RFC 792) and ICMPv6 (RFC 4443 2.1) share their header: type(1) code(1) checksum(2),
 * then 4 octets whose use depends on the type (unused in the error messages, which quote the
 * invoking packet after them). The checksum is not verified. */
typedef struct {
    uint8_t type, code;
    bool whole;           /* the 8-octet header is there; only then is quote set */
    const uint8_t *quote; /* what follows the header: an error's invoking packet */
    uint32_t quote_len;
} cap_icmp;

/* MW_OK when type and code are there, since they alone classify a message (whole tells
 * whether the rest of the header is); MW_MALFORMED for fewer than 2 octets. */
MW_WUR mw_rc cap_decode_icmp(const uint8_t *msg, uint32_t len, cap_icmp *icmp);

/* The invoking packet an ICMP error quotes (icmp->quote): RFC 792 promises its IP header and
 * the first 8 octets after it, RFC 4443 2.4(c) as much as fits in the minimum MTU. ip_ver is
 * the version the error's own family implies (4 for ICMP, 6 for ICMPv6); a quote of the other
 * version is malformed. IPv4 is decoded as cap_decode_ip does (options skipped, the rest
 * bounded by the quoted total length). IPv6 only by its fixed header (RFC 8200 3): l4proto is
 * the next header as written, since a quote may stop inside an extension header chain, and
 * the rest of the quote is the l4 view whatever the quoted payload length says. Of a quoted
 * TCP header only its first 8 octets are read, all that a quote is sure to hold: sport, dport
 * and seq (the other TCP fields are left alone). MW_OK for a quoted TCP segment (a first
 * fragment too); MW_NEED_MORE for a valid quote of anything else or of a later fragment;
 * MW_MALFORMED for an IP header or those 8 octets cut short or invalid (counted in st unless
 * NULL); MW_ERR for an ip_ver other than 4 or 6. */
MW_WUR mw_rc cap_decode_quote(int ip_ver, const uint8_t *q, uint32_t len, cap_pkt *pkt,
                              cap_stats *st);

#endif
