/* rules/rule_engine with store_known, rule_ct and the policy: every rule.id raised by the case
 * that should raise it, and the exact set of rule.ids per handshake, so a clean case proves
 * that nothing else fires.
 *
 * The certificates are built here with OpenSSL: an ACME-like CA (root + intermediate), a rogue
 * CA, leaves for www.example.test, a precertificate/final pair, and SCTs signed per RFC 6962
 * section 3.2 by a test CT log key (valid, tampered, and from a log missing from the log
 * list). The known store is laid out on disk as certbot, acme.sh, lego and dehydrated do.
 * Usage: rule_engine_test WORKDIR (created; emptied first) */
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bl_baseline.h"
#include "ev_alert.h"
#include "ev_stats.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_test.h"
#include "pol_config.h"
#include "rule_ct.h"
#include "rule_engine.h"
#include "rule_judge.h"
#include "store_known.h"

#define T0 1781524800LL /* 2026-06-15 12:00:00 UTC, the capture time */
#define DAY 86400LL
#define AT03(days_before) (T0 - (days_before)*DAY - 9 * 3600) /* 03:00 UTC that day */

static EVP_PKEY *k_root, *k_inter, *k_rogue, *k_leaf, *k_other, *k_logA, *k_logB;
static X509 *root, *inter, *rogue;
static char dir[1024];

static EVP_PKEY *ec_key(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *val) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
    if (!e) {
        fprintf(stderr, "extension %d=%s refused\n", nid, val);
        exit(2);
    }
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* An unsigned certificate; issuer NULL makes it self-issued. */
static X509 *mk(const char *cn, const char *o, const char *san, X509 *issuer, EVP_PKEY *key,
                int64_t nb, int64_t na, bool ca) {
    static long serial = 100;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_NAME *n = X509_NAME_new();
    if (o) X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
    X509_set_pubkey(x, key);
    add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (issuer) add_ext(x, issuer, NID_authority_key_identifier, "keyid");
    if (!ca) add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
    if (san) add_ext(x, issuer, NID_subject_alt_name, san);
    return x;
}

static void spki_hash(EVP_PKEY *k, uint8_t out[32]) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    mw_sha256(der, (size_t)n, out);
    OPENSSL_free(der);
}

enum sct_kind { SCT_VALID_A, SCT_TAMPERED_A, SCT_VALID_B };

/* RFC 6962 3.2: digitally-signed struct { version v1, signature_type certificate_timestamp,
 * timestamp, entry_type precert_entry, PreCert { issuer_key_hash, tbs_certificate<1..2^24-1> },
 * extensions<0..2^16-1> } */
static SCT *make_sct(enum sct_kind kind, EVP_PKEY *issuer_key, const uint8_t *tbs, size_t tbslen,
                     uint64_t ts_ms) {
    EVP_PKEY *logk = kind == SCT_VALID_B ? k_logB : k_logA;
    size_t n = 2 + 8 + 2 + 32 + 3 + tbslen + 2;
    uint8_t *d = malloc(n), *p = d;
    *p++ = 0;
    *p++ = 0;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(ts_ms >> (8 * i));
    *p++ = 0;
    *p++ = 1;
    spki_hash(issuer_key, p);
    p += 32;
    *p++ = (uint8_t)(tbslen >> 16);
    *p++ = (uint8_t)(tbslen >> 8);
    *p++ = (uint8_t)tbslen;
    memcpy(p, tbs, tbslen);
    p += tbslen;
    *p++ = 0;
    *p++ = 0;
    if (kind == SCT_TAMPERED_A)
        d[2 + 8 + 2 + 32 + 3 + 20] ^= 1; /* a signature over other bytes than the certificate */
    unsigned char sig[128];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, logk);
    EVP_DigestSign(md, sig, &siglen, d, n);
    EVP_MD_CTX_free(md);
    free(d);
    SCT *s = SCT_new();
    uint8_t id[32];
    spki_hash(logk, id);
    SCT_set_version(s, SCT_VERSION_V1);
    SCT_set1_log_id(s, id, 32);
    SCT_set_timestamp(s, ts_ms);
    SCT_set_signature_nid(s, NID_ecdsa_with_SHA256);
    SCT_set1_signature(s, sig, siglen);
    return s;
}

/* Signs x; with SCTs, embeds them over the TBS of x as signed so far (what a CA does with
 * the precertificate's TBS) and signs again. *pre, when asked, gets the precertificate. */
static X509 *finish(X509 *x, X509 *issuer, EVP_PKEY *ikey, const enum sct_kind *kinds, int nk,
                    uint64_t sct_ms, X509 **pre) {
    X509_sign(x, ikey, EVP_sha256());
    if (pre) {
        *pre = X509_dup(x);
        ASN1_OCTET_STRING *null_der = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(null_der, (const unsigned char *)"\x05\x00", 2);
        X509_EXTENSION *poison =
            X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_poison, 1, null_der);
        X509_add_ext(*pre, poison, -1);
        X509_EXTENSION_free(poison);
        ASN1_OCTET_STRING_free(null_der);
        X509_sign(*pre, ikey, EVP_sha256());
    }
    if (nk == 0) return x;
    unsigned char *tbs = NULL;
    int tl = i2d_re_X509_tbs(x, &tbs);
    STACK_OF(SCT) *scts = sk_SCT_new_null();
    for (int i = 0; i < nk; i++)
        sk_SCT_push(scts, make_sct(kinds[i], X509_get0_pubkey(issuer), tbs, (size_t)tl, sct_ms));
    OPENSSL_free(tbs);
    X509_add1_ext_i2d(x, NID_ct_precert_scts, scts, 0, 0);
    SCT_LIST_free(scts);
    X509_sign(x, ikey, EVP_sha256());
    return x;
}

static x509_info *info(X509 *x) {
    an_stats st;
    memset(&st, 0, sizeof st);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    x509_info *e = x509_info_parse(der, (size_t)n, &st);
    OPENSSL_free(der);
    if (!e) {
        fprintf(stderr, "x509_info_parse failed\n");
        exit(2);
    }
    return e;
}

static void mkdirs(const char *rel) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    }
    mkdir(p, 0700);
}

static void write_pem(const char *rel, X509 *a, X509 *b) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "w");
    PEM_write_X509(fp, a);
    if (b) PEM_write_X509(fp, b);
    fclose(fp);
}

static void write_der(const char *rel, X509 *a) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "wb");
    i2d_X509_fp(fp, a);
    fclose(fp);
}

/* ------------------------------------------------------------------ judging */

static char got[1024];
static uint64_t last_suppressed;
static mw_buf evbuf;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *ids[32], *raw_ids[32];
static char msgs[32][512], exps[32][1024], obss[32][1024];
static int nids;

/* The evidence of the last judged handshake's alert with this rule.id. */
static const char *exp_of(const char *id) {
    for (int i = 0; i < nids; i++)
        if (strcmp(raw_ids[i], id) == 0) return exps[i];
    return "(none)";
}
static const char *obs_of(const char *id) {
    for (int i = 0; i < nids; i++)
        if (strcmp(raw_ids[i], id) == 0) return obss[i];
    return "(none)";
}

/* The message of the last judged handshake's alert with this rule.id. */
static const char *msg_of(const char *id) {
    for (int i = 0; i < nids; i++)
        if (strcmp(raw_ids[i], id) == 0) return msgs[i];
    return "(none)";
}

