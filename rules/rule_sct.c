/* The Certificate Transparency rules: the leaf's SCTs (embedded, in the TLS extension, in the
 * stapled OCSP response) validated against the log list at capture time (cert.sct_invalid,
 * cert.sct_missing under the policy's count and operator minimums, their status left in the
 * SCT objects for the mitmwatch.tls event), and a watched service's certificate looked up in
 * the ctcache snapshot (cert.not_in_ct).
 *
 * Validating an SCT costs an X509_dup and a decode of every public key (OpenSSL 3's decoders).
 * A server presents the same certificate to every client, so a verdict is remembered when it
 * does not depend on time. */
#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"
#include "rule_judge.h"
#include "x509_info.h"

#define RE_SCT_SLOTS 4096 /* SCT verdicts */
#define RE_CACHE_PROBE 8

typedef struct {
    uint8_t key[32]; /* SHA-256 of leaf hash, issuer hash, SCT bytes */
    uint8_t status;  /* enum rule_sct_status */
    bool used;
} sct_slot;

struct rule_sct_cache {
    sct_slot slots[RE_SCT_SLOTS];
};

rule_sct_cache *rule_sct_cache_new(void) {
    return calloc(1, sizeof(rule_sct_cache));
}

void rule_sct_cache_clear(rule_sct_cache *sc) {
    if (sc) memset(sc->slots, 0, sizeof sc->slots);
}

void rule_sct_cache_free(rule_sct_cache *sc) {
    free(sc);
}

typedef struct {
    unsigned valid, invalid, unknown_log, unverified;
    const char *ops[48];
    unsigned nops;
} sct_tally;

/* A cached verdict applies to this SCT object only when the object itself carries it (OpenSSL
 * keeps the status in the SCT and has no setter): the same certificate from the x509 cache. */
static bool sct_cached(rule_engine *re, SCT *sct, X509 *issuer, const x509_info *leaf,
                       uint64_t now_ms, enum rule_sct_status *out, sct_slot **slot) {
    uint8_t buf[96], key[32];
    unsigned char *o = NULL;
    int ol = i2o_SCT(sct, &o);
    *slot = NULL;
    if (ol <= 0) return false;
    memcpy(buf, leaf->sha256, 32);
    memset(buf + 32, 0, 32);
    if (issuer) {
        unsigned char *d = NULL;
        int dl = i2d_X509(issuer, &d);
        if (dl > 0) mw_sha256(d, (size_t)dl, buf + 32);
        OPENSSL_free(d);
    }
    mw_sha256(o, (size_t)ol, buf + 64);
    OPENSSL_free(o);
    mw_sha256(buf, 96, key);
    uint32_t h;
    memcpy(&h, key, 4);
    sct_slot *first = NULL;
    for (uint32_t i = 0; i < RE_CACHE_PROBE; i++) {
        sct_slot *s = &re->scts->slots[(h + i) % RE_SCT_SLOTS];
        if (s->used && memcmp(s->key, key, 32) == 0) {
            *slot = s;
            enum rule_sct_status st = (enum rule_sct_status)s->status;
            if (strcmp(rule_sct_status_of(sct), rule_sct_status_name(st)) == 0 &&
                (st != RULE_SCT_VALID || now_ms >= SCT_get_timestamp(sct))) {
                *out = st;
                return true;
            }
            return false;
        }
        if (!first && (!s->used || i == RE_CACHE_PROBE - 1)) first = s;
    }
    if (first) {
        memcpy(first->key, key, 32);
        first->used = false; /* filled once there is a verdict worth keeping */
    }
    *slot = first;
    return false;
}

static void sct_one(rule_ctx *jd, SCT *sct, X509 *issuer, sct_tally *t, mw_json *list) {
    rule_engine *re = jd->re;
    uint64_t now_ms = jd->ts_us / 1000u;
    enum rule_sct_status s = RULE_SCT_UNVERIFIED;
    sct_slot *slot = NULL;
    if (re->r.logs && sct_cached(re, sct, issuer, jd->leaf, now_ms, &s, &slot)) {
        re->st.sct_cache_hits++;
    } else {
        s = rule_sct_validate(re->r.logs, sct, jd->leaf_x, issuer, now_ms);
        /* a signature verdict made at or after the SCT's time holds for any time */
        bool timeless =
            s == RULE_SCT_UNKNOWN_LOG ||
            ((s == RULE_SCT_VALID || s == RULE_SCT_INVALID) && now_ms >= SCT_get_timestamp(sct));
        if (slot && timeless) {
            slot->status = (uint8_t)s;
            slot->used = true;
        }
    }
    unsigned char *id = NULL;
    size_t idlen = SCT_get0_log_id(sct, &id);
    const char *op = rule_ctlogs_operator(re->r.logs, id, idlen);
    const char *desc = rule_ctlogs_description(re->r.logs, id, idlen);
    switch (s) {
    case RULE_SCT_VALID:
        t->valid++;
        re->st.scts_valid++;
        if (op) {
            unsigned k;
            for (k = 0; k < t->nops && strcmp(t->ops[k], op) != 0; k++)
                ;
            if (k == t->nops && t->nops < 48) t->ops[t->nops++] = op;
        }
        break;
    case RULE_SCT_INVALID:
        t->invalid++;
        re->st.scts_invalid++;
        break;
    case RULE_SCT_UNKNOWN_LOG:
        t->unknown_log++;
        re->st.scts_unknown_log++;
        break;
    case RULE_SCT_UNVERIFIED:
        t->unverified++;
        re->st.scts_unverified++;
        break;
    }
    char b64[MW_B64_LEN(64)] = "", ts[MW_TS_LEN];
    if (id && idlen <= 64) mw_b64(b64, id, idlen);
    mw_ts_ms(ts, SCT_get_timestamp(sct));
    mw_json_obj_begin(list);
    mw_json_kstr(list, "log_id", b64);
    if (desc) mw_json_kstr(list, "log_name", desc);
    mw_json_kstr(list, "timestamp", ts);
    mw_json_kstr(list, "source", x509_sct_source_name(sct));
    mw_json_kstr(list, "status", rule_sct_status_name(s));
    mw_json_obj_end(list);
}

