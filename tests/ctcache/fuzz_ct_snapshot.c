/* libFuzzer target: any file as a ctcache snapshot (a sensor maps whatever a copy job
 * delivered). Invariants: it loads completely or not at all; every loaded entry is found
 * again by its own TBS hash, and its names lie inside the mapping. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("ctsnap", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ct_snapshot *s = ct_snapshot_load(path, err, sizeof err);
    close(fd);
    if (!s) return 0;
    for (size_t i = 0; i < ct_snapshot_count(s); i++) {
        const ct_entry_view *e = ct_snapshot_entry(s, i);
        if (ct_snapshot_lookup(s, e->tbs) != e) abort();
        size_t total = 0;
        for (uint32_t k = 0; k < e->n_names; k++)
            total += e->names[k].n;
        if (total > size) abort();
    }
    ct_store st;
    ct_store_init(&st);
    if (ct_store_from_snapshot(&st, s) != MW_OK) abort();
    if (st.n != ct_snapshot_count(s)) abort();
    ct_store_free(&st);
    ct_snapshot_free(s);
    return 0;
}
