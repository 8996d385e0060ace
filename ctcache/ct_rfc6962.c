/* RFC 6962 log client: get-sth (signature checked), get-sth-consistency (each new tree head
 * must extend the last verified one), get-entries in batches (every leaf hashed into the
 * compact range; a batch counts only once the range's root is proven to be a prefix of
 * the signed tree). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_entry.h"
#include "ct_log.h"
#include "ct_sync.h"

#define CT_MAX_LEAF (4u << 20)
#define CT_MAX_PROOF 128

typedef struct {
    uint64_t tree_size, timestamp;
    uint8_t root[32];
} sth;

static bool url_join(char *out, size_t n, const char *base, const char *path) {
    size_t bl = strlen(base);
    int w = snprintf(out, n, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", path);
    return w > 0 && (size_t)w < n;
}

static bool json_u64(const json_t *o, const char *k, uint64_t *out) {
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A base64 string member decoded into a new buffer. */
static uint8_t *json_b64(const json_t *o, const char *k, size_t max, size_t *len) {
    const json_t *v = o ? json_object_get(o, k) : NULL;
    if (!json_is_string(v)) return NULL;
    return ct_b64_decode(json_string_value(v), json_string_length(v), max, len);
}

static bool get_sth(ct_sync_ctx *x, const char *base, const ct_logkey *key, sth *s,
                    ct_src_result *r) {
    char url[2048];
    if (!url_join(url, sizeof url, base, "ct/v1/get-sth")) {
        ct_src_fail(r, CT_SRC_FAILED, "URL too long");
        return false;
    }
    json_t *j = ct_get_json(x, url, NULL, r);
    if (!j) return false;
    size_t rl = 0, sl = 0;
    uint8_t *root = json_b64(j, "sha256_root_hash", 32, &rl);
    uint8_t *sig = json_b64(j, "tree_head_signature", 1024, &sl);
    bool ok = json_is_object(j) && json_u64(j, "tree_size", &s->tree_size) &&
              json_u64(j, "timestamp", &s->timestamp) && root && rl == 32 && sig;
    if (!ok) {
        x->st->json_malformed++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: not a signed tree head", url);
    } else if (!ct_sth_verify(key, s->timestamp, s->tree_size, root, sig, sl)) {
        x->st->sth_invalid++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: tree head signature does not verify with the log's key",
                    url);
        ok = false;
    } else {
        memcpy(s->root, root, 32);
    }
    free(root);
    free(sig);
    json_decref(j);
    return ok;
}

/* Fetches the consistency proof between sizes first and second; returns the number of
 * hashes (>= 0) or -1 with r set. */
static int get_consistency(ct_sync_ctx *x, const char *base, uint64_t first, uint64_t second,
                           uint8_t (*proof)[32], ct_src_result *r) {
    char path[128], url[2048];
    snprintf(path, sizeof path, "ct/v1/get-sth-consistency?first=%llu&second=%llu",
             (unsigned long long)first, (unsigned long long)second);
    if (!url_join(url, sizeof url, base, path)) {
        ct_src_fail(r, CT_SRC_FAILED, "URL too long");
        return -1;
    }
    json_t *j = ct_get_json(x, url, NULL, r);
    if (!j) return -1;
    const json_t *arr = json_object_get(j, "consistency");
    int n = -1;
    if (json_is_array(arr) && json_array_size(arr) <= CT_MAX_PROOF) {
        n = (int)json_array_size(arr);
        for (size_t i = 0; i < json_array_size(arr) && n >= 0; i++) {
            const json_t *v = json_array_get(arr, i);
            size_t l = 0;
            uint8_t *h = json_is_string(v)
                             ? ct_b64_decode(json_string_value(v), json_string_length(v), 32, &l)
                             : NULL;
            if (h && l == 32)
                memcpy(proof[i], h, 32);
            else
                n = -1;
            free(h);
        }
    }
    if (n < 0) {
        x->st->json_malformed++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: not a consistency proof", url);
    }
    json_decref(j);
    return n;
}

