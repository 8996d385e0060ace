#define _GNU_SOURCE /* memmem */
#include "store_known.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "x509_info.h"

struct store_known {
    store_cert *all; /* sorted by sha256, unique */
    size_t n, cap;
    store_cert *leaves; /* copies of the non-CA entries (X509 shared with all) */
    size_t nleaves;
    uint8_t (*tbs)[32]; /* sorted TBS hashes of every entry */
    STACK_OF(X509) *cas;
    store_stats st;
    /* directories being walked, against symlink loops */
    struct {
        dev_t dev;
        ino_t ino;
    } stack[STORE_MAX_DEPTH + 1];
    int depth;
};

static bool add_der(store_known *s, const uint8_t *der, size_t len) {
    an_stats st;
    memset(&st, 0, sizeof st);
    x509_info *e = x509_info_parse(der, len, &st);
    if (!e) {
        s->st.unparsable++;
        return false;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        store_cert *na = realloc(s->all, nc * sizeof *na);
        if (!na) {
            x509_info_free(e);
            return false;
        }
        s->all = na;
        s->cap = nc;
    }
    store_cert *c = &s->all[s->n++];
    memcpy(c->sha256, e->sha256, 32);
    memcpy(c->tbs_sha256, e->tbs_sha256, 32);
    c->not_before = e->not_before;
    c->not_after = e->not_after;
    /* NULL when OpenSSL cannot decode what the walk accepted: the hashes still match it */
    c->x = x509_info_x509(e);
    if (c->x)
        X509_up_ref(c->x);
    c->is_ca = c->x && X509_check_ca(c->x) > 0;
    x509_info_free(e);
    return true;
}

static void read_cert_file(store_known *s, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0) { /* a symlink to a file: open it through the link (certbot live/) */
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (uint64_t)sb.st_size > STORE_MAX_FILE) {
        if (fd >= 0)
            close(fd);
        s->st.files_skipped++;
        return;
    }
    size_t len = (size_t)sb.st_size, got = 0;
    uint8_t *buf = malloc(len);
    while (buf && got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        s->st.files_skipped++;
        return;
    }
    s->st.files_read++;
    if (memmem(buf, len, "-----BEGIN", 10)) {
        /* PEM, possibly a bundle (fullchain); other blocks (keys in a combined file) are
         * skipped by PEM_read_bio_X509. */
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        X509 *x;
        while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            unsigned char *der = NULL;
            int dl = i2d_X509(x, &der);
            if (dl > 0)
                add_der(s, der, (size_t)dl);
            OPENSSL_free(der);
            X509_free(x);
        }
        BIO_free(b);
        ERR_clear_error(); /* the loop ends on "no start line" */
    } else {
        add_der(s, buf, len);
        ERR_clear_error();
    }
    OPENSSL_cleanse(buf, len); /* the file may have been a key after all */
    free(buf);
}

static bool wanted_name(const char *name) {
    static const char *const exts[] = {".pem", ".crt", ".cer", ".der", NULL};
    size_t n = strlen(name);
    /* private keys are never read: certbot/dehydrated privkey*.pem, "*key.pem" */
    if (name[0] == '.' || strncmp(name, "privkey", 7) == 0 ||
        (n >= 7 && strcasecmp(name + n - 7, "key.pem") == 0))
        return false;
    for (size_t i = 0; exts[i]; i++) {
        size_t el = strlen(exts[i]);
        if (n > el && strcasecmp(name + n - el, exts[i]) == 0)
            return true;
    }
    return false;
}

