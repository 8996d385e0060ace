/* mitmwatch check: a Nagios/Icinga plugin (monitoring-plugins guidelines). One status line
 * "MITMWATCH OK|WARNING|CRITICAL|UNKNOWN - ..." with performance data, exit 0/1/2/3.
 *
 * It fetches the served chain (probe cert, STARTTLS where asked), judges it with the same
 * policy engine as passive handshakes (expected issuer, known store, pins, chain at the present
 * time, SCTs, the CT cache), optionally compares the JARM, and checks the days to expiry
 * against -w/-c. Network trouble is UNKNOWN: the check could not see, which is not the same as
 * seeing something wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jarm.h"
#include "mw_hash.h"
#include "pol_cli.h"
#include "pol_config.h"
#include "probe_cert.h"
#include "rule_engine.h"

enum { ST_OK, ST_WARNING, ST_CRITICAL, ST_UNKNOWN };
static const char *const st_name[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

/* Findings that mean "not the certificate you expect": CRITICAL. The rest warn. */
static bool critical_rule(const char *id) {
    static const char *const crit[] = {
        "cert.unknown",     "cert.issuer_unexpected", "cert.spki_unpinned", "cert.expired",
        "cert.not_yet_valid", "cert.name_mismatch",   "cert.self_signed",   "cert.chain_invalid",
        "cert.sct_missing", "cert.sct_invalid",       "cert.not_in_ct"};
    for (size_t i = 0; i < sizeof crit / sizeof crit[0]; i++)
        if (strcmp(crit[i], id) == 0)
            return true;
    return false;
}

typedef struct {
    int state;
    char findings[2048];
    size_t flen;
    unsigned n;
} verdict;

static void add_finding(verdict *v, int state, const char *rule_id, const char *msg) {
    if (state > v->state)
        v->state = state;
    if (v->flen < sizeof v->findings)
        v->flen += (size_t)snprintf(v->findings + v->flen, sizeof v->findings - v->flen,
                                    "%s%s: %s", v->n ? "; " : "", rule_id, msg);
    v->n++;
}

static void on_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs,
                     void *user) {
    (void)hs;
    (void)f;
    (void)cs;
    add_finding(user, critical_rule(a->rule_id) ? ST_CRITICAL : ST_WARNING, a->rule_id,
                a->message);
}

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: mitmwatch check HOST[:PORT] [--starttls PROTO] [--sni NAME] [--timeout MS]\n"
            "                       [--expect-jarm HASH] [--require-sct N] [-w DAYS] [-c DAYS]\n"
            "                       [--config FILE] [policy flags]\n"
            "  -w DAYS, -c DAYS      WARNING / CRITICAL when the certificate expires sooner\n"
            "                        (defaults 21 and 7)\n"
            "  --require-sct N       SCTs the certificate needs (the policy's min-scts)\n"
            "  --expect-jarm HASH    CRITICAL when the server's JARM differs\n"
            "  --starttls PROTO      default: the `starttls` of the --config service named\n"
            "                        HOST (or --sni), on its first port when none is given\n"
            "Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Policy flags:\n%s",
            pol_cli_help);
}

static int unknown(const char *target, const char *why) {
    printf("MITMWATCH UNKNOWN - %s: %s\n", target, why);
    return ST_UNKNOWN;
}

static bool parse_days(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 36500)
        return false;
    *out = v;
    return true;
}

/* The flow as the rule engine sees one: side 0 is this client, side 1 the server. */
static bool flow_of(const pcert_result *r, cap_flow *f) {
    memset(f, 0, sizeof *f);
    int af = r->family;
    f->key.ip_ver = af == AF_INET6 ? 6 : 4;
    if (inet_pton(af, r->local_ip, f->key.addr[0]) != 1 ||
        inet_pton(af, r->peer_ip, f->key.addr[1]) != 1)
        return false;
    f->key.port[0] = r->local_port;
    f->key.port[1] = r->peer_port;
    return true;
}

