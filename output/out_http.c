/* HTTP collectors over libcurl, one easy handle per sink thread (kept alive between batches):
 *  - Splunk HEC: POST /services/collector/event, "Authorization: Splunk <token>", body of
 *    stacked {"time":..,"host":..,"source":"mitmwatch","sourcetype":..,"event":{...}} objects.
 *  - Elasticsearch/OpenSearch _bulk: NDJSON of {"create":{"_index":"<pattern of @timestamp>"}}
 *    and the event; per-item statuses decide what is resent (429, 5xx) or refused (other 4xx).
 * TLS peer and host verification are on unless the config turns them off. 429/5xx/transport
 * errors are retried with backoff (or after the collector's Retry-After); other 4xx refuse the
 * batch and the first body is logged. */
#define _GNU_SOURCE /* memmem */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mw_json.h"
#include "out_sink.h"

#ifndef MW_VERSION
#define MW_VERSION "0"
#endif

#define HTTP_BODY_MAX (64u << 20)
#define HTTP_RESP_MAX (4u << 20)

typedef struct {
    CURLM *m;
    CURL *h;
    struct curl_slist *headers;
    mw_buf body;
    mw_buf resp;
    char host[256];
    char url[1100];
} http_state;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
    mw_buf *b = ud;
    size_t n = sz * nm;
    if (!mw_buf_append(b, p, n)) {
        /* Past the cap: keep reading (so the connection stays usable), stop storing. */
    }
    return n;
}

static bool http_open(out_sink *s, char *err, size_t errlen) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return false;
    }
    http_state *st = calloc(1, sizeof *st);
    if (!st) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->proto = st;
    mw_buf_init(&st->body, HTTP_BODY_MAX);
    mw_buf_init(&st->resp, HTTP_RESP_MAX);
    if (gethostname(st->host, sizeof st->host) != 0) st->host[0] = '\0';
    st->host[sizeof st->host - 1] = '\0';
    if (s->cfg.hostname[0]) snprintf(st->host, sizeof st->host, "%s", s->cfg.hostname);
    snprintf(st->url, sizeof st->url, "%s", s->cfg.url);
    if (s->cfg.type == OUT_SINK_HEC && !s->cfg.token[0]) {
        snprintf(err, errlen, "HEC output needs token=");
        return false;
    }

    char hv[400];
    st->headers = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    st->headers = curl_slist_append(st->headers, s->cfg.type == OUT_SINK_BULK
                                                     ? "Content-Type: application/x-ndjson"
                                                     : "Content-Type: application/json");
    if (s->cfg.type == OUT_SINK_HEC) {
        snprintf(hv, sizeof hv, "Authorization: Splunk %s", s->cfg.token);
        st->headers = curl_slist_append(st->headers, hv);
    } else if (s->cfg.apikey[0]) {
        snprintf(hv, sizeof hv, "Authorization: ApiKey %s", s->cfg.apikey);
        st->headers = curl_slist_append(st->headers, hv);
    }
    if (!st->headers) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    st->h = curl_easy_init();
    st->m = curl_multi_init();
    if (!st->h || !st->m) {
        snprintf(err, errlen, "curl_easy_init failed");
        return false;
    }
    CURL *h = st->h;
    curl_easy_setopt(h, CURLOPT_URL, st->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mitmwatch/" MW_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st->resp);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->cfg.tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->cfg.tls_verify ? 2L : 0L);
    if (s->cfg.ca_file[0]) curl_easy_setopt(h, CURLOPT_CAINFO, s->cfg.ca_file);
    if (s->cfg.type == OUT_SINK_BULK && s->cfg.user[0]) {
        curl_easy_setopt(h, CURLOPT_USERNAME, s->cfg.user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->cfg.password);
    }
    return true;
}

static void http_disconnect(out_sink *s) {
    (void)s; /* libcurl drops a failed connection itself and reconnects on the next request */
}

static void http_close(out_sink *s) {
    http_state *st = s->proto;
    if (!st) return;
    if (st->h) curl_easy_cleanup(st->h);
    if (st->m) curl_multi_cleanup(st->m);
    curl_slist_free_all(st->headers);
    mw_buf_free(&st->body);
    mw_buf_free(&st->resp);
    free(st);
    s->proto = NULL;
    curl_global_cleanup();
}

