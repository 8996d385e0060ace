/* static-ct-api (c2sp.org/static-ct-api) tiled logs: the checkpoint is a signed note whose
 * signature is an RFC6962NoteSignature (timestamp || DigitallySigned TreeHeadSignature) under
 * the key ID ct_note_key_id gives; entries come in data tiles of 256 TileLeaf structures, the
 * rightmost one partial (".p/W"), possibly gzip-compressed.
 *
 * As for an RFC 6962 log: a new checkpoint must extend the last verified one, shown by the
 * consistency proof the hash tiles yield (ct_tilehash.h); every leaf from 0 is hashed into the
 * compact range kept in the snapshot, and entries count once that range is proven a prefix of
 * the signed tree (a proof from the hash tiles at each --checkpoint, the root itself at the
 * end). A signed checkpoint that shrinks, changes the root at the same size, or whose
 * authenticated tiles hold another tree at the verified size is a fork: the log is distrusted
 * (ct.log_inconsistent), like an RFC 6962 log whose get-sth-consistency fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_codec.h"
#include "ct_entry.h"
#include "ct_gzip.h"
#include "ct_log.h"
#include "ct_sync.h"
#include "ct_tilehash.h"
#include "ct_tiles.h"
#include "mw_hash.h"

#define CHECKPOINT_MAX 65536
#define NOTE_SIG_TYPE_RFC6962 0x05

static bool base_url(char *out, size_t n, const char *url, const char *path) {
    size_t l = strlen(url);
    int w = snprintf(out, n, "%s%s%s", url, l && url[l - 1] == '/' ? "" : "/", path);
    return w > 0 && (size_t)w < n;
}

void ct_tiles_origin(char *out, size_t n, const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(out, n, "%s", p);
    size_t l = strlen(out);
    while (l && out[l - 1] == '/')
        out[--l] = '\0';
}

void ct_note_key_id(const char *key_name, const uint8_t log_id[32], uint8_t out[4]) {
    /* c2sp.org/signed-note: key ID = SHA-256(key name || 0x0A || signature type || public
     * key)[:4]; for type 0x05 static-ct-api makes the "public key" the RFC 6962 LogID. */
    uint8_t h[32];
    size_t nl = strlen(key_name);
    uint8_t *buf = malloc(nl + 2 + 32);
    if (!buf) {
        memset(out, 0, 4); /* matches no real signature: the checkpoint is refused */
        return;
    }
    memcpy(buf, key_name, nl);
    buf[nl] = '\n';
    buf[nl + 1] = NOTE_SIG_TYPE_RFC6962;
    memcpy(buf + nl + 2, log_id, 32);
    mw_sha256(buf, nl + 2 + 32, h);
    free(buf);
    memcpy(out, h, 4);
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

static ct_cp_result cp_malformed(char *why, size_t whylen, const char *what) {
    snprintf(why, whylen, "%s", what);
    return CT_CP_MALFORMED;
}

/*  <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key ID || sig)>\n...
 *  c2sp.org/tlog-checkpoint and c2sp.org/signed-note; static-ct-api: no extension lines */
