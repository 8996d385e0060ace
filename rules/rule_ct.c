#include "rule_ct.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mw_hash.h"

typedef struct {
    uint8_t id[32];
    char *op, *desc;
} ct_log_meta;

struct rule_ctlogs {
    CTLOG_STORE *store;
    ct_log_meta *meta;
    size_t n;
};

/* OpenSSL's config parser expands $VAR and stops at '#': keep descriptions to safe text. */
static void conf_text(mw_buf *out, const char *s, bool *ok) {
    for (; *s; s++) {
        char c = *s;
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == ' ' || c == '.' || c == '-' || c == '_' || c == '/' || c == ':' ||
                    c == '(' || c == ')' || c == '\'';
        *ok = *ok && mw_buf_putc(out, safe ? c : '_');
    }
}

static bool b64_decode(const char *s, uint8_t **out, size_t *outlen) {
    size_t n = strlen(s);
    if (n == 0 || n % 4 || n > 65536)
        return false;
    uint8_t *d = malloc(n / 4 * 3 + 1);
    if (!d)
        return false;
    int r = EVP_DecodeBlock(d, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(d);
        return false;
    }
    size_t len = (size_t)r;
    if (s[n - 1] == '=')
        len--;
    if (s[n - 2] == '=')
        len--;
    *out = d;
    *outlen = len;
    return true;
}

/* Walks operators[].logs[] and calls fn for each log with its operator name. */
typedef bool (*log_fn)(void *ctx, size_t idx, const char *op, const char *desc, const char *key,
                       char *err, size_t errlen);

static bool walk_json(const char *json, size_t len, log_fn fn, void *ctx, char *err,
                      size_t errlen) {
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "line %d: not JSON: %s", je.line, je.text);
        return false;
    }
    json_t *ops = json_object_get(root, "operators");
    bool ok = true;
    size_t idx = 0;
    if (!json_is_array(ops)) {
        snprintf(err, errlen, "no \"operators\" array: not a v3 log list");
        ok = false;
    }
    for (size_t i = 0; ok && i < json_array_size(ops); i++) {
        json_t *op = json_array_get(ops, i);
        const char *opname = json_string_value(json_object_get(op, "name"));
        json_t *logs = json_object_get(op, "logs");
        if (!opname || !json_is_array(logs)) {
            snprintf(err, errlen, "operators[%zu]: expected \"name\" and a \"logs\" array", i);
            ok = false;
            break;
        }
        for (size_t k = 0; ok && k < json_array_size(logs); k++) {
            json_t *lg = json_array_get(logs, k);
            const char *key = json_string_value(json_object_get(lg, "key"));
            const char *desc = json_string_value(json_object_get(lg, "description"));
            if (!key) {
                snprintf(err, errlen, "operators[%zu].logs[%zu]: expected a \"key\"", i, k);
                ok = false;
                break;
            }
            ok = fn(ctx, idx++, opname, desc ? desc : opname, key, err, errlen);
        }
    }
    json_decref(root);
    return ok;
}

typedef struct {
    mw_buf *out;
    mw_buf sections;
    bool ok;
} conv_ctx;

static bool conv_log(void *vctx, size_t idx, const char *op, const char *desc, const char *key,
                     char *err, size_t errlen) {
    conv_ctx *c = vctx;
    (void)op;
    uint8_t *der;
    size_t dlen;
    if (!b64_decode(key, &der, &dlen)) {
        snprintf(err, errlen, "log \"%s\": key is not base64", desc);
        return false;
    }
    const uint8_t *p = der;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)dlen);
    bool good = pk && p == der + dlen;
    EVP_PKEY_free(pk);
    free(der);
    if (!good) {
        ERR_clear_error();
        snprintf(err, errlen, "log \"%s\": key is not a DER SubjectPublicKeyInfo", desc);
        return false;
    }
    char name[32];
    snprintf(name, sizeof name, "log%zu", idx);
    c->ok = c->ok && mw_buf_append_str(c->out, idx ? "," : "") && mw_buf_append_str(c->out, name);
    c->ok = c->ok && mw_buf_append_str(&c->sections, "\n[") &&
            mw_buf_append_str(&c->sections, name) &&
            mw_buf_append_str(&c->sections, "]\ndescription = ");
    conf_text(&c->sections, desc, &c->ok);
    c->ok = c->ok && mw_buf_append_str(&c->sections, "\nkey = ") &&
            mw_buf_append_str(&c->sections, key) && mw_buf_putc(&c->sections, '\n');
    return true;
}