static void collect(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs, void *user) {
    (void)user;
    if (nids < 32) {
        raw_ids[nids] = a->rule_id;
        snprintf(msgs[nids], sizeof msgs[nids], "%s", a->message);
        snprintf(exps[nids], sizeof exps[nids], "%s", a->expected_json);
        snprintf(obss[nids], sizeof obss[nids], "%s", a->observed_json);
        ids[nids++] = a->rule_id;
    }
    last_suppressed = a->suppressed;
    /* every alert: a valid event with the evidence side by side and a readable message */
    ev_ctx ctx = {.observer = "unit"};
    CHECK(ev_alert_verdict_build(&evbuf, &ctx, a, hs, f, cs, hs->ts_us, "hs-1"));
    json_error_t je;
    json_t *ev = json_loadb((const char *)evbuf.data, evbuf.len, JSON_REJECT_DUPLICATES, &je);
    CHECK(ev != NULL);
    if (!ev) {
        fprintf(stderr, "%.*s\n%s\n", (int)evbuf.len, evbuf.data, je.text);
        return;
    }
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "event"), "kind")), "alert");
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "event"), "dataset")),
              "mitmwatch.alert");
    json_int_t sev = json_integer_value(json_object_get(json_object_get(ev, "event"), "severity"));
    CHECK(sev >= 1 && sev <= 4);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "rule"), "id")), a->rule_id);
    CHECK(strlen(json_string_value(json_object_get(ev, "message"))) > 30);
    json_t *mw = json_object_get(ev, "mitmwatch");
    CHECK(json_object_size(json_object_get(mw, "expected")) > 0);
    CHECK(json_object_size(json_object_get(mw, "observed")) > 0);
    /* the handshake's evidence, not the handshake: its id, the name, the leaf's hash */
    CHECK_STR(json_string_value(json_object_get(mw, "handshake_id")), "hs-1");
    CHECK(json_object_get(mw, "tls") == NULL && json_object_get(mw, "ndpi") == NULL);
    json_t *tls = json_object_get(ev, "tls");
    CHECK(json_object_size(tls) >= 1 && json_object_get(tls, "version") == NULL);
    json_t *srv = json_object_get(tls, "server");
    CHECK(!srv ||
          (json_object_size(srv) == 1 && strlen(json_string_value(json_object_get(
                                             json_object_get(srv, "hash"), "sha256"))) == 64));
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "network"), "protocol")),
              "tls");
    CHECK(
        strncmp(json_string_value(json_object_get(json_object_get(ev, "network"), "community_id")),
                "1:", 2) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "destination"), "ip")),
              "198.51.100.10");
    json_decref(ev);
}

static rule_verdict g_verdict; /* the rules that matched the last judge() */

/* g_verdict as "a,b" in the order the rules ran. */
static const char *verdict_str(void) {
    static char out[1024];
    size_t off = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < g_verdict.n && off < sizeof out; i++)
        off +=
            (size_t)snprintf(out + off, sizeof out - off, "%s%s", i ? "," : "", g_verdict.rules[i]);
    return out;
}

typedef struct {
    const char *sni;
    uint16_t cipher, version, offered;
    int64_t at; /* capture time, seconds; 0 = T0 */
} hs_opts;

static const char *judge(rule_engine *re, x509_info *const *chain, int n, const hs_opts *o) {
    tls_hs hs;
    memset(&hs, 0, sizeof hs);
    hs.have_ch = hs.have_sh = true;
    hs.sni = (char *)(uintptr_t)o->sni; /* the judge never writes it */
    hs.ch_version = o->offered ? o->offered : 0x0303;
    hs.version = o->version ? o->version : 0x0303;
    hs.cipher = o->cipher ? o->cipher : 0xC02B;
    if (n == 1 && !chain[0]) n = 0; /* JUDGE(..., NULL): no certificate on the wire (TLS 1.3) */
    for (int i = 0; i < n; i++)
        hs.chain[i] = chain[i];
    hs.nchain = (uint8_t)n;
    hs.cert_seen = n > 0;
    hs.established = true;
    hs.ts_us = (uint64_t)(o->at ? o->at : T0) * 1000000u;
    cap_flow f;
    memset(&f, 0, sizeof f);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc0\x00\x02\x01", 4); /* client 192.0.2.1 */
    memcpy(f.key.addr[1], "\xc6\x33\x64\x0a", 4); /* server 198.51.100.10 */
    f.key.port[0] = 40000;
    f.key.port[1] = 443;
    nids = 0;
    g_verdict.n = 0;
    rule_judge_verdict(re, &hs, &f, 0, hs.ts_us, collect, NULL, &g_verdict);
    qsort(ids, (size_t)nids, sizeof ids[0], cmp_str);
    got[0] = '\0';
    size_t off = 0;
    for (int i = 0; i < nids; i++) {
        int w = snprintf(got + off, sizeof got - off, "%s%s", i ? "," : "", ids[i]);
        if (w > 0) off += (size_t)w;
    }
    return got;
}

static rule_engine *engine(pol_policy *p, const char *yaml) {
    char err[512] = "";
    pol_policy_init(p);
    if (!pol_load_string(p, "test.yaml", yaml, strlen(yaml), err, sizeof err)) {
        fprintf(stderr, "policy: %s\n", err);
        exit(2);
    }
    rule_engine *re = rule_engine_new(p, err, sizeof err);
    if (!re) {
        fprintf(stderr, "engine: %s\n", err);
        exit(2);
    }
    return re;
}

static char *b64_of(const uint8_t *d, size_t n) {
    char *s = malloc(MW_B64_LEN(n));
    mw_b64(s, d, n);
    return s;
}

static void write_log_list(void) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k_logA, &der);
    uint8_t id[32];
    mw_sha256(der, (size_t)n, id);
    char *key = b64_of(der, (size_t)n), *idb = b64_of(id, 32);
    OPENSSL_free(der);
    char p[1200];
    snprintf(p, sizeof p, "%s/log_list.json", dir);
    FILE *fp = fopen(p, "w");
    fprintf(fp,
            "{\"version\":\"1.0\",\"log_list_timestamp\":\"2026-06-01T00:00:00Z\",\"operators\":"
            "[{\"name\":\"Test Operator\",\"email\":[\"ct@example.test\"],\"logs\":[{"
            "\"description\":\"Test Log A $HOME #1\",\"log_id\":\"%s\",\"key\":\"%s\","
            "\"url\":\"https://ct.example.test/a/\",\"mmd\":86400,"
            "\"state\":{\"usable\":{\"timestamp\":\"2026-01-01T00:00:00Z\"}}}]}]}\n",
            idb, key);
    fclose(fp);
    free(key);
    free(idb);
}

#define JUDGE(re, want, o, ...)                                                                    \
    do {                                                                                           \
        x509_info *ch_[] = {__VA_ARGS__};                                                          \
        hs_opts o_ = o;                                                                            \
        CHECK_STR(judge(re, ch_, (int)(sizeof ch_ / sizeof ch_[0]), &o_), want);                   \
    } while (0)

#define AT(sni_) ((hs_opts){.sni = sni_})

/* tls.starttls_missing from the plaintext facts of a flow's end. */
static char plain_event[4096];
static int nplain;

static void collect_plain(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                          void *user) {
    (void)user;
    CHECK(hs == NULL);
    nplain++;
    ev_ctx ctx = {.observer = "unit"};
    CHECK(ev_alert_verdict_build(&evbuf, &ctx, a, hs, f, cs, a->ts_us, NULL));
    snprintf(plain_event, sizeof plain_event, "%.*s", (int)evbuf.len, (const char *)evbuf.data);
}

static int plain(rule_engine *re, const an_plain *pl, uint16_t port) {
    cap_flow f;
    memset(&f, 0, sizeof f);
    f.key.ip_ver = 4;
    memcpy(f.key.addr[0], "\xc6\x33\x64\x0a", 4); /* server 198.51.100.10, on side 0 */
    memcpy(f.key.addr[1], "\xc0\x00\x02\x01", 4); /* client 192.0.2.1 */
    f.key.port[0] = port;
    f.key.port[1] = 40001;
    f.client_side = 1;
    nplain = 0;
    plain_event[0] = '\0';
    rule_judge_plaintext(re, pl, &f, 1, collect_plain, NULL);
    return nplain;
}

