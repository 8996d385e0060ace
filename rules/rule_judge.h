/* Private to the verdict files (rules/rule_engine.c, rule_suppress.c and the rule families
 * rule_tls.c, rule_chain.c, rule_cert.c, rule_sct.c, rule_issuance.c): the engine's state, the
 * context of one judgement and the helpers that write an alert's evidence. Nothing outside rules/
 * includes this; the public interface is rule_engine.h.
 *
 * A rule is a function of the context: it returns silently, or writes its evidence between
 * rule_evidence_begin and rule_emit. rule_judge calls the families in a fixed order, which is
 * the order of the alerts of one handshake. */
#ifndef RULE_JUDGE_H
#define RULE_JUDGE_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "ct_lookup.h"
#include "mw_encode.h"
#include "mw_json.h"
#include "rule_ct.h"
#include "rule_engine.h"
#include "store_known.h"

#define RULE_EVIDENCE_MAX (64u << 10)

/* What the policy makes the engine load; replaced as a whole on reload. */
typedef struct {
    store_known *store;
    X509_STORE *trust;
    rule_ctlogs *logs;
    ct_reloader ctr; /* the ctcache snapshot (cert.not_in_ct), reloaded when the file changes */
    bool system_anchors;    /* the system store is among the anchors */
    uint8_t (*policy_anchors)[32]; /* SHA-256 of the ca_files certificates */
    size_t npolicy_anchors;
    ct_snapshot *ct;
    uint64_t ct_checked_us;
} rule_res;

typedef struct rule_chain_cache rule_chain_cache; /* rule_chain.c */
typedef struct rule_sct_cache rule_sct_cache;     /* rule_sct.c */
typedef struct rule_suppress rule_suppress;       /* rule_suppress.c */

struct rule_engine {
    const pol_policy *p;
    rule_res r;
    rule_chain_cache *chains;
    rule_sct_cache *scts;
    rule_suppress *sup;
    /* learned TLS versions: in the sensor's baselines (persisted) once attached, else here */
    bl_state *ver;
    bl_state *own_ver;
    mw_buf exp, obs; /* the evidence of the alert being written */
    rule_stats st;
    char warnings[4096]; /* rule_engine_warnings */
};

/* One judgement: a handshake (rule_judge) or a plaintext session (rule_judge_plaintext). */
typedef struct {
    rule_engine *re;
    const pol_policy *p;
    const tls_hs *hs; /* NULL for a plaintext session */
    const cap_flow *f;
    int client_side;
    uint64_t ts_us;
    int64_t now; /* capture time, seconds */
    rule_alert_fn fn;
    void *user;
    const pol_service *svc;
    bool watched;     /* global expectations apply */
    const char *host; /* the name the certificate must cover: SNI, else the service's */
    char svc_key[300];
    const x509_info *leaf;
    X509 *leaf_x;         /* OpenSSL's view of the leaf, decoded for the checks that need it */
    const char *protocol; /* network.protocol for an alert without handshake (hs NULL) */
    rule_verdict *verdict; /* the rules that matched, or NULL */
    mw_json je, jo;       /* expected / observed being written */
} rule_ctx;

/* What the certificate rules, the SCT rules and cert.issuance_odd share about the leaf. */
typedef struct {
    STACK_OF(X509) * pool;  /* untrusted certificates offered to the chain builder (not owned) */
    STACK_OF(X509) * built; /* the chain X509_verify_cert built (owned), leaf first */
    X509 *issuer;           /* the leaf's issuer certificate when seen anywhere, else NULL */
    int verify_ok;
    int err, depth;
    int known; /* store_known_lookup result */
    bool self_signed;
} rule_cert_facts;

/* ---- rule_engine.c: evidence and alerts */

/* Starts an alert's evidence: expected (jd->je) and observed (jd->jo) objects. */
void rule_evidence_begin(rule_ctx *jd);
/* Closes the evidence and reports the alert, unless duplicate suppression drops it. rule.name
 * comes from the one catalogue (rule_catalog_name). */
