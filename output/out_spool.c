/* Disk spool of one network output (spool=DIR&spool_max=SIZE), in the spirit of Fluent Bit's
 * filesystem buffering: the events its collector could not take, kept in order and replayed
 * when it is back, also by the next run.
 *
 * DIR/spool.dat: "MWSPOOL1", then records of a 12-byte header (u32 json length, u8 kind,
 * u8 severity, u16 rule.id length, u16 dataset length, u16 0x5A5A) and the three strings.
 * DIR/spool.off: "MWSPOFF1" and the u64 offset in spool.dat of the first record not yet
 * delivered (little endian); rewritten in place and fdatasync'ed after each delivered batch.
 * Appends are fdatasync'ed too. A crash can leave a torn last record (cut off at the next
 * open) and replays at most the batch in flight twice. The data file is emptied whenever the
 * replay catches up with it; spool_max caps its size. One process at a time: flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out_sink.h"

#define SPOOL_MAGIC "MWSPOOL1"
#define SPOOL_OFF_MAGIC "MWSPOFF1"
#define SPOOL_HDR 8u
#define REC_HDR 12u
#define REC_CHECK 0x5A5Au

struct out_spool {
    int fd, offfd;
    char dir[512];
    uint64_t max;
    uint64_t end;    /* end of the last whole record */
    uint64_t off;    /* first record not yet delivered */
    uint64_t rd;     /* next record to read (>= off) */
    uint64_t unread; /* records from rd to end */
    uint64_t pending;
    bool logged;
};

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool pread_all(int fd, void *buf, size_t n, uint64_t at) {
    uint8_t *b = buf;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, (off_t)at);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= (size_t)r;
        at += (uint64_t)r;
    }
    return true;
}

static bool pwrite_all(int fd, const void *buf, size_t n, uint64_t at) {
    const uint8_t *b = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return true;
}

static bool save_off(out_spool *sp) {
    uint8_t b[16];
    memcpy(b, SPOOL_OFF_MAGIC, 8);
    put_le(b + 8, sp->off, 8);
    return pwrite_all(sp->offfd, b, sizeof b, 0) && fdatasync(sp->offfd) == 0;
}

/* Record length at 'at' (header included), 0 if no whole record starts there. */
static uint64_t record_len(int fd, uint64_t at, uint64_t size, uint8_t hdr[REC_HDR]) {
    if (at + REC_HDR > size || !pread_all(fd, hdr, REC_HDR, at)) return 0;
    if (get_le(hdr + 10, 2) != REC_CHECK || hdr[4] > OUT_KIND_METRIC) return 0;
    uint64_t len = REC_HDR + get_le(hdr, 4) + get_le(hdr + 6, 2) + get_le(hdr + 8, 2);
    return at + len <= size ? len : 0;
}

static void empty_out(out_spool *sp) {
    if (ftruncate(sp->fd, SPOOL_HDR) == 0) {
        sp->end = sp->off = sp->rd = SPOOL_HDR;
        sp->unread = sp->pending = 0;
        (void)save_off(sp);
    }
}

out_spool *out_spool_open(const char *dir, uint64_t max_bytes, uint64_t *pending, char *err,
                          size_t errlen) {
    out_spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sp->fd = sp->offfd = -1;
    sp->max = max_bytes;
    snprintf(sp->dir, sizeof sp->dir, "%s", dir);
    char path[600];
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/spool.dat", dir);
    sp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->fd < 0) {
        snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(sp->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "spool %s is in use (another output or process)", dir);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/spool.off", dir);
    sp->offfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->offfd < 0) {
        snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(sp->fd, &st) != 0) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t m[16];
    if (size < SPOOL_HDR) {
        if (ftruncate(sp->fd, 0) != 0 || !pwrite_all(sp->fd, SPOOL_MAGIC, 8, 0)) {
            snprintf(err, errlen, "spool %s: cannot write: %s", dir, strerror(errno));
            goto fail;
        }
        size = SPOOL_HDR;
    } else if (!pread_all(sp->fd, m, 8, 0) || memcmp(m, SPOOL_MAGIC, 8) != 0) {
        snprintf(err, errlen, "spool %s: spool.dat is not a mitmwatch spool", dir);
        goto fail;
    }
    sp->off = SPOOL_HDR;
    if (pread_all(sp->offfd, m, 16, 0) && memcmp(m, SPOOL_OFF_MAGIC, 8) == 0)
        sp->off = get_le(m + 8, 8);
    /* Walk the records: count what is pending, cut a torn tail. */
    uint64_t at = SPOOL_HDR, n = 0;
    bool off_ok = false;
    uint8_t hdr[REC_HDR];
    for (;;) {
        if (at == sp->off) off_ok = true;
        uint64_t l = record_len(sp->fd, at, size, hdr);
        if (!l) break;
        if (off_ok) n++;
        at += l;
    }
    if (at < size && ftruncate(sp->fd, (off_t)at) != 0) {
        snprintf(err, errlen, "spool %s: cannot cut a torn record: %s", dir, strerror(errno));
        goto fail;
    }
    sp->end = at;
    if (!off_ok) { /* an offset past the data or inside a record: replay everything kept */
        sp->off = SPOOL_HDR;
        n = 0;
        for (uint64_t a = SPOOL_HDR, l; (l = record_len(sp->fd, a, sp->end, hdr)); a += l)
            n++;
    }
    sp->rd = sp->off;
    sp->unread = sp->pending = n;
    if (n == 0)
        empty_out(sp);
    else if (!save_off(sp)) {
        snprintf(err, errlen, "spool %s: cannot write spool.off: %s", dir, strerror(errno));
        goto fail;
    }
    *pending = n;
    return sp;