static void test_plaintext(void) {
    pol_policy p;
    const char *yaml = "services:\n"
                       "  - name: xmpp.example.test\n    ips: [198.51.100.10]\n"
                       "    ports: [5222]\n    starttls: xmpp\n"
                       "  - name: mx.example.test\n    ports: [25]\n    starttls: smtp\n"
                       "  - name: lmtp.example.test\n    ports: [24]\n    starttls: lmtp\n"
                       "  - name: www.example.test\n    ports: [80]\n"
                       "  - name: news.example.test\n    starttls: xmpp\n"
                       "alerts:\n  suppress_window: 0\n";
    rule_engine *re = engine(&p, yaml);
    an_plain xmpp = {.protocol = "xmpp",
                     .network_protocol = "xmpp",
                     .offer_visible = true,
                     .offered = true,
                     .session_cmds = 1,
                     .ts_us = (uint64_t)T0 * 1000000u};
    CHECK_EQ_U(plain(re, &xmpp, 5222), 1);
    CHECK_STR(plain_event,
              "{\"@timestamp\":\"2026-06-15T12:00:00.000000Z\",\"ecs\":{\"version\":\"8.11.0\"},"
              "\"event\":{\"kind\":\"alert\","
              "\"category\":[\"network\"],\"type\":[\"indicator\"],\"dataset\":\"mitmwatch.alert\","
              "\"severity\":3},\"observer\":{\"name\":\"unit\"},"
              "\"rule\":{\"id\":\"tls.starttls_missing\",\"name\":\"Session without STARTTLS\"},"
              "\"message\":\"The XMPP session to xmpp.example.test (198.51.100.10:5222) ended "
              "without TLS: the client never sent STARTTLS although the server offered it; 1 "
              "client command went out in plaintext.\",\"source\":{\"ip\":\"192.0.2.1\","
              "\"port\":40001},\"destination\":{\"ip\":\"198.51.100.10\",\"port\":5222},"
              "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\",\"protocol\":\"xmpp\","
              "\"community_id\":\"1:eEkRTzyzAYYQURpxcK3/+V0Sp4M=\",\"ttl\":0},"
              "\"mitmwatch\":{"
              "\"expected\":{\"starttls\":\"xmpp\",\"tls\":true},\"observed\":{\"protocol\":"
              "\"xmpp\",\"tls\":false,\"server_offered\":true,\"client_requested\":false,"
              "\"server_refused\":false,\"plaintext_commands\":1},\"service\":"
              "\"xmpp.example.test\"}}");
    /* a health check (greeting, features, goodbye): nothing to protect, no alert */
    an_plain check = xmpp;
    check.session_cmds = 0;
    CHECK_EQ_U(plain(re, &check, 5222), 0);
    /* another port of the host, another protocol on the service's port: not the service */
    CHECK_EQ_U(plain(re, &xmpp, 5269), 0);
    an_plain smtp = {.protocol = "smtp",
                     .network_protocol = "smtp",
                     .offer_visible = true,
                     .session_cmds = 3,
                     .ts_us = (uint64_t)T0 * 1000000u};
    CHECK_EQ_U(plain(re, &smtp, 5222), 0);
    /* SMTP without an offer (stripped from the EHLO answer), refused, stripped after 220 */
    CHECK_EQ_U(plain(re, &smtp, 25), 1);
    CHECK(strstr(plain_event, "\"message\":\"The SMTP session to mx.example.test "
                              "(198.51.100.10:25) ended without TLS: the server never offered "
                              "STARTTLS (an interception box may have removed the offer); 3 "
                              "client commands went out in plaintext.\"") != NULL);
    an_plain refused = smtp;
    refused.offered = refused.requested = refused.refused = true;
    refused.session_cmds = 0;
    CHECK_EQ_U(plain(re, &refused, 25), 1);
    CHECK(strstr(plain_event, "ended without TLS: the server refused STARTTLS.\"") != NULL);
    an_plain stripped = refused;
    stripped.refused = false;
    stripped.stripped = true;
    CHECK_EQ_U(plain(re, &stripped, 25), 1);
    CHECK(strstr(plain_event, "\"observed\":{\"protocol\":\"smtp\",\"tls\":false,"
                              "\"server_offered\":true,\"client_requested\":true,"
                              "\"server_refused\":false,\"tls_after_agreement\":false,"
                              "\"plaintext_commands\":0}") != NULL);
    /* LMTP is followed as SMTP; a service without starttls, or with neither IPs nor ports,
     * is never matched by a plaintext flow */
    CHECK_EQ_U(plain(re, &smtp, 24), 1);
    CHECK_EQ_U(plain(re, &smtp, 80), 0);
    CHECK_EQ_U(plain(re, &xmpp, 5223), 0);
    /* the same key is the default STARTTLS of `check` and cert probes of the service */
    const pol_service *sv = pol_starttls_service(&p, "xmpp.example.test", 0);
    CHECK_STR(sv ? sv->label : "(none)", "xmpp.example.test");
    CHECK_EQ_U(sv ? sv->ports[0] : 0, 5222);
    CHECK(pol_starttls_service(&p, "XMPP.example.test.", 5222) == sv);
    CHECK(pol_starttls_service(&p, "xmpp.example.test", 5223) == NULL); /* not its port */
    CHECK(pol_starttls_service(&p, "www.example.test", 0) == NULL);     /* no starttls */
    sv = pol_starttls_service(&p, "mx.example.test", 0);
    CHECK_STR(sv ? sv->starttls : "(none)", "smtp");
    rule_engine_free(re);
    pol_policy_free(&p);
}

/* Writes a state file by hand: {v: version, services: [one service of `fields` fields for
 * 198.51.100.10:443]}, the ninth field (format 2) the learned TLS version. */
static void write_state(const char *path, int version, int fields, uint16_t tls_best) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, version >= 2 ? 3 : 2);
    if (version >= 2) { /* the format key came with version 2 */
        msgpack_pack_str_with_body(&pk, "format", 6);
        msgpack_pack_str_with_body(&pk, "mitmwatch-state", 15);
    }
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int(&pk, version);
    msgpack_pack_str_with_body(&pk, "services", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, (size_t)fields);
    uint8_t ip[16] = {198, 51, 100, 10};
    msgpack_pack_bin_with_body(&pk, ip, 16);
    msgpack_pack_uint8(&pk, 4);
    msgpack_pack_uint16(&pk, 443);
    msgpack_pack_uint32(&pk, 12);
    msgpack_pack_bin_with_body(&pk, "\x02", 1);
    msgpack_pack_bin_with_body(&pk, "\x02", 1);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_array(&pk, 0);
    if (fields == 9) msgpack_pack_uint16(&pk, tls_best);
    FILE *fp = fopen(path, "wb");
    CHECK(fp && fwrite(sb.data, 1, sb.size, fp) == sb.size);
    if (fp) fclose(fp);
    msgpack_sbuffer_destroy(&sb);
}

