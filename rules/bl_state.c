/* The baselines' state file: written atomically (write, fsync, rename), read back with
 * every older format, shaped before msgpack-c decodes it. */
#include "bl_baseline.h"
#include "bl_internal.h"
#include "mw_msgpack.h"
#include "tls_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- state file -----------------------------------------------------------------------------
 * One msgpack map (version 2):
 *   {"format": "mitmwatch-state", "v": 2,
 *    "services": [[ip (bin 16), ver (4|6), port, flows, hops_c2s (bin), hops_s2c (bin),
 *                  unstable (bit 0 c2s, bit 1 s2c), [[ja3 (bin 16), resumed, ja3s (bin 16*n)]...],
 *                  tls_best (the highest TLS version negotiated, 0 none)]...],
 *    "traces":   [[host (str), port, [[hop (str: canonical address or "*")...]...]]...]}
 * Version 1 files (no "format", no "traces", services of 8 fields) are still read; anything
 * else is refused. */

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void encode_service(const bl_svc *s, msgpack_packer *pk) {
    msgpack_pack_array(pk, 9);
    msgpack_pack_bin_with_body(pk, s->ip, 16);
    msgpack_pack_uint8(pk, s->ver);
    msgpack_pack_uint16(pk, s->port);
    msgpack_pack_uint32(pk, s->flows);
    for (int d = 0; d < 2; d++)
        msgpack_pack_bin_with_body(pk, s->hops[d], s->nhops[d]);
    msgpack_pack_uint8(pk, (uint8_t)(s->unstable[0] | s->unstable[1] << 1));
    msgpack_pack_array(pk, s->npairs);
    for (int k = 0; k < s->npairs; k++) {
        msgpack_pack_array(pk, 3);
        msgpack_pack_bin_with_body(pk, s->pairs[k].ja3, 16);
        msgpack_pack_uint8(pk, s->pairs[k].resumed);
        msgpack_pack_bin_with_body(pk, s->pairs[k].ja3s, (size_t)s->pairs[k].n * 16);
    }
    msgpack_pack_uint16(pk, s->tls_best);
}

static void encode(const bl_state *b, msgpack_packer *pk) {
    msgpack_pack_map(pk, 4);
    pack_str(pk, "format");
    pack_str(pk, BL_STATE_FORMAT);
    pack_str(pk, "v");
    msgpack_pack_int(pk, BL_STATE_VERSION);
    pack_str(pk, "services");
    msgpack_pack_array(pk, b->nsvc);
    /* Unwatched services, then watched ones, each from the least recently seen. The file does
     * not say which are watched (a service is again from its first handshake the policy
     * names); loaded in this order, the watched ones are the last to be evicted meanwhile. */
    for (int w = 0; w < 2; w++)
        for (uint32_t i = b->recent[w][1]; i != BL_NIL; i = b->svc[i].prev)
            encode_service(&b->svc[i], pk);
    pack_str(pk, "traces");
    msgpack_pack_array(pk, b->ntraces);
    for (uint32_t i = 0; i < b->ntraces; i++) {
        const bl_trace *t = &b->traces[i];
        msgpack_pack_array(pk, 3);
        pack_str(pk, t->host);
        msgpack_pack_uint16(pk, t->set.port);
        msgpack_pack_array(pk, t->set.n);
        for (unsigned k = 0; k < t->set.n; k++) {
            const trace_path *tp = &t->set.paths[k];
            msgpack_pack_array(pk, tp->n);
            for (unsigned h = 0; h < tp->n; h++)
                pack_str(pk, tp->hop[h]);
        }
    }
}

bool bl_dump(const bl_state *b, char **data, size_t *size) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    encode(b, &pk);
    *data = sb.data; /* NULL when a write failed for memory */
    *size = sb.size;
    return sb.data != NULL;
}

bool bl_save(const bl_state *b, const char *path, char *err, size_t errlen) {
    char *data;
    size_t size;
    if (!bl_dump(b, &data, &size)) {
        snprintf(err, errlen, "cannot write state file %s: out of memory", path);
        return false;
    }
    /* write, fsync, rename: a crash leaves the old file or the new one, never a torn one */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0 && write(fd, data, size) == (ssize_t)size && fsync(fd) == 0;
    if (fd >= 0) ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        snprintf(err, errlen, "cannot write state file %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(data);
    return ok;
}

static bool bin_of(const msgpack_object *o, size_t max, const char **p, size_t *n) {
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > max) return false;
    *p = o->via.bin.ptr;
    *n = o->via.bin.size;
    return true;
}

static bool uint_of(const msgpack_object *o, uint64_t max, uint64_t *out) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) return false;
    *out = o->via.u64;
    return true;
}

