/* What RFC 6962 and static-ct-api logs share: the log's key and ID, the signed tree head,
 * and the TimestampedEntry inside every leaf. */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_cursor.h"
#include "mw_result.h"

typedef struct {
    EVP_PKEY *pk;
    uint8_t log_id[32]; /* SHA-256 of the SubjectPublicKeyInfo DER (RFC 6962 3.2) */
    uint8_t *spki;
    size_t spki_len;
} ct_logkey;

/* A log's public key in the log list's format: the base64 of its DER SubjectPublicKeyInfo
 * (Google v3 log_list.json "key"), given inline or in a file; a PEM file holds the same base64
 * between BEGIN/END PUBLIC KEY lines and is read as well. false with err set otherwise. */
bool ct_logkey_load(const char *key, ct_logkey *k, char *err, size_t errlen);
/* The same from DER SubjectPublicKeyInfo bytes, which must be consumed exactly. */
bool ct_logkey_from_der(const uint8_t *der, size_t len, ct_logkey *k);
void ct_logkey_free(ct_logkey *k);

/* Verifies a DigitallySigned (RFC 5246 4.7: hash u8, signature u8, opaque<0..2^16-1>) over
 * the TreeHeadSignature of RFC 6962 3.5: version v1, signature_type tree_hash, timestamp,
 * tree_size, sha256_root_hash. Only SHA-256 with ECDSA or RSA is accepted. */
bool ct_sth_verify(const ct_logkey *k, uint64_t timestamp, uint64_t tree_size,
                   const uint8_t root[32], const uint8_t *ds, size_t ds_len);

enum { CT_ENTRY_X509 = 0, CT_ENTRY_PRECERT = 1 };

typedef struct {
    uint64_t timestamp;
    uint16_t entry_type;
    mw_cur cert;                    /* x509: the certificate; precert: the TBSCertificate */
    const uint8_t *issuer_key_hash; /* precert only */
    mw_cur extensions;
} ct_tsentry;

/* TimestampedEntry (RFC 6962 3.4), read from c (which is advanced past it). */
MW_WUR mw_rc ct_parse_tsentry(mw_cur *c, ct_tsentry *e);
/* MerkleTreeLeaf: version v1, leaf_type timestamped_entry, TimestampedEntry; all of it. */
MW_WUR mw_rc ct_parse_leaf(const uint8_t *leaf, size_t len, ct_tsentry *e);

#endif
