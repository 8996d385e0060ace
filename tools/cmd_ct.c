/* mitmwatch ct sync|audit|show|check: the ctcache from the command line.
 *
 *   sync   fetch CT data for the watched names from every configured source and write the
 *          snapshot atomically. Exit 0: every source synced; 1: a source failed or is
 *          distrusted (a probe.failed alert on stdout each; the snapshot keeps its last
 *          verified data); 2: a log contradicted its history this run (ct.log_inconsistent
 *          alert on stdout).
 *   audit  ct.unknown_issuance for each cached issuance of a watched name that the known
 *          store lacks and the ack file does not acknowledge. Exit 0 clean, 2 findings.
 *   show   what the snapshot holds for a name, one JSON object a line.
 *   check  is a certificate (PEM/DER file) in the snapshot? Exit 0 logged, 2 not in CT,
 *          3 within the merge-delay grace period.
 * Errors (usage, unreadable files, a bad snapshot) exit 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "an_stats.h"
#include "ct_audit.h"
#include "ct_loglist.h"
#include "ct_lookup.h"
#include "ct_sync.h"
#include "ev_ct.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_json.h"
#include "pol_config.h"
#include "x509_info.h"

#define CT_EXIT_OK 0
#define CT_EXIT_ERR 1
#define CT_EXIT_FINDINGS 2

static void usage(FILE *f) {
    fputs(
        "usage: mitmwatch ct sync  [-c CONFIG] --ctcache FILE --watch NAME... SOURCE...\n"
        "                          [OPTION...]\n"
        "       mitmwatch ct audit [-c CONFIG] --ctcache FILE --watch NAME...\n"
        "                          --known-certs DIR... [--ack FILE]\n"
        "       mitmwatch ct show NAME [-c CONFIG] --ctcache FILE\n"
        "       mitmwatch ct check CERTFILE [-c CONFIG] --ctcache FILE [--mmd SECONDS]\n"
        "\n"
        "  sync   fetch the CT entries of the watched names from every source, verify them (tree\n"
        "         head signatures, consistency with the last verified tree, every leaf hashed)\n"
        "         and write the snapshot atomically; an interrupted sync resumes where it\n"
        "         stopped. Exit 0 every source synced; 1 a source failed or is distrusted (a\n"
        "         probe.failed alert on stdout for each; the snapshot keeps its last verified\n"
        "         data); 2 a log contradicted its own history (ct.log_inconsistent alert).\n"
        "  audit  a ct.unknown_issuance alert for each cached issuance of a watched name that\n"
        "         the known store lacks and the --ack file does not acknowledge (one TBS SHA-256\n"
        "         in hex a line, # comments). Exit 0 clean, 2 findings.\n"
        "  show   the cached entries for NAME (same name forms as --watch), one JSON object a\n"
        "         line.\n"
        "  check  is the certificate in CERTFILE (PEM or DER) in the snapshot? Prints its TBS\n"
        "         hash and logged, not_in_ct or grace. Exit 0 logged, 2 not in CT, 3 issued\n"
        "         within the logs' merge delay (--mmd, default the snapshot's).\n"
        "  Errors (usage, unreadable files, a bad snapshot) exit 1.\n"
        "\n"
        "  -c, --config FILE   the policy file: its services are the watched names, known_certs\n"
        "                      the known store, ctcache the snapshot, ct.sources the sources;\n"
        "                      options given as well add to them\n"
        "sources (repeatable):\n"
        "  --log URL,KEY[,MMD]       RFC 6962 log (base URL before ct/v1/; MMD in seconds)\n"
        "  --tiles URL,KEY[,ORIGIN]  static-ct-api log (monitoring prefix; ORIGIN: the\n"
        "                            checkpoint origin, default the URL without its scheme;\n"
        "                            --tiled is a deprecated name for it)\n"
        "  --ct-log-list FILE        every usable log of a Google v3 log_list.json, RFC 6962\n"
        "                            (\"logs\") and static-ct-api (\"tiled_logs\"): state\n"
        "                            usable, qualified or readonly, shards not yet ended\n"
        "  --crtsh URL               crt.sh-style JSON search\n"
        "  --certspotter URL         Cert Spotter v1 API; key in --certspotter-key FILE\n"
        "  KEY is the log's public key as the log list gives it: base64 of its DER\n"
        "  SubjectPublicKeyInfo, inline or in a file (a PEM public key file works too).\n"
        "options: --batch N --checkpoint N --timeout MS --retries N --backoff MS\n"
        "         --max-bytes N --max-retry-after S --no-progress --observer NAME\n"
        "watch forms: host.example, *.example (one label), .example (it and all below)\n",
        f);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end = NULL;
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

static int64_t now_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

typedef struct {
    ct_config cfg;
    char observer[256];
    char *key_buf;
    /* owned copies of split --log/--tiles arguments */
    char **strs;
    size_t n_strs;
    const char *name;     /* show */
    const char *certfile; /* check */
    uint64_t mmd;
    pol_policy pol; /* -c CONFIG; its strings back cfg */
    bool have_pol;
    const char *log_list; /* --ct-log-list */
    ct_loglist list;      /* its logs; its strings back cfg */
} ct_cli;

