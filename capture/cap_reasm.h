/* TCP stream reassembly, one cap_stream per direction.
 *
 * In-order bytes are appended to s->buf for the analyzer, which consumes what it parsed with
 * cap_stream_consume. Segments ahead of the expected sequence number wait as ranges in a sorted
 * array (binary search; a new range merges with its neighbours when they touch and came with the
 * same IP TTL, so a run of small segments costs one range; merging copies the smaller side into
 * the larger, whose buffer keeps room at both ends: no path is quadratic in what an attacker
 * sends). At most CAP_OOO_MAX_RANGES ranges wait per stream: past that the farthest range is
 * refused or evicted (tcp_ooo_ranges_cap) and the hole stays open, since the farthest bytes are
 * the likeliest to be junk.
 *
 * First data wins. A later copy of bytes already seen is compared with the first one: bytes
 * still held (waiting ranges, or in buf) byte by byte (tcp_overlap_mismatch), and bytes already
 * consumed through a history: the SHA-256 of each CAP_HIST_BLOCK-byte block and the last partial
 * block verbatim. A later copy is assembled block by block and its digest compared
 * (tcp_consumed_mismatch). The history lives until the stream is released; at the flow's
 * verdict cap_stream_linger frees everything else and keeps it a while, since an attacker who
 * also forged the end of the handshake gets the verdict before the real bytes arrive. Either
 * way the first difference of a direction is recorded in s->conflict (both versions' digests
 * and TTLs) for the rules: an injection, since a retransmission carries the same bytes.
 *
 * Memory is capped per stream (buffered + waiting data bytes) and across all streams; the
 * global budget is charged with what is really held: buffered bytes, each waiting range's
 * buffer plus its descriptor, the history, and whatever cap_budget_take is asked for (the
 * analyzers' handshake buffers). A hole that cannot be filled within the byte caps is skipped
 * and flagged (s->gap) so the analyzer knows its byte stream is no longer contiguous. A stream
 * picked up without its SYN starts at the first data segment seen. */
#ifndef CAP_REASM_H
#define CAP_REASM_H

#include <stdbool.h>
#include <stdint.h>

#include "cap_decode.h"
#include "cap_stats.h"
#include "mw_buf.h"

#define CAP_OOO_MAX_RANGES 128u /* waiting ranges per stream (fits cap_stream.nooo) */
#define CAP_HIST_BLOCK 512u     /* bytes per history digest */
/* History kept per stream: the first 1.25 MiB consumed, so that a handshake with a certificate
 * message as large as the TLS analyzer takes (1 MiB) is still covered (80 KiB of digests at
 * most, charged to the global budget). */
#define CAP_HIST_MAX_BLOCKS 2560u
#define CAP_TTL_RUNS 2u /* TTLs remembered per stream: its own and one change */

typedef struct cap_hist cap_hist;

/* A waiting range: data at mem + head, with room before it (head) and after it. Charged to the
 * budget: cap + CAP_RANGE_OVERHEAD (the allocator's header), and its descriptor. */
typedef struct {
    uint32_t seq, len;
    uint32_t head, cap;
    uint8_t *mem;
    uint8_t ttl;
} cap_range;

#define CAP_RANGE_OVERHEAD 16u

/* Two different versions of the same sequence numbers of one direction. */
typedef struct {
    uint32_t count; /* segments that revealed a difference (both kinds) */
    /* the first difference: */
    uint32_t offset; /* stream offset (0 = the direction's first data byte) of the range compared */
    uint32_t len;    /* its length in bytes */
    uint8_t first_ttl, later_ttl; /* IP TTL / hop limit of each copy; 0 = unknown */
    bool consumed;                /* the first copy had already been parsed by the analyzer */
    uint8_t first_sha256[32], later_sha256[32]; /* SHA-256 of the range in each copy */
    uint64_t ts_us;                             /* capture time of the later copy */
} cap_conflict;

