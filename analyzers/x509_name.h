/* X.509 names as facts: the RFC 4514 string that events, evidence and logs show. */
#ifndef X509_NAME_H
#define X509_NAME_H

#include <openssl/x509.h>

/* RFC 2253/4514 string (UTF-8 kept as is); malloc'd, NULL when out of memory. */
char *x509_name_str(const X509_NAME *n);

#endif
