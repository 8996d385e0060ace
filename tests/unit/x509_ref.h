/* Test-only OpenSSL reference for x509_info_parse (see x509_ref.c). */
#ifndef X509_REF_H
#define X509_REF_H

#include "x509_info.h"

x509_info *x509_ref_parse(const uint8_t *der, size_t len, an_stats *st);
/* The first fact that differs between two entries ("sha256", "x509_json", ...), or NULL. */
const char *x509_ref_diff(const x509_info *a, const x509_info *b);
/* 1: OpenSSL accepts the DER and writes every field back to the same bytes (canonical DER);
 * 0: accepts, not canonical; -1: d2i_X509 rejects it (or leaves bytes over). */
int x509_ref_canonical(const uint8_t *der, size_t len);

#endif
