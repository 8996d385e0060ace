/* Test-only OpenSSL reference for analyzers/x509_info.c (see x509_ref.c). */
#ifndef X509_REF_H
#define X509_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CT TBS hash (RFC 6962 3.2) the way OpenSSL's SCT code computes it; false when
 * x509_info_parse must refuse the DER (d2i_X509 refuses it or leaves bytes over, or the
 * TBSCertificate has no definite length). */
bool x509_ref_tbs_sha256(const uint8_t *der, size_t len, uint8_t out[32]);

#endif
