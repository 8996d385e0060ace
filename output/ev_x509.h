/* The certificate fragments of events (docs/ARCHITECTURE.md): a mitmwatch.tls.chain element and the ECS
 * x509 object of tls.server.x509, rendered from analyzers/x509_info's facts. Each is rendered
 * once per cache entry, into the entry's render slot, and copied into every event after. */
#ifndef EV_X509_H
#define EV_X509_H

#include <openssl/x509.h>

#include "mw_json.h"
#include "x509_info.h"

/* "key":{"common_name":[..],"organization":[..],...} with the attributes ECS names. */
void ev_x509_name(mw_json *j, const char *key, const X509_NAME *n);
/* {"sha256","tbs_sha256","spki_sha256","subject","issuer","not_before","not_after"}. */
void ev_x509_chain_entry(mw_json *j, x509_info *e);
/* {"version_number","serial_number","not_before","not_after","subject","issuer",
 *  "alternative_names","public_key_algorithm","public_key_size","public_key_curve",
 *  "signature_algorithm"}. */
void ev_x509_object(mw_json *j, x509_info *e);

#endif
