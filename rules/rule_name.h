/* Host name checks of a certificate (RFC 6125 section 6.4): does a certificate's identity
 * cover the name the client asked for? */
#ifndef RULE_NAME_H
#define RULE_NAME_H

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stddef.h>

/* One presented identifier (a SAN dNSName or a CN) against a reference host name.
 * Case-insensitive ASCII (A-labels compare as ASCII), a trailing dot ignored. A wildcard is
 * honoured only as the whole left-most label ("*.example.org", 6.4.3), matches exactly one
 * non-empty label, and needs at least two labels after it; partial-label wildcards
 * ("w*.example.org") and wildcards in A-labels are not honoured. */
bool rule_name_match(const char *presented, size_t plen, const char *host);

/* The certificate covers host: any SAN dNSName matches; the subject CN is consulted only when
 * the certificate has no dNSName at all (6.4.4). A host that is an IP literal is matched
 * against SAN iPAddress entries only. */
bool rule_cert_covers(X509 *x, const char *host);
/* rule_cert_covers with x's subjectAltName already decoded (gens: X509_get_ext_d2i's answer,
 * NULL when it gave none), as the certificate cache keeps it. */
bool rule_cert_covers_sans(X509 *x, const GENERAL_NAMES *gens, const char *host);

#endif