static bool key_is(const msgpack_object *k, const char *name) {
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static bool load_service(bl_state *b, const msgpack_object *o, uint64_t version) {
    uint32_t fields = version == 1 ? 8 : 9;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != fields) return false;
    const msgpack_object *a = o->via.array.ptr;
    const char *ip, *h0, *h1;
    size_t ipn, n0, n1;
    uint64_t ver, port, flows, unstable, tls_best = 0;
    if (!bin_of(&a[0], 16, &ip, &ipn) || ipn != 16 || !uint_of(&a[1], 6, &ver) ||
        (ver != 4 && ver != 6) || !uint_of(&a[2], 65535, &port) ||
        !uint_of(&a[3], UINT64_MAX, &flows) || !bin_of(&a[4], BL_MAX_HOPS, &h0, &n0) ||
        !bin_of(&a[5], BL_MAX_HOPS, &h1, &n1) || !uint_of(&a[6], 3, &unstable) ||
        a[7].type != MSGPACK_OBJECT_ARRAY || a[7].via.array.size > BL_MAX_JA3 ||
        (fields == 9 && !uint_of(&a[8], 0xffff, &tls_best)))
        return false;
    bl_svc *s = bl_svc_get(b, (const uint8_t *)ip, (uint8_t)ver, (uint16_t)port, true, false);
    if (!s) return true; /* table full: keep what fits */
    if (s->flows || s->nhops[0] || s->nhops[1] || s->npairs)
        return false; /* the same service twice */
    s->flows = (uint32_t)(flows > UINT32_MAX ? UINT32_MAX : flows);
    memcpy(s->hops[0], h0, n0);
    s->nhops[0] = (uint8_t)n0;
    memcpy(s->hops[1], h1, n1);
    s->nhops[1] = (uint8_t)n1;
    s->unstable[0] = unstable & 1;
    s->unstable[1] = (unstable >> 1) & 1;
    s->tls_best = (uint16_t)tls_best;
    if (a[7].via.array.size && !s->pairs && !(s->pairs = calloc(BL_MAX_JA3, sizeof *s->pairs)))
        return false;
    for (uint32_t k = 0; k < a[7].via.array.size; k++) {
        const msgpack_object *pr = &a[7].via.array.ptr[k];
        const char *j, *js;
        size_t jn, jsn;
        uint64_t resumed;
        if (pr->type != MSGPACK_OBJECT_ARRAY || pr->via.array.size != 3 ||
            !bin_of(&pr->via.array.ptr[0], 16, &j, &jn) || jn != 16 ||
            !uint_of(&pr->via.array.ptr[1], 1, &resumed) ||
            !bin_of(&pr->via.array.ptr[2], 16 * BL_MAX_JA3S, &js, &jsn) || jsn % 16)
            return false;
        memcpy(s->pairs[k].ja3, j, 16);
        s->pairs[k].resumed = (uint8_t)resumed;
        memcpy(s->pairs[k].ja3s, js, jsn);
        s->pairs[k].n = (uint8_t)(jsn / 16);
        s->pairs[k].seen = jsn ? BL_LEARN_JA3S : 0; /* what was saved was learned */
        s->npairs++;
    }
    return true;
}

/* [host, port, [[hop...]...]]: every hop must be a canonical address or "*", as written. */
static bool load_trace(bl_state *b, const msgpack_object *o) {
    static trace_pathset set; /* ~23 KB; loading runs on one thread, at start */
    uint64_t port;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3) return false;
    const msgpack_object *a = o->via.array.ptr;
    char host[256];
    if (a[0].type != MSGPACK_OBJECT_STR || a[0].via.str.size == 0 ||
        a[0].via.str.size >= sizeof host || memchr(a[0].via.str.ptr, 0, a[0].via.str.size) ||
        !uint_of(&a[1], 65535, &port) || port == 0 || a[2].type != MSGPACK_OBJECT_ARRAY ||
        a[2].via.array.size == 0 || a[2].via.array.size > TRACE_SET_MAX)
        return false;
    memcpy(host, a[0].via.str.ptr, a[0].via.str.size);
    host[a[0].via.str.size] = '\0';
    if (bl_trace_find(b, host, (uint16_t)port)) return false; /* the same (host, port) twice */
    memset(&set, 0, sizeof set);
    for (uint32_t k = 0; k < a[2].via.array.size; k++) {
        const msgpack_object *po = &a[2].via.array.ptr[k];
        if (po->type != MSGPACK_OBJECT_ARRAY || po->via.array.size == 0 ||
            po->via.array.size > TRACE_PATH_MAX)
            return false;
        trace_path *tp = &set.paths[set.n++];
        for (uint32_t h = 0; h < po->via.array.size; h++) {
            const msgpack_object *ho = &po->via.array.ptr[h];
            if (ho->type != MSGPACK_OBJECT_STR ||
                trace_hop_parse(ho->via.str.ptr, ho->via.str.size, tp->hop[h]) != MW_OK ||
                ho->via.str.size != strlen(tp->hop[h]) ||
                memcmp(ho->via.str.ptr, tp->hop[h], ho->via.str.size) != 0)
                return false;
        }
        tp->n = po->via.array.size;
    }
    return bl_trace_put(b, host, (uint16_t)port, &set);
}

/* A one-line reason; the caller prefixes the file. */
_Static_assert(BL_MAX_TRACES == 1024, "the message below names the limit");