static char *keep(ct_cli *c, char *s) {
    char **nv = realloc(c->strs, (c->n_strs + 1) * sizeof *nv);
    if (!nv) {
        free(s);
        return NULL;
    }
    c->strs = nv;
    c->strs[c->n_strs++] = s;
    return s;
}

static bool push_str(const char ***v, size_t *n, const char *s) {
    const char **nv = realloc((void *)*v, (*n + 1) * sizeof *nv);
    if (!nv) return false;
    nv[(*n)++] = s;
    *v = nv;
    return true;
}

/* URL,KEY[,EXTRA] (base64 has no comma) */
static bool push_log(ct_cli *c, ct_log_cfg **v, size_t *n, const char *arg, bool tiles) {
    char *s = keep(c, strdup(arg));
    if (!s) return false;
    char *k = strchr(s, ',');
    if (!k) return false;
    *k++ = '\0';
    char *extra = strchr(k, ',');
    if (extra) *extra++ = '\0';
    ct_log_cfg l = {s, k, NULL, 0};
    if (extra && tiles)
        l.origin = extra;
    else if (extra && !parse_u64(extra, 1, 10 * 86400, &l.mmd_s))
        return false;
    ct_log_cfg *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return false;
    nv[(*n)++] = l;
    *v = nv;
    return true;
}

static char *read_key_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char buf[512];
    char *r = NULL;
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        r = strdup(buf);
    }
    fclose(f);
    return r;
}

/* The policy file gives the watched names (its services), the known stores, the snapshot
 * path and the CT sources (ct.sources); options given as well add to them. */
static bool load_config(ct_cli *c, const char *path, const char *cmd) {
    char err[512];
    if (c->have_pol) {
        fprintf(stderr, "mitmwatch ct %s: -c given twice\n", cmd);
        return false;
    }
    pol_policy_init(&c->pol);
    c->have_pol = true;
    if (!pol_load_file(&c->pol, path, err, sizeof err)) {
        fprintf(stderr, "mitmwatch ct %s: %s\n", cmd, err);
        return false;
    }
    pol_policy *p = &c->pol;
    for (size_t i = 0; i < p->nservices; i++) {
        const pol_name *n = &p->services[i].name;
        char pat[300];
        snprintf(pat, sizeof pat, "%s%s",
                 n->kind == POL_NAME_WILDCARD ? "*."
                 : n->kind == POL_NAME_SUFFIX ? "."
                                              : "",
                 n->name);
        if (!ct_watchlist_add(&c->cfg.watch, pat)) goto bad;
    }
    for (size_t i = 0; i < p->nknown_dirs; i++)
        if (!push_str(&c->cfg.known_dirs, &c->cfg.n_known_dirs, p->known_dirs[i])) goto bad;
    if (p->ctcache && !c->cfg.ctcache) c->cfg.ctcache = p->ctcache;
    for (size_t i = 0; i < p->nct_sources; i++) {
        const struct pol_ct_source *src = &p->ct_sources[i];
        bool tiles = !strcmp(src->kind, "tiles");
        if (tiles || !strcmp(src->kind, "rfc6962")) {
            ct_log_cfg l = {src->url, src->key, tiles ? src->origin : NULL, src->mmd};
            ct_log_cfg **v = tiles ? &c->cfg.tiles : &c->cfg.logs;
            size_t *n = tiles ? &c->cfg.n_tiles : &c->cfg.n_logs;
            ct_log_cfg *nv = realloc(*v, (*n + 1) * sizeof *nv);
            if (!nv) goto bad;
            nv[(*n)++] = l;
            *v = nv;
        } else if (!strcmp(src->kind, "crtsh")) {
            if (!push_str(&c->cfg.crtsh, &c->cfg.n_crtsh, src->url)) goto bad;
        } else {
            if (!push_str(&c->cfg.certspotter, &c->cfg.n_certspotter, src->url)) goto bad;
            if (src->key) {
                free(c->key_buf);
                c->key_buf = read_key_file(src->key);
                c->cfg.certspotter_key = c->key_buf;
                if (!c->key_buf) {
                    fprintf(stderr, "mitmwatch ct %s: %s: cannot read the Cert Spotter key %s\n",
                            cmd, path, src->key);
                    return false;
                }
            }
        }
    }
    return true;
bad:
    fprintf(stderr, "mitmwatch ct %s: %s: out of memory or an invalid watched name\n", cmd, path);
    return false;
}

