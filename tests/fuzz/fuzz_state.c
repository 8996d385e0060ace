/* Fuzz target: the --state file loader (rules/bl_baseline.c, bl_load_mem) on arbitrary bytes.
 * Whatever the input, the load either succeeds or gives a one-line reason naming the file; a
 * state that loaded is written out again, and that output loads back to a state of exactly the
 * same encoded size (the same services and traces; only their order may differ). */
#include <stdlib.h>
#include <string.h>

#include "bl_baseline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bl_cfg cfg = {.max_services = 256};
    char err[512] = "";
    bl_state *b = bl_new(&cfg);
    if (!b) return 0;
    if (!bl_load_mem(b, "fuzz.state", data, size, err, sizeof err)) {
        if (strncmp(err, "state file fuzz.state: ", 23) != 0 || strchr(err, '\n')) abort();
        bl_free(b);
        return 0;
    }
    char *out = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    if (!bl_dump(b, &out, &n)) abort();
    bl_state *c = bl_new(&cfg);
    if (!c || !bl_load_mem(c, "fuzz.state", out, n, err, sizeof err) || !bl_dump(c, &again, &n2) ||
        n2 != n)
        abort();
    free(out);
    free(again);
    bl_free(c);
    bl_free(b);
    return 0;
}