ct_cp_result ct_tiles_verify_checkpoint(const ct_logkey *key, const char *origin, const char *txt,
                                        size_t len, ct_checkpoint *cp, char *why, size_t whylen) {
    const char *end = txt + len, *p = txt, *next;
    size_t olen = strlen(origin);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)txt[i] < 0x20 && txt[i] != '\n')
            return cp_malformed(why, whylen, "control character in the checkpoint");
    if (len == 0 || txt[len - 1] != '\n')
        return cp_malformed(why, whylen, "checkpoint does not end with a newline (truncated?)");
    long l = line(p, end, &next);
    if (l < 0 || (size_t)l != olen || memcmp(p, origin, olen)) {
        snprintf(why, whylen, "checkpoint origin is not \"%.200s\"", origin);
        return CT_CP_WRONG_ORIGIN;
    }
    p = next;
    l = line(p, end, &next);
    if (l < 0 || !parse_u64_text(p, (size_t)l, &cp->size))
        return cp_malformed(why, whylen, "checkpoint size line malformed");
    p = next;
    l = line(p, end, &next);
    size_t rl = 0;
    uint8_t *root = l < 0 ? NULL : ct_b64_decode(p, (size_t)l, 32, &rl);
    if (!root || rl != 32) {
        free(root);
        return cp_malformed(why, whylen, "checkpoint root hash malformed");
    }
    memcpy(cp->root, root, 32);
    free(root);
    p = next;
    /* "A checkpoint signed with this algorithm MUST NOT include any extension lines": the
     * TreeHeadSignature would not cover them. */
    l = line(p, end, &next);
    if (l != 0)
        return cp_malformed(why, whylen,
                            "checkpoint has extension lines or no signature block after the root");
    p = next;
    uint8_t want_id[4];
    ct_note_key_id(origin, key->log_id, want_id);
    static const char dash[] = "\xe2\x80\x94 ";
    const size_t dl = sizeof dash - 1;
    int nsig = 0;
    while (p < end && (l = line(p, end, &next)) >= 0) {
        const char *s = p;
        p = next;
        if (++nsig > 64) return cp_malformed(why, whylen, "more than 64 signature lines");
        if ((size_t)l < dl || memcmp(s, dash, dl))
            return cp_malformed(why, whylen, "checkpoint signature line malformed");
        s += dl;
        size_t rest = (size_t)l - dl;
        /* Signatures by other keys (witnesses, other types) are ignored: only the pair of our
         * key name and key ID is ours (signed-note "Signatures"). */
        if (rest < olen + 1 || memcmp(s, origin, olen) || s[olen] != ' ') continue;
        size_t sl = 0;
        uint8_t *sig = ct_b64_decode(s + olen + 1, rest - olen - 1, 8192, &sl);
        if (!sig) return cp_malformed(why, whylen, "checkpoint signature is not base64");
        /* key ID (4 bytes), then RFC6962NoteSignature { uint64 timestamp;
         * TreeHeadSignature signature; } */
        mw_cur c = mw_cur_make(sig, sl), id;
        if (!mw_cur_get_bytes(&c, 4, &id) || memcmp(id.data, want_id, 4)) {
            free(sig);
            continue;
        }
        uint32_t hi = 0, lo = 0;
        bool ok = mw_cur_get_u32(&c, &hi) && mw_cur_get_u32(&c, &lo) && !mw_cur_empty(&c);
        if (ok) {
            cp->timestamp = (uint64_t)hi << 32 | lo;
            ok = ct_sth_verify(key, cp->timestamp, cp->size, cp->root, c.data, c.len);
        }
        free(sig);
        /* A signature by our key that fails: reject the note (signed-note SHOULD) */
        if (!ok) {
            snprintf(why, whylen, "the log's signature on the checkpoint does not verify");
            return CT_CP_BAD_SIG;
        }
        return CT_CP_OK;
    }
    snprintf(why, whylen, "no signature by the log's key (name %.200s, key ID %02x%02x%02x%02x)",
             origin, want_id[0], want_id[1], want_id[2], want_id[3]);
    return CT_CP_BAD_SIG;
}