static bool same_url(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '/')
        la--;
    while (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && !memcmp(a, b, la);
}

/* Appends the list's logs the options do not already name. */
static bool append_logs(ct_log_cfg **v, size_t *n, const ct_log_cfg *add, size_t nadd) {
    for (size_t i = 0; i < nadd; i++) {
        bool dup = false;
        for (size_t k = 0; k < *n && !dup; k++)
            dup = same_url((*v)[k].url, add[i].url);
        if (dup) continue;
        ct_log_cfg *nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv) return false;
        nv[(*n)++] = add[i];
        *v = nv;
    }
    return true;
}

static bool add_log_list(ct_cli *c, const char *cmd) {
    char err[700];
    if (!ct_loglist_load(c->log_list, now_us() / 1000000, &c->list, err, sizeof err)) {
        fprintf(stderr, "mitmwatch ct %s: %s\n", cmd, err);
        return false;
    }
    const ct_loglist *l = &c->list;
    fprintf(stderr,
            "ct: log list %s: %zu RFC 6962 and %zu static-ct-api logs usable; left out %zu "
            "pending, rejected or retired, %zu ended shards, %zu invalid\n",
            c->log_list, l->n_logs, l->n_tiles, l->skipped_state, l->skipped_expired,
            l->skipped_invalid);
    if (!append_logs(&c->cfg.logs, &c->cfg.n_logs, l->logs, l->n_logs) ||
        !append_logs(&c->cfg.tiles, &c->cfg.n_tiles, l->tiles, l->n_tiles)) {
        fprintf(stderr, "mitmwatch ct %s: out of memory\n", cmd);
        return false;
    }
    return true;
}