/* tls.version_downgrade across a restart: the version learned before is in the state file. */
static void test_version_state(void) {
    char yaml[512], err[512] = "", path[1200], want[1400];
    snprintf(yaml, sizeof yaml, "trust:\n  ca_files: [%s/anchors.pem]\n", dir);
    snprintf(path, sizeof path, "%s/state.mp", dir);
    const hs_opts v13 = {.sni = "www.example.test", .version = 0x0304, .offered = 0x0304};
    const hs_opts v12 = {.sni = "www.example.test", .version = 0x0303, .offered = 0x0304};
    const char *down = "www.example.test (198.51.100.10:443) negotiated TLS 1.2 although the "
                       "client offered TLS 1.3 and this server used TLS 1.3 before: a "
                       "downgrade, or another server answering.";
    bl_cfg cfg = {0};
    pol_policy p;

    /* run 1 learns TLS 1.3 and saves */
    bl_state *b = bl_new(&cfg);
    rule_engine *re = engine(&p, yaml);
    rule_engine_set_baselines(re, b);
    JUDGE(re, "", v13, NULL);
    CHECK(bl_save(b, path, err, sizeof err));
    rule_engine_free(re);
    pol_policy_free(&p);
    bl_free(b);

    /* run 2 loads it: the first TLS 1.2 answer to a TLS 1.3 client is a downgrade */
    b = bl_new(&cfg);
    CHECK(bl_load(b, path, err, sizeof err));
    re = engine(&p, yaml);
    rule_engine_set_baselines(re, b);
    JUDGE(re, "tls.version_downgrade", v12, NULL);
    CHECK_STR(msg_of("tls.version_downgrade"), down);
    rule_engine_free(re);
    pol_policy_free(&p);
    bl_free(b);

    /* without the state file the same handshake is the first one seen: nothing to compare */
    b = bl_new(&cfg);
    re = engine(&p, yaml);
    rule_engine_set_baselines(re, b);
    JUDGE(re, "", v12, NULL);
    rule_engine_free(re);
    pol_policy_free(&p);
    bl_free(b);

    /* format 2 written by hand with TLS 1.3 learned: the same alert */
    write_state(path, 2, 9, 0x0304);
    b = bl_new(&cfg);
    CHECK(bl_load(b, path, err, sizeof err));
    re = engine(&p, yaml);
    rule_engine_set_baselines(re, b);
    JUDGE(re, "tls.version_downgrade", v12, NULL);
    CHECK_STR(msg_of("tls.version_downgrade"), down);
    rule_engine_free(re);
    pol_policy_free(&p);
    bl_free(b);

    /* format 1 (before TLS versions were kept) still loads, with no version learned */
    write_state(path, 1, 8, 0);
    b = bl_new(&cfg);
    CHECK(bl_load(b, path, err, sizeof err));
    re = engine(&p, yaml);
    rule_engine_set_baselines(re, b);
    JUDGE(re, "", v12, NULL);
    JUDGE(re, "", v13, NULL);
    JUDGE(re, "tls.version_downgrade", v12, NULL); /* learned again from then on */
    rule_engine_free(re);
    pol_policy_free(&p);
    bl_free(b);

    /* a newer format, a format 2 file with format 1 services, and a foreign file: refused */
    write_state(path, 3, 9, 0x0304);
    b = bl_new(&cfg);
    CHECK(!bl_load(b, path, err, sizeof err));
    snprintf(want, sizeof want, "state file %s: version 3; this mitmwatch reads versions 1 to 2",
             path);
    CHECK_STR(err, want);
    bl_free(b);
    write_state(path, 2, 8, 0);
    b = bl_new(&cfg);
    CHECK(!bl_load(b, path, err, sizeof err));
    snprintf(want, sizeof want, "state file %s: malformed entry services[0]", path);
    CHECK_STR(err, want);
    bl_free(b);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs("{\"v\": 2}\n", fp);
        fclose(fp);
    }
    b = bl_new(&cfg);
    CHECK(!bl_load(b, path, err, sizeof err));
    snprintf(want, sizeof want, "state file %s: not a mitmwatch state file (not a msgpack map)",
             path);
    CHECK_STR(err, want);
    bl_free(b);
}

/* cert.issuance_odd, renewal overlap: xmpp.example.test renewed every 60 days with 90-day
 * certificates, i.e. 30 days before the previous one expires (once 31: a day late), plus an
 * ECDSA twin issued two hours after one of them (one renewal, not two). */
static void test_overlap(void) {
    const enum sct_kind A[] = {SCT_VALID_A};
    const char *xmpp = "DNS:xmpp.example.test";
#define XLEAF(nb, key)                                                                             \
    finish(mk("xmpp.example.test", NULL, xmpp, inter, key, nb, (nb) + 90 * DAY, false), inter,     \
           k_inter, A, 1, (uint64_t)((nb) + 60) * 1000u, NULL)
    X509 *known[5] = {XLEAF(AT03(250), k_leaf), XLEAF(AT03(190), k_leaf), XLEAF(AT03(130), k_leaf),
                      XLEAF(AT03(71), k_leaf), XLEAF(AT03(71) + 2 * 3600, k_other)};
    mkdirs("known_xmpp/xmpp.example.test");
    for (int i = 0; i < 5; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "known_xmpp/xmpp.example.test/cert%d.pem", i + 1);
        write_pem(rel, known[i], NULL);
    }
    /* the previous certificate (AT03(71)) expires on day +19: the next is due on day -11 */
    X509 *clean = XLEAF(AT03(11), k_other), *early = XLEAF(AT03(52), k_other),
         *late = XLEAF(AT03(-22), k_other);
#undef XLEAF
    x509_info *i_clean = info(clean), *i_early = info(early), *i_late = info(late),
              *i_inter = info(inter);
    char yaml[2048];
#define XPOLICY(extra)                                                                             \
    snprintf(yaml, sizeof yaml,                                                                    \
             "services:\n  - name: xmpp.example.test\n"                                            \
             "expect_issuers:\n  - ca: Test ACME\nknown_certs: %s/known_xmpp\n"                    \
             "trust:\n  ca_files: %s/anchors.pem\nct:\n  log_list: %s/log_list.json\n"             \
             "alerts:\n  suppress_window: 0\n%s",                                                  \
             dir, dir, dir, extra)
    pol_policy p;
    XPOLICY("");
    rule_engine *re = engine(&p, yaml);
    CHECK_EQ_U(p.issuance_min_renewals, 3);
    CHECK_EQ_U(p.issuance_overlap_tolerance, 5 * DAY);
    const hs_opts X = AT("xmpp.example.test");
    /* clean renewal: 30 days before the previous one expires, as usual */
    JUDGE(re, "cert.unknown", X, i_clean, i_inter);
    /* early: 71 days before (the twin, the last of that renewal to expire, counts) */
    JUDGE(re, "cert.issuance_odd,cert.unknown", X, i_early, i_inter);
    CHECK_STR(msg_of("cert.issuance_odd"),
              "The certificate for xmpp.example.test (notBefore 2026-04-24T03:00:00Z) was issued "
              "71 days before the previous certificate expires; this name usually renews 30±1 "
              "days before (3 known renewals).");
    CHECK_STR(exp_of("cert.issuance_odd"),
              "{\"samples\":5,\"hours_utc\":[3,5],\"weekdays\":[\"Sun\",\"Wed\",\"Thu\"],"
              "\"lifetime_days\":[90],\"renewals\":3,\"overlap_days\":30,"
              "\"overlap_spread_days\":1,\"overlap_tolerance_days\":5}");
    CHECK_STR(obs_of("cert.issuance_odd"),
              "{\"hour_utc\":3,\"weekday\":\"Fri\",\"lifetime_days\":90,\"overlap_days\":71,"
              "\"previous_not_after\":\"2026-07-04T05:00:00Z\",\"odd\":[\"overlap\"]}");
    /* late: 3 days after the previous one expired (seen a month later) */
    JUDGE(re, "cert.issuance_odd,cert.unknown",
          ((hs_opts){.sni = "xmpp.example.test", .at = T0 + 30 * DAY}), i_late, i_inter);
    CHECK_STR(msg_of("cert.issuance_odd"),
              "The certificate for xmpp.example.test (notBefore 2026-07-07T03:00:00Z) was issued "
              "3 days after the previous certificate expired; this name usually renews 30±1 "
              "days before (3 known renewals).");
    rule_engine_free(re);
    pol_policy_free(&p);

    /* too little history: 3 renewals known, 4 asked for: no overlap judgement */
    XPOLICY("issuance:\n  min_renewals: 4\n  overlap_tolerance: 2d\n");
    re = engine(&p, yaml);
    CHECK_EQ_U(p.issuance_overlap_tolerance, 2 * DAY);
    JUDGE(re, "cert.unknown", X, i_early, i_inter);
    rule_engine_free(re);
    pol_policy_free(&p);
    /* a tighter tolerance than the history's own spread: no cadence, no judgement */
    XPOLICY("issuance:\n  overlap_tolerance: 12h\n");
