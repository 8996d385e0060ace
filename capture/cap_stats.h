/* Counters of the capture layer. Each anomaly has a stable name used in the stats event. */
#ifndef CAP_STATS_H
#define CAP_STATS_H

#include <stdint.h>

/* X(name): the anomaly counters of packet decoding and TCP reassembly. New names go last, so
 * the stats event keeps its order. The checksum counters count packets dropped before any flow
 * saw them (udp_bad_checksum: counted only, nothing reads UDP). tcp_consumed_mismatch: a later
 * copy differs from bytes the analyzer already parsed (see cap_reasm.h). tcp_global_cap counts
 * every refusal of the global reassembly budget, also for the analyzers' handshake buffers.
 * ip_total_length_zero: an IPv4 total length of 0 (TSO capture), its length taken from the
 * frame as Wireshark does. ethertype_unsupported: an EtherType (or PPP protocol) that carries
 * data the decoder cannot read (ARP, LLDP, STP and other control protocols are not counted).
 * encap_unsupported: a tunnel header of an unknown version or payload type; encap_truncated:
 * one cut short; encap_too_deep: more than CAP_ENCAP_MAX layers. ip_frag_dropped: fragments
 * (packets) never decoded, because their datagram was dropped or refused; ip_frag_overlap,
 * ip_frag_timeout, ip_frag_cap: datagrams dropped for a conflicting overlap, for not
 * completing in time, or refused by the reassembly bounds (cap_defrag.h). pcap_truncated: a
 * capture file that ends inside a record. */
#define CAP_ANOMALIES(X)                                                                           \
    X(link_truncated)                                                                              \
    X(link_unsupported)                                                                            \
    X(ip_truncated)                                                                                \
    X(ip_bad_header)                                                                               \
    X(ip_fragment)                                                                                 \
    X(tcp_truncated)                                                                               \
    X(tcp_bad_header)                                                                              \
    X(tcp_retransmission)                                                                          \
    X(tcp_overlap_mismatch)                                                                        \
    X(tcp_out_of_order)                                                                            \
    X(tcp_gap)                                                                                     \
    X(tcp_stream_cap)                                                                              \
    X(tcp_ooo_cap)                                                                                 \
    X(tcp_global_cap)                                                                              \
    X(ip_bad_checksum)                                                                             \
    X(tcp_bad_checksum)                                                                            \
    X(udp_bad_checksum)                                                                            \
    X(tcp_consumed_mismatch)                                                                       \
    X(tcp_ooo_ranges_cap)                                                                          \
    X(tcp_history_cap)                                                                             \
    X(ip_total_length_zero)                                                                        \
    X(ethertype_unsupported)                                                                       \
    X(encap_unsupported)                                                                           \
    X(encap_truncated)                                                                             \
    X(encap_too_deep)                                                                              \
    X(ip_frag_dropped)                                                                             \
    X(ip_frag_overlap)                                                                             \
    X(ip_frag_timeout)                                                                             \
    X(ip_frag_cap)                                                                                 \
    X(pcap_truncated)

enum {
#define X(n) CAP_AN_##n,
    CAP_ANOMALIES(X)
#undef X
        CAP_AN_COUNT
};

extern const char *const cap_anomaly_names[CAP_AN_COUNT];

/* Why a packet could not be decoded (the "undecoded" causes of the stats event and of the
 * sensor.undecoded alert), each the sum of anomaly counters:
 *   link_type  link_unsupported            ethertype  ethertype_unsupported
 *   tunnel     encap_unsupported, encap_too_deep
 *   fragment   ip_fragment, ip_frag_dropped
 *   truncated  link_, ip_, tcp_, encap_truncated
 *   malformed  ip_bad_header, tcp_bad_header
 * Each packet counts once: decoding stops at the first of these. */
#define CAP_UNDECODED(X)                                                                           \
    X(link_type)                                                                                   \
    X(ethertype)                                                                                   \
    X(tunnel)                                                                                      \
    X(fragment)                                                                                    \
    X(truncated)                                                                                   \
    X(malformed)

enum {
#define X(n) CAP_UNDEC_##n,
    CAP_UNDECODED(X)
#undef X
        CAP_UNDEC_COUNT
};

extern const char *const cap_undecoded_names[CAP_UNDEC_COUNT];

/* Checksum validation (cap_csum.h): the mode asked for, the state reached, and what the
 * automatic mode's sample of the first packets showed. */
typedef struct {
    uint8_t mode;            /* cap_csum_mode */
    uint8_t state;           /* cap_csum_state */
    uint32_t sampled;        /* packets with a checkable checksum in the sample */
    uint32_t sample_offload; /* ... whose TCP/UDP checksum was the offload pattern */
    uint32_t sample_bad;     /* ... with any other wrong checksum */
    uint64_t unverified;     /* packets whose checksum could not be checked (truncated) */
} cap_csum_stats;

typedef struct {
    uint64_t packets, bytes; /* every frame read */
    uint64_t tcp_packets, tcp_payload_bytes;
    uint64_t non_tcp;        /* valid frames with no TCP (UDP, ICMP, ARP...) */
    uint64_t tunneled;       /* frames decoded through PPPoE, MPLS or a tunnel */
    uint64_t ip_reassembled; /* IP datagrams reassembled from fragments */
    uint64_t flows_created, flows_closed, flows_timed_out, flows_evicted, flows_active;
    uint64_t flows_bypassed;
    uint64_t reasm_bytes_in_use; /* gauge: bytes held by reassembly across all flows */
    uint64_t pcap_recv, pcap_drop, pcap_ifdrop; /* as libpcap reports (live only) */
    cap_csum_stats csum;
    uint64_t an[CAP_AN_COUNT];
} cap_stats;

/* The packets counted as undecoded, by cause (by may be NULL); returns their total. */
uint64_t cap_stats_undecoded(const cap_stats *st, uint64_t by[CAP_UNDEC_COUNT]);

#endif