/* cert.not_in_ct: a watched service's certificate absent from the CT snapshot, once the
 * logs' merge delay has passed (ctcache/ct_lookup.h). The snapshot file is re-checked every
 * few seconds of capture time and swapped when a new one is written. */
#define RE_CT_RECHECK_US (5u * 1000000u)
void rule_sct_not_in_ct(rule_ctx *jd) {
    rule_res *r = &jd->re->r;
    if (!r->ct || !jd->svc) return;
    if (jd->ts_us >= r->ct_checked_us + RE_CT_RECHECK_US) {
        char why[256];
        ct_snapshot *n = ct_reloader_check(&r->ctr, false, why, sizeof why);
        if (n) {
            ct_snapshot_free(r->ct);
            r->ct = n;
        }
        r->ct_checked_us = jd->ts_us;
    }
    if (ct_check_cert(r->ct, jd->leaf, 0) != CT_CHECK_NOT_IN_CT) return;
    char tbs[65], created[MW_TS_LEN];
    rule_hex32(tbs, jd->leaf->tbs_sha256);
    mw_ts_sec(created, ct_snapshot_created(r->ct));
    rule_evidence_begin(jd);
    mw_json_kbool(&jd->je, "in_ct", true);
    mw_json_kstr(&jd->je, "snapshot_created", created);
    mw_json_kuint(&jd->je, "snapshot_entries", ct_snapshot_count(r->ct));
    mw_json_kbool(&jd->jo, "in_ct", false);
    mw_json_kstr(&jd->jo, "tbs_sha256", tbs);
    rule_emit(
        jd, "cert.not_in_ct", 3,
        "The certificate %s presented for %s is not in the Certificate Transparency logs the "
        "cache holds (snapshot of %s), although it is older than their merge delay: a genuine "
        "public certificate would be logged.",
        tbs, rule_who(jd), created);
}

void rule_sct_check(rule_ctx *jd, const rule_cert_facts *cf) {
    rule_engine *re = jd->re;
    const tls_hs *hs = jd->hs;
    const STACK_OF(SCT) * lists[3] = {jd->leaf->scts, hs->tls_scts, hs->ocsp_scts};
    sct_tally t;
    memset(&t, 0, sizeof t);
    /* The observed list is written once into a scratch buffer and copied into each alert. */
    mw_buf lb;
    mw_json lj;
    mw_buf_init(&lb, RULE_EVIDENCE_MAX);
    mw_json_init(&lj, &lb);
    mw_json_arr_begin(&lj);
    for (int k = 0; k < 3; k++)
        for (int i = 0; lists[k] && i < sk_SCT_num(lists[k]); i++)
            sct_one(jd, sk_SCT_value(lists[k], i), cf->issuer, &t, &lj);
    mw_json_arr_end(&lj);
    bool lok = lj.ok;
    if (cf->self_signed) {
        mw_buf_free(&lb);
        return; /* nobody logs a self-signed certificate; cert.self_signed says it all */
    }
    if (t.invalid) {
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "status", "valid");
        mw_json_key(&jd->jo, "scts");
        mw_json_raw(&jd->jo, lok ? (const char *)lb.data : "[]", lok ? lb.len : 2);
        rule_emit(jd, "cert.sct_invalid", 3,
                  "The certificate for %s carries %u SCT%s whose log signature does not verify: "
                  "the SCT was forged or altered.",
                  rule_who(jd), t.invalid, t.invalid == 1 ? "" : "s");
    }
    const pol_policy *p = jd->p;
    unsigned acceptable = t.valid + t.unverified;
    bool too_few = p->sct_min_count > 0 && acceptable < p->sct_min_count;
    bool few_ops = !too_few && p->sct_min_operators > 1 && rule_ctlogs_count(re->r.logs) > 0 &&
                   t.unverified == 0 && t.nops < p->sct_min_operators;
    if (too_few || few_ops) {
        rule_evidence_begin(jd);
        mw_json_kuint(&jd->je, "min_scts", p->sct_min_count);
        mw_json_kuint(&jd->je, "min_operators", p->sct_min_operators);
        mw_json_kuint(&jd->jo, "acceptable", acceptable);
        mw_json_kuint(&jd->jo, "operators", t.nops);
        mw_json_key(&jd->jo, "scts");
        mw_json_raw(&jd->jo, lok ? (const char *)lb.data : "[]", lok ? lb.len : 2);
        unsigned total = t.valid + t.invalid + t.unknown_log + t.unverified;
        if (too_few)
            rule_emit(jd, "cert.sct_missing", 2,
                      "The certificate for %s has %u acceptable SCT%s (of %u; %u from logs not in "
                      "the log list), fewer than the %u required: it may never have been logged in "
                      "Certificate Transparency.",
                      rule_who(jd), acceptable, acceptable == 1 ? "" : "s", total, t.unknown_log,
                      p->sct_min_count);
        else
            rule_emit(
                jd, "cert.sct_missing", 2,
                "The certificate for %s has valid SCTs from %u log operator%s, fewer than the "
                "%u required.",
                rule_who(jd), t.nops, t.nops == 1 ? "" : "s", p->sct_min_operators);
    }
    mw_buf_free(&lb);
}
