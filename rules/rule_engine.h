/* Verdicts: every handshake judged against the policy, the known-certificate store, the trust
 * anchors and the CT log list (docs/ARCHITECTURE.md). The handshake callback calls rule_judge;
 * each alert comes back through rule_alert_fn, already past duplicate suppression, and
 * output/ev_alert_verdict_build turns it into the mitmwatch.alert event.
 *
 * Policy-free rules (no config needed): cert.expired, cert.not_yet_valid, cert.name_mismatch,
 * cert.self_signed, cert.chain_invalid, cert.sct_missing, cert.sct_invalid,
 * tls.weak_or_null_cipher, tls.version_downgrade (learned per server, kept with the baselines:
 * rule_engine_set_baselines). Rules that need the policy: cert.unknown (known store),
 * cert.issuer_unexpected (expected issuers), cert.spki_unpinned (pins), cert.issuance_odd
 * (known store's cadence), tls.starttls_missing (a service's STARTTLS protocol,
 * rule_judge_plaintext). With no service listed, every handshake is judged against the global
 * expectations; with services, only the handshakes of a watched service are.
 *
 * All times are capture times: a pcap of last year is judged as of last year. */
#ifndef RULE_ENGINE_H
#define RULE_ENGINE_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "an_engine.h"
#include "bl_baseline.h"
#include "cap_flow.h"
#include "mw_buf.h"
#include "pol_policy.h"
#include "tls_session.h"

typedef struct rule_alert {
    const char *rule_id;
    const char *name;
    int severity; /* 1 low .. 4 critical */
    char message[512];
    /* evidence as JSON fragments (objects), valid during the callback */
    char *expected_json;
    char *observed_json;
    const char *service;  /* the watched service's name as configured, or NULL */
    uint64_t suppressed;  /* duplicates suppressed since this key's previous alert */
    const char *protocol; /* network.protocol when there is no handshake, or NULL */
    uint64_t ts_us;       /* capture time of what raised it */
} rule_alert;

typedef void (*rule_alert_fn)(const rule_alert *a, const tls_hs *hs, const cap_flow *f,
                              int client_side, void *user);

typedef struct {
    uint64_t judged, alerts, suppressed;
    uint64_t store_certs;    /* certificates in the known store */
    uint64_t intermediates;  /* CA certificates cached from the wire */
    uint64_t scts_valid, scts_invalid, scts_unknown_log, scts_unverified;
    uint64_t chain_cache_hits, sct_cache_hits; /* verdicts reused, not recomputed */
    /* the bounded tables: duplicate suppression's keys (alerts.suppress_keys) and the
     * baselines' services (bl_counts), filled by rule_engine_stats */
    uint64_t suppress_keys, suppress_expired, suppress_evicted;
    uint64_t baseline_services, baseline_evicted, baseline_full;
} rule_stats;

typedef struct rule_engine rule_engine;

/* The rule ids that matched one handshake, whether their alert went out or was suppressed
 * (mitmwatch.verdict.rules of the mitmwatch.tls event). Each id at most once, in the order
 * the rules ran; ids are the catalogue's static strings. */
#define RULE_VERDICT_MAX 32
typedef struct {
    const char *rules[RULE_VERDICT_MAX];
    unsigned n;
    bool watched; /* the handshake is of a service the policy names (set by rule_judge_verdict) */
} rule_verdict;

/* Adds rule_id unless already listed (or the list is full). */
void rule_verdict_add(rule_verdict *v, const char *rule_id);

/* Loads the store, the trust anchors and the log list the policy names. p is not copied: it
 * must stay alive and unchanged until rule_engine_free or the next reload. Every problem with
 * the files the policy names is reported at once, one a line in err ("FILE:LINE: key: PATH:
 * why" or "--flag PATH: why"). What the engine can run without is a warning instead
 * (rule_engine_warnings): a missing ctcache or CT log list, a missing or empty known store, a
 * watched name the store holds no certificate for. */
rule_engine *rule_engine_new(const pol_policy *p, char *err, size_t errlen);
/* What rule_engine_new would load, loaded and released: false with every problem in err; the
 * warnings in warn either way (`mitmwatch -T`). */
bool rule_engine_check(const pol_policy *p, char *err, size_t errlen, char *warn, size_t warnlen);
/* The warnings of the last load (new or reload), one a line, "" when none. */
const char *rule_engine_warnings(const rule_engine *re);
/* SCTs a certificate needs (cert.sct_missing); the one decision for the sensor and `check`:
 * the policy's ct.min_scts or --min-scts when given; otherwise 1 for a chain that validated
 * to a publicly trusted anchor (the system store) and 0 for a private CA (ca_files,
 * --ca-file), a chain that validated only to a policy anchor, or one that did not validate. */