void rule_emit(rule_ctx *jd, const char *rule_id, int severity, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "ip:port" / "[ip]:port" of the flow's server side. */
void rule_server_addr(const rule_ctx *jd, char *out, size_t outlen);
/* The server side ss of f is one of the service's ports and addresses (when it lists any). */
bool rule_svc_addr_match(const pol_service *s, const cap_flow *f, int ss);

/* Who the alert is about in its message: the host name, else the service key. */
static inline const char *rule_who(const rule_ctx *jd) {
    return jd->host ? jd->host : jd->svc_key;
}

static inline void rule_hex32(char out[65], const uint8_t in[32]) {
    mw_hex(out, in, 32);
}

/* ---- rule_tls.c: tls.weak_or_null_cipher, tls.version_downgrade, tls.starttls_missing */

void rule_tls_cipher(rule_ctx *jd);
void rule_tls_version(rule_ctx *jd);
/* A plaintext session's context has no service yet: this finds the watched STARTTLS service
 * the session belongs to, if any. */
void rule_tls_starttls(rule_ctx *jd, const an_plain *pl);
/* tls.injection: two different copies of the same handshake bytes of direction side. */
void rule_tls_injection(rule_ctx *jd, const cap_conflict *c, int side);

/* ---- rule_chain.c: the chain validated at capture time, and its caches */

rule_chain_cache *rule_chain_cache_new(void);
/* Forgets the chain verdicts (new anchors); the intermediates seen on the wire stay. */
void rule_chain_cache_clear(rule_chain_cache *cc);
void rule_chain_cache_free(rule_chain_cache *cc);
/* rule_chain_cache_clear, and the intermediates too (rule_engine_forget). */
void rule_chain_cache_forget(rule_chain_cache *cc);
/* Validates the presented chain (jd->leaf_x and above) at capture time into cf; cf is released
 * with rule_chain_done, which also remembers the chain's intermediates for later chains. */
void rule_chain_validate(rule_ctx *jd, rule_cert_facts *cf);
void rule_chain_done(rule_ctx *jd, rule_cert_facts *cf);

/* ---- rule_cert.c: the certificate rules */

void rule_cert_known(rule_ctx *jd, const rule_cert_facts *cf);
void rule_cert_issuer(rule_ctx *jd, const rule_cert_facts *cf);
void rule_cert_pins(rule_ctx *jd, const rule_cert_facts *cf);
void rule_cert_dates(rule_ctx *jd);
void rule_cert_name(rule_ctx *jd);
void rule_cert_self_and_chain(rule_ctx *jd, const rule_cert_facts *cf);

/* ---- rule_sct.c: cert.sct_invalid, cert.sct_missing, cert.not_in_ct */

rule_sct_cache *rule_sct_cache_new(void);
void rule_sct_cache_clear(rule_sct_cache *sc);
void rule_sct_cache_free(rule_sct_cache *sc);
void rule_sct_check(rule_ctx *jd, const rule_cert_facts *cf);
void rule_sct_not_in_ct(rule_ctx *jd);

/* ---- rule_issuance.c: cert.issuance_odd */

void rule_issuance(rule_ctx *jd, const rule_cert_facts *cf);

/* ---- rule_suppress.c: duplicate suppression per (rule, service, certificate) */

#define RULE_SUPPRESS_KEYS 8192 /* default of alerts.suppress_keys */
typedef struct {
    uint64_t expired; /* keys whose window was over, forgotten to make room */
    uint64_t evicted; /* keys still suppressing, forgotten to make room (least recently used) */
} rule_suppress_counts;

/* max_keys: the keys under suppression at most (0: RULE_SUPPRESS_KEYS; see rule_suppress.c
 * for what a full table forgets). */
rule_suppress *rule_suppress_new(uint32_t max_keys);
void rule_suppress_free(rule_suppress *s);
const rule_suppress_counts *rule_suppress_counts_get(const rule_suppress *s);
uint32_t rule_suppress_keys(const rule_suppress *s); /* keys held now */
void rule_suppress_clear(rule_suppress *s);
/* In capture time ts_us, within window seconds of the key's last alert: returns false when
 * this one is to be dropped (counted); else *prior gets the count dropped since the last one.
 * leaf_sha256 may be NULL (no certificate). window 0: everything passes. */
bool rule_suppress_pass(rule_suppress *s, uint32_t window, const char *rule_id, const char *svc_key,
                        const uint8_t *leaf_sha256, uint64_t ts_us, uint64_t *prior);

#endif
