/* libFuzzer target: any server answer through the JARM answer parser, and its string
 * through the hash, as jarm_probe would chain them. Invariants: the parser always succeeds on
 * any input of at most JARM_RECV_MAX bytes, its string fits and is NUL-terminated (it may hold
 * NULs of its own: the ALPN text is copied as the reference decodes it), and the
 * hash is 62 characters whenever it succeeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jarm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char one[JARM_ANSWER_STR_MAX];
    static char raw[JARM_RAW_MAX];
    size_t n = 0;
    if (size > JARM_RECV_MAX) size = JARM_RECV_MAX; /* the probe never reads more */
    if (jarm_parse_answer(data, size, one, sizeof one, &n) != MW_OK || n >= sizeof one ||
        one[n] != '\0')
        abort();
    /* Ten copies, as if the server answered every probe the same way. */
    size_t r = 0;
    for (int i = 0; i < JARM_PROBES; i++) {
        if (i) raw[r++] = ',';
        memcpy(raw + r, one, n);
        r += n;
    }
    char hash[JARM_HASH_LEN + 1];
    mw_rc rc = jarm_hash(raw, r, hash);
    if (rc == MW_OK && strlen(hash) != JARM_HASH_LEN) abort();
    if (rc != MW_OK && rc != MW_MALFORMED) abort();
    return 0;
}
