/* The known-certificate store: the certificates the operator issued, read from the
 * directories ACME clients keep them in (certbot live/ and archive/, dehydrated certs/,
 * acme.sh's per-domain folders, lego's certificates/), recursively, PEM (bundles too) and DER.
 *
 * A presented leaf is known when its SHA-256 or its CT TBS hash (x509_info.tbs_sha256: the
 * TBSCertificate without SCT list and poison) is in the store, so a precertificate found in
 * CT matches the final certificate the server presents, and the other way round. Leaves are
 * also kept per certificate for the issuance cadence statistics (cert.issuance_odd), and CA
 * certificates found in the store (chain.pem, fullchain.pem, ca.cer) feed chain building. */
#ifndef STORE_KNOWN_H
#define STORE_KNOWN_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_DEPTH 16
#define STORE_MAX_FILE (1u << 20)
#define STORE_MAX_FILES 200000u

typedef struct {
    uint8_t sha256[32], tbs_sha256[32];
    int64_t not_before, not_after;
    bool is_ca;
    X509 *x;
} store_cert;

typedef struct {
    uint64_t files_read, files_skipped, certs, duplicates, unparsable;
} store_stats;

typedef struct store_known store_known;

/* Reads every directory (or single file). A directory that cannot be opened fails with err;
 * unreadable or foreign files inside are skipped and counted. */
store_known *store_known_load(char *const *paths, size_t npaths, char *err, size_t errlen);
void store_known_free(store_known *s);
/* 1: the SHA-256 matches, 2: only the TBS hash matches, 0: unknown. */
int store_known_lookup(const store_known *s, const uint8_t sha256[32],
                       const uint8_t tbs_sha256[32]);
/* The leaf (non-CA) certificates of the store, in no particular order. */
const store_cert *store_known_certs(const store_known *s, size_t *n);
/* The CA certificates found in the store. */
STACK_OF(X509) *store_known_cas(const store_known *s);
const store_stats *store_known_stats(const store_known *s);

#endif