fail:
    out_spool_close(sp);
    return NULL;
}

void out_spool_close(out_spool *sp) {
    if (!sp) return;
    if (sp->fd >= 0) close(sp->fd);
    if (sp->offfd >= 0) close(sp->offfd);
    free(sp);
}

size_t out_spool_append(out_spool *sp, out_item *const *items, size_t n) {
    if (sp->pending == 0 && sp->end > SPOOL_HDR) empty_out(sp);
    mw_buf b;
    mw_buf_init(&b, 1u << 30);
    size_t fit = 0;
    for (; fit < n; fit++) {
        const out_item *it = items[fit];
        const char *rule = out_item_rule(it), *ds = out_item_dataset(it);
        size_t rl = rule ? strlen(rule) : 0, dl = strlen(ds);
        if (rl > 0xffff || dl > 0xffff) break;
        uint64_t rec = REC_HDR + it->len + rl + dl;
        if (sp->end + b.len + rec > sp->max) break;
        uint8_t h[REC_HDR];
        put_le(h, it->len, 4);
        h[4] = it->kind;
        h[5] = (uint8_t)it->severity;
        put_le(h + 6, rl, 2);
        put_le(h + 8, dl, 2);
        put_le(h + 10, REC_CHECK, 2);
        if (!mw_buf_append(&b, h, REC_HDR) || !mw_buf_append(&b, it->data, it->len) ||
            !mw_buf_append(&b, rule ? rule : "", rl) || !mw_buf_append(&b, ds, dl))
            break;
    }
    if (fit && (!pwrite_all(sp->fd, b.data, b.len, sp->end) || fdatasync(sp->fd) != 0)) {
        if (!sp->logged)
            fprintf(stderr, "mitmwatch: spool %s: cannot write: %s\n", sp->dir, strerror(errno));
        sp->logged = true;
        if (ftruncate(sp->fd, (off_t)sp->end) != 0) {
            /* the torn part is cut at the next open */
        }
        fit = 0;
    } else if (fit < n && !sp->logged) {
        sp->logged = true;
        fprintf(stderr, "mitmwatch: spool %s is full (spool_max %llu bytes): dropping (counted)\n",
                sp->dir, (unsigned long long)sp->max);
    }
    sp->end += fit ? b.len : 0;
    sp->unread += fit;
    sp->pending += fit;
    mw_buf_free(&b);
    return fit;
}

size_t out_spool_read(out_spool *sp, out_item **items, size_t max) {
    size_t n = 0;
    uint8_t h[REC_HDR];
    while (n < max && sp->unread > 0) {
        uint64_t l = record_len(sp->fd, sp->rd, sp->end, h);
        uint32_t jl = (uint32_t)get_le(h, 4);
        size_t rl = (size_t)get_le(h + 6, 2), dl = (size_t)get_le(h + 8, 2);
        out_item *it = l ? malloc(sizeof *it + jl + 1 + rl + 1 + dl + 1) : NULL;
        if (!it || !pread_all(sp->fd, it->data, jl, sp->rd + REC_HDR) ||
            !pread_all(sp->fd, it->data + jl + 1, rl, sp->rd + REC_HDR + jl) ||
            !pread_all(sp->fd, it->data + jl + 1 + rl + 1, dl, sp->rd + REC_HDR + jl + rl)) {
            free(it);
            fprintf(stderr, "mitmwatch: spool %s: unreadable record at %llu\n", sp->dir,
                    (unsigned long long)sp->rd);
            sp->unread = 0; /* what follows cannot be found again */
            break;
        }
        it->len = jl;
        it->kind = h[4];
        it->severity = (int8_t)h[5];
        it->data[jl] = '\0';
        it->rule_off = rl ? jl + 1 : 0;
        it->data[jl + 1 + rl] = '\0';
        it->ds_off = (uint32_t)(jl + 1 + rl + 1);
        it->data[jl + 1 + rl + 1 + dl] = '\0';
        items[n++] = it;
        sp->rd += l;
        sp->unread--;
    }
    return n;
}

bool out_spool_commit(out_spool *sp) {
    uint64_t done = 0;
    uint8_t h[REC_HDR];
    for (uint64_t a = sp->off, l; a < sp->rd && (l = record_len(sp->fd, a, sp->end, h)); a += l)
        done++;
    sp->off = sp->rd;
    sp->pending = sp->pending > done ? sp->pending - done : 0;
    if (sp->off >= sp->end || sp->pending == 0) {
        empty_out(sp);
        return true;
    }
    return save_off(sp);
}

void out_spool_rewind(out_spool *sp) {
    uint64_t n = 0;
    uint8_t h[REC_HDR];
    for (uint64_t a = sp->off, l; a < sp->rd && (l = record_len(sp->fd, a, sp->end, h)); a += l)
        n++;
    sp->rd = sp->off;
    sp->unread += n;
}

bool out_spool_has_unread(const out_spool *sp) {
    return sp->unread > 0;
}