static int parse_args(ct_cli *c, int argc, char **argv, const char *cmd) {
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        bool ok = true, takes = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--ctcache") && v)
            c->cfg.ctcache = v;
        else if (!strcmp(a, "--watch") && v)
            ok = ct_watchlist_add(&c->cfg.watch, v);
        else if (!strcmp(a, "--log") && v)
            ok = push_log(c, &c->cfg.logs, &c->cfg.n_logs, v, false);
        else if ((!strcmp(a, "--tiles") || !strcmp(a, "--tiled")) && v) {
            if (!strcmp(a, "--tiled"))
                fprintf(stderr, "mitmwatch ct %s: --tiled is deprecated, use --tiles\n", cmd);
            ok = push_log(c, &c->cfg.tiles, &c->cfg.n_tiles, v, true);
        } else if (!strcmp(a, "--ct-log-list") && v && !c->log_list)
            c->log_list = v;
        else if (!strcmp(a, "--crtsh") && v)
            ok = push_str(&c->cfg.crtsh, &c->cfg.n_crtsh, v);
        else if (!strcmp(a, "--certspotter") && v)
            ok = push_str(&c->cfg.certspotter, &c->cfg.n_certspotter, v);
        else if (!strcmp(a, "--certspotter-key") && v) {
            free(c->key_buf);
            c->key_buf = read_key_file(v);
            c->cfg.certspotter_key = c->key_buf;
            ok = c->key_buf != NULL;
        } else if (!strcmp(a, "--known-certs") && v)
            ok = push_str(&c->cfg.known_dirs, &c->cfg.n_known_dirs, v);
        else if (!strcmp(a, "--ack") && v)
            c->cfg.ack_file = v;
        else if (!strcmp(a, "--batch") && v && (ok = parse_u64(v, 1, 10000, &u)))
            c->cfg.batch = (uint32_t)u;
        else if (!strcmp(a, "--checkpoint") && v && (ok = parse_u64(v, 1, UINT32_MAX, &u)))
            c->cfg.checkpoint = u;
        else if (!strcmp(a, "--timeout") && v && (ok = parse_u64(v, 1, 3600000, &u)))
            c->cfg.http.timeout_ms = (long)u;
        else if (!strcmp(a, "--retries") && v && (ok = parse_u64(v, 0, 20, &u)))
            c->cfg.http.retries = (unsigned)u;
        else if (!strcmp(a, "--backoff") && v && (ok = parse_u64(v, 1, 600000, &u)))
            c->cfg.http.backoff_ms = (unsigned)u;
        else if (!strcmp(a, "--max-bytes") && v && (ok = parse_u64(v, 1024, (uint64_t)1 << 32, &u)))
            c->cfg.http.max_bytes = (size_t)u;
        else if (!strcmp(a, "--max-retry-after") && v && (ok = parse_u64(v, 0, 86400, &u)))
            c->cfg.http.max_retry_after_s = (unsigned)u;
        else if (!strcmp(a, "--mmd") && v && (ok = parse_u64(v, 0, 10 * 86400, &u)))
            c->mmd = u;
        else if (!strcmp(a, "--observer") && v)
            snprintf(c->observer, sizeof c->observer, "%s", v);
        else if (!strcmp(a, "--no-progress")) {
            c->cfg.progress = false;
            takes = false;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v) {
            if (!load_config(c, v, cmd)) return -1;
        } else if (a[0] != '-' && !strcmp(cmd, "show") && !c->name) {
            c->name = a;
            takes = false;
        } else if (a[0] != '-' && !strcmp(cmd, "check") && !c->certfile) {
            c->certfile = a;
            takes = false;
        } else {
            fprintf(stderr, "mitmwatch ct %s: unknown option or missing value: %s\n", cmd, a);
            usage(stderr);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "mitmwatch ct %s: %s: invalid value: %s\n", cmd, a, v ? v : "");
            return -1;
        }
        if (takes) i++;
    }
    if (!c->cfg.ctcache) {
        fprintf(stderr, "mitmwatch ct %s: --ctcache FILE is required\n", cmd);
        return -1;
    }
    if (c->log_list && !add_log_list(c, cmd)) return -1;
    return 0;
}

/* ---------- events ---------- */