#undef XPOLICY
    re = engine(&p, yaml);
    JUDGE(re, "cert.unknown", X, i_early, i_inter);
    rule_engine_free(re);
    pol_policy_free(&p);

    /* the tolerance is validated with its line */
    char err[512] = "";
    pol_policy_init(&p);
    const char *bad = "issuance:\n  min_renewals: 2\n  overlap_tolerance: 30m\n";
    CHECK(!pol_load_string(&p, "bad.yaml", bad, strlen(bad), err, sizeof err));
    CHECK_STR(err, "bad.yaml:3: key 'overlap_tolerance': expected a duration from 1h to 60d");
    pol_policy_free(&p);

    x509_info *is[] = {i_clean, i_early, i_late, i_inter};
    for (size_t i = 0; i < sizeof is / sizeof is[0]; i++)
        x509_info_free(is[i]);
    X509 *xs[] = {known[0], known[1], known[2], known[3], known[4], clean, early, late};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        X509_free(xs[i]);
}

/* The baselines' alerts share the verdicts' suppression: one per key and window. */
static void test_suppress_entry(void) {
    pol_policy p;
    rule_engine *re = engine(&p, "version: 1\n");
    uint64_t prior = 9, t0 = (uint64_t)T0 * 1000000u, s1 = 1000000u;
    CHECK(rule_engine_suppress(re, "path.ttl_changed", "k 1", t0, &prior));
    CHECK_EQ_U(prior, 0);
    CHECK(!rule_engine_suppress(re, "path.ttl_changed", "k 1", t0 + 5 * s1, &prior));
    CHECK(rule_engine_suppress(re, "path.ttl_changed", "k 2", t0 + 5 * s1, &prior));
    CHECK(!rule_engine_suppress(re, "path.ttl_changed", "k 1", t0 + 3599 * s1, &prior));
    CHECK(rule_engine_suppress(re, "path.ttl_changed", "k 1", t0 + 3600 * s1, &prior));
    CHECK_EQ_U(prior, 2);
    CHECK_EQ_U(rule_engine_stats(re)->suppressed, 2);
    CHECK_EQ_U(rule_engine_stats(re)->alerts, 3);
    rule_engine_free(re);
    pol_policy_free(&p);
}

/* Duplicate suppression's bounded table (3 keys, 10 s window): full, a new key takes the slot of
 * the key alerted longest ago when its window is over (expired), else of the key used least
 * recently (evicted, and alerted again when it comes back). */
static bool sup(rule_suppress *s, const char *key, double t, uint64_t *prior) {
    return rule_suppress_pass(s, 10, "r", key, NULL, (uint64_t)(t * 1e6), prior);
}