bool rule_ct_convert(const char *json, size_t len, mw_buf *out, char *err, size_t errlen) {
    conv_ctx c = {.out = out, .ok = true};
    mw_buf_init(&c.sections, RULE_CT_MAX_LIST);
    mw_buf_reset(out);
    c.ok = mw_buf_append_str(out, "enabled_logs = ");
    bool ok = walk_json(json, len, conv_log, &c, err, errlen);
    c.ok = c.ok && mw_buf_putc(out, '\n') &&
           mw_buf_append(out, c.sections.data, c.sections.len) && mw_buf_putc(out, '\0');
    mw_buf_free(&c.sections);
    if (ok && !c.ok)
        snprintf(err, errlen, "log list too large");
    if (ok && c.ok)
        out->len--; /* the NUL is there for callers that want a C string, not counted */
    return ok && c.ok;
}

typedef struct {
    rule_ctlogs *l;
} meta_ctx;

static bool meta_log(void *vctx, size_t idx, const char *op, const char *desc, const char *key,
                     char *err, size_t errlen) {
    meta_ctx *m = vctx;
    (void)idx;
    (void)err;
    (void)errlen;
    uint8_t *der;
    size_t dlen;
    if (!b64_decode(key, &der, &dlen))
        return false;
    ct_log_meta *nm = realloc(m->l->meta, (m->l->n + 1) * sizeof *nm);
    if (!nm) {
        free(der);
        return false;
    }
    m->l->meta = nm;
    ct_log_meta *e = &nm[m->l->n++];
    mw_sha256(der, dlen, e->id); /* RFC 6962 3.2: LogID = SHA-256 of the log's key */
    free(der);
    e->op = strdup(op);
    e->desc = strdup(desc);
    return e->op && e->desc;
}

