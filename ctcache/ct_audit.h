/* `ct audit`: every cached issuance for a watched name that the known-certificate store
 * lacks is a finding (ct.unknown_issuance), unless acknowledged in a file of TBS hashes.
 * Known certificates match by TBS hash, so a known final certificate covers its
 * precertificate: one issuance, one decision. */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_names.h"
#include "ct_snapshot.h"

typedef struct {
    uint8_t (*v)[32];
    size_t n, cap;
    bool sorted;
} ct_hashset;

void ct_hashset_free(ct_hashset *s);
bool ct_hashset_add(ct_hashset *s, const uint8_t h[32]);
void ct_hashset_seal(ct_hashset *s); /* sort; call before lookups */
bool ct_hashset_has(const ct_hashset *s, const uint8_t h[32]);

typedef struct {
    size_t files, certs, unreadable;
} ct_known_stats;

/* Reads a known-certificate store recursively (PEM bundles or DER, as certbot, dehydrated,
 * acme.sh and lego lay them out) and adds each certificate's TBS hash. Files that hold no
 * certificate (keys, CSRs, account data) are skipped. */
bool ct_known_load_dir(ct_hashset *tbs, const char *dir, ct_known_stats *ks, char *err,
                       size_t errlen);
/* Acknowledged issuances: one TBS SHA-256 in hex a line; '#' starts a comment. Errors name
 * the line. */
bool ct_ack_load(ct_hashset *tbs, const char *path, char *err, size_t errlen);

/* Calls found(entry) for each finding in snapshot order; returns the number of findings. */
size_t ct_audit(const ct_snapshot *s, const ct_watchlist *w, const ct_hashset *known,
                const ct_hashset *ack, void (*found)(const ct_entry_view *e, void *ud), void *ud);

#endif
