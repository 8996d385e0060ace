/* A pcapng reader of its own, for what libpcap refuses: a file whose interfaces have different
 * link types (libpcap stops at the second interface with "an interface has a type ...
 * different from the type of the first interface"). Only used for such files, so every other
 * capture is read by libpcap as before.
 *
 * Blocks (draft-ietf-opsawg-pcapng): Section Header (either byte order, one per section;
 * a new section starts a new interface list), Interface Description (link type, snaplen,
 * if_tsresol, if_tsoffset), Enhanced Packet, Simple Packet and the obsolete Packet block;
 * every other block is skipped. Bounded: a block is 12 bytes to 16 MiB, a multiple of 4, with
 * equal leading and trailing lengths; at most CAP_PCAPNG_MAX_IFACES interfaces a section; a
 * packet's captured length within its block. Timestamps are converted to microseconds by
 * truncation, as libpcap does. */
#ifndef CAP_PCAPNG_H
#define CAP_PCAPNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CAP_PCAPNG_MAX_IFACES 1024
#define CAP_PCAPNG_MAX_BLOCK (16u << 20)

typedef struct cap_pcapng cap_pcapng;

/* True when f (at its start) is a pcapng file whose interfaces do not all have the same link
 * type; *first_dlt is the first interface's. Walks the block headers only; leaves f at its
 * start. */
bool cap_pcapng_mixed(FILE *f, int *first_dlt);

/* Takes f (closed by cap_pcapng_close). NULL when out of memory. */
cap_pcapng *cap_pcapng_open(FILE *f);
void cap_pcapng_close(cap_pcapng *r);

/* The next packet: 1 and the fields set (data valid until the next call), 0 at the end of the
 * file, -1 for a file that ends inside a block or a malformed block (reason in err). */
int cap_pcapng_next(cap_pcapng *r, int *dlt, uint64_t *ts_us, const uint8_t **data,
                    uint32_t *caplen, uint32_t *wire_len, char *err, size_t errlen);

#endif
