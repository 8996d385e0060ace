/* TCP stream reassembly, one cap_stream per direction.
 *
 * In-order bytes are appended to s->buf for the analyzer, which consumes what it parsed
 * with cap_stream_consume. Segments ahead of the expected sequence number wait in a sorted
 * list. Retransmissions are dropped; where an overlap can still be compared (bytes held in
 * buf or in the list), the first data wins and differing bytes count tcp_overlap_mismatch.
 * Memory is capped per stream (buffered + waiting bytes) and across all streams; a hole that
 * cannot be filled within the caps is skipped and flagged (s->gap) so the analyzer knows its
 * byte stream is no longer contiguous. A stream picked up without its SYN starts at the first
 * data segment seen. */
#ifndef CAP_REASM_H
#define CAP_REASM_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_decode.h"
#include "cap_stats.h"
#include "mw_buf.h"

typedef struct cap_seg cap_seg;

typedef struct {
    mw_buf buf;         /* contiguous bytes from base_seq, not yet consumed */
    uint32_t base_seq;  /* sequence number of buf.data[0] */
    uint32_t next_seq;  /* next expected sequence number (= base_seq + buf.len) */
    cap_seg *ooo;       /* out-of-order segments, sorted, non-overlapping */
    uint32_t ooo_bytes;
    uint8_t seq_known;
    uint8_t gap;        /* a hole was skipped since the analyzer last cleared this */
    uint8_t done;       /* analyzer wants no more bytes: segments are counted, not kept */
} cap_stream;

typedef struct {
    uint32_t stream_max; /* per direction: buffered + out-of-order bytes */
    uint64_t global_max; /* all streams together */
    uint64_t in_use;
} cap_reasm;

void cap_reasm_init(cap_reasm *r, uint32_t stream_max, uint64_t global_max);
void cap_stream_init(cap_stream *s);
/* Frees everything the stream holds and marks it done. */
void cap_stream_release(cap_reasm *r, cap_stream *s);

/* The SYN (or SYN-ACK) of this direction: data starts at isn + 1. */
void cap_stream_syn(cap_stream *s, uint32_t isn);

/* Feeds one segment's payload. Returns true when s->buf gained bytes. */
bool cap_stream_segment(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                        uint32_t len, cap_stats *st);
/* The analyzer parsed the first n bytes of s->buf. */
void cap_stream_consume(cap_reasm *r, cap_stream *s, size_t n);
/* End of stream: skip any hole so that waiting segments reach buf. True when buf gained bytes. */
bool cap_stream_flush_gaps(cap_reasm *r, cap_stream *s, cap_stats *st);

#endif
