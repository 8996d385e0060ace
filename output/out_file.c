/* The JSON-lines writer of file and stdout outputs: buffered writev, periodic flush, size
 * rotation, reopen on SIGHUP (logrotate). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "out_sink.h"

bool out_file_open(out_sink *s, char *err, size_t errlen) {
    if (s->cfg.type == OUT_SINK_STDOUT) {
        s->fd = STDOUT_FILENO;
        s->file_size = 0;
        return true;
    }
    int fd = open(s->cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    s->created = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(s->cfg.path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s for writing: %s", s->cfg.path, strerror(errno));
        return false;
    }
    struct stat st;
    s->file_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    s->fd = fd;
    return true;
}

/* Writes iov fully. A write that fails part way is cut back (ftruncate to where it started) so a
 * regular file never ends in a torn line; the lines are dropped and counted by the caller. */
static bool file_writev(out_sink *s, struct iovec *iov, int iovcnt) {
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    uint64_t start = s->file_size;
    size_t done = 0;
    while (done < total) {
        ssize_t w = writev(s->fd, iov, iovcnt);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            atomic_fetch_add(&s->errors, 1);
            if (done > 0 && s->cfg.type == OUT_SINK_FILE && ftruncate(s->fd, (off_t)start) != 0)
                fprintf(stderr, "mitmwatch: output %s: cannot cut back a partial line: %s\n",
                        s->name, strerror(errno));
            return false;
        }
        done += (size_t)w;
        s->file_size += (uint64_t)w;
        size_t adv = (size_t)w;
        while (iovcnt > 0 && adv >= iov[0].iov_len) {
            adv -= iov[0].iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[0].iov_base = (char *)iov[0].iov_base + adv;
            iov[0].iov_len -= adv;
        }
    }
    return true;
}

void out_file_flush(out_sink *s) {
    s->last_flush_ms = out_now_coarse_ms();
    if (s->fbuf.len == 0 || s->fd < 0) return;
    struct iovec iov = {s->fbuf.data, s->fbuf.len};
    if (file_writev(s, &iov, 1))
        atomic_fetch_add(&s->sent, s->fbuf_lines);
    else
        atomic_fetch_add(&s->dropped, s->fbuf_lines);
    mw_buf_reset(&s->fbuf);
    s->fbuf_lines = 0;
}

void out_file_close(out_sink *s) {
    out_file_flush(s);
    if (s->fd >= 0 && s->cfg.type == OUT_SINK_FILE) close(s->fd);
    s->fd = -1;
}

/* path -> path.1 -> ... -> path.keep (the oldest falls off). */
static void file_rotate(out_sink *s) {
    out_file_close(s);
    size_t pl = strlen(s->cfg.path);
    char from[sizeof s->cfg.path + 16], to[sizeof s->cfg.path + 16];
    for (unsigned i = s->cfg.rotate_keep; i >= 1; i--) {
        if (i == 1)
            memcpy(from, s->cfg.path, pl + 1);
        else
            snprintf(from, sizeof from, "%s.%u", s->cfg.path, i - 1);
        snprintf(to, sizeof to, "%s.%u", s->cfg.path, i);
        if (rename(from, to) != 0 && errno != ENOENT)
            fprintf(stderr, "mitmwatch: output %s: rename %s: %s\n", s->name, from,
                    strerror(errno));
    }
    char err[256];
    if (!out_file_open(s, err, sizeof err)) {
        fprintf(stderr, "mitmwatch: %s\n", err);
        s->fd = -1;
    }
}

void out_file_emit(out_sink *s, const out_event *ev) {
    if (s->fd < 0) {
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    size_t need = ev->len + 1;
    if (s->cfg.rotate_bytes && s->file_size + s->fbuf.len > 0 &&
        s->file_size + s->fbuf.len + need > s->cfg.rotate_bytes) {
        file_rotate(s);
        if (s->fd < 0) {
            atomic_fetch_add(&s->dropped, 1);
            return;
        }
    }
    if (s->fbuf.len + need > OUT_FILE_BUF) out_file_flush(s);
    if (need > OUT_FILE_BUF) {
        /* Larger than the buffer: one writev of the line and its newline, still whole. */
        static char nl[] = "\n";
        struct iovec iov[2] = {{(void *)(uintptr_t)ev->json, ev->len}, {nl, 1}};
        if (file_writev(s, iov, 2))
            atomic_fetch_add(&s->sent, 1);
        else
            atomic_fetch_add(&s->dropped, 1);
        return;
    }
    size_t mark = s->fbuf.len;
    if (!mw_buf_append(&s->fbuf, ev->json, ev->len) || !mw_buf_putc(&s->fbuf, '\n')) {
        s->fbuf.len = mark; /* allocation failure: no half line stays behind */
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    s->fbuf_lines++;
    if (out_now_coarse_ms() - s->last_flush_ms >= OUT_FILE_FLUSH_MS) out_file_flush(s);
}
