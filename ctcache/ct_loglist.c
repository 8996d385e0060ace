#include "ct_loglist.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_log.h"

#define LOGLIST_MAX (8u << 20) /* Chrome's list is about 100 KB */

static const char *keep(ct_loglist *l, const char *s) {
    char **nv = realloc(l->strs, (l->n_strs + 1) * sizeof *nv);
    char *c = s ? strdup(s) : NULL;
    if (!nv || !c) {
        if (nv) l->strs = nv;
        free(c);
        return NULL;
    }
    l->strs = nv;
    l->strs[l->n_strs++] = c;
    return c;
}

static bool push(ct_log_cfg **v, size_t *n, ct_log_cfg c) {
    ct_log_cfg *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return false;
    nv[(*n)++] = c;
    *v = nv;
    return true;
}

static const char *jstr(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* usable, qualified, readonly: certificates browsers accept can be in it */
static bool usable_state(const json_t *log) {
    const json_t *st = json_object_get(log, "state");
    return json_is_object(st) &&
           (json_object_get(st, "usable") || json_object_get(st, "qualified") ||
            json_object_get(st, "readonly"));
}

static bool shard_ended(const json_t *log, int64_t now_s) {
    const json_t *ti = json_object_get(log, "temporal_interval");
    const json_t *end = json_is_object(ti) ? json_object_get(ti, "end_exclusive") : NULL;
    int64_t ms;
    return json_is_string(end) &&
           ct_time_parse_ms(json_string_value(end), json_string_length(end), &ms) &&
           ms / 1000 <= now_s;
}

/* The key loads and hashes to the listed log_id (when one is listed) */
static bool key_matches(const json_t *log, const char *key) {
    ct_logkey k;
    char err[200];
    if (!ct_logkey_load(key, &k, err, sizeof err)) return false;
    const char *id = jstr(log, "log_id");
    size_t il = 0;
    uint8_t *want = id ? ct_b64_decode(id, strlen(id), 32, &il) : NULL;
    bool ok = !id || (want && il == 32 && memcmp(want, k.log_id, 32) == 0);
    free(want);
    ct_logkey_free(&k);
    return ok;
}

static bool take(ct_loglist *l, const json_t *log, bool tiled, int64_t now_s) {
    if (!usable_state(log)) {
        l->skipped_state++;
        return true;
    }
    if (shard_ended(log, now_s)) {
        l->skipped_expired++;
        return true;
    }
    const char *url = jstr(log, tiled ? "monitoring_url" : "url");
    const char *sub = tiled ? jstr(log, "submission_url") : NULL;
    const char *key = jstr(log, "key");
    const json_t *mmd = json_object_get(log, "mmd");
    if (!url || !key || (tiled && !sub) || !key_matches(log, key)) {
        l->skipped_invalid++;
        return true;
    }
    ct_log_cfg c = {keep(l, url), keep(l, key), tiled ? keep(l, sub) : NULL, 0};
    if (!c.url || !c.key || (tiled && !c.origin)) return false;
    if (json_is_integer(mmd) && json_integer_value(mmd) > 0 &&
        json_integer_value(mmd) <= 10 * 86400)
        c.mmd_s = (uint64_t)json_integer_value(mmd);
    return tiled ? push(&l->tiles, &l->n_tiles, c) : push(&l->logs, &l->n_logs, c);
}

bool ct_loglist_load(const char *path, int64_t now_s, ct_loglist *l, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "CT log list %s: %s", path, strerror(errno));
        return false;
    }
    char *buf = malloc(LOGLIST_MAX + 1);
    size_t n = buf ? fread(buf, 1, LOGLIST_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > LOGLIST_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "CT log list %s: unreadable or larger than 8 MiB", path);
        return false;
    }
    json_error_t je;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    const json_t *ops = json_object_get(root, "operators");
    if (!json_is_array(ops)) {
        snprintf(err, errlen,
                 "CT log list %s: not a Google v3 log_list.json (%s); an OpenSSL CTLOG file has "
                 "no log URLs to sync from",
                 path, root ? "no operators array" : je.text);
        json_decref(root);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < json_array_size(ops) && ok; i++) {
        const json_t *op = json_array_get(ops, i);
        static const char *const kinds[] = {"logs", "tiled_logs"};
        for (size_t k = 0; k < 2 && ok; k++) {
            const json_t *logs = json_object_get(op, kinds[k]);
            for (size_t j = 0; json_is_array(logs) && j < json_array_size(logs) && ok; j++) {
                const json_t *log = json_array_get(logs, j);
                if (!json_is_object(log)) {
                    l->skipped_invalid++;
                    continue;
                }
                ok = take(l, log, k == 1, now_s);
            }
        }
    }
    json_decref(root);
    if (!ok) {
        snprintf(err, errlen, "CT log list %s: out of memory", path);
        ct_loglist_free(l);
    }
    return ok;
}

void ct_loglist_free(ct_loglist *l) {
    free(l->logs);
    free(l->tiles);
    for (size_t i = 0; i < l->n_strs; i++)
        free(l->strs[i]);
    free(l->strs);
    memset(l, 0, sizeof *l);
}