void ct_tile_path(char *out, size_t n, int level, uint64_t index, unsigned width) {
    char parts[8][8];
    int k = 0;
    do {
        snprintf(parts[k++], sizeof parts[0], "%03u", (unsigned)(index % 1000));
        index /= 1000;
    } while (index && k < 8);
    int w = level == CT_TILE_DATA ? snprintf(out, n, "tile/data/")
                                  : snprintf(out, n, "tile/%d/", level);
    if (w < 0 || (size_t)w >= n) return;
    size_t o = (size_t)w;
    for (int i = k - 1; i >= 0; i--) {
        w = snprintf(out + o, n - o, "%s%s%s", i == k - 1 ? "" : "/", i > 0 ? "x" : "", parts[i]);
        if (w < 0 || (size_t)w >= n - o) return;
        o += (size_t)w;
    }
    if (width < CT_TILE_WIDTH) snprintf(out + o, n - o, ".p/%u", width);
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

/* ---------- fetching, with the checks that make a bad 200 body a retry ---------- */

typedef struct {
    ct_sync_ctx *x;
    const ct_log_cfg *log;
    const ct_logkey *key;
    const char *origin;
    mw_buf scratch; /* inflated bodies */
    ct_src_result *r;
} tiles_ctx;

/* A gzip body (with or without Content-Encoding) replaced by its inflation */
static bool maybe_inflate(tiles_ctx *t, mw_buf *body, char *why, size_t whylen) {
    if (!ct_is_gzip(body->data, body->len)) return true;
    mw_rc rc = ct_gunzip(body->data, body->len, &t->scratch);
    if (rc != MW_OK) {
        snprintf(why, whylen, "%s",
                 rc == MW_ERR ? "gzip body inflates past the response cap"
                              : "corrupt or truncated gzip body");
        return false;
    }
    mw_buf tmp = *body;
    *body = t->scratch;
    t->scratch = tmp;
    return true;
}

typedef struct {
    tiles_ctx *t;
    unsigned width;
} tile_check;

static bool check_data_tile(mw_buf *body, void *ud, char *why, size_t whylen) {
    tile_check *c = ud;
    if (!maybe_inflate(c->t, body, why, whylen)) return false;
    mw_cur cur = mw_cur_make(body->data, body->len);
    for (unsigned i = 0; i < c->width; i++) {
        ct_tsentry te;
        mw_cur tsb;
        if (ct_tile_leaf(&cur, &te, &tsb) != MW_OK) {
            /* Leaf boundaries are lost: nothing after this point can be hashed. */
            c->t->x->st->leaf_malformed++;
            snprintf(why, whylen, "entry %u of %u malformed or cut short", i, c->width);
            return false;
        }
    }
    if (!mw_cur_empty(&cur)) {
        c->t->x->st->leaf_malformed++;
        snprintf(why, whylen, "%zu bytes after %u entries", cur.len, c->width);
        return false;
    }
    return true;
}

static bool check_hash_tile(mw_buf *body, void *ud, char *why, size_t whylen) {
    tile_check *c = ud;
    size_t want = (size_t)c->width * 32;
    /* Hashes can start with 1f 8b by chance: only a body of the wrong size is inflated. */
    if (body->len != want && !maybe_inflate(c->t, body, why, whylen)) return false;
    if (body->len != want) {
        snprintf(why, whylen, "%zu bytes for a tile of %u hashes", body->len, c->width);
        return false;
    }
    return true;
}

typedef struct {
    tiles_ctx *t;
    ct_checkpoint cp;
    ct_cp_result res;
    char why[256];
} cp_check;

static bool check_checkpoint(mw_buf *body, void *ud, char *why, size_t whylen) {
    cp_check *c = ud;
    if (body->len > CHECKPOINT_MAX) {
        snprintf(why, whylen, "checkpoint over %d bytes", CHECKPOINT_MAX);
        c->res = CT_CP_MALFORMED;
        return false;
    }
    c->res = ct_tiles_verify_checkpoint(c->t->key, c->t->origin, (const char *)body->data,
                                        body->len, &c->cp, c->why, sizeof c->why);
    if (c->res == CT_CP_MALFORMED) {
        c->t->x->st->sth_invalid++;
        snprintf(why, whylen, "%s", c->why);
        return false;
    }
    return true; /* another origin or a bad signature is no transfer fault: not retried */
}

static bool get_tile(tiles_ctx *t, int level, uint64_t index, unsigned width, char *why,
                     size_t whylen) {
    char path[160], url[2048];
    ct_http_result hr;
    tile_check c = {t, width};
    ct_tile_path(path, sizeof path, level, index, width);
    if (!base_url(url, sizeof url, t->log->url, path)) {
        snprintf(why, whylen, "URL too long");
        return false;
    }
    if (ct_http_get(t->x->http, url, NULL, t->x->resp,
                    level == CT_TILE_DATA ? check_data_tile : check_hash_tile, &c, &hr) != MW_OK) {
        snprintf(why, whylen, "%s: %s (after %u attempt%s)", url, hr.error, hr.attempts,
                 hr.attempts == 1 ? "" : "s");
        return false;
    }
    return true;
}

static bool fetch_hash_tile(void *ud, unsigned level, uint64_t index, unsigned width, uint8_t *out,
                            char *why, size_t whylen) {
    tiles_ctx *t = ud;
    if (!get_tile(t, (int)level, index, width, why, whylen)) return false;
    memcpy(out, t->x->resp->data, (size_t)width * 32);
    return true;
}

typedef enum {
    PREFIX_OK,        /* the signed tree holds exactly this prefix */
    PREFIX_DIFFERENT, /* authenticated tiles show another tree at that size */
    PREFIX_BAD_TILES, /* the tiles do not reproduce the signed root: not evidence of anything */
    PREFIX_NO_TILES,  /* a tile could not be had */
} prefix_verdict;

/* Is the tree of size first with root first_root a prefix of the signed tree th describes? */
static prefix_verdict prove_prefix(ct_tilehash *th, const ct_checkpoint *cp, uint64_t first,
                                   const uint8_t first_root[32], char *why, size_t whylen) {
    if (first == 0) return PREFIX_OK;
    if (first == cp->size) return memcmp(first_root, cp->root, 32) ? PREFIX_DIFFERENT : PREFIX_OK;
    uint8_t path[CT_TILE_MAX_PATH][32], fr[32], sr[32];
    size_t n = 0;
    if (!ct_tilehash_consistency(th, first, path, &n)) {
        snprintf(why, whylen, "%s", th->why);
        return PREFIX_NO_TILES;
    }
    if (!ct_consistency_roots(first, cp->size, (const uint8_t(*)[32])path, n, fr, sr) ||
        memcmp(sr, cp->root, 32) != 0) {
        snprintf(why, whylen,
                 "the hash tiles do not hash to the checkpoint of size %llu (altered or stale "
                 "tiles)",
                 (unsigned long long)cp->size);
        return PREFIX_BAD_TILES;
    }
    return memcmp(fr, first_root, 32) ? PREFIX_DIFFERENT : PREFIX_OK;
}

/* Proves the range `work` a prefix of the checkpoint; r failed (root_mismatch counted) when
 * not. */
static bool range_in_tree(tiles_ctx *t, ct_tilehash *th, const ct_checkpoint *cp,
                          const ct_frontier *work, uint64_t verified, ct_src_result *r) {
    uint8_t root[32];
    char why[300];
    ct_frontier_root(work, root);
    switch (prove_prefix(th, cp, work->size, root, why, sizeof why)) {
    case PREFIX_OK:
        return true;
    case PREFIX_DIFFERENT:
        t->x->st->root_mismatch++;
        ct_src_fail(r, CT_SRC_FAILED,
                    "entries %llu..%llu do not hash to the signed checkpoint (altered data tiles); "
                    "discarded",
                    (unsigned long long)verified, (unsigned long long)work->size - 1);
        return false;
    case PREFIX_BAD_TILES:
        t->x->st->root_mismatch++;
        ct_src_fail(r, CT_SRC_FAILED, "%s", why);
        return false;
    case PREFIX_NO_TILES:
        ct_src_fail(r, CT_SRC_FAILED, "%s", why);
        return false;
    }
    return false;
}

static void fetch_entries(tiles_ctx *t, ct_tilehash *th, ct_source_state *ss,
                          const ct_checkpoint *cp, const char *source, ct_src_result *r) {
    ct_sync_ctx *x = t->x;
    ct_frontier work = ss->frontier;
    ct_staged stg = {0};
    uint64_t since_checkpoint = 0;
    bool fetch_failed = false;
    char why[512];
    while (work.size < cp->size) {
        uint64_t tile = work.size / CT_TILE_WIDTH, first = tile * CT_TILE_WIDTH;
        unsigned width =
            cp->size - first >= CT_TILE_WIDTH ? CT_TILE_WIDTH : (unsigned)(cp->size - first);
        if (!get_tile(t, CT_TILE_DATA, tile, width, why, sizeof why)) {
            ct_src_fail(r, CT_SRC_FAILED, "%s", why);
            fetch_failed = true;
            break;
        }
        mw_cur c = mw_cur_make(x->resp->data, x->resp->len);
        bool ok = true;
        for (unsigned i = 0; i < width && ok; i++) {
            ct_tsentry te;
            mw_cur tsb;
            if (ct_tile_leaf(&c, &te, &tsb) != MW_OK) { /* check_data_tile passed it */
                ct_src_fail(r, CT_SRC_FAILED, "data tile %llu changed under us",
                            (unsigned long long)tile);
                ok = false;
                break;
            }
            if (first + i < work.size) continue; /* already in the range (a partial tile) */
            uint8_t *mtl = malloc(tsb.len + 2), lh[32];
            if (!mtl) {
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                ok = false;
                break;
            }
            mtl[0] = 0; /* v1 */
            mtl[1] = 0; /* timestamped_entry */
            memcpy(mtl + 2, tsb.data, tsb.len);
            ct_leaf_hash(mtl, tsb.len + 2, lh);
            free(mtl);
            ct_frontier_append(&work, lh);
            x->st->entries_fetched++;
            r->fetched++;
            since_checkpoint++;
            ct_origin o = {source, t->key->log_id, first + i, te.timestamp};
            ct_entry e;
            ct_entry_result er =
                te.entry_type == CT_ENTRY_X509
                    ? ct_entry_from_cert(te.cert.data, te.cert.len, &o, &x->cfg->watch, x->st, &e)
                    : ct_entry_from_precert_tbs(te.cert.data, te.cert.len, &o, &x->cfg->watch,
                                                x->st, &e);
            if (er == CT_ENTRY_NOMEM || (er == CT_ENTRY_WATCHED && !ct_staged_push(&stg, &e))) {
                if (er == CT_ENTRY_WATCHED) ct_entry_clear(&e);
                ct_src_fail(r, CT_SRC_FAILED, "out of memory");
                ok = false;
            }
        }
        if (!ok) break;
        ct_progress(x, t->log->url, work.size, cp->size);
        if (work.size == cp->size || since_checkpoint >= x->cfg->checkpoint) {
            if (!range_in_tree(t, th, cp, &work, ss->frontier.size, r)) break;
            if (!ct_sync_commit(x, &stg, &ss->frontier, &work, work.size < cp->size, r)) break;
            since_checkpoint = 0;
        }
    }
    ct_progress_end(x);
    /* A tile that would not come: what was read before it is kept if the log proves it. */
    if (fetch_failed && work.size > ss->frontier.size) {
        ct_src_result scratch = *r;
        if (range_in_tree(t, th, cp, &work, ss->frontier.size, &scratch) &&
            ct_staged_commit(x, &stg, r)) {
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

void ct_sync_tiles(ct_sync_ctx *x, const ct_log_cfg *log, ct_src_result *r) {
    char source[600], origin[512], url[2048], why[512];
    ct_logkey key;
    ct_source_state *ss = ct_src_begin(x, "tiles", log, r, source, sizeof source, &key);
    if (!ss) return;
    ct_tiles_origin(origin, sizeof origin, log->origin ? log->origin : log->url);
    tiles_ctx t = {x, log, &key, origin, {0}, r};
    mw_buf_init(&t.scratch, x->resp->max);
    ct_tilehash th = {0};
    if (ss->has_log_id && memcmp(ss->log_id, key.log_id, 32) != 0) {
        ct_src_fail(r, CT_SRC_FAILED, "the configured key is not the one this log was synced with");
        goto out;
    }
    ct_http_result hr;
    cp_check cc = {&t, {0}, CT_CP_MALFORMED, ""};
    if (!base_url(url, sizeof url, log->url, "checkpoint")) {
        ct_src_fail(r, CT_SRC_FAILED, "URL too long");
        goto out;
    }
    if (ct_http_get(x->http, url, NULL, x->resp, check_checkpoint, &cc, &hr) != MW_OK) {
        ct_src_fail(r, CT_SRC_FAILED, "%s: %s (after %u attempt%s)", url, hr.error, hr.attempts,
                    hr.attempts == 1 ? "" : "s");
        goto out;
    }
    if (cc.res != CT_CP_OK) {
        x->st->sth_invalid++;
        ct_src_fail(r, CT_SRC_FAILED, "%s: %s", url, cc.why);
        goto out;
    }
    const ct_checkpoint cp = cc.cp;
    r->new_size = cp.size;
    r->have_new = true;
    if (!ct_tilehash_init(&th, cp.size, fetch_hash_tile, &t)) {
        ct_src_fail(r, CT_SRC_FAILED, "out of memory");
        goto out;
    }
    /* A source that fails leaves the snapshot as it was, unless verified entries were kept. */
    ct_source_state saved = *ss;
    bool dirty_before = x->dirty;
    bool have_old = ss->sth_timestamp != 0;
    if (have_old) {
        if (cp.size < ss->tree_size) {
            snprintf(why, sizeof why, "signed checkpoint of size %llu after one of size %llu",
                     (unsigned long long)cp.size, (unsigned long long)ss->tree_size);
            ct_src_distrust(x, ss, r, why);
            goto out;
        }
        switch (prove_prefix(&th, &cp, ss->tree_size, ss->root_hash, why, sizeof why)) {
        case PREFIX_OK:
            break;
        case PREFIX_DIFFERENT:
            snprintf(why, sizeof why,
                     cp.size == ss->tree_size
                         ? "two signed checkpoints of size %llu with different roots"
                         : "checkpoint of size %llu is not consistent with the verified one of "
                           "size %llu: the log rewrote its history",
                     (unsigned long long)cp.size, (unsigned long long)ss->tree_size);
            ct_src_distrust(x, ss, r, why);
            goto out;
        case PREFIX_BAD_TILES:
            x->st->root_mismatch++;
            /* fall through */
        case PREFIX_NO_TILES:
            ct_src_fail(r, CT_SRC_FAILED, "consistency %llu -> %llu: %s",
                        (unsigned long long)ss->tree_size, (unsigned long long)cp.size, why);
            goto out;
        }
    }
    /* A newer checkpoint of the same tree adds nothing: no rewrite, no reload on the sensors. */
    if (!have_old || cp.size != ss->tree_size) {
        ss->tree_size = cp.size;
        ss->sth_timestamp = cp.timestamp;
        memcpy(ss->root_hash, cp.root, 32);
        memcpy(ss->log_id, key.log_id, 32);
        ss->has_log_id = true;
        ss->mmd_s = log->mmd_s ? log->mmd_s : x->cfg->default_mmd_s;
        x->dirty = true;
    }
    fetch_entries(&t, &th, ss, &cp, source, r);
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
    ct_tilehash_free(&th);
    mw_buf_free(&t.scratch);
    ct_logkey_free(&key);
}
