/* Transition header: x509_name_str is in x509_name.h; the certificate JSON (names, chain
 * entry, x509 object) is rendered by output/ev_x509.h. Kept, with the includes it had, for
 * code that still includes it; remove once nothing does. */
#ifndef X509_RENDER_H
#define X509_RENDER_H

#include <openssl/x509.h>

#include "mw_buf.h"
#include "mw_json.h"
#include "x509_info.h"
#include "x509_name.h"

#endif
