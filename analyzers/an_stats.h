/* Counters of the analyzers; each anomaly has a stable name used in the stats event. */
#ifndef AN_STATS_H
#define AN_STATS_H

#include <stdint.h>

#define AN_ANOMALIES(X)                                                                            \
    X(tls_record_malformed)                                                                        \
    X(tls_client_hello_malformed)                                                                  \
    X(tls_server_hello_malformed)                                                                  \
    X(tls_certificate_malformed)                                                                   \
    X(tls_certificate_status_malformed)                                                            \
    X(tls_handshake_too_large)                                                                     \
    X(tls_stream_gap)                                                                              \
    X(tls_role_conflict)                                                                           \
    X(x509_malformed)                                                                              \
    X(sct_list_malformed)                                                                          \
    X(ocsp_malformed)                                                                              \
    X(chain_too_long)                                                                              \
    X(starttls_line_too_long)                                                                      \
    X(starttls_malformed)                                                                          \
    X(starttls_no_tls_after_upgrade)                                                               \
    X(tls_sslv2_hello)                                                                             \
    X(tls_handshake_budget)                                                                        \
    X(x509_cache_evicted)                                                                          \
    X(x509_cache_full)                                                                             \
    X(x509_cache_refused)

enum {
#define X(n) AN_AN_##n,
    AN_ANOMALIES(X)
#undef X
        AN_AN_COUNT
};

extern const char *const an_anomaly_names[AN_AN_COUNT];

typedef struct {
    uint64_t tls_flows;     /* flows whose first bytes were a TLS handshake record */
    uint64_t starttls_flows, starttls_upgrades, starttls_refused;
    uint64_t non_tls_flows; /* flows given up on: no TLS seen at the start */
    /* flows that opened with a proxy dialogue (proxy.h); tunnels established; refused by the
     * proxy (no TLS expected); tunnels that did not carry TLS */
    uint64_t proxy_flows, proxy_tunnels, proxy_refused, proxy_not_tls;
    uint64_t client_hellos, server_hellos, hello_retry_requests;
    uint64_t handshakes;    /* handshake events emitted */
    uint64_t certificates;  /* certificates seen in Certificate messages */
    uint64_t cert_cache_hits, cert_cache_misses; /* evictions: an[AN_AN_x509_cache_evicted] */
    uint64_t an[AN_AN_COUNT];
} an_stats;

#endif