/* Index name: %Y %m %d %H of the event time (UTC), %% a percent; other characters as given. */
static void index_name(const char *pat, const out_item *it, char *out, size_t outlen) {
    int64_t sec;
    int32_t usec;
    if (!out_event_time(it->data, it->len, &sec, &usec)) out_time_now(&sec, &usec);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t o = 0;
    for (const char *p = pat; *p && o + 5 < outlen; p++) {
        int w = 0;
        if (*p == '%' && p[1]) {
            p++;
            switch (*p) {
            case 'Y':
                w = snprintf(out + o, outlen - o, "%04d", tm.tm_year + 1900);
                break;
            case 'm':
                w = snprintf(out + o, outlen - o, "%02d", tm.tm_mon + 1);
                break;
            case 'd':
                w = snprintf(out + o, outlen - o, "%02d", tm.tm_mday);
                break;
            case 'H':
                w = snprintf(out + o, outlen - o, "%02d", tm.tm_hour);
                break;
            default:
                out[o] = *p;
                w = 1;
            }
        } else {
            out[o] = *p;
            w = 1;
        }
        if (w < 0 || (size_t)w >= outlen - o) break;
        o += (size_t)w;
    }
    out[o] = '\0';
}

static bool build_body(out_sink *s, http_state *st, out_item **batch, size_t n) {
    mw_buf_reset(&st->body);
    for (size_t i = 0; i < n; i++) {
        const out_item *it = batch[i];
        mw_json j;
        mw_json_init(&j, &st->body);
        if (s->cfg.type == OUT_SINK_HEC) {
            int64_t sec;
            int32_t usec;
            if (!out_event_time(it->data, it->len, &sec, &usec)) out_time_now(&sec, &usec);
            char tv[40];
            int tl = snprintf(tv, sizeof tv, "%lld.%06d", (long long)sec, (int)usec);
            mw_json_obj_begin(&j);
            mw_json_key(&j, "time");
            mw_json_raw(&j, tv, (size_t)tl);
            mw_json_kstr(&j, "host", st->host);
            mw_json_kstr(&j, "source", "mitmwatch");
            mw_json_kstr(&j, "sourcetype", s->cfg.sourcetype);
            if (s->cfg.index[0]) mw_json_kstr(&j, "index", s->cfg.index);
            mw_json_key(&j, "event");
            mw_json_raw(&j, it->data, it->len);
            mw_json_obj_end(&j);
        } else {
            char idx[256];
            index_name(s->cfg.index[0] ? s->cfg.index : "mitmwatch-%Y.%m.%d", it, idx, sizeof idx);
            mw_json_obj_begin(&j);
            mw_json_kobj(&j, "create");
            mw_json_kstr(&j, "_index", idx);
            mw_json_obj_end(&j);
            mw_json_obj_end(&j);
            if (j.ok &&
                !(mw_buf_putc(&st->body, '\n') && mw_buf_append(&st->body, it->data, it->len)))
                j.ok = false;
        }
        if (!j.ok || !mw_buf_putc(&st->body, '\n')) return false;
    }
    return true;
}

static void log_4xx_once(out_sink *s, http_state *st, long code) {
    if (s->logged_4xx) return;
    s->logged_4xx = true;
    int n = st->resp.len > 512 ? 512 : (int)st->resp.len;
    fprintf(stderr, "mitmwatch: output %s: HTTP %ld, events refused (logged once): %.*s\n", s->name,
            code, n, st->resp.data ? (const char *)st->resp.data : "");
}

/* _bulk answered 200 with "errors":true: keep the items worth resending (429, 5xx). */
static out_send_rc bulk_items(out_sink *s, http_state *st, out_item **batch, size_t *n,
                              uint64_t *rejected) {
    json_error_t jerr;
    json_t *root = json_loadb((const char *)st->resp.data, st->resp.len, 0, &jerr);
    json_t *items = root ? json_object_get(root, "items") : NULL;
    if (!json_is_array(items) || json_array_size(items) != *n) {
        json_decref(root);
        out_set_err(s, "a _bulk answer without one item per event");
        return OUT_SEND_RETRY; /* cannot tell which went in: resend all (duplicates possible) */
    }
    size_t kept = 0, total = *n;
    for (size_t i = 0; i < total; i++) {
        json_t *item = json_array_get(items, i);
        const char *k;
        json_t *v, *res = NULL;
        json_object_foreach(item, k, v) {
            res = v;
            break;
        }
        json_int_t code = res ? json_integer_value(json_object_get(res, "status")) : 0;
        if (code >= 200 && code < 300) continue;
        if (code == 429 || code >= 500 || code == 0) {
            batch[kept++] = batch[i];
            continue;
        }
        (*rejected)++;
        if (!s->logged_4xx) {
            s->logged_4xx = true;
            char *d = json_dumps(res, JSON_COMPACT);
            fprintf(stderr, "mitmwatch: output %s: bulk item refused (logged once): %.512s\n",
                    s->name, d ? d : "?");
            free(d);
        }
    }
    json_decref(root);
    if (kept) out_set_err(s, "_bulk: %zu of %zu items to resend (429/5xx)", kept, total);
    *n = kept;
    return kept ? OUT_SEND_RETRY : OUT_SEND_OK;
}

