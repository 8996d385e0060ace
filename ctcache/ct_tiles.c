/* static-ct-api (C2SP) tiled logs: the checkpoint is a signed note whose signature is an
 * RFC6962NoteSignature (timestamp || DigitallySigned TreeHeadSignature, key ID =
 * SHA-256(origin || "\n" || 0x05 || SPKI)[:4]); entries come in data tiles of 256 TileLeaf
 * structures, the rightmost one partial (".p/W").
 *
 * Consistency: no proofs are fetched (that needs hash tiles). Instead every leaf from 0 is
 * hashed into the compact range kept in the snapshot, so the root recomputed over the new
 * leaves equals the new checkpoint only if the new tree extends the verified one. Entries
 * count only once that holds; a signed checkpoint that shrinks or changes the root at the
 * same size contradicts the log's history and distrusts it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_entry.h"
#include "ct_log.h"
#include "ct_sync.h"
#include "ct_tiles.h"
#include "mw_hash.h"

#define TILE_WIDTH 256
#define CHECKPOINT_MAX 65536
#define NOTE_SIG_TYPE_RFC6962 0x05

static void base_url(char *out, size_t n, const char *url, const char *path) {
    size_t l = strlen(url);
    snprintf(out, n, "%s%s%s", url, l && url[l - 1] == '/' ? "" : "/", path);
}

/* The origin a log's checkpoints carry by default: the prefix without its scheme. */
static void default_origin(char *out, size_t n, const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(out, n, "%s", p);
    size_t l = strlen(out);
    while (l && out[l - 1] == '/')
        out[--l] = '\0';
}

static bool parse_u64_text(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* One line of [p, end): returns its length, sets *next past the '\n'; -1 when no '\n'. */
static long line(const char *p, const char *end, const char **next) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return -1;
    *next = nl + 1;
    return nl - p;
}

bool ct_tiles_verify_checkpoint(const ct_logkey *key, const char *origin, const char *txt,
                                size_t len, ct_checkpoint *cp, char *why, size_t whylen) {
    const char *end = txt + len, *p = txt, *next;
    size_t olen = strlen(origin);
    if (memchr(txt, '\0', len)) {
        snprintf(why, whylen, "NUL in checkpoint");
        return false;
    }
    /* body: origin, size, root, optional extension lines, then an empty line */
    long l = line(p, end, &next);
    if (l < 0 || (size_t)l != olen || memcmp(p, origin, olen)) {
        snprintf(why, whylen, "checkpoint origin is not \"%.200s\"", origin);
        return false;
    }
    p = next;
    l = line(p, end, &next);
    if (l < 0 || !parse_u64_text(p, (size_t)l, &cp->size)) {
        snprintf(why, whylen, "checkpoint size line malformed");
        return false;
    }
    p = next;
    l = line(p, end, &next);
    size_t rl = 0;
    uint8_t *root = l < 0 ? NULL : ct_b64_decode(p, (size_t)l, 32, &rl);
    if (!root || rl != 32) {
        free(root);
        snprintf(why, whylen, "checkpoint root hash malformed");
        return false;
    }
    memcpy(cp->root, root, 32);
    free(root);
    p = next;
    while ((l = line(p, end, &next)) > 0)
        p = next; /* extension lines: signed, not interpreted */
    if (l < 0) {
        snprintf(why, whylen, "checkpoint has no signature block");
        return false;
    }
    p = next;
    /* signatures: "\u2014 NAME BASE64\n"; one must be ours */
    uint8_t want_id[4], h[32];
    {
        size_t n = olen + 2 + key->spki_len;
        uint8_t *buf = malloc(n);
        if (!buf) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
        memcpy(buf, origin, olen);
        buf[olen] = '\n';
        buf[olen + 1] = NOTE_SIG_TYPE_RFC6962;
        memcpy(buf + olen + 2, key->spki, key->spki_len);
        mw_sha256(buf, n, h);
        free(buf);
        memcpy(want_id, h, 4);
    }
    static const char dash[] = "\xe2\x80\x94 ";
    while (p < end && (l = line(p, end, &next)) >= 0) {
        const char *s = p;
        p = next;
        if ((size_t)l < sizeof dash - 1 + olen + 2 || memcmp(s, dash, sizeof dash - 1)) continue;
        s += sizeof dash - 1;
        size_t rest = (size_t)l - (sizeof dash - 1);
        if (memcmp(s, origin, olen) || s[olen] != ' ') continue;
        size_t sl = 0;
        uint8_t *sig = ct_b64_decode(s + olen + 1, rest - olen - 1, 4096, &sl);
        if (!sig) continue;
        bool ok = false;
        if (sl > 12 && !memcmp(sig, want_id, 4)) {
            uint64_t ts = 0;
            for (int i = 0; i < 8; i++)
                ts = ts << 8 | sig[4 + i];
            cp->timestamp = ts;
            ok = ct_sth_verify(key, ts, cp->size, cp->root, sig + 12, sl - 12);
        }
        free(sig);
        if (ok) return true;
    }
    snprintf(why, whylen, "no valid signature by the log's key on the checkpoint");
    return false;
}

