/* The certificate rules, judged on the leaf and the chain rule_chain.c built: cert.expired,
 * cert.not_yet_valid and cert.name_mismatch (policy-free), cert.self_signed and
 * cert.chain_invalid (validation at capture time), cert.unknown (the known store),
 * cert.issuer_unexpected (expected issuers) and cert.spki_unpinned (pins). */
#include <ctype.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mw_hash.h"
#include "rule_judge.h"
#include "rule_name.h"
#include "x509_name.h"

#define RE_KNOWN_SHOWN 16 /* known certificates for the name listed in cert.unknown's evidence */

static void spki_of(X509 *x, uint8_t out[32]) {
    unsigned char *der = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (n > 0)
        mw_sha256(der, (size_t)n, out);
    else
        memset(out, 0, 32);
    OPENSSL_free(der);
}

static void chain_subjects(mw_json *j, const rule_ctx *jd) {
    mw_json_karr(j, "chain");
    for (int i = 0; i < jd->hs->nchain; i++)
        mw_json_str(j, jd->hs->chain[i]->subject);
    mw_json_arr_end(j);
}

static void leaf_fields(mw_json *j, const rule_ctx *jd) {
    char h[65];
    rule_hex32(h, jd->leaf->sha256);
    mw_json_kstr(j, "sha256", h);
    rule_hex32(h, jd->leaf->tbs_sha256);
    mw_json_kstr(j, "tbs_sha256", h);
    mw_json_kstr(j, "subject", jd->leaf->subject);
    mw_json_kstr(j, "issuer", jd->leaf->issuer);
}

void rule_cert_dates(rule_ctx *jd) {
    const x509_info *l = jd->leaf;
    char nb[MW_TS_LEN], na[MW_TS_LEN], at[MW_TS_LEN];
    mw_ts_sec(nb, l->not_before);
    mw_ts_sec(na, l->not_after);
    mw_ts_sec(at, jd->now);
    if (jd->now > l->not_after) {
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "valid_at", at);
        mw_json_kstr(&jd->jo, "not_before", nb);
        mw_json_kstr(&jd->jo, "not_after", na);
        leaf_fields(&jd->jo, jd);
        long long days = (long long)((jd->now - l->not_after) / 86400);
        rule_emit(jd, "cert.expired", 2,
                  "The certificate %s presented for %s expired on %s, %lld day%s before this "
                  "connection.",
                  l->subject, rule_who(jd), na, days, days == 1 ? "" : "s");
    } else if (jd->now < l->not_before) {
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "valid_at", at);
        mw_json_kstr(&jd->jo, "not_before", nb);
        mw_json_kstr(&jd->jo, "not_after", na);
        leaf_fields(&jd->jo, jd);
        rule_emit(
            jd, "cert.not_yet_valid", 2,
            "The certificate %s presented for %s is only valid from %s, after this connection "
            "(%s): a wrong clock or a certificate made for later.",
            l->subject, rule_who(jd), nb, at);
    }
}

void rule_cert_name(rule_ctx *jd) {
    if (!jd->host || rule_cert_covers_sans(jd->leaf_x, jd->leaf->sans, jd->host)) return;
    rule_evidence_begin(jd);
    mw_json_kstr(&jd->je, "name", jd->host);
    const char *source =
        jd->hs->have_ch && jd->hs->sni ? "sni"
        : jd->hs->proxy && jd->hs->proxy_host_is_name && strcmp(jd->host, jd->hs->proxy_host) == 0
            ? "proxy target"
            : "watched service";
    mw_json_kstr(&jd->je, "source", source);
    mw_json_key(&jd->jo, "alternative_names");
    mw_json_raw(&jd->jo, jd->leaf->sans_json, strlen(jd->leaf->sans_json));
    mw_json_kstr(&jd->jo, "subject", jd->leaf->subject);
    rule_emit(jd, "cert.name_mismatch", 3,
              "The certificate presented for %s does not cover that name (it is for %s %s).",
              jd->host, jd->leaf->subject, jd->leaf->sans_json);
}

void rule_cert_self_and_chain(rule_ctx *jd, const rule_cert_facts *cf) {
    if (cf->self_signed) {
        if (cf->known) return; /* the operator's own self-signed certificate: known, so expected */
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "issuer", "a CA trusted by this sensor");
        leaf_fields(&jd->jo, jd);
        rule_emit(jd, "cert.self_signed", 3,
                  "The server %s presented a self-signed certificate (%s) that no trusted CA "
                  "vouches for.",
                  rule_who(jd), jd->leaf->subject);
        return;
    }
    if (cf->verify_ok) return;
    const pol_policy *p = jd->p;
    const char *reason = X509_verify_cert_error_string(cf->err);
    char at[MW_TS_LEN];
    mw_ts_sec(at, jd->now);
    rule_evidence_begin(jd);
    mw_json_kstr(&jd->je, "chain", "valid up to a trust anchor at capture time");
    mw_json_kstr(&jd->je, "valid_at", at);
    mw_json_karr(&jd->je, "anchors");
    for (size_t i = 0; i < p->nca_files; i++)
        mw_json_str(&jd->je, p->ca_files[i]);
    if (p->nca_files == 0 || p->system_trust) mw_json_str(&jd->je, "system");
    mw_json_arr_end(&jd->je);
    mw_json_kstr(&jd->jo, "error", reason);
    mw_json_kint(&jd->jo, "error_code", cf->err);
    mw_json_kint(&jd->jo, "depth", cf->depth);
    chain_subjects(&jd->jo, jd);
    rule_emit(jd, "cert.chain_invalid", 3,
              "The certificate chain presented for %s does not validate at capture time: %s "
              "(at depth %d).",
              rule_who(jd), reason, cf->depth);
}