unsigned rule_sct_required(const pol_policy *p, bool public_anchor);
/* Whether a chain built by X509_verify_cert against the engine's anchors (leaf first, anchor
 * last) ends at a publicly trusted anchor: one of the system store, not of the policy's
 * ca_files. False for NULL or an empty chain. */
bool rule_engine_public_anchor(const rule_engine *re, STACK_OF(X509) * built);
/* SIGHUP: a new policy (and a fresh read of its known store, anchors and log list). On
 * failure the engine keeps the old one and err says why. Caches and suppression survive. */
bool rule_engine_reload(rule_engine *re, const pol_policy *p, char *err, size_t errlen);
void rule_engine_free(rule_engine *re);
/* Forgets what judging has learned and cached (chain and SCT verdicts, intermediates from the
 * wire, suppression, counters, and the learned TLS versions when no baselines are attached:
 * attached ones are the caller's), keeping the loaded policy resources: a fresh engine without
 * reading the files again. A fuzz target calls it after each input, so every input is judged
 * alone. False when out of memory (then rule_engine_free it). */
bool rule_engine_forget(rule_engine *re);

/* Judges one handshake at capture time ts_us. Validates its SCTs (their status is left in the
 * SCT objects for the mitmwatch.tls event), then reports each alert through fn. */
void rule_judge(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                uint64_t ts_us, rule_alert_fn fn, void *user);
/* rule_judge, also adding every rule that matched to v (suppressed ones included). */
void rule_judge_verdict(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                        uint64_t ts_us, rule_alert_fn fn, void *user, rule_verdict *v);
/* Duplicate suppression for alerts raised outside rule_judge (the baselines), under the
 * policy's suppress_window: true when the alert is to go out (*prior: the duplicates dropped
 * since the key's previous alert), false when it is dropped (counted in rule_stats.suppressed).
 * key names what the alert is about (service and changed value). */
bool rule_engine_suppress(rule_engine *re, const char *rule_id, const char *key, uint64_t ts_us,
                          uint64_t *prior);
/* The learned TLS version per server (tls.version_downgrade) is kept in bl, the sensor's
 * baselines, so that it persists in the --state file; bl must outlive the engine or be
 * detached with NULL. Without it the engine keeps its own table (lost at exit). */
void rule_engine_set_baselines(rule_engine *re, bl_state *bl);
/* tls.starttls_missing: a flow to a watched service that has a `starttls` protocol (matched by
 * the service's IPs and ports; a service with neither is not matched) carried that protocol in
 * plaintext and ended without TLS, and the client sent session commands unprotected, or the
 * server refused STARTTLS, or plaintext followed the server's agreement. A session of greeting,
 * capabilities and goodbye alone (a health check) raises nothing. Alerts come through fn with
 * hs NULL. */
void rule_judge_plaintext(rule_engine *re, const an_plain *pl, const cap_flow *f,
                          int client_side, rule_alert_fn fn, void *user);
/* tls.injection: the flow carried two different copies of the same bytes of direction side
 * (cap_flow_conflict, or the engine's on_conflict after the handshake; hs NULL then). The
 * alert names both copies' SHA-256 and TTLs; it comes through fn (with v, when given, listing
 * the rule for the handshake event). */
void rule_judge_conflict(rule_engine *re, const tls_hs *hs, const cap_flow *f, int client_side,
                         int side, const cap_conflict *c, rule_alert_fn fn, void *user,
                         rule_verdict *v);
/* The watched service of a handshake (by the server's address and port, then SNI or, without
 * SNI, a service that lists addresses), as the verdicts match it; NULL when none. Valid until
 * the next reload. */
const pol_service *rule_engine_service(const rule_engine *re, const tls_hs *hs, const cap_flow *f,
                                       int client_side);
const rule_stats *rule_engine_stats(rule_engine *re);
/* Is a certificate in the known store (by SHA-256 or CT TBS hash)? 1 yes, 0 no, -1 no store. */
int rule_engine_known(const rule_engine *re, const uint8_t sha256[32], const uint8_t tbs[32]);
/* The description of a CT log in the current log list (an ev_log_name_fn; user is the
 * engine), or NULL. */
const char *rule_engine_log_name(const uint8_t *log_id, size_t len, void *re);

#endif