static void suppress_table_tests(void) {
    rule_suppress *s = rule_suppress_new(3);
    uint64_t prior;
    CHECK(s != NULL);
    CHECK(sup(s, "A", 0, &prior) && sup(s, "B", 0, &prior) && sup(s, "C", 0, &prior));
    CHECK(!sup(s, "A", 1, &prior)); /* use order A C B */
    CHECK(sup(s, "D", 2, &prior));  /* A's window runs: B, used least recently, goes */
    CHECK_EQ_U(rule_suppress_counts_get(s)->evicted, 1);
    CHECK(sup(s, "B", 3, &prior) && prior == 0); /* forgotten: alerted again; C goes */
    CHECK_EQ_U(rule_suppress_counts_get(s)->evicted, 2);
    CHECK(!sup(s, "A", 4, &prior)); /* A still held, its window still running */
    CHECK(!sup(s, "D", 11.5, &prior));
    CHECK(sup(s, "D", 12, &prior) && prior == 1); /* D's window over: D alerts again */
    CHECK(sup(s, "E", 12.5, &prior));             /* A (alerted at 0) expired: it goes */
    CHECK_EQ_U(rule_suppress_counts_get(s)->expired, 1);
    CHECK(sup(s, "A", 13, &prior) && prior == 0); /* B (alerted at 3) expired: it goes */
    CHECK_EQ_U(rule_suppress_counts_get(s)->expired, 2);
    CHECK_EQ_U(rule_suppress_counts_get(s)->evicted, 2);
    CHECK_EQ_U(rule_suppress_keys(s), 3);
    CHECK(!sup(s, "E", 14, &prior) && !sup(s, "A", 14, &prior) && !sup(s, "D", 14, &prior));
    /* 100,000 distinct keys through 3 slots: bounded, every one counted */
    for (int i = 0; i < 100000; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK(sup(s, k, 20, &prior));
    }
    CHECK_EQ_U(rule_suppress_keys(s), 3);
    CHECK_EQ_U(rule_suppress_counts_get(s)->expired + rule_suppress_counts_get(s)->evicted,
               2 + 2 + 100000);
    rule_suppress_free(s);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    CHECK(mw_hash_init());
    mw_buf_init(&evbuf, 1 << 20);
    test_suppress_entry();
    suppress_table_tests();
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 2;
    mkdirs("");

    k_root = ec_key();
    k_inter = ec_key();
    k_rogue = ec_key();
    k_leaf = ec_key();
    k_other = ec_key();
    k_logA = ec_key();
    k_logB = ec_key();
    const int64_t Y = 365 * DAY;
    root = mk("Test ACME Root X1", "Test ACME", NULL, NULL, k_root, T0 - 5 * Y, T0 + 5 * Y, true);
    X509_sign(root, k_root, EVP_sha256());
    inter = mk("Test ACME R1", "Test ACME", NULL, root, k_inter, T0 - 2 * Y, T0 + 2 * Y, true);
    X509_sign(inter, k_root, EVP_sha256());
    rogue = mk("Rogue Root", "Rogue Trust", NULL, NULL, k_rogue, T0 - Y, T0 + Y, true);
    X509_sign(rogue, k_rogue, EVP_sha256());

    const char *www = "DNS:www.example.test";
    const enum sct_kind A[] = {SCT_VALID_A}, AT2[] = {SCT_VALID_A, SCT_TAMPERED_A},
                        B[] = {SCT_VALID_B};
#define LEAF(days, life, key)                                                                      \
    mk("www.example.test", NULL, www, inter, key, AT03(days), AT03(days) + (life)*DAY, false)
#define SCTMS(days) ((uint64_t)(AT03(days) + 60) * 1000u)
    X509 *good = finish(LEAF(10, 90, k_leaf), inter, k_inter, A, 1, SCTMS(10), NULL);
    X509 *known2 = finish(LEAF(70, 90, k_leaf), inter, k_inter, A, 1, SCTMS(70), NULL);
    X509 *known3 = finish(LEAF(130, 90, k_leaf), inter, k_inter, A, 1, SCTMS(130), NULL);
    X509 *mitm = finish(LEAF(2, 90, k_other), inter, k_inter, A, 1, SCTMS(2), NULL);
    X509 *odd = mk("www.example.test", NULL, www, inter, k_other, T0 - DAY + 3 * 3600,
                   T0 - DAY + 3 * 3600 + 365 * DAY, false); /* 15:00, one year */
    odd = finish(odd, inter, k_inter, A, 1, (uint64_t)(T0 - DAY + 3 * 3600 + 60) * 1000u, NULL);
    X509 *pre = NULL;
    X509 *fin = finish(LEAF(20, 90, k_leaf), inter, k_inter, A, 1, SCTMS(20), &pre);
    X509 *expired = finish(LEAF(200, 90, k_leaf), inter, k_inter, A, 1, SCTMS(200), NULL);
    X509 *future = finish(LEAF(-5, 90, k_leaf), inter, k_inter, A, 1, SCTMS(1), NULL);
    X509 *self =
        mk("www.example.test", NULL, www, NULL, k_other, AT03(2), AT03(2) + 90 * DAY, false);
    X509_sign(self, k_other, EVP_sha256());
    X509 *wrong = mk("other.example.test", NULL, "DNS:other.example.test", inter, k_leaf, AT03(60),
                     AT03(60) + 90 * DAY, false);
    wrong = finish(wrong, inter, k_inter, A, 1, SCTMS(60), NULL);
    X509 *rogue_leaf =
        mk("www.example.test", NULL, www, rogue, k_other, AT03(2), AT03(2) + 90 * DAY, false);
    X509_sign(rogue_leaf, k_rogue, EVP_sha256());
    X509 *tamper = finish(LEAF(30, 90, k_leaf), inter, k_inter, AT2, 2, SCTMS(30), NULL);
    X509 *unklog = finish(LEAF(40, 90, k_leaf), inter, k_inter, B, 1, SCTMS(40), NULL);
    X509 *nosct = finish(LEAF(50, 90, k_leaf), inter, k_inter, NULL, 0, 0, NULL);

    /* the known store, as the ACME clients lay it out */
    mkdirs("known/letsencrypt/live/www.example.test");
    mkdirs("known/letsencrypt/archive/www.example.test");
    write_pem("known/letsencrypt/live/www.example.test/cert.pem", good, NULL);
    write_pem("known/letsencrypt/live/www.example.test/chain.pem", inter, NULL);
    write_pem("known/letsencrypt/live/www.example.test/fullchain.pem", good, inter);
    {
        char p[1200];
        snprintf(p, sizeof p, "%s/known/letsencrypt/live/www.example.test/privkey.pem", dir);
        FILE *fp = fopen(p, "w");
        PEM_write_PrivateKey(fp, k_leaf, NULL, NULL, 0, NULL, NULL);
        fclose(fp);
    }
    write_pem("known/letsencrypt/archive/www.example.test/cert1.pem", good, NULL);
    write_pem("known/letsencrypt/archive/www.example.test/cert2.pem", known2, NULL);
    write_pem("known/letsencrypt/archive/www.example.test/cert3.pem", known3, NULL);
    mkdirs("known/acme.sh/www.example.test");
    write_pem("known/acme.sh/www.example.test/www.example.test.cer", expired, NULL);
    write_pem("known/acme.sh/www.example.test/ca.cer", inter, NULL);
    mkdirs("known/.lego/certificates");
    write_pem("known/.lego/certificates/www.example.test.crt", future, inter);
    mkdirs("known/dehydrated/certs/other.example.test");
    write_pem("known/dehydrated/certs/other.example.test/cert-1781000000.pem", wrong, NULL);
    mkdirs("known/misc");
    write_der("known/misc/precert.der", pre);
    write_pem("known/misc/tamper.pem", tamper, NULL);
    write_pem("known/misc/unklog.pem", unklog, NULL);
    write_pem("known/misc/nosct.pem", nosct, NULL);
    {
        char p[1200], t[1200];
        snprintf(p, sizeof p, "%s/known/misc/loop", dir);
        snprintf(t, sizeof t, "%s/known", dir);
        CHECK(symlink(t, p) == 0); /* a symlink loop must not hang the walk */
    }
    write_pem("anchors.pem", root, NULL);
    write_log_list();

    /* store counts: 11 distinct certificates (one a precertificate, one the intermediate), 5
     * repeats (certbot's live/archive/fullchain, acme.sh ca.cer, lego's bundle), 14 files
     * read; privkey.pem is never opened */
    char known_dir[1100], err[256];
    snprintf(known_dir, sizeof known_dir, "%s/known", dir);
    char *dirs[] = {known_dir};
    store_known *sk = store_known_load(dirs, 1, err, sizeof err);
    CHECK(sk != NULL);
    if (sk) {
        const store_stats *ss = store_known_stats(sk);
        CHECK_EQ_U(ss->certs, 11);
        CHECK_EQ_U(ss->duplicates, 5);
        CHECK_EQ_U(ss->files_read, 14);
        CHECK_EQ_U(ss->unparsable, 0);
        CHECK_EQ_U(sk_X509_num(store_known_cas(sk)), 1);
        size_t nl;
        store_known_certs(sk, &nl);
        CHECK_EQ_U(nl, 10);
        x509_info *g = info(good), *f = info(fin), *m = info(mitm);
        CHECK_EQ_U(store_known_lookup(sk, g->sha256, g->tbs_sha256), 1);
        CHECK_EQ_U(store_known_lookup(sk, f->sha256, f->tbs_sha256), 2); /* via the precert */
        CHECK_EQ_U(store_known_lookup(sk, m->sha256, m->tbs_sha256), 0);
        x509_info_free(g);
        x509_info_free(f);
        x509_info_free(m);
        store_known_free(sk);
    }
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/absent", dir);
    char *bdirs[] = {bad};
    CHECK(store_known_load(bdirs, 1, err, sizeof err) == NULL);
    char want_err[1400];
    snprintf(want_err, sizeof want_err, "known certificates %s: No such file or directory", bad);
    CHECK_STR(err, want_err);

    /* the log list: JSON converted for OpenSSL's CTLOG_STORE; "$" and "#" made harmless */
    {
        char p[1200];
        snprintf(p, sizeof p, "%s/log_list.json", dir);
        rule_ctlogs *l = rule_ctlogs_load(p, err, sizeof err);
        CHECK(l != NULL);
        CHECK_EQ_U(rule_ctlogs_count(l), 1);
        uint8_t id[32];
        spki_hash(k_logA, id);
        CHECK_STR(rule_ctlogs_operator(l, id, 32), "Test Operator");
        rule_ctlogs_free(l);
        mw_buf conf;
        mw_buf_init(&conf, 1 << 16);
        const char *js = "{\"operators\":[{\"name\":\"Op\",\"logs\":[{\"description\":\"L $x #y\","
                         "\"key\":\"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAA\"}]}]}";
        CHECK(!rule_ct_convert(js, strlen(js), &conf, err, sizeof err));
        CHECK_STR(err, "log \"L $x #y\": key is not a DER SubjectPublicKeyInfo");
        mw_buf_free(&conf);
    }

    x509_info *i_good = info(good), *i_inter = info(inter), *i_mitm = info(mitm),
              *i_odd = info(odd), *i_fin = info(fin), *i_expired = info(expired),
              *i_future = info(future), *i_self = info(self), *i_wrong = info(wrong),
              *i_rogue_leaf = info(rogue_leaf), *i_rogue = info(rogue), *i_tamper = info(tamper),
              *i_unklog = info(unklog), *i_nosct = info(nosct);

    char yaml[4096];
    pol_policy p1;
    snprintf(yaml, sizeof yaml,
             "services:\n  - name: www.example.test\n  - name: mail.example.test\n"
             "    ips: [198.51.100.10]\n"
             "expect_issuers:\n  - ca: Test ACME\nknown_certs: %s/known\n"
             "trust:\n  ca_files: %s/anchors.pem\nct:\n  log_list: %s/log_list.json\n"
             "  min_scts: 1\n" /* explicit: a private CA needs none by default */
             "alerts:\n  suppress_window: 0\n",
             dir, dir, dir);
    rule_engine *re = engine(&p1, yaml);
    const hs_opts W = AT("www.example.test");

    /* clean: right name, right CA, known, valid SCT: nothing */
    JUDGE(re, "", W, i_good, i_inter);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_good->scts, 0)), "valid");
    /* the jabber.ru case: right name, right CA, valid SCT, same cadence, not ours */
    JUDGE(re, "cert.unknown", W, i_mitm, i_inter);
    /* precertificate in the store, final certificate on the wire */
    JUDGE(re, "", W, i_fin, i_inter);
    /* issued at another hour with another lifetime than the known ones */
    JUDGE(re, "cert.issuance_odd,cert.unknown", W, i_odd, i_inter);
    CHECK_STR(msg_of("cert.issuance_odd"),
              "The certificate for www.example.test was issued 2026-06-14T15:00:00Z (Sun, "
              "365-day lifetime), unlike the 9 known certificates for that name (another hour of "
              "the day, another lifetime).");
    {
        char h[65], want[400];
        mw_hex(h, i_odd->sha256, 32);
        snprintf(want, sizeof want,
                 "The certificate with SHA-256 %s presented for www.example.test (issued by "
                 "CN=Test ACME R1,O=Test ACME on 2026-06-14T15:00:00Z) is none of the 9 "
                 "certificates the known store holds for that name (11 in the store): someone "
                 "else obtained or made it.",
                 h);
        CHECK_STR(msg_of("cert.unknown"), want);
    }
    JUDGE(re, "cert.expired", W, i_expired, i_inter);
    CHECK_STR(msg_of("cert.expired"), "The certificate CN=www.example.test presented for "
                                      "www.example.test expired on 2026-02-25T03:00:00Z, 110 days "
                                      "before this connection.");
    JUDGE(re, "cert.not_yet_valid", W, i_future, i_inter);
    JUDGE(re, "cert.issuer_unexpected,cert.self_signed,cert.unknown", W, i_self);
    JUDGE(re, "cert.name_mismatch", W, i_wrong, i_inter);
    JUDGE(re, "cert.chain_invalid,cert.issuer_unexpected,cert.sct_missing,cert.unknown", W,
          i_rogue_leaf, i_rogue);
    JUDGE(re, "cert.sct_invalid", W, i_tamper, i_inter);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_tamper->scts, 0)), "valid");
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_tamper->scts, 1)), "invalid");
    JUDGE(re, "cert.sct_missing", W, i_unklog, i_inter);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_unklog->scts, 0)), "unknown_log");
    JUDGE(re, "cert.sct_missing", W, i_nosct, i_inter);
    /* connection rules */
    JUDGE(re, "tls.weak_or_null_cipher", ((hs_opts){.sni = "www.example.test", .cipher = 0x0005}),
          i_good, i_inter);
    JUDGE(re, "tls.weak_or_null_cipher", ((hs_opts){.sni = "www.example.test", .cipher = 0x0018}),
          i_good, i_inter); /* anonymous DH with RC4 */
    /* not watched: only the policy-free rules */
    JUDGE(re, "cert.name_mismatch", AT("www.elsewhere.test"), i_mitm, i_inter);
    /* no SNI: the service listed with its address; its name is the one checked */
    JUDGE(re, "cert.name_mismatch,cert.unknown", AT(NULL), i_mitm, i_inter);
    /* TLS 1.3: no certificate on the wire, nothing to judge */
    JUDGE(re, "", ((hs_opts){.sni = "www.example.test", .version = 0x0304, .offered = 0x0304}),
          NULL);
    const rule_stats *rs = rule_engine_stats(re);
    CHECK_EQ_U(rs->store_certs, 11);
    CHECK_EQ_U(rs->suppressed, 0);

    /* SIGHUP: the same policy re-read; caches kept */
    CHECK(rule_engine_reload(re, &p1, err, sizeof err));
    JUDGE(re, "cert.unknown", W, i_mitm, i_inter);
    rule_engine_free(re);
    pol_policy_free(&p1);

    /* no policy at all but the anchors and log list (the analyst with one pcap) */
    pol_policy p2;
    snprintf(yaml, sizeof yaml,
             "trust:\n  ca_files: [%s/anchors.pem]\nct:\n  log_list: %s/log_list.json\n", dir, dir);
    re = engine(&p2, yaml);
    /* issuer never seen: the chain fails, and the embedded SCT is unverified, not invalid */
    JUDGE(re, "cert.chain_invalid", W, i_good);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_good->scts, 0)), "unverified");
    /* a failed verdict is remembered too: the same chain again is not re-validated... */
    uint64_t fh0 = rule_engine_stats(re)->chain_cache_hits;
    JUDGE(re, "cert.chain_invalid", ((hs_opts){.sni = "www.example.test", .at = T0 + 7200}),
          i_good);
    CHECK_EQ_U(rule_engine_stats(re)->chain_cache_hits, fh0 + 1);
    JUDGE(re, "", W, i_good, i_inter);
    /* ...until an intermediate it lacked is seen: the intermediate is remembered from the
     * handshake before, and the failure made without it no longer holds */
    uint64_t fh1 = rule_engine_stats(re)->chain_cache_hits;
    JUDGE(re, "", W, i_good);
    CHECK_EQ_U(rule_engine_stats(re)->chain_cache_hits, fh1);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_good->scts, 0)), "valid");
    CHECK_EQ_U(rule_engine_stats(re)->intermediates, 1);
    /* verdict caches: the same chain and SCT again are not recomputed... */
    uint64_t ch0 = rule_engine_stats(re)->chain_cache_hits;
    uint64_t sc0 = rule_engine_stats(re)->sct_cache_hits;
    JUDGE(re, "", W, i_good, i_inter);
    CHECK_EQ_U(rule_engine_stats(re)->chain_cache_hits, ch0 + 1);
    CHECK_EQ_U(rule_engine_stats(re)->sct_cache_hits, sc0 + 1);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_good->scts, 0)), "valid");
    /* ...but neither outlives the times it was made for: before the SCT was issued it is
     * invalid (a log does not sign the future), after the intermediate expired the chain is */
    /* (no min_scts: the chain ends at a private anchor, so no SCT is required) */
    JUDGE(re, "cert.not_yet_valid,cert.sct_invalid",
          ((hs_opts){.sni = "www.example.test", .at = AT03(10) - DAY}), i_good, i_inter);
    JUDGE(re, "", W, i_nosct, i_inter);
    JUDGE(re, "", W, i_unklog, i_inter);
    JUDGE(re, "", W, i_good, i_inter);
    CHECK_STR(rule_sct_status_of(sk_SCT_value(i_good->scts, 0)), "valid");
    JUDGE(re, "cert.chain_invalid,cert.expired",
          ((hs_opts){.sni = "www.example.test", .at = T0 + 3 * Y}), i_good, i_inter);
    JUDGE(re, "", W, i_mitm, i_inter); /* no store: cert.unknown needs one */
    /* learned version: this server did TLS 1.2 with a client offering 1.2 */
    JUDGE(re, "tls.version_downgrade",
          ((hs_opts){.sni = "www.example.test", .version = 0x0302, .offered = 0x0303}), i_good,
          i_inter);
    CHECK_STR(msg_of("tls.version_downgrade"),
              "www.example.test (198.51.100.10:443) negotiated TLS 1.1 although the client "
              "offered TLS 1.2 and this server used TLS 1.2 before: a downgrade, or another "
              "server answering.");
    JUDGE(re, "", ((hs_opts){.sni = "www.example.test", .version = 0x0302, .offered = 0x0302}),
          i_good, i_inter);
    /* suppression: the same (rule, service, certificate) within the hour is counted once */
    JUDGE(re, "cert.self_signed", W, i_self);
    CHECK_STR(verdict_str(), "cert.self_signed");
    uint64_t sh0 = rule_engine_stats(re)->chain_cache_hits;
    JUDGE(re, "", ((hs_opts){.sni = "www.example.test", .at = T0 + 10}), i_self);
    /* the alert was suppressed; the handshake still lists the rule that matched it */
    CHECK_STR(verdict_str(), "cert.self_signed");
    JUDGE(re, "", ((hs_opts){.sni = "www.example.test", .at = T0 + 20}), i_self);
    CHECK_STR(verdict_str(), "cert.self_signed");
    CHECK_EQ_U(rule_engine_stats(re)->suppressed, 2);
    JUDGE(re, "cert.self_signed", ((hs_opts){.sni = "www.example.test", .at = T0 + 3601}), i_self);
    CHECK_EQ_U(last_suppressed, 2);
    /* the self-signed verdict was made once and reused for the three judgements after it, but
     * not past the certificate's end (AT03(2) + 90 days): there it is validated again */
    CHECK_EQ_U(rule_engine_stats(re)->chain_cache_hits, sh0 + 3);
    JUDGE(re, "cert.expired,cert.self_signed",
          ((hs_opts){.sni = "www.example.test", .at = AT03(2) + 90 * DAY + 60}), i_self);
    CHECK_EQ_U(rule_engine_stats(re)->chain_cache_hits, sh0 + 3);
    {
        mw_buf sb;
        mw_json sj;
        mw_buf_init(&sb, 4096);
        mw_json_init(&sj, &sb);
        mw_json_obj_begin(&sj);
        ev_stats_verdicts_json(&sj, rule_engine_stats(re));
        mw_json_obj_end(&sj);
        CHECK(mw_buf_putc(&sb, '\0'));
        CHECK(strstr((const char *)sb.data, "\"suppressed\":2,\"store_certs\":0,"
                                            "\"intermediates\":1,") != NULL);
        mw_buf_free(&sb);
        uint8_t lid[32];
        spki_hash(k_logA, lid);
        CHECK_STR(rule_engine_log_name(lid, 32, re), "Test Log A $HOME #1");
        spki_hash(k_logB, lid);
        CHECK(rule_engine_log_name(lid, 32, re) == NULL);
    }
    rule_engine_free(re);
    pol_policy_free(&p2);

    /* pins and issuers by SPKI and by DN; a policy TLS minimum; min_scts 0 */
    uint8_t sp[32];
    char leafpin[65], interpin[65];
    spki_hash(k_leaf, sp);
    mw_hex(leafpin, sp, 32);
    spki_hash(k_inter, sp);
    mw_hex(interpin, sp, 32);
    pol_policy p3;
    snprintf(yaml, sizeof yaml,
             "services:\n  - name: www.example.test\n    pins: [%s]\n"
             "    expect_issuers:\n      - spki_sha256: %s\n"
             "  - name: .example.org\n    pins: [%s]\n"
             "    expect_issuers: [\"O=Test ACME, CN=Test ACME R1\"]\n"
             "trust:\n  ca_files: %s/anchors.pem\nct:\n  min_scts: 0\n"
             "alerts:\n  suppress_window: 0\n  min_tls_version: \"1.2\"\n",
             leafpin, interpin, interpin, dir);
    re = engine(&p3, yaml);
    JUDGE(re, "", W, i_good, i_inter);
    JUDGE(re, "cert.spki_unpinned", W, i_mitm, i_inter);
    JUDGE(re, "cert.chain_invalid,cert.issuer_unexpected,cert.spki_unpinned", W, i_rogue_leaf,
          i_rogue);
    JUDGE(re, "", W, i_nosct, i_inter); /* min_scts 0: no SCT needed */
    JUDGE(re, "tls.version_downgrade",
          ((hs_opts){.sni = "www.example.test", .version = 0x0301, .offered = 0x0303}), i_good,
          i_inter);
    CHECK_STR(msg_of("tls.version_downgrade"),
              "The connection to www.example.test used TLS 1.0, below the minimum TLS 1.2 the "
              "policy sets (the client offered up to 1.2).");
    /* .example.org: the intermediate's key is pinned and its DN expected (other order) */
    JUDGE(re, "cert.name_mismatch", AT("shop.example.org"), i_mitm, i_inter);
    JUDGE(re, "cert.chain_invalid,cert.issuer_unexpected,cert.name_mismatch,cert.spki_unpinned",
          AT("shop.example.org"), i_rogue_leaf, i_rogue);
    rule_engine_free(re);
    pol_policy_free(&p3);

    test_overlap();
    test_version_state();
    test_plaintext();

    /* a bad anchor file and a bad log list fail at start with the file named */
    pol_policy p4;
    pol_policy_init(&p4);
    char pth[1200];
    snprintf(pth, sizeof pth, "%s/known/misc/nosct.pem.absent", dir);
    p4.ct_log_list = strdup(pth);
    /* a missing log list is a warning: the engine runs without it */
    rule_engine *re4 = rule_engine_new(&p4, err, sizeof err);
    CHECK(re4 != NULL);
    snprintf(want_err, sizeof want_err,
             "--ct-log-list %s: No such file or directory: SCTs are not verified (status "
             "unverified) and carry no log names, ct.min_operators is not judged",
             pth);
    if (re4) CHECK_STR(rule_engine_warnings(re4), want_err);
    rule_engine_free(re4);
    /* a log list that is there but bad, and a bad anchor file: every problem at once */
    free(p4.ct_log_list);
    snprintf(pth, sizeof pth, "%s/anchors.pem", dir);
    p4.ct_log_list = strdup(pth);
    p4.ca_files[p4.nca_files++] = strdup("/nonexistent/ca.pem");
    CHECK(rule_engine_new(&p4, err, sizeof err) == NULL);
    snprintf(want_err, sizeof want_err,
             "--ca-file /nonexistent/ca.pem: No such file or directory\n"
             "--ct-log-list %s: OpenSSL cannot load it: log conf invalid",
             pth);
    CHECK_STR(err, want_err);
    pol_policy_free(&p4);

    /* SCTs by default: none for a chain to a private anchor (ca_files), one for a chain to a
     * public anchor (the system store), the policy's min_scts when given */
    pol_policy_init(&p4);
    CHECK_EQ_U(rule_sct_required(&p4, false), 0);
    CHECK_EQ_U(rule_sct_required(&p4, true), 1);
    p4.sct_min_given = true;
    p4.sct_min_count = 2;
    CHECK_EQ_U(rule_sct_required(&p4, false), 2);
    p4.sct_min_count = 0;
    CHECK_EQ_U(rule_sct_required(&p4, true), 0);
    pol_policy_free(&p4);

    x509_info *all[] = {i_good, i_inter, i_mitm,       i_odd,   i_fin,    i_expired, i_future,
                        i_self, i_wrong, i_rogue_leaf, i_rogue, i_tamper, i_unklog,  i_nosct};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        x509_info_free(all[i]);
    X509 *xs[] = {root, inter,   rogue,  good, known2, known3,     mitm,   odd,    pre,
                  fin,  expired, future, self, wrong,  rogue_leaf, tamper, unklog, nosct};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        X509_free(xs[i]);
    EVP_PKEY *ks[] = {k_root, k_inter, k_rogue, k_leaf, k_other, k_logA, k_logB};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        EVP_PKEY_free(ks[i]);
    mw_buf_free(&evbuf);
    mw_hash_cleanup();
    MW_TEST_END();
}