void rule_cert_known(rule_ctx *jd, const rule_cert_facts *cf) {
    rule_engine *re = jd->re;
    if (!re->r.store || !jd->watched || cf->known) return;
    rule_evidence_begin(jd);
    mw_json_kobj(&jd->je, "known_store");
    mw_json_kuint(&jd->je, "certificates", store_known_stats(re->r.store)->certs);
    mw_json_kstr(&jd->je, "match", "sha256 or tbs_sha256");
    size_t for_name = 0; /* the store's certificates that cover the name */
    if (jd->host) {      /* side by side with the leaf: the admins' own certificates for the name */
        size_t n;
        const store_cert *sc = store_known_certs(re->r.store, &n);
        char h[65];
        mw_json_karr(&jd->je, "for_name");
        for (size_t i = 0; i < n; i++) {
            if (!sc[i].x || !rule_cert_covers(sc[i].x, jd->host)) continue;
            if (for_name++ < RE_KNOWN_SHOWN) {
                rule_hex32(h, sc[i].sha256);
                mw_json_str(&jd->je, h);
            }
        }
        mw_json_arr_end(&jd->je);
    }
    mw_json_obj_end(&jd->je);
    leaf_fields(&jd->jo, jd);
    char nb[MW_TS_LEN], h[65];
    mw_ts_sec(nb, jd->leaf->not_before);
    mw_json_kstr(&jd->jo, "not_before", nb);
    rule_hex32(h, jd->leaf->sha256);
    /* the hash in the sentence too: a Nagios status line carries only the message */
    unsigned long long total = store_known_stats(re->r.store)->certs;
    if (jd->host)
        rule_emit(
            jd, "cert.unknown", 4,
            "The certificate with SHA-256 %s presented for %s (issued by %s on %s) is none of "
            "the %zu certificate%s the known store holds for that name (%llu in the store): "
            "someone else obtained or made it.",
            h, rule_who(jd), jd->leaf->issuer, nb, for_name, for_name == 1 ? "" : "s", total);
    else
        rule_emit(
            jd, "cert.unknown", 4,
            "The certificate with SHA-256 %s presented for %s (issued by %s on %s) is none of "
            "the %llu certificates in the known store: someone else obtained or made it.",
            h, rule_who(jd), jd->leaf->issuer, nb, total);
}

/* "CN=R3, O=Let's Encrypt, C=US" and "C=US,O=Let's Encrypt,CN=R3" are the same name to a
 * person writing a policy: compare the set of attribute=value parts, case-insensitively. */
static size_t dn_parts(const char *dn, char parts[][128], size_t max) {
    size_t n = 0, l = 0;
    bool esc = false;
    char cur[128];
    for (const char *s = dn;; s++) {
        if (!*s || (*s == ',' && !esc)) {
            while (l && cur[l - 1] == ' ')
                l--;
            cur[l] = '\0';
            if (n < max && l) memcpy(parts[n++], cur, l + 1);
            l = 0;
            if (!*s) break;
            continue;
        }
        if (l == 0 && *s == ' ') continue;
        esc = !esc && *s == '\\';
        if (l < sizeof cur - 1) cur[l++] = (char)tolower((unsigned char)*s);
    }
    return n;
}

static int cmp_part(const void *a, const void *b) {
    return strcmp(a, b);
}

static bool dn_equal(const char *a, const char *b) {
    char pa[16][128], pb[16][128];
    size_t na = dn_parts(a, pa, 16), nb = dn_parts(b, pb, 16);
    if (na != nb) return false;
    qsort(pa, na, sizeof pa[0], cmp_part);
    qsort(pb, nb, sizeof pb[0], cmp_part);
    for (size_t i = 0; i < na; i++)
        if (strcmp(pa[i], pb[i]) != 0) return false;
    return true;
}

static bool name_has(const X509_NAME *n, const char *want) {
    static const int nids[] = {NID_organizationName, NID_commonName};
    for (size_t k = 0; k < 2; k++) {
        int idx = -1;
        while ((idx = X509_NAME_get_index_by_NID(n, nids[k], idx)) >= 0) {
            const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
            unsigned char *u = NULL;
            int ul = ASN1_STRING_to_UTF8(&u, s);
            bool hit = ul >= 0 && strlen(want) == (size_t)ul &&
                       strncasecmp((const char *)u, want, (size_t)ul) == 0;
            OPENSSL_free(u);
            if (hit) return true;
        }
    }
    return false;
}