static bool walk(store_known *s, const char *dir, char *err, size_t errlen, bool top) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (top)
            snprintf(err, errlen, "known certificates %s: %s", dir, strerror(errno));
        return !top;
    }
    if (S_ISREG(sb.st_mode)) {
        read_cert_file(s, dir);
        return true;
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (top)
            snprintf(err, errlen, "known certificates %s: not a directory or file", dir);
        return !top;
    }
    for (int i = 0; i < s->depth; i++)
        if (s->stack[i].dev == sb.st_dev && s->stack[i].ino == sb.st_ino)
            return true; /* a symlink loop */
    if (s->depth >= STORE_MAX_DEPTH)
        return true;
    DIR *d = opendir(dir);
    if (!d) {
        if (top)
            snprintf(err, errlen, "known certificates %s: %s", dir, strerror(errno));
        return !top;
    }
    s->stack[s->depth].dev = sb.st_dev;
    s->stack[s->depth].ino = sb.st_ino;
    s->depth++;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (s->st.files_read + s->st.files_skipped >= STORE_MAX_FILES)
            break;
        int w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof path)
            continue;
        struct stat eb;
        if (stat(path, &eb) != 0)
            continue;
        if (S_ISDIR(eb.st_mode)) {
            if (de->d_name[0] == '.' && strcmp(de->d_name, ".lego") != 0 &&
                strcmp(de->d_name, ".acme.sh") != 0)
                continue;
            walk(s, path, err, errlen, false);
        } else if (S_ISREG(eb.st_mode) && wanted_name(de->d_name)) {
            read_cert_file(s, path);
        }
    }
    closedir(d);
    s->depth--;
    return true;
}

static int cmp_sha(const void *a, const void *b) {
    return memcmp(((const store_cert *)a)->sha256, ((const store_cert *)b)->sha256, 32);
}

static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

store_known *store_known_load(char *const *paths, size_t npaths, char *err, size_t errlen) {
    store_known *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < npaths; i++) {
        if (!walk(s, paths[i], err, errlen, true)) {
            store_known_free(s);
            return NULL;
        }
    }
    /* certbot's live/ links to archive/, fullchain repeats cert: keep each DER once */
    if (s->n)
        qsort(s->all, s->n, sizeof *s->all, cmp_sha);
    size_t w = 0;
    for (size_t r = 0; r < s->n; r++) {
        if (w > 0 && memcmp(s->all[w - 1].sha256, s->all[r].sha256, 32) == 0) {
            X509_free(s->all[r].x);
            s->st.duplicates++;
            continue;
        }
        s->all[w++] = s->all[r];
    }
    s->n = w;
    s->st.certs = w;
    s->tbs = malloc((w ? w : 1) * sizeof *s->tbs);
    s->leaves = malloc((w ? w : 1) * sizeof *s->leaves);
    s->cas = sk_X509_new_null();
    if (!s->tbs || !s->leaves || !s->cas) {
        snprintf(err, errlen, "out of memory");
        store_known_free(s);
        return NULL;
    }
    for (size_t i = 0; i < w; i++) {
        memcpy(s->tbs[i], s->all[i].tbs_sha256, 32);
        if (s->all[i].is_ca) {
            if (sk_X509_push(s->cas, s->all[i].x) > 0)
                X509_up_ref(s->all[i].x);
        } else {
            s->leaves[s->nleaves++] = s->all[i];
        }
    }
    if (w)
        qsort(s->tbs, w, 32, cmp32);
    return s;
}

void store_known_free(store_known *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        X509_free(s->all[i].x);
    sk_X509_pop_free(s->cas, X509_free);
    free(s->all);
    free(s->leaves);
    free(s->tbs);
    free(s);
}

int store_known_lookup(const store_known *s, const uint8_t sha256[32],
                       const uint8_t tbs_sha256[32]) {
    if (!s || s->n == 0)
        return 0;
    store_cert key;
    memcpy(key.sha256, sha256, 32);
    if (bsearch(&key, s->all, s->n, sizeof *s->all, cmp_sha))
        return 1;
    if (bsearch(tbs_sha256, s->tbs, s->n, 32, cmp32))
        return 2;
    return 0;
}

const store_cert *store_known_certs(const store_known *s, size_t *n) {
    *n = s ? s->nleaves : 0;
    return s ? s->leaves : NULL;
}

STACK_OF(X509) *store_known_cas(const store_known *s) { return s ? s->cas : NULL; }

const store_stats *store_known_stats(const store_known *s) { return &s->st; }
