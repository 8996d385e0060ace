/* Certificate Transparency log list and SCT validation with OpenSSL's CT API.
 *
 * The log list is Google's v3 log_list.json (what Chrome ships: operators, each with logs
 * carrying a base64 DER public key) or a file already in OpenSSL's CTLOG_STORE config format
 * (enabled_logs = a,b / [a] key = ...). OpenSSL's CTLOG_STORE only loads its own format from a
 * file, so JSON is converted (rule_ct_convert) into a private temporary file, loaded and
 * removed. The operator of each log is kept beside the store: the SCT policy counts distinct
 * operators. */
#ifndef RULE_CT_H
#define RULE_CT_H

#include <openssl/ct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"

#define RULE_CT_MAX_LIST (8u << 20)

/* Per SCT, what the event and the rules say (docs/ARCHITECTURE.md, mitmwatch.tls.scts). */
enum rule_sct_status { RULE_SCT_VALID, RULE_SCT_INVALID, RULE_SCT_UNKNOWN_LOG, RULE_SCT_UNVERIFIED };

typedef struct rule_ctlogs rule_ctlogs;

/* Converts Google v3 log_list.json text into OpenSSL CTLOG config text. Logs whose key is
 * not base64 are refused (error names the log). */
bool rule_ct_convert(const char *json, size_t len, mw_buf *out, char *err, size_t errlen);

rule_ctlogs *rule_ctlogs_load(const char *path, char *err, size_t errlen);
void rule_ctlogs_free(rule_ctlogs *l);
size_t rule_ctlogs_count(const rule_ctlogs *l);
/* Operator and description of a log by its 32-byte id; NULL when not in the list. */
const char *rule_ctlogs_operator(const rule_ctlogs *l, const uint8_t *id, size_t idlen);
const char *rule_ctlogs_description(const rule_ctlogs *l, const uint8_t *id, size_t idlen);

/* Validates one SCT of leaf at time_ms (capture time: an SCT from the future is invalid).
 * issuer may be NULL: an embedded SCT (precert entry) then stays unverified, never invalid.
 * logs NULL: unverified. The status is also left in the SCT (SCT_get_validation_status). */
enum rule_sct_status rule_sct_validate(const rule_ctlogs *logs, SCT *sct, X509 *leaf,
                                       X509 *issuer, uint64_t time_ms);
const char *rule_sct_status_name(enum rule_sct_status s);
/* The same name from the SCT's own validation status (NOT_SET: "unverified"). */
const char *rule_sct_status_of(const SCT *sct);

#endif