int cmd_check(int argc, char **argv) {
    const char *target = NULL, *sni = NULL, *config = NULL, *expect_jarm = NULL;
    pcert_opts po = {.timeout_ms = 10000};
    long warn_days = 21, crit_days = 7;
    char err[512];
    pol_policy pol;
    pol_policy_init(&pol);
    struct {
        const char *flag, *arg;
    } flags[64];
    int nflags = 0;
    bool watch_given = false, starttls_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return ST_OK;
        } else if (a[0] != '-') {
            if (target) {
                fprintf(stderr, "mitmwatch check: unexpected argument: %s\n", a);
                return ST_UNKNOWN;
            }
            target = a;
            takes = false;
        } else if (!v) {
            fprintf(stderr, "mitmwatch check: %s needs a value\n", a);
            return ST_UNKNOWN;
        } else if (!strcmp(a, "--starttls")) {
            starttls_given = true;
            if (!pcert_starttls_parse(v, &po.starttls)) {
                fprintf(stderr, "mitmwatch check: --starttls: unknown protocol %s\n", v);
                return ST_UNKNOWN;
            }
        } else if (!strcmp(a, "--sni")) {
            sni = v;
        } else if (!strcmp(a, "--timeout")) {
            long ms;
            if (!parse_days(v, &ms) || ms == 0) {
                fprintf(stderr, "mitmwatch check: --timeout wants milliseconds\n");
                return ST_UNKNOWN;
            }
            po.timeout_ms = (int)ms;
        } else if (!strcmp(a, "-w") || !strcmp(a, "-c")) {
            if (!parse_days(v, !strcmp(a, "-w") ? &warn_days : &crit_days)) {
                fprintf(stderr, "mitmwatch check: %s wants days\n", a);
                return ST_UNKNOWN;
            }
        } else if (!strcmp(a, "--expect-jarm")) {
            expect_jarm = v;
        } else if (!strcmp(a, "--config")) {
            config = v;
        } else if (!strcmp(a, "--require-sct") && nflags < 64) {
            flags[nflags].flag = "min-scts";
            flags[nflags++].arg = v;
        } else if (!strncmp(a, "--", 2) && nflags < 64) {
            bool known = false;
            for (int k = 0; pol_cli_flags[k]; k++)
                if (!strcmp(a + 2, pol_cli_flags[k])) {
                    flags[nflags].flag = pol_cli_flags[k];
                    flags[nflags++].arg = v;
                    known = true;
                }
            if (!known) {
                fprintf(stderr, "mitmwatch check: unknown option %s\n", a);
                return ST_UNKNOWN;
            }
            watch_given |= !strcmp(a, "--watch");
        } else {
            fprintf(stderr, "mitmwatch check: unknown option %s\n", a);
            return ST_UNKNOWN;
        }
        if (takes)
            i++;
    }
    if (!target) {
        usage(stderr);
        return ST_UNKNOWN;
    }
    char host[256];
    po.port = 0;
    if (pcert_parse_target(target, host, sizeof host, &po.port) != MW_OK) {
        fprintf(stderr, "mitmwatch check: expected HOST[:PORT]: %s\n", target);
        return ST_UNKNOWN;
    }
    po.host = host;
    po.sni = sni;
    mw_hash_init();

    /* The policy: a file, then the flags; the checked name is the watched service. */
    if (config && !pol_load_file(&pol, config, err, sizeof err))
        goto policy_error;
    for (int i = 0; i < nflags; i++)
        if (!pol_cli_apply(&pol, flags[i].flag, flags[i].arg, err, sizeof err))
            goto policy_error;
    const char *name = sni ? sni : host;
    struct in6_addr ignored;
    const char *what = NULL;
    if (!watch_given && !config && inet_pton(AF_INET, name, &ignored) != 1 &&
        inet_pton(AF_INET6, name, &ignored) != 1 && !pol_add_watch(&pol, name, &what)) {
        snprintf(err, sizeof err, "--watch %s: %s", name, what ? what : "invalid");
        goto policy_error;
    }
    /* A watched service with a STARTTLS protocol is checked with it (and on its first port)
     * unless --starttls says otherwise; one the probe does not speak stays direct TLS. */
    const pol_service *svc = starttls_given ? NULL : pol_starttls_service(&pol, name, po.port);
    pcert_starttls svc_st;
    if (svc && pcert_starttls_parse(svc->starttls, &svc_st)) {
        po.starttls = svc_st;
        if (!po.port && svc->nports)
            po.port = svc->ports[0];
    }
    if (!po.port)
        po.port = pcert_default_port(po.starttls);
    rule_engine *re = rule_engine_new(&pol, err, sizeof err);
    if (!re)
        goto policy_error;

    char shown[300];
    snprintf(shown, sizeof shown, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, po.port);
    pcert_result r;
    int rc;
    if (pcert_probe(&po, &r) != MW_OK) {
        rc = unknown(shown, r.error[0] ? r.error : "the probe failed");
        pcert_result_free(&r);
        rule_engine_free(re);
        pol_policy_free(&pol);
        return rc;
    }
    verdict v = {ST_OK, "", 0, 0};
    cap_flow f;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    if (flow_of(&r, &f))
        rule_judge(re, r.hs, &f, 0, now_us, on_alert, &v);

    const x509_info *leaf = r.hs->nchain ? r.hs->chain[0] : NULL;
    /* whole days left, rounded: a fresh 90-day certificate "expires in 90 days" */
    long days = leaf ? (long)((leaf->not_after - (int64_t)now.tv_sec + 43200) / 86400) : -1;
    if (leaf && days >= 0 && days < crit_days) {
        char m[96];
        snprintf(m, sizeof m, "expires in %ld days (critical below %ld)", days, crit_days);
        add_finding(&v, ST_CRITICAL, "expiry", m);
    } else if (leaf && days >= 0 && days < warn_days) {
        char m[96];
        snprintf(m, sizeof m, "expires in %ld days (warning below %ld)", days, warn_days);
        add_finding(&v, ST_WARNING, "expiry", m);
    }
    if (expect_jarm) {
        jarm_opts jo = {.host = host, .port = po.port, .sni = sni, .timeout_ms = po.timeout_ms};
        jarm_result *jr = malloc(sizeof *jr);
        if (jr && jarm_probe(&jo, jr) == MW_OK && strcmp(jr->hash, expect_jarm) != 0) {
            char m[200];
            snprintf(m, sizeof m, "JARM %s, expected %s", jr->hash, expect_jarm);
            add_finding(&v, ST_CRITICAL, "probe.jarm_changed", m);
        }
        free(jr);
    }
    unsigned scts = 0;
    if (leaf && leaf->scts)
        scts += (unsigned)sk_SCT_num(leaf->scts);
    if (r.hs->tls_scts)
        scts += (unsigned)sk_SCT_num(r.hs->tls_scts);
    if (r.hs->ocsp_scts)
        scts += (unsigned)sk_SCT_num(r.hs->ocsp_scts);

    printf("MITMWATCH %s - %s%s%s: ", st_name[v.state], shown, r.starttls ? " " : "",
           r.starttls ? r.starttls : "");
    if (v.n)
        printf("%s", v.findings);
    else if (leaf)
        printf("%s from %s, expires in %ld days, %u SCTs", leaf->subject, leaf->issuer, days,
               scts);
    else
        printf("TLS %s, certificate not visible", r.hs->version == 0x0304 ? "1.3" : "");
    printf(" | handshake_time=%.3fs;;;0 days_to_expiry=%ld;%ld;%ld;0 scts=%u;;;0\n",
           (double)r.handshake_ms / 1000.0, days, warn_days, crit_days, scts);
    rc = v.state;
    pcert_result_free(&r);
    rule_engine_free(re);
    pol_policy_free(&pol);
    return rc;

policy_error:
    printf("MITMWATCH UNKNOWN - policy: %s\n", err);
    pol_policy_free(&pol);
    return ST_UNKNOWN;
}
