#include "ct_snapshot.h"

#include "mw_cursor.h"
#include "mw_msgpack.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char k_format[] = "mitmwatch-ctcache";

/* ---------- entries and sources ---------- */

void ct_entry_clear(ct_entry *e) {
    for (uint32_t i = 0; i < e->n_names; i++)
        free(e->names[i]);
    free(e->names);
    free(e->issuer);
    free(e->source);
    memset(e, 0, sizeof *e);
}

void ct_source_state_clear(ct_source_state *s) {
    free(s->kind);
    free(s->url);
    free(s->key);
    free(s->after);
    free(s->reason);
    memset(s, 0, sizeof *s);
}

/* ---------- index: open addressing, linear probing, keyed by the TBS hash ---------- */

typedef const uint8_t *(*tbs_of_fn)(const void *ctx, uint32_t i);

static uint64_t slot_hash(const uint8_t tbs[32]) {
    uint64_t h;
    memcpy(&h, tbs, sizeof h); /* a SHA-256 output: its bytes are already uniform */
    return h;
}

static bool index_build(ct_index *ix, size_t n, tbs_of_fn tbs_of, const void *ctx) {
    size_t cap = 16;
    while (cap < n * 2) {
        if (cap > ((size_t)1 << 31)) return false;
        cap *= 2;
    }
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    free(ix->slots);
    ix->slots = slots;
    ix->mask = (uint32_t)(cap - 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t j = (uint32_t)slot_hash(tbs_of(ctx, (uint32_t)i)) & ix->mask;
        while (ix->slots[j])
            j = (j + 1) & ix->mask;
        ix->slots[j] = (uint32_t)i + 1;
    }
    return true;
}

/* Returns entry index + 1, or 0. */
static uint32_t index_find(const ct_index *ix, const uint8_t tbs[32], tbs_of_fn tbs_of,
                           const void *ctx) {
    if (!ix->slots) return 0;
    uint32_t j = (uint32_t)slot_hash(tbs) & ix->mask;
    while (ix->slots[j]) {
        uint32_t e = ix->slots[j];
        if (!memcmp(tbs_of(ctx, e - 1), tbs, 32)) return e;
        j = (j + 1) & ix->mask;
    }
    return 0;
}

/* ---------- store ---------- */

static const uint8_t *store_tbs(const void *ctx, uint32_t i) {
    return ((const ct_store *)ctx)->v[i].tbs;
}

void ct_store_init(ct_store *s) {
    memset(s, 0, sizeof *s);
}

void ct_store_free(ct_store *s) {
    for (size_t i = 0; i < s->n; i++)
        ct_entry_clear(&s->v[i]);
    free(s->v);
    free(s->idx.slots);
    for (size_t i = 0; i < s->n_src; i++)
        ct_source_state_clear(&s->src[i]);
    free(s->src);
    memset(s, 0, sizeof *s);
}

ct_entry *ct_store_find(ct_store *s, const uint8_t tbs[32]) {
    uint32_t e = index_find(&s->idx, tbs, store_tbs, s);
    return e ? &s->v[e - 1] : NULL;
}

mw_rc ct_store_put(ct_store *s, ct_entry *e, bool *is_new) {
    ct_entry *old = ct_store_find(s, e->tbs);
    if (old) {
        *is_new = false;
        old->precert = old->precert || e->precert;
        if (!old->has_cert && e->has_cert) {
            memcpy(old->cert, e->cert, 32);
            old->has_cert = true;
        }
        ct_entry_clear(e);
        return MW_OK;
    }
    *is_new = true;
    if (s->n >= UINT32_MAX - 1) return MW_ERR;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        ct_entry *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return MW_ERR;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = *e;
    memset(e, 0, sizeof *e);
    if ((size_t)s->idx.mask + 1 < s->n * 2 || !s->idx.slots) {
        if (!index_build(&s->idx, s->n, store_tbs, s)) return MW_ERR;
    } else {
        uint32_t j = (uint32_t)slot_hash(s->v[s->n - 1].tbs) & s->idx.mask;
        while (s->idx.slots[j])
            j = (j + 1) & s->idx.mask;
        s->idx.slots[j] = (uint32_t)s->n;
    }
    return MW_OK;
}