/* "x001/x234/067" for tile 1234067 (static-ct-api / tlog-tiles path encoding) */
static void tile_index_path(char *out, size_t n, uint64_t idx) {
    char parts[8][8];
    int k = 0;
    do {
        snprintf(parts[k++], sizeof parts[0], "%03u", (unsigned)(idx % 1000));
        idx /= 1000;
    } while (idx && k < 8);
    size_t o = 0;
    out[0] = '\0';
    for (int i = k - 1; i >= 0; i--) {
        int w =
            snprintf(out + o, n - o, "%s%s%s", i == k - 1 ? "" : "/", i > 0 ? "x" : "", parts[i]);
        if (w < 0 || (size_t)w >= n - o) return;
        o += (size_t)w;
    }
}

typedef struct {
    ct_entry *v;
    size_t n, cap;
} staged;

static void staged_free(staged *s) {
    for (size_t i = 0; i < s->n; i++)
        ct_entry_clear(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static bool staged_push(staged *s, ct_entry *e) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        ct_entry *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = *e;
    memset(e, 0, sizeof *e);
    return true;
}

/*  struct {
 *      TimestampedEntry timestamped_entry;
 *      select (entry_type) {
 *          case x509_entry: Empty;
 *          case precert_entry: ASN.1Cert pre_certificate;
 *      };
 *      Fingerprint certificate_chain<0..2^16-1>;
 *  } TileLeaf;                                           static-ct-api, data tiles */
mw_rc ct_tile_leaf(mw_cur *c, ct_tsentry *te, mw_cur *ts_bytes) {
    mw_cur start = *c, pre, chain;
    MW_GUARD(ct_parse_tsentry(c, te));
    ts_bytes->data = start.data;
    ts_bytes->len = start.len - c->len;
    if (te->entry_type == CT_ENTRY_PRECERT)
        MW_GUARD_B(mw_cur_get_u24_prefixed(c, &pre), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16_prefixed(c, &chain), MW_MALFORMED);
    MW_ENSURE(chain.len % 32 == 0, MW_MALFORMED);
    return MW_OK;
}

void ct_sync_tiles(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r) {
    char source[600], origin[512], url[2048], why[256];
    ct_logkey key;
    ct_checkpoint cp;
    ct_source_state *ss = ct_src_begin(x, "tiles", log, r, source, sizeof source, &key);
    if (!ss)
        return;
    if (log->origin)
        snprintf(origin, sizeof origin, "%s", log->origin);
    else
        default_origin(origin, sizeof origin, log->url);
    staged stg = {0};
    ct_http_result hr;
    base_url(url, sizeof url, log->url, "checkpoint");
    if (ct_http_get(x->http, url, NULL, x->resp, &hr) != MW_OK) {
        ct_src_fail(r, CT_SRC_FAILED, "%s: %s", url, hr.error);
        goto out;
    }
    if (x->resp->len > CHECKPOINT_MAX ||
        !ct_tiles_verify_checkpoint(&key, origin, (const char *)x->resp->data, x->resp->len, &cp,
                                    why, sizeof why)) {
        x->st->sth_invalid++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: %s", url,
                    x->resp->len > CHECKPOINT_MAX ? "checkpoint too large" : why);
        goto out;
    }
    r->new_size = cp.size;
    if (ss->sth_timestamp != 0) {
        if (cp.size < ss->tree_size ||
            (cp.size == ss->tree_size && memcmp(cp.root, ss->root_hash, 32))) {
            char w[300];
            snprintf(w, sizeof w,
                     "checkpoint of size %llu contradicts the verified one of size %llu",
                     (unsigned long long)cp.size, (unsigned long long)ss->tree_size);
            ct_src_fail(r, CT_SRC_INCONSISTENT, "%s", w);
            x->st->consistency_failed++;
            ss->distrusted = true;
            free(ss->reason);
            ss->reason = strdup(w);
            x->dirty = true;
            goto out;
        }
    }
    ct_frontier work = ss->frontier;
    while (work.size < cp.size) {
        uint64_t tile = work.size / TILE_WIDTH, first = tile * TILE_WIDTH;
        uint64_t width = cp.size - first >= TILE_WIDTH ? TILE_WIDTH : cp.size - first;
        char idx[64], path[128];
        tile_index_path(idx, sizeof idx, tile);
        if (width == TILE_WIDTH)
            snprintf(path, sizeof path, "tile/data/%s", idx);
        else
            snprintf(path, sizeof path, "tile/data/%s.p/%llu", idx, (unsigned long long)width);
        base_url(url, sizeof url, log->url, path);
        if (ct_http_get(x->http, url, NULL, x->resp, &hr) != MW_OK) {
            ct_src_fail(r, CT_SRC_FAILED, "%s: %s", url, hr.error);
            goto out;
        }
        mw_cur c = mw_cur_make(x->resp->data, x->resp->len);
        for (uint64_t i = 0; i < width; i++) {
            ct_tsentry te;
            mw_cur tsb;
            if (ct_tile_leaf(&c, &te, &tsb) != MW_OK) {
                /* Leaf boundaries are lost: nothing after this point can be hashed. */
                x->st->leaf_malformed++;
                ct_src_fail(r, CT_SRC_FAILED, "%s: entry %llu malformed", url,
                            (unsigned long long)i);
                goto out;
            }
            if (first + i < work.size)
                continue; /* already in the range (a partial tile fetched before) */
            uint8_t *mtl = malloc(tsb.len + 2), lh[32];
            if (!mtl) {
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                goto out;
            }
            mtl[0] = 0; /* v1 */
            mtl[1] = 0; /* timestamped_entry */
            memcpy(mtl + 2, tsb.data, tsb.len);
            ct_leaf_hash(mtl, tsb.len + 2, lh);
            free(mtl);
            ct_frontier_append(&work, lh);
            x->st->entries_fetched++;
            r->fetched++;
            ct_origin o = {source, key.log_id, first + i, te.timestamp};
            ct_entry e;
            ct_entry_result er =
                te.entry_type == CT_ENTRY_X509
                    ? ct_entry_from_cert(te.cert.data, te.cert.len, &o, &x->cfg->watch, x->st, &e)
                    : ct_entry_from_precert_tbs(te.cert.data, te.cert.len, &o, &x->cfg->watch,
                                                x->st, &e);
            if (er == CT_ENTRY_NOMEM || (er == CT_ENTRY_WATCHED && !staged_push(&stg, &e))) {
                if (er == CT_ENTRY_WATCHED) ct_entry_clear(&e);
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                goto out;
            }
        }
        if (!mw_cur_empty(&c)) {
            x->st->leaf_malformed++;
            ct_src_fail(r, CT_SRC_FAILED, "%s: %zu bytes after %llu entries", url, c.len,
                        (unsigned long long)width);
            goto out;
        }
        ct_progress(x, log->url, work.size, cp.size);
    }
    ct_progress_end(x);
    uint8_t root[32];
    ct_frontier_root(&work, root);
    if (memcmp(root, cp.root, 32) != 0) {
        x->st->root_mismatch++;
        ct_src_fail(r, CT_SRC_FAILED,
                    "entries %llu..%llu do not hash to the signed checkpoint (altered tiles, or "
                    "a history that does not extend the verified one); discarded",
                    (unsigned long long)ss->frontier.size, (unsigned long long)cp.size - 1);
        goto out;
    }
    for (size_t i = 0; i < stg.n; i++) {
        if (ct_entry_commit(x->store, &stg.v[i], x->st) != MW_OK) {
            ct_src_fail(r, CT_SRC_FAILED, "out of memory");
            goto out;
        }
        r->watched++;
    }
    if (ss->sth_timestamp == 0 || cp.size != ss->tree_size) {
        ss->frontier = work;
        ss->tree_size = cp.size;
        ss->sth_timestamp = cp.timestamp;
        memcpy(ss->root_hash, cp.root, 32);
        memcpy(ss->log_id, key.log_id, 32);
        ss->has_log_id = true;
        ss->mmd_s = log->mmd_s ? log->mmd_s : x->cfg->default_mmd_s;
        x->dirty = true;
    }
out:
    staged_free(&stg);
    ct_logkey_free(&key);
}
