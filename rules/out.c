#include "out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX_FILES 8

typedef struct {
    FILE *fp;
    char *path; /* NULL for stdout */
    char *iobuf;
} out_file;

struct out_set {
    out_file files[OUT_MAX_FILES];
    int nfiles;
    uint64_t written;
};

out_set *out_set_new(void) { return calloc(1, sizeof(out_set)); }

static bool open_file(out_file *f, char *err, size_t errlen) {
    if (!f->path) {
        f->fp = stdout;
    } else {
        f->fp = fopen(f->path, "a");
        if (!f->fp) {
            snprintf(err, errlen, "cannot open %s for writing: %s", f->path, strerror(errno));
            return false;
        }
    }
    /* One large buffer: events are written whole and flushed in big blocks. stdout's buffer is
     * static because stdio still flushes it at exit, after the out_set is gone. */
    static char stdout_buf[1 << 16];
    if (f->fp == stdout) {
        setvbuf(f->fp, stdout_buf, _IOFBF, sizeof stdout_buf);
        return true;
    }
    if (!f->iobuf)
        f->iobuf = malloc(1 << 20);
    if (f->iobuf)
        setvbuf(f->fp, f->iobuf, _IOFBF, 1 << 20);
    return true;
}

bool out_add_file(out_set *o, const char *path, char *err, size_t errlen) {
    if (o->nfiles >= OUT_MAX_FILES) {
        snprintf(err, errlen, "too many file outputs (at most %d)", OUT_MAX_FILES);
        return false;
    }
    out_file *f = &o->files[o->nfiles];
    memset(f, 0, sizeof *f);
    if (strcmp(path, "-") != 0) {
        f->path = strdup(path);
        if (!f->path) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
    }
    if (!open_file(f, err, errlen)) {
        free(f->path);
        return false;
    }
    o->nfiles++;
    return true;
}

void out_emit(out_set *o, const out_event *ev) {
    for (int i = 0; i < o->nfiles; i++) {
        FILE *fp = o->files[i].fp;
        if (!fp)
            continue;
        fwrite(ev->json, 1, ev->len, fp);
        fputc('\n', fp);
    }
    o->written++;
}

void out_reopen(out_set *o) {
    char err[256];
    for (int i = 0; i < o->nfiles; i++) {
        out_file *f = &o->files[i];
        if (!f->path)
            continue;
        if (f->fp)
            fclose(f->fp);
        if (!open_file(f, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            f->fp = NULL;
        }
    }
}

void out_flush(out_set *o) {
    for (int i = 0; i < o->nfiles; i++)
        if (o->files[i].fp)
            fflush(o->files[i].fp);
}

void out_set_free(out_set *o) {
    if (!o)
        return;
    for (int i = 0; i < o->nfiles; i++) {
        out_file *f = &o->files[i];
        if (f->fp && f->path)
            fclose(f->fp);
        else if (f->fp)
            fflush(f->fp);
        free(f->path);
        free(f->iobuf);
    }
    free(o);
}

uint64_t out_events_written(const out_set *o) { return o->written; }
