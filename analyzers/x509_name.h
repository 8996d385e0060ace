/* X.509 names as events show them, shared by the structural parser (x509_info.c) and the
 * OpenSSL-based test oracle (tests/unit/x509_ref.c): one rendering, so the two can only
 * differ in how they find the name, which is what the oracle checks. */
#ifndef X509_NAME_H_MW
#define X509_NAME_H_MW

#include <openssl/x509.h>

#include "mw_buf.h"
#include "mw_json.h"

/* RFC 2253/4514 string (UTF-8 kept as is); malloc'd, NULL when out of memory. */
char *x509_name_str(const X509_NAME *n);
/* "key":{"common_name":[..],"organization":[..],...} with the attributes ECS names. */
void x509_name_json(mw_json *j, const char *key, const X509_NAME *n);
/* The buffer's bytes as a malloc'd C string; frees the buffer. NULL when out of memory. */
char *x509_buf_to_str(mw_buf *b);

#endif
