#include "ct_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ct_http {
    CURL *c;
    ct_http_opts o;
    ct_stats *st;
};

void ct_http_opts_default(ct_http_opts *o) {
    o->timeout_ms = 30000;
    o->connect_timeout_ms = 10000;
    o->max_bytes = 16u << 20;
    o->retries = 4;
    o->backoff_ms = 500;
    o->max_backoff_ms = 30000;
    o->max_retry_after_s = 120;
}

void ct_stats_print(const ct_stats *s, FILE *f) {
    const char *sep = "{";
#define X(n)                                                                                       \
    fprintf(f, "%s\"%s\":%llu", sep, #n, (unsigned long long)s->n);                                \
    sep = ",";
    CT_COUNTERS(X)
#undef X
    fputs("}\n", f);
}

ct_http *ct_http_new(const ct_http_opts *o, ct_stats *st) {
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
        global_done = 1;
    }
    ct_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->c = curl_easy_init();
    if (!h->c) {
        free(h);
        return NULL;
    }
    h->o = *o;
    h->st = st;
    return h;
}

void ct_http_free(ct_http *h) {
    if (!h) return;
    curl_easy_cleanup(h->c);
    free(h);
}

typedef struct {
    mw_buf *out;
    size_t max;
    int too_big;
} sink;

static size_t on_data(char *p, size_t sz, size_t nm, void *ud) {
    sink *s = ud;
    size_t n = sz * nm;
    /* Returning short makes curl abort with CURLE_WRITE_ERROR: the cap is never exceeded. */
    if (n > s->max - s->out->len || !mw_buf_append(s->out, p, n)) {
        s->too_big = 1;
        return 0;
    }
    return n;
}

static void sleep_ms(unsigned long ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static bool retryable_status(long s) {
    return s == 429 || s == 502 || s == 503 || s == 504 || s == 500;
}

static bool retryable_curl(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
           rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_PARTIAL_FILE || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_BAD_CONTENT_ENCODING; /* a compressed body cut short */
}

mw_rc ct_http_get(ct_http *h, const char *url, const char *bearer, mw_buf *out, ct_http_check check,
                  void *check_ud, ct_http_result *res) {
    CURL *c = h->c;
    char auth[512];
    struct curl_slist *hdrs = NULL;
    memset(res, 0, sizeof *res);
    if (bearer && *bearer) {
        int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        if (n < 0 || (size_t)n >= sizeof auth) {
            res->outcome = CT_HTTP_TRANSPORT;
            snprintf(res->error, sizeof res->error, "API key too long");
            return MW_ERR;
        }
        hdrs = curl_slist_append(hdrs, auth);
    }
    unsigned long backoff = h->o.backoff_ms;
    mw_rc rc = MW_ERR;
    for (unsigned attempt = 0;; attempt++) {
        sink s = {out, h->o.max_bytes < out->max ? h->o.max_bytes : out->max, 0};
        mw_buf_reset(out);
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "mitmwatch-ct/" MW_VERSION);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        h->st->http_requests++;
        res->attempts = attempt + 1;
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        res->status = status;
        if (s.too_big || cr == CURLE_FILESIZE_EXCEEDED) {
            h->st->http_too_big++;
            res->outcome = CT_HTTP_TOO_BIG;
            snprintf(res->error, sizeof res->error, "response over %zu bytes", s.max);
            rc = MW_ERR;
            break; /* the same request would be as big again */
        }
        bool retry = false;
        unsigned long wait = backoff;
        if (cr != CURLE_OK) {
            res->outcome = CT_HTTP_TRANSPORT;
            snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(cr));
            retry = retryable_curl(cr);
        } else if (status != 200) {
            res->outcome = CT_HTTP_STATUS;
            snprintf(res->error, sizeof res->error, "HTTP status %ld", status);
            retry = retryable_status(status);
            if (status == 429) h->st->http_rate_limited++;
            curl_off_t ra = -1;
            if (retry && curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) {
                if (ra > (curl_off_t)h->o.max_retry_after_s) {
                    snprintf(res->error, sizeof res->error,
                             "HTTP status %ld, Retry-After %lld s is over the limit of %u s",
                             status, (long long)ra, h->o.max_retry_after_s);
                    retry = false;
                } else {
                    wait = (unsigned long)ra * 1000UL;
                }
            }
        } else {
            char why[200] = "";
            if (!check || check(out, check_ud, why, sizeof why)) {
                res->outcome = CT_HTTP_OK;
                rc = MW_OK;
                break;
            }
            /* A body cut short (no Content-Length, the connection closed early) or garbage
             * behind a 200 is as transient as a 503: ask again. */
            h->st->http_invalid++;
            res->outcome = CT_HTTP_INVALID;
            snprintf(res->error, sizeof res->error, "invalid response body: %s", why);
            retry = true;
        }
        if (!retry || attempt >= h->o.retries) {
            rc = MW_ERR;
            break;
        }
        h->st->http_retries++;
        sleep_ms(wait);
        backoff = backoff * 2 > h->o.max_backoff_ms ? h->o.max_backoff_ms : backoff * 2;
    }
    if (rc != MW_OK) h->st->http_failures++;
    curl_slist_free_all(hdrs);
    return rc;
}

bool ct_url_escape(const char *s, char *out, size_t outlen) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (plain) {
            if (o + 1 >= outlen) return false;
            out[o++] = (char)ch;
        } else {
            if (o + 3 >= outlen) return false;
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    if (o >= outlen) return false;
    out[o] = '\0';
    return true;
}