typedef struct {
    mw_buf buf;             /* contiguous bytes from base_seq, not yet consumed */
    uint32_t base_seq;      /* sequence number of buf.data[0] */
    uint32_t next_seq;      /* next expected sequence number (= base_seq + buf.len) */
    uint32_t start_seq;     /* sequence number of the direction's first data byte */
    uint32_t ooo_bytes;     /* data bytes waiting */
    cap_range *ooo;         /* waiting ranges, sorted, disjoint */
    cap_hist *hist;         /* digests of consumed bytes; NULL until the first consume */
    cap_conflict *conflict; /* NULL until a later copy differs */
    uint32_t ooo_mem; /* what the waiting ranges are charged (buffers, overhead, descriptors) */
    uint32_t run_off[CAP_TTL_RUNS]; /* stream offsets where the TTL of appended bytes changed */
    uint8_t run_ttl[CAP_TTL_RUNS];
    uint8_t nruns;
    uint8_t nooo, ooo_alloc; /* at most CAP_OOO_MAX_RANGES */
    uint8_t hist_off;        /* no history: its first allocation was refused */
    uint8_t seq_known;
    uint8_t gap;       /* a hole was skipped since the analyzer last cleared this */
    uint8_t done;      /* analyzer wants no more bytes: segments are counted, not kept */
    uint8_t alt_known; /* a second SYN of this direction carried alt_isn */
    uint32_t alt_isn;
} cap_stream;

typedef struct {
    uint32_t stream_max; /* per direction: buffered + out-of-order data bytes */
    uint64_t global_max; /* all streams together, and the analyzers' buffers */
    uint64_t in_use;
    uint64_t now_us; /* capture time of the segment being fed (stamps conflicts) */
    cap_stats *st;   /* where cap_budget_take counts refusals (tcp_global_cap); optional */
} cap_reasm;

void cap_reasm_init(cap_reasm *r, uint32_t stream_max, uint64_t global_max);
void cap_stream_init(cap_stream *s);
/* Frees everything the stream holds (history and conflict record included) and marks it done. */
void cap_stream_release(cap_reasm *r, cap_stream *s);

/* The SYN (or SYN-ACK) of this direction: data starts at isn + 1. A later one with another
 * ISN, before any data, is kept as the alternative (a SYN-ACK retransmitted with a new ISN). */
void cap_stream_syn(cap_stream *s, uint32_t isn);
/* The other direction acknowledged ack (a segment without SYN): when it acknowledges the
 * alternative ISN and no data arrived yet, the stream follows that one. */
void cap_stream_peer_ack(cap_stream *s, uint32_t ack);

/* Feeds one segment's payload, sent with IP TTL ttl. Returns true when s->buf gained bytes. */
bool cap_stream_segment(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data,
                        uint32_t len, uint8_t ttl, cap_stats *st);
/* The analyzer parsed the first n bytes of s->buf: they enter the history. */
void cap_stream_consume(cap_reasm *r, cap_stream *s, size_t n, cap_stats *st);
/* End of stream: skip any hole so that waiting segments reach buf. True when buf gained bytes. */
bool cap_stream_flush_gaps(cap_reasm *r, cap_stream *s, cap_stats *st);
/* The analyzer is done with the stream: everything but the history, the TTL runs and the
 * conflict record is freed; segments are then only compared (cap_stream_late). */
void cap_stream_linger(cap_reasm *r, cap_stream *s);
/* A segment of a lingering stream, compared with the history (tcp_consumed_mismatch). True when
 * it recorded the stream's first conflict (s->conflict was NULL before). */
bool cap_stream_late(cap_reasm *r, cap_stream *s, uint32_t seq, const uint8_t *data, uint32_t len,
                     uint8_t ttl, cap_stats *st);
/* Bytes this stream holds against the global budget. */
uint64_t cap_stream_mem(const cap_stream *s);

/* The global budget for other holders of per-flow memory (the TLS handshake buffers): take
 * fails, and counts tcp_global_cap in r->st, when n more bytes would pass global_max. */
bool cap_budget_take(cap_reasm *r, uint64_t n);
void cap_budget_give(cap_reasm *r, uint64_t n);

#endif
