#define _GNU_SOURCE /* memmem */
#include "ct_audit.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "an_stats.h"
#include "ct_codec.h"
#include "x509_info.h"

#define KNOWN_MAX_FILE (4u << 20)
#define KNOWN_MAX_DEPTH 16

void ct_hashset_free(ct_hashset *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

bool ct_hashset_add(ct_hashset *s, const uint8_t h[32]) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        uint8_t(*nv)[32] = realloc(s->v, nc * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = nc;
    }
    memcpy(s->v[s->n++], h, 32);
    s->sorted = false;
    return true;
}

static int cmp32(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

void ct_hashset_seal(ct_hashset *s) {
    if (s->n) qsort(s->v, s->n, 32, cmp32);
    s->sorted = true;
}

bool ct_hashset_has(const ct_hashset *s, const uint8_t h[32]) {
    return s->n && bsearch(h, s->v, s->n, 32, cmp32) != NULL;
}

static bool add_der(ct_hashset *tbs, const uint8_t *der, size_t len, ct_known_stats *ks) {
    an_stats as = {0};
    x509_info *xi = x509_info_parse(der, len, &as);
    if (!xi) return true;
    bool ok = ct_hashset_add(tbs, xi->tbs_sha256);
    ks->certs++;
    x509_info_free(xi);
    return ok;
}

static bool load_file(ct_hashset *tbs, const char *path, ct_known_stats *ks) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ks->unreadable++;
        return true;
    }
    uint8_t *buf = malloc(KNOWN_MAX_FILE);
    size_t n = buf ? fread(buf, 1, KNOWN_MAX_FILE, f) : 0;
    fclose(f);
    if (!buf) return false;
    ks->files++;
    bool ok = true;
    if (memmem(buf, n, "-----BEGIN CERTIFICATE-----", 27)) {
        BIO *b = BIO_new_mem_buf(buf, (int)n);
        X509 *x;
        while (ok && b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            unsigned char *der = NULL;
            int l = i2d_X509(x, &der);
            if (l > 0) ok = add_der(tbs, der, (size_t)l, ks);
            OPENSSL_free(der);
            X509_free(x);
        }
        BIO_free(b);
    } else if (n > 0 && buf[0] == 0x30) {
        ok = add_der(tbs, buf, n, ks);
    }
    free(buf);
    return ok;
}

static bool walk(ct_hashset *tbs, const char *dir, int depth, ct_known_stats *ks, char *err,
                 size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return false;
    }
    struct dirent *de;
    bool ok = true;
    while (ok && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof path) continue;
        struct stat lsb, sb;
        if (lstat(path, &lsb) != 0 || stat(path, &sb) != 0) {
            ks->unreadable++;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            /* Symlinked folders are not followed: no loops, no double counting. */
            if (!S_ISLNK(lsb.st_mode) && depth < KNOWN_MAX_DEPTH)
                ok = walk(tbs, path, depth + 1, ks, err, errlen);
        } else if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
            ok = load_file(tbs, path, ks);
            if (!ok) snprintf(err, errlen, "out of memory");
        }
    }
    closedir(d);
    return ok;
}

bool ct_known_load_dir(ct_hashset *tbs, const char *dir, ct_known_stats *ks, char *err,
                       size_t errlen) {
    return walk(tbs, dir, 0, ks, err, errlen);
}

bool ct_ack_load(ct_hashset *tbs, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    char line[512];
    unsigned lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strcspn(line, "#\r\n");
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        size_t s = 0;
        while (s < l && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (s == l) continue;
        /* only the first field counts: the rest of the line can say why */
        size_t e = s;
        while (e < l && line[e] != ' ' && line[e] != '\t')
            e++;
        uint8_t h[32];
        if (!ct_hex_decode(line + s, e - s, h, 32)) {
            snprintf(err, errlen, "%s:%u: expected a TBS SHA-256 in hex (64 digits)", path, lineno);
            ok = false;
        } else if (!ct_hashset_add(tbs, h)) {
            snprintf(err, errlen, "out of memory");
            ok = false;
        }
    }
    fclose(f);
    return ok;
}

size_t ct_audit(const ct_snapshot *s, const ct_watchlist *w, const ct_hashset *known,
                const ct_hashset *ack, void (*found)(const ct_entry_view *e, void *ud), void *ud) {
    size_t n = 0;
    for (size_t i = 0; i < ct_snapshot_count(s); i++) {
        const ct_entry_view *e = ct_snapshot_entry(s, i);
        bool watched = false;
        for (uint32_t k = 0; k < e->n_names && !watched; k++)
            watched = ct_watch_match(w, e->names[k].p, e->names[k].n);
        if (!watched || ct_hashset_has(known, e->tbs) || (ack && ct_hashset_has(ack, e->tbs)))
            continue;
        n++;
        if (found) found(e, ud);
    }
    return n;
}
