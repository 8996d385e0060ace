/* Counters of one `ct` run; each has a stable name used in the summary line. */
#ifndef CT_STATS_H
#define CT_STATS_H

#include <stdint.h>
#include <stdio.h>

#define CT_COUNTERS(X)                                                                             \
    X(http_requests)                                                                               \
    X(http_retries)                                                                                \
    X(http_rate_limited)                                                                           \
    X(http_failures)                                                                               \
    X(http_too_big)                                                                                \
    X(http_invalid)                                                                                \
    X(json_malformed)                                                                              \
    X(sth_invalid)                                                                                 \
    X(consistency_failed)                                                                          \
    X(root_mismatch)                                                                               \
    X(leaf_malformed)                                                                              \
    X(der_malformed)                                                                               \
    X(entries_fetched)                                                                             \
    X(entries_watched)                                                                             \
    X(entries_new)                                                                                 \
    X(issuances_merged)                                                                            \
    X(hash_mismatch)                                                                               \
    X(sources_failed)

typedef struct {
#define X(n) uint64_t n;
    CT_COUNTERS(X)
#undef X
} ct_stats;

/* {"http_requests":N,...} on one line */
void ct_stats_print(const ct_stats *s, FILE *f);

#endif
