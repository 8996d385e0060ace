/* Fuzz target: the policy file parser (rules/pol_config.c) on arbitrary text. Whatever the
 * input, the load either succeeds or fills an error naming the file; the policy frees clean. */
#include <stdlib.h>
#include <string.h>

#include "pol_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pol_policy p;
    char err[512] = "";
    pol_policy_init(&p);
    bool ok = pol_load_string(&p, "fuzz.yaml", (const char *)data, size, err, sizeof err);
    if (!ok && strncmp(err, "fuzz.yaml", 9) != 0)
        abort(); /* every error names the file */
    pol_policy_free(&p);
    return 0;
}