static bool streq_opt(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

ct_source_state *ct_store_source(ct_store *s, const char *kind, const char *url, const char *key) {
    for (size_t i = 0; i < s->n_src; i++)
        if (streq_opt(s->src[i].kind, kind) && streq_opt(s->src[i].url, url) &&
            streq_opt(s->src[i].key, key))
            return &s->src[i];
    ct_source_state *nv = realloc(s->src, (s->n_src + 1) * sizeof *nv);
    if (!nv) return NULL;
    s->src = nv;
    ct_source_state *r = &s->src[s->n_src];
    memset(r, 0, sizeof *r);
    r->kind = strdup(kind);
    r->url = strdup(url);
    r->key = key ? strdup(key) : NULL;
    if (!r->kind || !r->url || (key && !r->key)) {
        ct_source_state_clear(r);
        return NULL;
    }
    ct_frontier_init(&r->frontier);
    s->n_src++;
    return r;
}

/* ---------- writing ---------- */

static void pk_str(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_key(msgpack_packer *pk, const char *k) {
    pk_str(pk, k);
}

static void pk_bin(msgpack_packer *pk, const uint8_t *b, size_t n) {
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
}

static void pk_str_or_nil(msgpack_packer *pk, const char *s) {
    if (s)
        pk_str(pk, s);
    else
        msgpack_pack_nil(pk);
}

static void pack_source(msgpack_packer *pk, const ct_source_state *s) {
    msgpack_pack_map(pk, 13);
    pk_key(pk, "kind");
    pk_str(pk, s->kind);
    pk_key(pk, "url");
    pk_str(pk, s->url);
    pk_key(pk, "key");
    pk_str_or_nil(pk, s->key);
    pk_key(pk, "log_id");
    if (s->has_log_id)
        pk_bin(pk, s->log_id, 32);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "tree_size");
    msgpack_pack_uint64(pk, s->tree_size);
    pk_key(pk, "root_hash");
    pk_bin(pk, s->root_hash, 32);
    pk_key(pk, "sth_timestamp");
    msgpack_pack_uint64(pk, s->sth_timestamp);
    pk_key(pk, "next_index");
    msgpack_pack_uint64(pk, s->frontier.size);
    pk_key(pk, "frontier");
    int nf = 0;
    for (int k = 0; k < CT_MERKLE_MAX_DEPTH; k++)
        nf += (int)((s->frontier.size >> k) & 1);
    msgpack_pack_array(pk, (size_t)nf);
    for (int k = 0; k < CT_MERKLE_MAX_DEPTH; k++)
        if ((s->frontier.size >> k) & 1) pk_bin(pk, s->frontier.h[k], 32);
    pk_key(pk, "after");
    pk_str_or_nil(pk, s->after);
    pk_key(pk, "distrusted");
    if (s->distrusted)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pk_key(pk, "reason");
    pk_str_or_nil(pk, s->reason);
    pk_key(pk, "mmd");
    msgpack_pack_uint64(pk, s->mmd_s);
}

static void pack_entry(msgpack_packer *pk, const ct_entry *e) {
    msgpack_pack_map(pk, 11);
    pk_key(pk, "tbs_sha256");
    pk_bin(pk, e->tbs, 32);
    pk_key(pk, "cert_sha256");
    if (e->has_cert)
        pk_bin(pk, e->cert, 32);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "names");
    msgpack_pack_array(pk, e->n_names);
    for (uint32_t i = 0; i < e->n_names; i++)
        pk_str(pk, e->names[i]);
    pk_key(pk, "issuer");
    pk_str(pk, e->issuer ? e->issuer : "");
    pk_key(pk, "not_before");
    msgpack_pack_int64(pk, e->not_before);
    pk_key(pk, "not_after");
    msgpack_pack_int64(pk, e->not_after);
    pk_key(pk, "source");
    pk_str(pk, e->source ? e->source : "");
    pk_key(pk, "log_id");
    if (e->has_log_id)
        pk_bin(pk, e->log_id, 32);
    else
        msgpack_pack_nil(pk);
    pk_key(pk, "index");
    msgpack_pack_uint64(pk, e->index);
    pk_key(pk, "timestamp");
    msgpack_pack_uint64(pk, e->timestamp_ms);
    pk_key(pk, "precert");
    if (e->precert)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static bool write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

mw_rc ct_store_write(const ct_store *s, const char *path, int64_t created) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pk_key(&pk, "format");
    pk_str(&pk, k_format);
    pk_key(&pk, "version");
    msgpack_pack_uint32(&pk, CT_SNAPSHOT_VERSION);
    pk_key(&pk, "created");
    msgpack_pack_int64(&pk, created);
    pk_key(&pk, "sources");
    msgpack_pack_array(&pk, s->n_src);
    for (size_t i = 0; i < s->n_src; i++)
        pack_source(&pk, &s->src[i]);
    pk_key(&pk, "entries");
    msgpack_pack_array(&pk, s->n);
    for (size_t i = 0; i < s->n; i++)
        pack_entry(&pk, &s->v[i]);

    mw_rc rc = MW_ERR;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = malloc(plen + 2);
    if (!tmp || !dir || !sb.data) goto out;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) goto out;
    bool ok = fchmod(fd, 0644) == 0 && write_all(fd, sb.data, sb.size) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    /* The rename is durable only once the folder is synced. */
    memcpy(dir, path, plen + 1);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    else
        memcpy(dir, ".", 2);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = MW_OK;