/* One request through the multi interface, polled in slices so that a shutdown deadline set
 * while it waits cuts it short (the easy interface would hold it for its whole timeout). */
static CURLcode perform(out_sink *s, http_state *st) {
    long ms = out_attempt_ms(s);
    if (ms < 1) ms = 1;
    curl_easy_setopt(st->h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(st->h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (curl_multi_add_handle(st->m, st->h) != CURLM_OK) return CURLE_FAILED_INIT;
    CURLcode cc = CURLE_OPERATION_TIMEDOUT;
    int64_t until = out_now_ms() + ms;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(st->m, &running) != CURLM_OK) {
            cc = CURLE_FAILED_INIT;
            break;
        }
        int left;
        CURLMsg *msg = curl_multi_info_read(st->m, &left);
        if (msg && msg->msg == CURLMSG_DONE) {
            cc = msg->data.result;
            break;
        }
        int64_t rem = out_left_ms(s, until);
        if (rem <= 0) {
            cc = CURLE_OPERATION_TIMEDOUT;
            break;
        }
        curl_multi_poll(st->m, NULL, 0, (int)(rem < OUT_SLICE_MS ? rem : OUT_SLICE_MS), NULL);
    }
    curl_multi_remove_handle(st->m, st->h);
    return cc;
}

/* Retry-After (RFC 9110 10.2.3), seconds or an HTTP date; libcurl parses both. */
static void note_retry_after(out_sink *s, http_state *st) {
    curl_off_t ra = 0;
    if (curl_easy_getinfo(st->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        s->retry_after_ms = ra > 3600 ? 3600000 : (int64_t)ra * 1000;
}

static out_send_rc http_send(out_sink *s, out_item **batch, size_t *n, uint64_t *rejected) {
    http_state *st = s->proto;
    if (!build_body(s, st, batch, *n)) {
        *rejected += *n;
        return OUT_SEND_REJECTED; /* past the body cap: one batch of giant events */
    }
    mw_buf_reset(&st->resp);
    curl_easy_setopt(st->h, CURLOPT_POSTFIELDS, (const char *)st->body.data);
    curl_easy_setopt(st->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st->body.len);
    CURLcode cc = perform(s, st);
    if (cc != CURLE_OK) {
        out_set_err(s, "%s", curl_easy_strerror(cc));
        return OUT_SEND_RETRY;
    }
    long code = 0;
    curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
        if (s->cfg.type == OUT_SINK_BULK && st->resp.len > 0 &&
            (memmem(st->resp.data, st->resp.len, "\"errors\":true", 13) != NULL ||
             memmem(st->resp.data, st->resp.len, "\"errors\": true", 14) != NULL))
            return bulk_items(s, st, batch, n, rejected);
        return OUT_SEND_OK;
    }
    if (code == 429 || code >= 500 || code == 408) {
        note_retry_after(s, st);
        out_set_err(s, "HTTP %ld", code);
        return OUT_SEND_RETRY;
    }
    log_4xx_once(s, st, code);
    *rejected += *n;
    *n = 0;
    return OUT_SEND_REJECTED;
}

const out_net_ops out_hec_ops = {
    .type_name = "hec",
    .open = http_open,
    .send = http_send,
    .disconnect = http_disconnect,
    .close = http_close,
};

const out_net_ops out_bulk_ops = {
    .type_name = "bulk",
    .open = http_open,
    .send = http_send,
    .disconnect = http_disconnect,
    .close = http_close,
};