static void emit(mw_buf *b) {
    if (b->len) {
        fwrite(b->data, 1, b->len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
    mw_buf_reset(b);
}

/* ---------- sync ---------- */

typedef struct {
    ct_store *store;
    const char *path;
} ckpt;

static bool write_ckpt(void *ud) {
    ckpt *k = ud;
    return ct_store_write(k->store, k->path, now_us() / 1000000) == MW_OK;
}

static const char *status_name(ct_src_status s) {
    switch (s) {
    case CT_SRC_OK:
        return "ok";
    case CT_SRC_FAILED:
        return "failed";
    case CT_SRC_INCONSISTENT:
        return "inconsistent";
    case CT_SRC_DISTRUSTED:
        return "distrusted";
    }
    return "?";
}

static int do_sync(ct_cli *c) {
    ct_config *cfg = &c->cfg;
    if (cfg->watch.n == 0) {
        fprintf(stderr, "mitmwatch ct sync: nothing to do without --watch\n");
        return CT_EXIT_ERR;
    }
    size_t nsrc = cfg->n_logs + cfg->n_tiles + cfg->n_crtsh + cfg->n_certspotter;
    if (nsrc == 0) {
        fprintf(stderr, "mitmwatch ct sync: no source (--log, --tiles, --ct-log-list, --crtsh, "
                        "--certspotter)\n");
        return CT_EXIT_ERR;
    }
    ct_store store;
    ct_store_init(&store);
    char err[512];
    if (access(cfg->ctcache, F_OK) == 0) {
        ct_snapshot *old = ct_snapshot_load(cfg->ctcache, err, sizeof err);
        if (!old) {
            /* Never overwrite a snapshot we cannot read: it may be the last good one. */
            fprintf(stderr, "mitmwatch ct sync: %s (move it away to start afresh)\n", err);
            return CT_EXIT_ERR;
        }
        mw_rc rc = ct_store_from_snapshot(&store, old);
        ct_snapshot_free(old);
        if (rc != MW_OK) {
            fprintf(stderr, "mitmwatch ct sync: out of memory\n");
            ct_store_free(&store);
            return CT_EXIT_ERR;
        }
    }
    ct_stats st = {0};
    mw_buf resp;
    mw_buf_init(&resp, cfg->http.max_bytes);
    ct_http *http = ct_http_new(&cfg->http, &st);
    if (!http) {
        fprintf(stderr, "mitmwatch ct sync: cannot initialise libcurl\n");
        ct_store_free(&store);
        return CT_EXIT_ERR;
    }
    ckpt k = {&store, cfg->ctcache};
    ct_sync_ctx x = {cfg, &store, http, &st, &resp, now_us() / 1000000, false, write_ckpt, &k};
    ct_src_result *res = calloc(nsrc, sizeof *res);
    if (!res) {
        ct_http_free(http);
        ct_store_free(&store);
        return CT_EXIT_ERR;
    }
    size_t r = 0;
    for (size_t i = 0; i < cfg->n_logs; i++)
        ct_sync_rfc6962(&x, &cfg->logs[i], &res[r++]);
    for (size_t i = 0; i < cfg->n_tiles; i++)
        ct_sync_tiles(&x, &cfg->tiles[i], &res[r++]);
    for (size_t i = 0; i < cfg->n_crtsh; i++)
        ct_sync_crtsh(&x, cfg->crtsh[i], &res[r++]);
    for (size_t i = 0; i < cfg->n_certspotter; i++)
        ct_sync_certspotter(&x, cfg->certspotter[i], &res[r++]);

    int rc = CT_EXIT_OK;
    mw_buf ev;
    mw_buf_init(&ev, 1 << 16);
    ev_ctx ctx = {c->observer};
    for (size_t i = 0; i < r; i++) {
        const ct_src_result *s = &res[i];
        bool is_log = !strcmp(s->kind, "rfc6962") || !strcmp(s->kind, "tiles");
        fprintf(stderr, "ct sync: %s %s: %s", s->kind, s->url, status_name(s->status));
        if (is_log)
            fprintf(stderr, ", tree %llu -> %llu", (unsigned long long)s->old_size,
                    (unsigned long long)s->new_size);
        fprintf(stderr, ", %llu fetched, %llu watched%s%s\n", (unsigned long long)s->fetched,
                (unsigned long long)s->watched, s->message[0] ? ": " : "", s->message);
        if (s->status == CT_SRC_OK) continue;
        ev_ct_source es = {s->kind,     s->url,      status_name(s->status),
                           s->message,  is_log,      s->old_size,
                           s->have_new, s->new_size, s->fetched,
                           s->watched};
        bool built;
        if (s->status == CT_SRC_INCONSISTENT) {
            built = ev_ct_log_inconsistent_build(&ev, &ctx, (uint64_t)now_us(), &es);
            rc = CT_EXIT_FINDINGS;
        } else {
            /* docs/ARCHITECTURE.md: a failed sync keeps the last good snapshot and raises probe.failed */
            built = ev_ct_source_failed_build(&ev, &ctx, (uint64_t)now_us(), &es);
            st.sources_failed++;
            if (rc == CT_EXIT_OK) rc = CT_EXIT_ERR;
        }
        if (built)
            emit(&ev);
        else
            fprintf(stderr, "mitmwatch ct sync: event for %s too large, not written\n", s->url);
        mw_buf_reset(&ev);
    }
    mw_buf_free(&ev);
    if (x.dirty || access(cfg->ctcache, F_OK) != 0) {
        if (ct_store_write(&store, cfg->ctcache, now_us() / 1000000) != MW_OK) {
            fprintf(stderr, "mitmwatch ct sync: %s: cannot write the snapshot: %s\n", cfg->ctcache,
                    strerror(errno));
            rc = CT_EXIT_ERR;
        }
    }
    fprintf(stderr, "ct sync: %zu entries in %s; ", store.n, cfg->ctcache);
    ct_stats_print(&st, stderr);
    free(res);
    mw_buf_free(&resp);
    ct_http_free(http);
    ct_store_free(&store);
    return rc;
}

/* ---------- audit ---------- */

typedef struct {
    ct_cli *c;
    mw_buf *ev;
} audit_ud;

static void on_finding(const ct_entry_view *e, void *ud) {
    audit_ud *a = ud;
    ev_ctx ctx = {a->c->observer};
    if (ev_ct_unknown_issuance_build(a->ev, &ctx, (uint64_t)now_us(), e))
        emit(a->ev);
    else
        mw_buf_reset(a->ev);
}

static ct_snapshot *load_snap(const ct_cli *c, const char *cmd) {
    char err[512];
    ct_snapshot *s = ct_snapshot_load(c->cfg.ctcache, err, sizeof err);
    if (!s) fprintf(stderr, "mitmwatch ct %s: %s\n", cmd, err);
    return s;
}

static int do_audit(ct_cli *c) {
    if (c->cfg.watch.n == 0 || c->cfg.n_known_dirs == 0) {
        fprintf(stderr, "mitmwatch ct audit: --watch and --known-certs are required\n");
        return CT_EXIT_ERR;
    }
    ct_hashset known = {0}, ack = {0};
    ct_known_stats ks = {0};
    char err[600];
    int rc = CT_EXIT_ERR;
    ct_snapshot *s = NULL;
    for (size_t i = 0; i < c->cfg.n_known_dirs; i++)
        if (!ct_known_load_dir(&known, c->cfg.known_dirs[i], &ks, err, sizeof err)) {
            fprintf(stderr, "mitmwatch ct audit: %s\n", err);
            goto out;
        }
    if (c->cfg.ack_file && !ct_ack_load(&ack, c->cfg.ack_file, err, sizeof err)) {
        fprintf(stderr, "mitmwatch ct audit: %s\n", err);
        goto out;
    }
    ct_hashset_seal(&known);
    ct_hashset_seal(&ack);
    s = load_snap(c, "audit");
    if (!s) goto out;
    mw_buf ev;
    mw_buf_init(&ev, 1 << 16);
    audit_ud ud = {c, &ev};
    size_t n = ct_audit(s, &c->cfg.watch, &known, &ack, on_finding, &ud);
    mw_buf_free(&ev);
    fprintf(stderr,
            "ct audit: %zu finding%s; %zu cached entries, %zu known certificates in %zu "
            "files, %zu acknowledged\n",
            n, n == 1 ? "" : "s", ct_snapshot_count(s), ks.certs, ks.files, ack.n);
    rc = n ? CT_EXIT_FINDINGS : CT_EXIT_OK;
out:
    ct_snapshot_free(s);
    ct_hashset_free(&known);
    ct_hashset_free(&ack);
    return rc;
}

/* ---------- show ---------- */

static int do_show(ct_cli *c) {
    if (!c->name) {
        fprintf(stderr, "mitmwatch ct show: NAME is required\n");
        return CT_EXIT_ERR;
    }
    ct_snapshot *s = load_snap(c, "show");
    if (!s) return CT_EXIT_ERR;
    mw_buf b;
    mw_buf_init(&b, 1 << 16);
    size_t n = 0;
    for (size_t i = 0; i < ct_snapshot_count(s); i++) {
        const ct_entry_view *e = ct_snapshot_entry(s, i);
        bool hit = false;
        for (uint32_t k = 0; k < e->n_names && !hit; k++)
            hit = ct_name_selects(c->name, e->names[k].p, e->names[k].n);
        if (!hit) continue;
        mw_json j;
        mw_json_init(&j, &b);
        ev_ct_entry(&j, e);
        emit(&b);
        n++;
    }
    fprintf(stderr, "ct show: %zu entr%s for %s\n", n, n == 1 ? "y" : "ies", c->name);
    mw_buf_free(&b);
    ct_snapshot_free(s);
    return CT_EXIT_OK;
}

/* ---------- check ---------- */

static int do_check(ct_cli *c) {
    if (!c->certfile) {
        fprintf(stderr, "mitmwatch ct check: CERTFILE is required\n");
        return CT_EXIT_ERR;
    }
    FILE *f = fopen(c->certfile, "rb");
    if (!f) {
        fprintf(stderr, "mitmwatch ct check: %s: %s\n", c->certfile, strerror(errno));
        return CT_EXIT_ERR;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    if (!x) {
        rewind(f);
        x = d2i_X509_fp(f, NULL);
    }
    fclose(f);
    unsigned char *der = NULL;
    int l = x ? i2d_X509(x, &der) : -1;
    X509_free(x);
    an_stats as = {0};
    x509_info *xi = l > 0 ? x509_info_parse(der, (size_t)l, &as) : NULL;
    OPENSSL_free(der);
    if (!xi) {
        fprintf(stderr, "mitmwatch ct check: %s: not a certificate\n", c->certfile);
        return CT_EXIT_ERR;
    }
    ct_snapshot *s = load_snap(c, "check");
    if (!s) {
        x509_info_free(xi);
        return CT_EXIT_ERR;
    }
    ct_check r = ct_check_cert(s, xi, c->mmd);
    char tbs[MW_HEX_LEN(32)];
    mw_hex(tbs, xi->tbs_sha256, 32);
    printf("%s %s\n", tbs, ct_check_name(r));
    x509_info_free(xi);
    ct_snapshot_free(s);
    return r == CT_CHECK_LOGGED ? CT_EXIT_OK : r == CT_CHECK_NOT_IN_CT ? CT_EXIT_FINDINGS : 3;
}

int cmd_ct(int argc, char **argv) {
    /* argv[0] = "ct", argv[1] = subcommand */
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CT_EXIT_ERR : CT_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "sync") && strcmp(cmd, "audit") && strcmp(cmd, "show") &&
        strcmp(cmd, "check")) {
        fprintf(stderr, "mitmwatch ct: unknown subcommand %s\n", cmd);
        usage(stderr);
        return CT_EXIT_ERR;
    }
    ct_cli c;
    memset(&c, 0, sizeof c);
    ct_config_init(&c.cfg);
    c.cfg.progress = true;
    if (!mw_hash_init()) {
        fprintf(stderr, "mitmwatch ct: OpenSSL initialisation failed\n");
        return CT_EXIT_ERR;
    }
    int rc, pa = parse_args(&c, argc, argv, cmd);
    if (pa != 0) {
        rc = pa > 0 ? CT_EXIT_OK : CT_EXIT_ERR; /* > 0: --help */
    } else {
        if (!c.observer[0] && gethostname(c.observer, sizeof c.observer - 1) != 0)
            snprintf(c.observer, sizeof c.observer, "mitmwatch");
        if (!strcmp(cmd, "sync"))
            rc = do_sync(&c);
        else if (!strcmp(cmd, "audit"))
            rc = do_audit(&c);
        else if (!strcmp(cmd, "show"))
            rc = do_show(&c);
        else
            rc = do_check(&c);
    }
    for (size_t i = 0; i < c.n_strs; i++)
        free(c.strs[i]);
    free(c.strs);
    free(c.key_buf);
    ct_config_free(&c.cfg);
    ct_loglist_free(&c.list);
    if (c.have_pol) pol_policy_free(&c.pol);
    return rc;
}
