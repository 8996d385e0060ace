/* HTTP GET for CT sources over one libcurl easy handle: timeouts, a byte cap per response,
 * retries with exponential backoff that honour Retry-After (429 and 5xx). A 200 whose body the
 * caller's check refuses (truncated or invalid: a connection closed early on a response
 * without a length, an error page served as 200) is retried with the same backoff. Everything
 * that comes back is untrusted; this layer only bounds it. */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_stats.h"
#include "mw_buf.h"
#include "mw_result.h"

typedef struct {
    long timeout_ms; /* whole transfer */
    long connect_timeout_ms;
    size_t max_bytes;    /* cap per response body */
    unsigned retries;    /* extra attempts after the first */
    unsigned backoff_ms; /* first backoff; doubles each retry */
    unsigned max_backoff_ms;
    unsigned max_retry_after_s; /* a longer Retry-After gives up instead of stalling a sync */
} ct_http_opts;

void ct_http_opts_default(ct_http_opts *o);

typedef struct ct_http ct_http;

ct_http *ct_http_new(const ct_http_opts *o, ct_stats *st);
void ct_http_free(ct_http *h);

typedef enum {
    CT_HTTP_OK,
    CT_HTTP_STATUS,    /* final answer was not 200 */
    CT_HTTP_TRANSPORT, /* connect/timeout/read failure after all retries */
    CT_HTTP_TOO_BIG,   /* body over max_bytes */
    CT_HTTP_INVALID,   /* 200 every time, but the check refused the body each time */
} ct_http_outcome;

typedef struct {
    ct_http_outcome outcome;
    long status; /* last HTTP status, 0 when none */
    unsigned attempts;
    char error[256]; /* one line for logs */
} ct_http_result;

/* Judges a 200 body before it is accepted: true to take it, false (with a reason in why) to
 * count it as invalid and retry. It may rewrite body (e.g. inflate it). */
typedef bool (*ct_http_check)(mw_buf *body, void *ud, char *why, size_t whylen);

/* GETs url into out (reset first; out's own cap also applies). bearer: optional API key sent
 * as "Authorization: Bearer". check (optional) validates a 200 body. Returns MW_OK only for a
 * complete 200 response that passed check. */
MW_WUR mw_rc ct_http_get(ct_http *h, const char *url, const char *bearer, mw_buf *out,
                         ct_http_check check, void *check_ud, ct_http_result *res);

/* Percent-encodes s into out for a URL query value; false when it does not fit. */
bool ct_url_escape(const char *s, char *out, size_t outlen);

#endif