out:
    free(tmp);
    free(dir);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---------- loading ---------- */

struct ct_snapshot {
    void *map;
    size_t map_len;
    msgpack_unpacked up;
    ct_entry_view *v;
    size_t n;
    ct_str *names;
    ct_index idx;
    ct_source_state *src;
    size_t n_src;
    int64_t created;
};

static const uint8_t *snap_tbs(const void *ctx, uint32_t i) {
    return ((const ct_snapshot *)ctx)->v[i].tbs;
}

static bool key_is(const msgpack_object *k, const char *s) {
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, s, n);
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key) {
    if (m->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (key_is(&m->via.map.ptr[i].key, key)) return &m->via.map.ptr[i].val;
    return NULL;
}

static bool get_u64(const msgpack_object *o, uint64_t *out) {
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return false;
    *out = o->via.u64;
    return true;
}

static bool get_i64(const msgpack_object *o, int64_t *out) {
    if (!o) return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static bool get_str(const msgpack_object *o, ct_str *out) {
    if (!o || o->type != MSGPACK_OBJECT_STR) return false;
    out->p = o->via.str.ptr;
    out->n = o->via.str.size;
    return true;
}

/* bin32, or nil when allowed */
static bool get_h32(const msgpack_object *o, const uint8_t **out, bool nil_ok) {
    if (o && nil_ok && o->type == MSGPACK_OBJECT_NIL) {
        *out = NULL;
        return true;
    }
    if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) return false;
    *out = (const uint8_t *)o->via.bin.ptr;
    return true;
}

static char *dup_opt(const msgpack_object *o, bool *ok) {
    ct_str s;
    if (!o || o->type == MSGPACK_OBJECT_NIL) return NULL;
    if (!get_str(o, &s)) {
        *ok = false;
        return NULL;
    }
    char *r = malloc((size_t)s.n + 1);
    if (!r) {
        *ok = false;
        return NULL;
    }
    memcpy(r, s.p, s.n);
    r[s.n] = '\0';
    if (memchr(r, '\0', s.n)) *ok = false;
    return r;
}

static bool load_source(const msgpack_object *m, ct_source_state *s) {
    bool ok = true;
    const uint8_t *h;
    uint64_t next;
    memset(s, 0, sizeof *s);
    s->kind = dup_opt(map_get(m, "kind"), &ok);
    s->url = dup_opt(map_get(m, "url"), &ok);
    s->key = dup_opt(map_get(m, "key"), &ok);
    s->after = dup_opt(map_get(m, "after"), &ok);
    s->reason = dup_opt(map_get(m, "reason"), &ok);
    if (!ok || !s->kind || !s->url) return false;
    if (!get_h32(map_get(m, "log_id"), &h, true)) return false;
    if (h) {
        memcpy(s->log_id, h, 32);
        s->has_log_id = true;
    }
    if (!get_u64(map_get(m, "tree_size"), &s->tree_size) ||
        !get_u64(map_get(m, "sth_timestamp"), &s->sth_timestamp) ||
        !get_u64(map_get(m, "next_index"), &next) || !get_u64(map_get(m, "mmd"), &s->mmd_s) ||
        !get_h32(map_get(m, "root_hash"), &h, false))
        return false;
    memcpy(s->root_hash, h, 32);
    const msgpack_object *d = map_get(m, "distrusted");
    if (!d || d->type != MSGPACK_OBJECT_BOOLEAN) return false;
    s->distrusted = d->via.boolean;
    const msgpack_object *f = map_get(m, "frontier");
    if (!f || f->type != MSGPACK_OBJECT_ARRAY) return false;
    ct_frontier_init(&s->frontier);
    s->frontier.size = next;
    uint32_t fi = 0;
    for (int k = 0; k < CT_MERKLE_MAX_DEPTH; k++) {
        if (!((next >> k) & 1)) continue;
        if (fi >= f->via.array.size || !get_h32(&f->via.array.ptr[fi], &h, false)) return false;
        memcpy(s->frontier.h[k], h, 32);
        fi++;
    }
    return fi == f->via.array.size && next <= s->tree_size;
}

static bool load_entry(const msgpack_object *m, ct_entry_view *v, ct_str **names_pool) {
    if (m->type != MSGPACK_OBJECT_MAP) return false;
    memset(v, 0, sizeof *v);
    const msgpack_object *nm = map_get(m, "names"), *pre = map_get(m, "precert");
    if (!get_h32(map_get(m, "tbs_sha256"), &v->tbs, false) ||
        !get_h32(map_get(m, "cert_sha256"), &v->cert, true) ||
        !get_h32(map_get(m, "log_id"), &v->log_id, true) ||
        !get_str(map_get(m, "issuer"), &v->issuer) || !get_str(map_get(m, "source"), &v->source) ||
        !get_i64(map_get(m, "not_before"), &v->not_before) ||
        !get_i64(map_get(m, "not_after"), &v->not_after) ||
        !get_u64(map_get(m, "index"), &v->index) ||
        !get_u64(map_get(m, "timestamp"), &v->timestamp_ms) || !nm ||
        nm->type != MSGPACK_OBJECT_ARRAY || !pre || pre->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    v->precert = pre->via.boolean;
    v->names = *names_pool;
    v->n_names = nm->via.array.size;
    for (uint32_t i = 0; i < nm->via.array.size; i++)
        if (!get_str(&nm->via.array.ptr[i], &(*names_pool)[i])) return false;
    *names_pool += nm->via.array.size;
    return true;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

ct_snapshot *ct_snapshot_load(const char *path, char *err, size_t errlen) {
    ct_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    msgpack_unpacked_init(&s->up);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) FAIL("%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        FAIL("%s: not a regular file", path);
    }
    if (sb.st_size <= 0 || (uint64_t)sb.st_size > CT_SNAPSHOT_MAX_BYTES) {
        close(fd);
        FAIL("%s: empty or too large (%lld bytes)", path, (long long)sb.st_size);
    }
    s->map_len = (size_t)sb.st_size;
    s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        FAIL("%s: mmap: %s", path, strerror(errno));
    }
    size_t doc = mw_msgpack_shape(s->map, s->map_len, NULL);
    if (doc == 0) FAIL("%s: not a complete msgpack document (truncated or corrupt)", path);
    if (doc != s->map_len)
        FAIL("%s: %zu trailing bytes after the snapshot", path, s->map_len - doc);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&s->up, s->map, s->map_len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS)
        FAIL("%s: not a complete msgpack document (truncated or corrupt)", path);
    if (off != s->map_len)
        FAIL("%s: %zu trailing bytes after the snapshot", path, s->map_len - off);
    const msgpack_object *root = &s->up.data;
    ct_str fmt;
    uint64_t ver = 0;
    if (!get_str(map_get(root, "format"), &fmt) || fmt.n != strlen(k_format) ||
        memcmp(fmt.p, k_format, fmt.n))
        FAIL("%s: not a mitmwatch ctcache snapshot", path);
    if (!get_u64(map_get(root, "version"), &ver) || ver != CT_SNAPSHOT_VERSION)
        FAIL("%s: snapshot format version %llu, this build reads %d", path, (unsigned long long)ver,
             CT_SNAPSHOT_VERSION);
    if (!get_i64(map_get(root, "created"), &s->created))
        FAIL("%s: created: missing or not an integer", path);
    const msgpack_object *srcs = map_get(root, "sources"), *ents = map_get(root, "entries");
    if (!srcs || srcs->type != MSGPACK_OBJECT_ARRAY || !ents || ents->type != MSGPACK_OBJECT_ARRAY)
        FAIL("%s: sources/entries: missing or not arrays", path);
    s->src = calloc(srcs->via.array.size + 1, sizeof *s->src);
    if (!s->src) FAIL("out of memory");
    for (uint32_t i = 0; i < srcs->via.array.size; i++) {
        s->n_src = i + 1;
        if (!load_source(&srcs->via.array.ptr[i], &s->src[i]))
            FAIL("%s: sources[%u]: malformed", path, i);
    }
    size_t total_names = 0;
    for (uint32_t i = 0; i < ents->via.array.size; i++) {
        const msgpack_object *nm = map_get(&ents->via.array.ptr[i], "names");
        if (nm && nm->type == MSGPACK_OBJECT_ARRAY) total_names += nm->via.array.size;
    }
    s->v = calloc(ents->via.array.size + 1, sizeof *s->v);
    s->names = calloc(total_names + 1, sizeof *s->names);
    if (!s->v || !s->names) FAIL("out of memory");
    ct_str *pool = s->names;
    for (uint32_t i = 0; i < ents->via.array.size; i++)
        if (!load_entry(&ents->via.array.ptr[i], &s->v[i], &pool))
            FAIL("%s: entries[%u]: malformed", path, i);
    s->n = ents->via.array.size;
    if (!index_build(&s->idx, s->n, snap_tbs, s)) FAIL("out of memory");
    for (size_t i = 0; i < s->n; i++)
        if (index_find(&s->idx, s->v[i].tbs, snap_tbs, s) != i + 1)
            FAIL("%s: entries[%zu]: duplicate tbs_sha256", path, i);
    return s;
fail:
    ct_snapshot_free(s);
    return NULL;
}

