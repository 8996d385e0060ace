/* Fuzz target: capture/cap_pcapng, the block-by-block pcapng reader, on arbitrary file bytes:
 * the link-type scan, then every packet; a packet's bytes are read in full so an over-read
 * faults under ASan. */
#include <stdio.h>
#include <stdlib.h>

#include "cap_pcapng.h"

static volatile unsigned g_sink; /* keeps the reads of every packet byte */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f) return 0;
    int first;
    (void)cap_pcapng_mixed(f, &first);
    cap_pcapng *r = cap_pcapng_open(f);
    if (!r) return 0;
    int dlt;
    uint64_t ts;
    const uint8_t *pkt;
    uint32_t caplen, wire;
    char err[128];
    unsigned sum = 0;
    while (cap_pcapng_next(r, &dlt, &ts, &pkt, &caplen, &wire, err, sizeof err) == 1) {
        for (uint32_t i = 0; i < caplen; i++)
            sum += pkt[i];
        if (caplen > CAP_PCAPNG_MAX_BLOCK) abort();
    }
    g_sink = sum;
    cap_pcapng_close(r);
    return 0;
}