/* One leaf: hash it into the range; keep it when it concerns a watched name. */
static bool take_leaf(ct_sync_ctx *x, const uint8_t *leaf, size_t len, uint64_t index,
                      const char *source, const uint8_t log_id[32], ct_frontier *work,
                      ct_staged *stg) {
    uint8_t lh[32];
    ct_tsentry te;
    ct_entry e;
    ct_leaf_hash(leaf, len, lh);
    ct_frontier_append(work, lh);
    x->st->entries_fetched++;
    if (ct_parse_leaf(leaf, len, &te) != MW_OK) {
        x->st->leaf_malformed++;
        return true; /* in the tree all the same: hashed, skipped */
    }
    ct_origin o = {source, log_id, index, te.timestamp};
    ct_entry_result er =
        te.entry_type == CT_ENTRY_X509
            ? ct_entry_from_cert(te.cert.data, te.cert.len, &o, &x->cfg->watch, x->st, &e)
            : ct_entry_from_precert_tbs(te.cert.data, te.cert.len, &o, &x->cfg->watch, x->st, &e);
    if (er == CT_ENTRY_NOMEM) return false;
    if (er == CT_ENTRY_WATCHED && !ct_staged_push(stg, &e)) {
        ct_entry_clear(&e);
        return false;
    }
    return true;
}

/* Proves that the range `work` is a prefix of the verified tree head s. */
static bool range_in_tree(ct_sync_ctx *x, const char *base, const ct_frontier *work, const sth *s,
                          ct_src_result *r) {
    uint8_t root[32];
    ct_frontier_root(work, root);
    if (work->size == s->tree_size) return memcmp(root, s->root, 32) == 0;
    static uint8_t proof[CT_MAX_PROOF][32];
    int n = get_consistency(x, base, work->size, s->tree_size, proof, r);
    if (n < 0) return false;
    return ct_verify_consistency(work->size, s->tree_size, root, s->root,
                                 (const uint8_t(*)[32])proof, (size_t)n);
}

static void fetch_entries(ct_sync_ctx *x, const char *base, const ct_logkey *key,
                          ct_source_state *ss, const sth *s, const char *source, ct_src_result *r) {
    ct_frontier work = ss->frontier;
    ct_staged stg = {0};
    uint64_t since_checkpoint = 0;
    bool fetch_failed = false;
    char url[2048], path[128];
    while (work.size < s->tree_size) {
        uint64_t start = work.size;
        uint64_t end = s->tree_size - start > x->cfg->batch ? start + x->cfg->batch : s->tree_size;
        snprintf(path, sizeof path, "ct/v1/get-entries?start=%llu&end=%llu",
                 (unsigned long long)start, (unsigned long long)(end - 1));
        if (!url_join(url, sizeof url, base, path)) {
            ct_src_fail(r, CT_SRC_FAILED, "URL too long");
            break;
        }
        json_t *j = ct_get_json(x, url, NULL, r);
        if (!j) {
            fetch_failed = true;
            break;
        }
        const json_t *arr = json_object_get(j, "entries");
        size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
        if (n == 0 || n > end - start) {
            /* A log may return fewer entries than asked, never none or more. */
            x->st->json_malformed++;
            ct_src_fail(r, CT_SRC_FAILED, "%s: %zu entries for a range of %llu", url, n,
                        (unsigned long long)(end - start));
            json_decref(j);
            fetch_failed = true;
            break;
        }
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            size_t ll = 0;
            uint8_t *leaf = json_b64(json_array_get(arr, i), "leaf_input", CT_MAX_LEAF, &ll);
            if (!leaf) {
                /* Without the leaf bytes the tree cannot be checked: the rest is void. */
                x->st->json_malformed++;
                ct_src_fail(r, CT_SRC_FAILED, "%s: entry %zu has no valid leaf_input", url, i);
                fetch_failed = true;
                ok = false;
                break;
            }
            ok = take_leaf(x, leaf, ll, start + i, source, key->log_id, &work, &stg);
            if (!ok) ct_src_fail(r, CT_SRC_FAILED, "out of memory");
            free(leaf);
            r->fetched++;
            since_checkpoint++;
        }
        json_decref(j);
        if (!ok) break;
        ct_progress(x, base, work.size, s->tree_size);
        if (work.size == s->tree_size || since_checkpoint >= x->cfg->checkpoint) {
            if (!range_in_tree(x, base, &work, s, r)) {
                if (r->status == CT_SRC_OK) {
                    x->st->root_mismatch++;
                    ct_src_fail(r, CT_SRC_FAILED,
                                "entries %llu..%llu do not hash to the signed tree head "
                                "(wrong or altered leaves); discarded",
                                (unsigned long long)ss->frontier.size,
                                (unsigned long long)work.size - 1);
                }
                break;
            }
            if (!ct_sync_commit(x, &stg, &ss->frontier, &work, work.size < s->tree_size, r)) break;
            since_checkpoint = 0;
        }
    }
    ct_progress_end(x);
    /* A batch that would not come: the leaves read before it are kept if the log proves them
     * a prefix of its signed tree, so the next sync resumes there. */
    if (fetch_failed && work.size > ss->frontier.size) {
        ct_src_result scratch = *r;
        scratch.status = CT_SRC_OK;
        if (range_in_tree(x, base, &work, s, &scratch) && ct_staged_commit(x, &stg, r)) {
            size_t ml = strlen(r->message);
            snprintf(r->message + ml, sizeof r->message - ml,
                     "; entries %llu..%llu verified and kept",
                     (unsigned long long)ss->frontier.size, (unsigned long long)work.size - 1);
            ss->frontier = work;
            x->dirty = true;
        }
    }
    ct_staged_free(&stg);
}

