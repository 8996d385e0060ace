/* The sensor's side of the ctcache: is a presented certificate in CT as far as the snapshot
 * knows? Feeds cert.not_in_ct (docs/ARCHITECTURE.md) for certificates of watched names. */
#ifndef CT_LOOKUP_H
#define CT_LOOKUP_H

#include "ct_snapshot.h"
#include "x509_info.h"

/* Decides with the TBS hash x509_info computed (SCT list and poison removed, so a final
 * certificate finds its precertificate's entry). The issue time for the grace period is the
 * later of notBefore and the newest embedded SCT. mmd_s 0 = the snapshot's largest merge
 * delay (default 24 h). */
ct_check ct_check_cert(const ct_snapshot *s, const x509_info *xi, uint64_t mmd_s);
const char *ct_check_name(ct_check c); /* "logged", "not_in_ct", "grace", "no_snapshot" */

#endif
