/* Certificate facts as events show them, shared by the structural parser (x509_info.c) and
 * the OpenSSL-based test oracle (tests/unit/x509_ref.c): one rendering, so the two can only
 * differ in how they find the facts, which is what the oracle checks. */
#ifndef X509_RENDER_H
#define X509_RENDER_H

#include <openssl/x509.h>

#include "mw_buf.h"
#include "mw_json.h"
#include "x509_info.h"

/* RFC 2253/4514 string (UTF-8 kept as is); malloc'd, NULL when out of memory. */
char *x509_name_str(const X509_NAME *n);
/* "key":{"common_name":[..],"organization":[..],...} with the attributes ECS names. */
void x509_name_json(mw_json *j, const char *key, const X509_NAME *n);
/* {"sha256","tbs_sha256","spki_sha256","subject","issuer","not_before","not_after"} of one
 * chain entry, from e's hashes, names and dates; malloc'd, NULL when out of memory.
 * *ok is cleared when the JSON writer failed. */
char *x509_chain_entry_json(const x509_info *e, bool *ok);
/* The facts of the x509 object ECS names, however they were found. */
typedef struct {
    long version;                      /* the version field: 0 for v1 */
    const char *serial_hex;            /* NULL: not shown */
    const X509_NAME *subject, *issuer;
    bool have_key;                     /* false: no public key facts at all */
    const char *key_type;              /* NULL: not shown */
    int key_bits;
    const char *key_curve;             /* NULL or "": not shown */
    int sig_nid;                       /* NID_undef: "unknown" */
} x509_facts;
/* The tls.server.x509 object (version, serial, dates and names from e and f, e->sans_json as
 * alternative_names, key and signature); malloc'd, NULL when out of memory. *ok is cleared
 * when the JSON writer failed. */
char *x509_object_json(const x509_info *e, const x509_facts *f, bool *ok);
/* The buffer's bytes as a malloc'd C string; frees the buffer. NULL when out of memory. */
char *x509_buf_to_str(mw_buf *b);

#endif
