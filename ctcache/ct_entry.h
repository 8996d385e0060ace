/* From a logged certificate to a ctcache entry: parse with x509_info_parse (so the TBS hash
 * is the one the sensor computes for a presented certificate), collect the DNS names (SAN
 * dNSNames and the subject CN), and keep the entry only when a name is watched. */
#ifndef CT_ENTRY_H
#define CT_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_names.h"
#include "ct_snapshot.h"
#include "ct_stats.h"
#include "mw_result.h"

typedef struct {
    const char *source;    /* e.g. "rfc6962:https://log.example/" */
    const uint8_t *log_id; /* 32 bytes or NULL */
    uint64_t index, timestamp_ms;
} ct_origin;

typedef enum {
    CT_ENTRY_WATCHED,   /* *out filled */
    CT_ENTRY_UNWATCHED, /* parsed; no watched name */
    CT_ENTRY_BAD_DER,   /* counted as der_malformed */
    CT_ENTRY_NOMEM,
} ct_entry_result;

/* A certificate (final, or a precertificate with its poison extension) as DER. */
ct_entry_result ct_entry_from_cert(const uint8_t *der, size_t len, const ct_origin *o,
                                   const ct_watchlist *w, ct_stats *st, ct_entry *out);
/* A precert_entry's TBSCertificate as RFC 6962 3.2 logs it (poison already removed, issuer
 * already the final issuer): its SHA-256 is the issuance's TBS hash. */
ct_entry_result ct_entry_from_precert_tbs(const uint8_t *tbs, size_t len, const ct_origin *o,
                                          const ct_watchlist *w, ct_stats *st, ct_entry *out);

/* Adds the entry to the store and counts it; frees it either way. */
MW_WUR mw_rc ct_entry_commit(ct_store *s, ct_entry *e, ct_stats *st);

#endif