void ct_snapshot_free(ct_snapshot *s) {
    if (!s) return;
    msgpack_unpacked_destroy(&s->up);
    if (s->map) munmap(s->map, s->map_len);
    free(s->v);
    free(s->names);
    free(s->idx.slots);
    for (size_t i = 0; i < s->n_src; i++)
        ct_source_state_clear(&s->src[i]);
    free(s->src);
    free(s);
}

size_t ct_snapshot_count(const ct_snapshot *s) {
    return s->n;
}
int64_t ct_snapshot_created(const ct_snapshot *s) {
    return s->created;
}
const ct_entry_view *ct_snapshot_entry(const ct_snapshot *s, size_t i) {
    return i < s->n ? &s->v[i] : NULL;
}

const ct_entry_view *ct_snapshot_lookup(const ct_snapshot *s, const uint8_t tbs[32]) {
    uint32_t e = index_find(&s->idx, tbs, snap_tbs, s);
    return e ? &s->v[e - 1] : NULL;
}

bool ct_snapshot_has(const ct_snapshot *s, const uint8_t tbs[32]) {
    return s && ct_snapshot_lookup(s, tbs) != NULL;
}

uint64_t ct_snapshot_max_mmd(const ct_snapshot *s, uint64_t dflt) {
    uint64_t m = 0;
    for (size_t i = 0; s && i < s->n_src; i++)
        if (s->src[i].mmd_s > m) m = s->src[i].mmd_s;
    return m ? m : dflt;
}