/* The certificates above the leaf: the built chain, else the issuer found in the pool. */
static int above_count(const rule_cert_facts *cf) {
    if (cf->built && sk_X509_num(cf->built) > 1) return sk_X509_num(cf->built) - 1;
    return cf->issuer ? 1 : 0;
}

static X509 *above_at(const rule_cert_facts *cf, int i) {
    if (cf->built && sk_X509_num(cf->built) > 1) return sk_X509_value(cf->built, i + 1);
    return cf->issuer;
}

void rule_cert_issuer(rule_ctx *jd, const rule_cert_facts *cf) {
    const pol_issuer *is = jd->p->issuers;
    size_t n = jd->p->nissuers;
    if (jd->svc && jd->svc->has_issuers) {
        is = jd->svc->issuers;
        n = jd->svc->nissuers;
    } else if (!jd->watched) {
        return;
    }
    if (n == 0) return;
    int na = above_count(cf);
    bool decidable = false;
    for (size_t i = 0; i < n; i++) {
        switch (is[i].kind) {
        case POL_ISSUER_DN:
            decidable = true;
            if (dn_equal(jd->leaf->issuer, is[i].text)) return;
            break;
        case POL_ISSUER_CA_NAME:
            decidable = true;
            if (name_has(X509_get_issuer_name(jd->leaf_x), is[i].text)) return;
            for (int k = 0; k < na; k++)
                if (name_has(X509_get_subject_name(above_at(cf, k)), is[i].text)) return;
            break;
        case POL_ISSUER_SPKI:
            for (int k = 0; k < na; k++) {
                uint8_t sp[32];
                spki_of(above_at(cf, k), sp);
                if (memcmp(sp, is[i].spki, 32) == 0) return;
            }
            if (na > 0) decidable = true;
            break;
        }
    }
    if (!decidable) return; /* only SPKI expectations and the issuer was never seen: cannot say */
    rule_evidence_begin(jd);
    mw_json_karr(&jd->je, "issuers");
    for (size_t i = 0; i < n; i++) {
        mw_json_obj_begin(&jd->je);
        mw_json_kstr(&jd->je,
                     is[i].kind == POL_ISSUER_DN     ? "dn"
                     : is[i].kind == POL_ISSUER_SPKI ? "spki_sha256"
                                                     : "ca",
                     is[i].text);
        mw_json_obj_end(&jd->je);
    }
    mw_json_arr_end(&jd->je);
    mw_json_kstr(&jd->jo, "issuer", jd->leaf->issuer);
    mw_json_karr(&jd->jo, "issuer_chain");
    for (int k = 0; k < na; k++) {
        char h[65];
        uint8_t sp[32];
        spki_of(above_at(cf, k), sp);
        rule_hex32(h, sp);
        char *sub = x509_name_str(X509_get_subject_name(above_at(cf, k)));
        mw_json_obj_begin(&jd->jo);
        mw_json_kstr(&jd->jo, "subject", sub ? sub : "");
        free(sub);
        mw_json_kstr(&jd->jo, "spki_sha256", h);
        mw_json_obj_end(&jd->jo);
    }
    mw_json_arr_end(&jd->jo);
    rule_emit(jd, "cert.issuer_unexpected", 4,
              "The certificate for %s was issued by %s, which is not a CA this service is expected "
              "to use.",
              rule_who(jd), jd->leaf->issuer);
}

void rule_cert_pins(rule_ctx *jd, const rule_cert_facts *cf) {
    const uint8_t(*pins)[32] = jd->p->pins;
    size_t n = jd->p->npins;
    if (jd->svc && jd->svc->has_pins) {
        pins = jd->svc->pins;
        n = jd->svc->npins;
    } else if (!jd->watched) {
        return;
    }
    if (n == 0) return;
    int na = above_count(cf);
    for (int k = -1; k < na; k++) {
        uint8_t sp[32];
        if (k < 0)
            memcpy(sp, jd->leaf->spki_sha256, 32);
        else
            spki_of(above_at(cf, k), sp);
        for (size_t i = 0; i < n; i++)
            if (memcmp(sp, pins[i], 32) == 0) return;
    }
    char h[65];
    rule_evidence_begin(jd);
    mw_json_karr(&jd->je, "spki_sha256");
    for (size_t i = 0; i < n; i++) {
        rule_hex32(h, pins[i]);
        mw_json_str(&jd->je, h);
    }
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->jo, "spki_sha256");
    rule_hex32(h, jd->leaf->spki_sha256);
    mw_json_str(&jd->jo, h);
    for (int k = 0; k < na; k++) {
        uint8_t sp[32];
        spki_of(above_at(cf, k), sp);
        rule_hex32(h, sp);
        mw_json_str(&jd->jo, h);
    }
    mw_json_arr_end(&jd->jo);
    rule_hex32(h, jd->leaf->spki_sha256);
    rule_emit(jd, "cert.spki_unpinned", 4,
              "No key in the chain presented for %s matches a pinned key (the server's key is "
              "SPKI SHA-256 %s).",
              rule_who(jd), h);
}
