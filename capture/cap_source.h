/* Packet sources: pcap/pcapng files read in order as one timeline, or live interfaces. */
#ifndef CAP_SOURCE_H
#define CAP_SOURCE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>

#include "cap_pcapng.h"
#include "cap_stats.h"

/* One frame handed to the consumer. */
typedef void (*cap_frame_fn)(void *user, int dlt, uint64_t ts_us, const uint8_t *data,
                             uint32_t caplen, uint32_t wire_len);

#define CAP_SOURCE_MAX_FILTERS 8

#define CAP_SOURCE_IOBUF (1u << 20)

typedef struct {
    pcap_t *p;
    int dlt;
    bool live;
    char name[256];
    /* a pcapng file whose interfaces have different link types: read by cap_pcapng, not
       libpcap; each frame carries its interface's link type (dlt is the first one's) */
    cap_pcapng *ng;
    volatile int ng_stop;
    char *bpf; /* its filter, compiled per link type as frames of that type come */
    char *iobuf; /* a pcap file's stdio buffer (CAP_SOURCE_IOBUF bytes), freed after pcap_close */
    int nfilters;
    struct {
        int dlt;
        bool ok;
        struct bpf_program prog;
    } filters[CAP_SOURCE_MAX_FILTERS];
} cap_source;

/* Opens a capture file (pcap or pcapng; a pcapng file with several link types is read
 * block by block, cap_pcapng.h). On failure writes a one-line reason to err. */
bool cap_source_open_file(cap_source *src, const char *path, char *err, size_t errlen);
/* Opens a live interface in promiscuous mode with the given snaplen and optional BPF. */
bool cap_source_open_live(cap_source *src, const char *iface, const char *bpf, int snaplen,
                          char *err, size_t errlen);
/* cap_source_open_live with the kernel buffer's size (bytes) and, when fanout_group is not 0,
 * the socket joined in that PACKET_FANOUT group (hash mode, defragmenting; Linux): every
 * worker opens the interface with the same group id and gets its share of the flows. */
bool cap_source_open_live_ex(cap_source *src, const char *iface, const char *bpf, int snaplen,
                             int buffer_bytes, unsigned fanout_group, char *err, size_t errlen);
/* Applies a BPF filter to an opened source. */
bool cap_source_filter(cap_source *src, const char *bpf, char *err, size_t errlen);
/* Reads up to max frames (<= 0: all available); returns frames read, 0 at a live timeout,
 * -1 at end of file, -2 on error (message in err), -3 when stopped by cap_source_break. */
int cap_source_dispatch(cap_source *src, int max, cap_frame_fn fn, void *user, char *err,
                        size_t errlen);
void cap_source_break(cap_source *src);
/* Adds this live source's cumulative libpcap counters to st (zero them first, then sum
 * over sources). */
void cap_source_stats(cap_source *src, cap_stats *st);
void cap_source_close(cap_source *src);

#endif
