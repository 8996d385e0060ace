/* Counters of the capture layer. Each anomaly has a stable name used in the stats event. */
#ifndef CAP_STATS_H
#define CAP_STATS_H

#include <stdint.h>

/* X(name): the anomaly counters of packet decoding and TCP reassembly. New names go last, so
 * the stats event keeps its order. The checksum counters count packets dropped before any flow
 * saw them (udp_bad_checksum: counted only, nothing reads UDP). tcp_consumed_mismatch: a later
 * copy differs from bytes the analyzer already parsed (see cap_reasm.h). tcp_global_cap counts
 * every refusal of the global reassembly budget, also for the analyzers' handshake buffers. */
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
    X(tcp_history_cap)

enum {
#define X(n) CAP_AN_##n,
    CAP_ANOMALIES(X)
#undef X
        CAP_AN_COUNT
};

extern const char *const cap_anomaly_names[CAP_AN_COUNT];

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
    uint64_t non_tcp;            /* valid frames with no TCP (UDP, ICMP, ARP...) */
    uint64_t flows_created, flows_closed, flows_timed_out, flows_evicted, flows_active;
    uint64_t flows_bypassed;
    uint64_t reasm_bytes_in_use; /* gauge: bytes held by reassembly across all flows */
    uint64_t pcap_recv, pcap_drop, pcap_ifdrop; /* as libpcap reports (live only) */
    cap_csum_stats csum;
    uint64_t an[CAP_AN_COUNT];
} cap_stats;

#endif