ct_check ct_snapshot_check(const ct_snapshot *s, const uint8_t tbs[32], int64_t issued_s,
                           uint64_t mmd_s) {
    if (!s) return CT_CHECK_NO_SNAPSHOT;
    if (ct_snapshot_has(s, tbs)) return CT_CHECK_LOGGED;
    if (mmd_s > (uint64_t)INT64_MAX / 2 || issued_s > INT64_MAX / 2 ||
        issued_s + (int64_t)mmd_s > s->created)
        return CT_CHECK_GRACE;
    return CT_CHECK_NOT_IN_CT;
}

size_t ct_snapshot_source_count(const ct_snapshot *s) {
    return s->n_src;
}
const ct_source_state *ct_snapshot_source(const ct_snapshot *s, size_t i) {
    return i < s->n_src ? &s->src[i] : NULL;
}

static char *dup_n(const ct_str *s) {
    char *r = malloc((size_t)s->n + 1);
    if (r) {
        memcpy(r, s->p, s->n);
        r[s->n] = '\0';
    }
    return r;
}

static char *dup_c(const char *s) {
    return s ? strdup(s) : NULL;
}

mw_rc ct_store_from_snapshot(ct_store *st, const ct_snapshot *s) {
    for (size_t i = 0; i < s->n_src; i++) {
        const ct_source_state *a = &s->src[i];
        ct_source_state *b = ct_store_source(st, a->kind, a->url, a->key);
        if (!b) return MW_ERR;
        char *kind = b->kind, *url = b->url, *key = b->key;
        free(b->after); /* a repeated source: the later one wins */
        free(b->reason);
        *b = *a;
        b->kind = kind;
        b->url = url;
        b->key = key;
        b->after = dup_c(a->after);
        b->reason = dup_c(a->reason);
        if ((a->after && !b->after) || (a->reason && !b->reason)) return MW_ERR;
    }
    for (size_t i = 0; i < s->n; i++) {
        const ct_entry_view *v = &s->v[i];
        ct_entry e = {0};
        bool is_new;
        memcpy(e.tbs, v->tbs, 32);
        if (v->cert) {
            memcpy(e.cert, v->cert, 32);
            e.has_cert = true;
        }
        if (v->log_id) {
            memcpy(e.log_id, v->log_id, 32);
            e.has_log_id = true;
        }
        e.precert = v->precert;
        e.not_before = v->not_before;
        e.not_after = v->not_after;
        e.index = v->index;
        e.timestamp_ms = v->timestamp_ms;
        e.issuer = dup_n(&v->issuer);
        e.source = dup_n(&v->source);
        e.names = calloc(v->n_names + 1, sizeof *e.names);
        bool ok = e.issuer && e.source && e.names;
        for (uint32_t k = 0; ok && k < v->n_names; k++) {
            e.names[k] = dup_n(&v->names[k]);
            ok = e.names[k] != NULL;
            e.n_names = k + 1;
        }
        if (!ok || ct_store_put(st, &e, &is_new) != MW_OK) {
            ct_entry_clear(&e);
            return MW_ERR;
        }
    }
    return MW_OK;
}

/* ---------- reload on change ---------- */

void ct_reloader_init(ct_reloader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = strdup(path);
}

void ct_reloader_free(ct_reloader *r) {
    free(r->path);
    memset(r, 0, sizeof *r);
}

ct_snapshot *ct_reloader_check(ct_reloader *r, bool force, char *err, size_t errlen) {
    struct stat sb;
    err[0] = '\0';
    if (!r->path || stat(r->path, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", r->path ? r->path : "(null)", strerror(errno));
        return NULL;
    }
    int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (!force && r->have && r->dev == sb.st_dev && r->ino == sb.st_ino && r->size == sb.st_size &&
        r->mtime_ns == mt)
        return NULL;
    ct_snapshot *s = ct_snapshot_load(r->path, err, errlen);
    if (!s) return NULL;
    /* A rename swaps the inode, so the identity seen before loading is the one loaded unless
     * a writer raced us; then the next check loads again. */
    r->dev = sb.st_dev;
    r->ino = sb.st_ino;
    r->size = sb.st_size;
    r->mtime_ns = mt;
    r->have = true;
    return s;
}