static char *read_all(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "CT log list %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(RULE_CT_MAX_LIST + 1);
    size_t n = buf ? fread(buf, 1, RULE_CT_MAX_LIST + 1, fp) : 0;
    bool bad = !buf || ferror(fp) || n > RULE_CT_MAX_LIST;
    fclose(fp);
    if (bad) {
        snprintf(err, errlen, "CT log list %s: unreadable or larger than 8 MiB", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

rule_ctlogs *rule_ctlogs_load(const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = read_all(path, &len, err, errlen);
    if (!text)
        return NULL;
    rule_ctlogs *l = calloc(1, sizeof *l);
    l->store = l ? CTLOG_STORE_new() : NULL;
    if (!l || !l->store) {
        snprintf(err, errlen, "out of memory");
        free(text);
        rule_ctlogs_free(l);
        return NULL;
    }
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    const char *conf_path = path;
    char tmp[] = "/tmp/mitmwatch-ctlogs-XXXXXX";
    bool ok = true;
    if (*p == '{') {
        char cerr[256];
        mw_buf conf;
        mw_buf_init(&conf, RULE_CT_MAX_LIST);
        if (!rule_ct_convert(text, len, &conf, cerr, sizeof cerr)) {
            snprintf(err, errlen, "CT log list %s: %s", path, cerr);
            ok = false;
        } else {
            meta_ctx m = {l};
            ok = walk_json(text, len, meta_log, &m, cerr, sizeof cerr);
            if (!ok)
                snprintf(err, errlen, "CT log list %s: %s", path, cerr);
        }
        int fd = ok ? mkstemp(tmp) : -1;
        if (ok && fd < 0) {
            snprintf(err, errlen, "CT log list: temporary file: %s", strerror(errno));
            ok = false;
        }
        if (fd >= 0) {
            size_t off = 0;
            while (off < conf.len) {
                ssize_t w = write(fd, conf.data + off, conf.len - off);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
            close(fd);
            ok = off == conf.len;
            if (!ok)
                snprintf(err, errlen, "CT log list: temporary file: short write");
            conf_path = tmp;
        }
        mw_buf_free(&conf);
    }
    if (ok && CTLOG_STORE_load_file(l->store, conf_path) != 1) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, errlen, "CT log list %s: OpenSSL cannot load it: %s", path,
                 e ? ERR_reason_error_string(e) : "?");
        ERR_clear_error();
        ok = false;
    }
    if (conf_path == tmp)
        unlink(tmp);
    free(text);
    if (!ok) {
        rule_ctlogs_free(l);
        return NULL;
    }
    return l;
}

void rule_ctlogs_free(rule_ctlogs *l) {
    if (!l)
        return;
    CTLOG_STORE_free(l->store);
    for (size_t i = 0; i < l->n; i++) {
        free(l->meta[i].op);
        free(l->meta[i].desc);
    }
    free(l->meta);
    free(l);
}

size_t rule_ctlogs_count(const rule_ctlogs *l) { return l ? l->n : 0; }

static const ct_log_meta *find_meta(const rule_ctlogs *l, const uint8_t *id, size_t idlen) {
    if (!l || idlen != 32)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->meta[i].id, id, 32) == 0)
            return &l->meta[i];
    return NULL;
}

const char *rule_ctlogs_operator(const rule_ctlogs *l, const uint8_t *id, size_t idlen) {
    const ct_log_meta *m = find_meta(l, id, idlen);
    return m ? m->op : NULL;
}

const char *rule_ctlogs_description(const rule_ctlogs *l, const uint8_t *id, size_t idlen) {
    const ct_log_meta *m = find_meta(l, id, idlen);
    return m ? m->desc : NULL;
}

static enum rule_sct_status from_openssl(sct_validation_status_t v) {
    switch (v) {
    case SCT_VALIDATION_STATUS_VALID:
        return RULE_SCT_VALID;
    case SCT_VALIDATION_STATUS_INVALID:
        return RULE_SCT_INVALID;
    case SCT_VALIDATION_STATUS_UNKNOWN_LOG:
        return RULE_SCT_UNKNOWN_LOG;
    default: /* NOT_SET, UNVERIFIED, UNKNOWN_VERSION */
        return RULE_SCT_UNVERIFIED;
    }
}

enum rule_sct_status rule_sct_validate(const rule_ctlogs *logs, SCT *sct, X509 *leaf,
                                       X509 *issuer, uint64_t time_ms) {
    if (!logs)
        return RULE_SCT_UNVERIFIED;
    CT_POLICY_EVAL_CTX *ctx = CT_POLICY_EVAL_CTX_new();
    if (!ctx)
        return RULE_SCT_UNVERIFIED;
    CT_POLICY_EVAL_CTX_set1_cert(ctx, leaf);
    if (issuer)
        CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer);
    CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, logs->store);
    CT_POLICY_EVAL_CTX_set_time(ctx, time_ms);
    SCT_validate(sct, ctx); /* the status says why when it returns 0 */
    CT_POLICY_EVAL_CTX_free(ctx);
    ERR_clear_error();
    return from_openssl(SCT_get_validation_status(sct));
}

const char *rule_sct_status_name(enum rule_sct_status s) {
    static const char *const names[] = {"valid", "invalid", "unknown_log", "unverified"};
    return names[s];
}

const char *rule_sct_status_of(const SCT *sct) {
    return rule_sct_status_name(from_openssl(SCT_get_validation_status(sct)));
}