static bool load_root(bl_state *b, const msgpack_object *root, char *why, size_t whylen) {
    const msgpack_object *services = NULL, *traces = NULL, *format = NULL;
    uint64_t version = 0;
    bool have_version = false;
    if (root->type != MSGPACK_OBJECT_MAP) {
        snprintf(why, whylen, "not a mitmwatch state file (not a msgpack map)");
        return false;
    }
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        const msgpack_object **slot = key_is(&kv->key, "services") ? &services
                                      : key_is(&kv->key, "traces") ? &traces
                                      : key_is(&kv->key, "format") ? &format
                                                                   : NULL;
        if (key_is(&kv->key, "v")) {
            if (have_version || !uint_of(&kv->val, UINT32_MAX, &version)) {
                snprintf(why, whylen, "not a mitmwatch state file (bad version field)");
                return false;
            }
            have_version = true;
        } else if (slot) {
            if (*slot) {
                snprintf(why, whylen, "not a mitmwatch state file (a key given twice)");
                return false;
            }
            *slot = &kv->val;
        }
    }
    if (format &&
        !(format->type == MSGPACK_OBJECT_STR && format->via.str.size == strlen(BL_STATE_FORMAT) &&
          memcmp(format->via.str.ptr, BL_STATE_FORMAT, strlen(BL_STATE_FORMAT)) == 0)) {
        snprintf(why, whylen, "not a mitmwatch state file (format is not \"%s\")", BL_STATE_FORMAT);
        return false;
    }
    if (!have_version || (version >= 2 && !format)) {
        snprintf(why, whylen, "not a mitmwatch state file (no %s)",
                 have_version ? "format field" : "version field");
        return false;
    }
    if (version < 1 || version > BL_STATE_VERSION) {
        snprintf(why, whylen, "version %llu; this mitmwatch reads versions 1 to %d",
                 (unsigned long long)version, BL_STATE_VERSION);
        return false;
    }
    const char *bad = !services || services->type != MSGPACK_OBJECT_ARRAY ? "services is not a list"
                      : traces && version < 2 ? "traces in a version 1 file"
                      : traces && traces->type != MSGPACK_OBJECT_ARRAY   ? "traces is not a list"
                      : traces && traces->via.array.size > BL_MAX_TRACES ? "more than 1024 traces"
                                                                         : NULL;
    if (bad) {
        snprintf(why, whylen, "malformed (%s)", bad);
        return false;
    }
    for (uint32_t i = 0; i < services->via.array.size; i++)
        if (!load_service(b, &services->via.array.ptr[i], version)) {
            snprintf(why, whylen, "malformed entry services[%u]", i);
            return false;
        }
    for (uint32_t i = 0; traces && i < traces->via.array.size; i++)
        if (!load_trace(b, &traces->via.array.ptr[i])) {
            snprintf(why, whylen, "malformed entry traces[%u]", i);
            return false;
        }
    return true;
}

bool bl_load_mem(bl_state *b, const char *name, const void *data, size_t size, char *err,
                 size_t errlen) {
    char why[160] = "";
    if (size == 0) {
        snprintf(err, errlen, "state file %s: empty, not a mitmwatch state file", name);
        return false;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    bool truncated = false;
    /* shape first: msgpack-c would allocate whatever counts the file declares */
    msgpack_unpack_return r =
        mw_msgpack_shape(data, size, &truncated) == 0
            ? (truncated ? MSGPACK_UNPACK_CONTINUE : MSGPACK_UNPACK_PARSE_ERROR)
            : msgpack_unpack_next(&u, data, size, &off);
    bool ok = false;
    if (r == MSGPACK_UNPACK_CONTINUE)
        snprintf(why, sizeof why, "truncated (%zu bytes)", size);
    else if (r != MSGPACK_UNPACK_SUCCESS)
        snprintf(why, sizeof why, "not a mitmwatch state file (not msgpack)");
    else if (u.data.type != MSGPACK_OBJECT_MAP)
        snprintf(why, sizeof why, "not a mitmwatch state file (not a msgpack map)");
    else if (off != size)
        snprintf(why, sizeof why, "not a mitmwatch state file (%zu bytes after the state)",
                 size - off);
    else
        ok = load_root(b, &u.data, why, sizeof why);
    if (!ok) snprintf(err, errlen, "state file %s: %s", name, why);
    msgpack_unpacked_destroy(&u);
    return ok;
}

bool bl_load(bl_state *b, const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) return true; /* first run */
        snprintf(err, errlen, "cannot read state file %s: %s", path, strerror(errno));
        return false;
    }
    struct stat sbuf;
    if (fstat(fd, &sbuf) != 0 || !S_ISREG(sbuf.st_mode) ||
        (uint64_t)sbuf.st_size > BL_STATE_MAX_BYTES) {
        snprintf(err, errlen, "state file %s: not a regular file of at most 64 MiB", path);
        close(fd);
        return false;
    }
    size_t size = (size_t)sbuf.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map state file %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = bl_load_mem(b, path, map, size, err, errlen);
    if (size) munmap(map, size);
    return ok;
}