void ct_sync_rfc6962(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r) {
    char source[600];
    ct_logkey key;
    sth s;
    ct_source_state *ss = ct_src_begin(x, "rfc6962", log, r, source, sizeof source, &key);
    if (!ss) return;
    if (ss->has_log_id && memcmp(ss->log_id, key.log_id, 32) != 0) {
        ct_src_fail(r, CT_SRC_FAILED, "the configured key is not the one this log was synced with");
        goto out;
    }
    /* A source that fails leaves the snapshot as it was, unless verified entries were kept. */
    ct_source_state saved = *ss;
    bool dirty_before = x->dirty;
    if (!get_sth(x, log->url, &key, &s, r)) goto out;
    r->new_size = s.tree_size;
    r->have_new = true;
    bool have_old = ss->sth_timestamp != 0;
    if (have_old) {
        char why[400];
        if (s.tree_size < ss->tree_size) {
            snprintf(why, sizeof why, "signed tree head of size %llu after one of size %llu",
                     (unsigned long long)s.tree_size, (unsigned long long)ss->tree_size);
            ct_src_distrust(x, ss, r, why);
            goto out;
        }
        if (s.tree_size == ss->tree_size) {
            if (memcmp(s.root, ss->root_hash, 32) != 0) {
                snprintf(why, sizeof why, "two signed tree heads of size %llu with different roots",
                         (unsigned long long)s.tree_size);
                ct_src_distrust(x, ss, r, why);
                goto out;
            }
        } else if (ss->tree_size > 0) {
            static uint8_t proof[CT_MAX_PROOF][32];
            int n = get_consistency(x, log->url, ss->tree_size, s.tree_size, proof, r);
            if (n < 0) goto out;
            if (!ct_verify_consistency(ss->tree_size, s.tree_size, ss->root_hash, s.root,
                                       (const uint8_t(*)[32])proof, (size_t)n)) {
                snprintf(why, sizeof why,
                         "tree head of size %llu is not consistent with the verified one of size "
                         "%llu: the log rewrote its history",
                         (unsigned long long)s.tree_size, (unsigned long long)ss->tree_size);
                ct_src_distrust(x, ss, r, why);
                goto out;
            }
        }
    }
    /* A newer head of the same tree adds nothing: no rewrite, no reload on the sensors. */
    if (!have_old || s.tree_size != ss->tree_size) {
        ss->tree_size = s.tree_size;
        ss->sth_timestamp = s.timestamp;
        memcpy(ss->root_hash, s.root, 32);
        memcpy(ss->log_id, key.log_id, 32);
        ss->has_log_id = true;
        ss->mmd_s = log->mmd_s ? log->mmd_s : x->cfg->default_mmd_s;
        x->dirty = true;
    }
    fetch_entries(x, log->url, &key, ss, &s, source, r);
    if (r->status == CT_SRC_FAILED && ss->frontier.size == saved.frontier.size) {
        ss->tree_size = saved.tree_size;
        ss->sth_timestamp = saved.sth_timestamp;
        memcpy(ss->root_hash, saved.root_hash, 32);
        ss->has_log_id = saved.has_log_id;
        memcpy(ss->log_id, saved.log_id, 32);
        ss->mmd_s = saved.mmd_s;
        x->dirty = dirty_before;
    }
out:
    ct_logkey_free(&key);
}
