/* mitmwatch check: a Nagios/Icinga plugin, written to the monitoring-plugins guidelines
 * (https://www.monitoring-plugins.org/doc/guidelines.html): -H HOST, -p PORT, -t SECONDS,
 * -w/-c thresholds in range syntax, -V, -h; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 *
 * It fetches the served chain (probe cert, STARTTLS where asked), judges it with the same
 * policy engine as passive handshakes (expected issuer, known store, pins, the chain as of now,
 * SCTs, the CT cache), optionally compares the JARM, and checks the days to expiry.
 *
 * Output: "MITMWATCH STATE - HOST:PORT: the worst finding (+N more) | perfdata", then, when
 * there are several findings, each on a line of its own, worst first. A server that refuses
 * the connection, does not answer in time or fails the handshake is CRITICAL, as check_tcp and
 * check_http have it (the service is not there for its users); what keeps the check itself from
 * running (a usage error, a name that does not resolve, a bad policy) is UNKNOWN. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jarm.h"
#include "mw_hash.h"
#include "pol_cli.h"
#include "pol_config.h"
#include "probe_cert.h"
#include "rule_engine.h"

enum { ST_OK, ST_WARNING, ST_CRITICAL, ST_UNKNOWN };
static const char *const st_name[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

#define CHECK_TIMEOUT_MS 10000      /* the guidelines' default -t */
#define CHECK_TIMEOUT_MAX_MS 600000 /* as the probe commands' --timeout */
#define CHECK_GRACE_MS 500          /* after -t, the alarm ends whatever is still running */
#define CHECK_MAX_FINDINGS 32

/* Findings that mean "not the certificate you expect": CRITICAL. The rest warn. */
static bool critical_rule(const char *id) {
    static const char *const crit[] = {
        "cert.unknown",       "cert.issuer_unexpected", "cert.spki_unpinned", "cert.expired",
        "cert.not_yet_valid", "cert.name_mismatch",     "cert.self_signed",   "cert.chain_invalid",
        "cert.sct_missing",   "cert.sct_invalid",       "cert.not_in_ct"};
    for (size_t i = 0; i < sizeof crit / sizeof crit[0]; i++)
        if (strcmp(crit[i], id) == 0) return true;
    return false;
}

typedef struct {
    int state;
    char id[48];
    char msg[512];
} finding;

typedef struct {
    int state;
    finding f[CHECK_MAX_FINDINGS];
    unsigned n;     /* kept in f */
    unsigned total; /* found, kept or not */
} verdict;

/* The rule engine words its messages for the passive sensor, which judges a handshake as of
 * the moment it was captured; this check judges the chain it just fetched, as of now. The
 * events of the passive path keep their wording: only the check's copy is changed. */
static void active_wording(char *s) {
    static const char from[] = "at capture time", to[] = "now";
    char *p;
    while ((p = strstr(s, from)) != NULL) {
        memmove(p + sizeof to - 1, p + sizeof from - 1, strlen(p + sizeof from - 1) + 1);
        memcpy(p, to, sizeof to - 1);
    }
}

static void add_finding(verdict *v, int state, const char *id, const char *msg) {
    if (state > v->state) v->state = state;
    v->total++;
    if (v->n >= CHECK_MAX_FINDINGS) return;
    finding *f = &v->f[v->n++];
    f->state = state;
    snprintf(f->id, sizeof f->id, "%s", id);
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    active_wording(f->msg);
}

static void on_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int cs, void *user) {
    (void)hs;
    (void)f;
    (void)cs;
    add_finding(user, critical_rule(a->rule_id) ? ST_CRITICAL : ST_WARNING, a->rule_id, a->message);
}

/* Worst first; equal states keep the order they were found in (insertion sort is stable). */
static void sort_findings(verdict *v) {
    for (unsigned i = 1; i < v->n; i++) {
        finding t = v->f[i];
        unsigned j = i;
        for (; j > 0 && v->f[j - 1].state < t.state; j--)
            v->f[j] = v->f[j - 1];
        v->f[j] = t;
    }
}

static void usage(FILE *fp) {
    fputs("usage: mitmwatch check -H HOST [-p PORT] [-t SECONDS[:STATE]] [-w DAYS] [-c DAYS]\n"
          "                       [--starttls PROTO] [--sni NAME] [--expect-jarm HASH]\n"
          "                       [--require-sct N] [--config FILE] [-4|-6] [policy flags]\n"
          "       mitmwatch check HOST[:PORT] [options]\n"
          "Fetches the certificate chain HOST serves, judges it with the policy (as the sensor\n"
          "judges a handshake it sees) and checks the days to its expiry.\n"
          "  -H, --hostname HOST   the server: name, address, or HOST:PORT ([V6]:PORT)\n"
          "  -p, --port PORT       default: 443, or the STARTTLS protocol's usual port\n"
          "  -t SECONDS[:STATE]    give up after SECONDS (default 10); a timeout is CRITICAL,\n"
          "                        or STATE (OK, WARNING, CRITICAL, UNKNOWN or 0-3)\n"
          "      --timeout MS      the same in milliseconds (as the probe commands take it)\n"
          "  -w, --warning DAYS    WARNING when fewer than DAYS days are left (default 21)\n"
          "  -c, --critical DAYS   CRITICAL when fewer than DAYS days are left (default 7);\n"
          "                        both also take a range: 21: @0:21 ~:400 10:400 (alert\n"
          "                        outside START:END, or inside with @). Here the policy\n"
          "                        file is --config only.\n"
          "  -4, -6                IPv4 or IPv6 only\n"
          "      --starttls PROTO  default: the `starttls` of the --config service named HOST\n"
          "                        (or --sni), on its first port when none is given\n"
          "      --sni NAME        server name sent and checked (default: HOST)\n"
          "      --expect-jarm HASH  CRITICAL when the server's JARM differs\n"
          "      --require-sct N   SCTs the certificate needs (also --min-scts). Default here:\n"
          "                        1 when the chain ends at a CA of the system store\n"
          "                        (publicly trusted), 0 for a private CA; a --config that\n"
          "                        sets ct.min_scts decides instead\n"
          "      --config FILE     policy file (YAML; see rules/example-policy.yaml)\n"
          "  -V, --version         the version\n"
          "  -h, --help            this text\n"
          "Output: a status line with performance data (time, days_to_expiry, scts), then with\n"
          "several findings each on its own line. A refused connection, a timeout or a failed\n"
          "handshake is CRITICAL; a usage error, a name that does not resolve or a bad policy\n"
          "is UNKNOWN. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Policy flags:\n",
          fp);
    /* the policy file is --config here: -c is the critical threshold */
    const char *flags = pol_cli_help;
    if (strncmp(flags, "  -c, --config", 14) == 0 && strchr(flags, '\n'))
        flags = strchr(flags, '\n') + 1;
    fputs(flags, fp);
}

/* A usage error: the status line the monitoring system shows, exit UNKNOWN. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("MITMWATCH UNKNOWN - ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    return ST_UNKNOWN;
}

static bool parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max || s[0] == ' ' || s[0] == '+') return false;
    *out = v;
    return true;
}

/* A -w/-c threshold in days to expiry. A plain N means "fewer than N days" (check_http -C and
 * this command's older -w/-c): the range N:. Otherwise the guidelines' [@]START:END, with START
 * ~ for minus infinity and 0 when empty, END infinity when empty; it alerts outside START..END,
 * or inside with @ (so @N alone is @0:N). */
typedef struct {
    bool inside, lo_inf, hi_inf;
    long lo, hi;
    char text[48]; /* normalised, for the performance data */
} range;

static bool parse_range(const char *arg, range *r) {
    char s[40];
    if (strlen(arg) >= sizeof s) return false;
    snprintf(s, sizeof s, "%s", arg);
    memset(r, 0, sizeof *r);
    char *p = s;
    if (*p == '@') {
        r->inside = true;
        p++;
    }
    char *colon = strchr(p, ':');
    if (!colon) {
        long n;
        if (!parse_long(p, 0, 36500, &n)) return false;
        if (r->inside) {
            r->hi = n; /* @N: inside 0..N */
        } else {
            r->lo = n; /* N: fewer than N days */
            r->hi_inf = true;
        }
    } else {
        *colon = '\0';
        if (!strcmp(p, "~"))
            r->lo_inf = true;
        else if (*p && !parse_long(p, -36500, 36500, &r->lo))
            return false;
        if (!colon[1])
            r->hi_inf = true;
        else if (!parse_long(colon + 1, -36500, 36500, &r->hi))
            return false;
        if (!r->lo_inf && !r->hi_inf && r->lo > r->hi) return false;
    }
    char lo[24] = "~", hi[24] = "";
    if (!r->lo_inf) snprintf(lo, sizeof lo, "%ld", r->lo);
    if (!r->hi_inf) snprintf(hi, sizeof hi, "%ld", r->hi);
    snprintf(r->text, sizeof r->text, "%s%s:%s", r->inside ? "@" : "", lo, hi);
    return true;
}

static bool range_alerts(const range *r, long v) {
    bool outside = (!r->lo_inf && v < r->lo) || (!r->hi_inf && v > r->hi);
    return r->inside ? !outside : outside;
}

static void expiry_finding(verdict *v, int state, const range *r, long days) {
    char m[160];
    const char *what = state == ST_CRITICAL ? "critical" : "warning";
    if (!r->inside && !r->lo_inf && r->hi_inf)
        snprintf(m, sizeof m, "expires in %ld day%s (%s below %ld)", days, days == 1 ? "" : "s",
                 what, r->lo);
    else
        snprintf(m, sizeof m, "expires in %ld day%s (%s range %s)", days, days == 1 ? "" : "s",
                 what, r->text);
    add_finding(v, state, "expiry", m);
}

/* -t SECONDS[:STATE], as check_http and check_tcp take it. */
static bool parse_timeout(const char *arg, int *ms, int *state) {
    char s[32];
    if (strlen(arg) >= sizeof s) return false;
    snprintf(s, sizeof s, "%s", arg);
    char *colon = strchr(s, ':');
    if (colon) {
        *colon++ = '\0';
        long n;
        int st = -1;
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(colon, st_name[i])) st = i;
        if (st < 0 && parse_long(colon, 0, 3, &n)) st = (int)n;
        if (st < 0) return false;
        *state = st;
    }
    long sec;
    if (!parse_long(s, 1, CHECK_TIMEOUT_MAX_MS / 1000, &sec)) return false;
    *ms = (int)sec * 1000;
    return true;
}

/* What a failed fetch means to a monitoring system. */
static int fetch_state(pcert_err e, int timeout_state) {
    switch (e) {
    case PCERT_E_CONNECT: /* refused, unreachable */
    case PCERT_E_CLOSED:
    case PCERT_E_STARTTLS:
    case PCERT_E_TLS:
        return ST_CRITICAL;
    case PCERT_E_TIMEOUT:
        return timeout_state;
    default: /* PCERT_E_RESOLVE, PCERT_E_USAGE, PCERT_E_INTERNAL: the check could not run */
        return ST_UNKNOWN;
    }
}

/* The last resort of -t: whatever still runs (the JARM's ten connections) is cut off. Only
 * async-signal-safe calls: the line was written before the alarm was set. */
static char g_alarm_line[400];
static size_t g_alarm_len;
static int g_alarm_state;

static void on_alarm(int sig) {
    (void)sig;
    ssize_t w = write(STDOUT_FILENO, g_alarm_line, g_alarm_len);
    (void)w; /* nothing more can be done if stdout is gone */
    _exit(g_alarm_state);
}

static void set_alarm(int ms) {
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* --expect-jarm: the JARM from the same address, with what is left of -t per connection. */
static void check_jarm(verdict *v, const pcert_opts *po, const char *expect, int left_ms,
                       int timeout_state) {
    jarm_opts jo = {.host = po->host,
                    .port = po->port,
                    .sni = po->sni,
                    .timeout_ms = left_ms > 0 ? left_ms : 1,
                    .family = po->family};
    jarm_result *jr = malloc(sizeof *jr);
    if (!jr) {
        add_finding(v, ST_UNKNOWN, "probe.failed", "JARM: out of memory");
        return;
    }
    mw_rc rc = jarm_probe(&jo, jr);
    char m[200];
    if (rc == MW_MALFORMED) {
        add_finding(v, ST_WARNING, "probe.failed",
                    "JARM: the server's answers cannot be hashed the reference's way");
    } else if (rc != MW_OK || jr->connected == 0 || jr->timed_out) {
        /* the fetch got through a moment ago: this is a timeout or refusal like any other */
        snprintf(m, sizeof m, "JARM: %s, no fingerprint to compare with %s",
                 jr->timed_out ? "a probe timed out" : "the probes got no connection", expect);
        add_finding(v, jr->timed_out ? timeout_state : ST_CRITICAL, "probe.failed", m);
    } else if (strcmp(jr->hash, expect) != 0) {
        snprintf(m, sizeof m, "JARM %s, expected %s", jr->hash, expect);
        add_finding(v, ST_CRITICAL, "probe.jarm_changed", m);
    }
    free(jr);
}

enum { O_TIMEOUT_MS = 1000, O_STARTTLS, O_SNI, O_JARM, O_REQUIRE_SCT, O_CONFIG, O_POLICY = 1100 };

int cmd_check(int argc, char **argv) {
    const char *target = NULL, *sni = NULL, *config = NULL, *expect_jarm = NULL;
    const char *port_arg = NULL;
    int timeout_ms = CHECK_TIMEOUT_MS, timeout_state = ST_CRITICAL, family = 0;
    pcert_starttls starttls = PCERT_STARTTLS_NONE;
    range warn, crit;
    if (!parse_range("21", &warn) || !parse_range("7", &crit)) return ST_UNKNOWN;
    struct {
        const char *flag, *arg;
    } flags[64];
    int nflags = 0;
    bool watch_given = false, starttls_given = false;

    static const struct option base[] = {{"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"hostname", required_argument, NULL, 'H'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"warning", required_argument, NULL, 'w'},
                                         {"critical", required_argument, NULL, 'c'},
                                         {"timeout", required_argument, NULL, O_TIMEOUT_MS},
                                         {"starttls", required_argument, NULL, O_STARTTLS},
                                         {"sni", required_argument, NULL, O_SNI},
                                         {"expect-jarm", required_argument, NULL, O_JARM},
                                         {"require-sct", required_argument, NULL, O_REQUIRE_SCT},
                                         {"config", required_argument, NULL, O_CONFIG}};
    struct option lo[sizeof base / sizeof base[0] + 32];
    pol_cli_longopts(lo, sizeof lo / sizeof lo[0], base, sizeof base / sizeof base[0], O_POLICY);

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hVH:p:t:w:c:46", lo, NULL)) != -1) {
        if (c >= O_POLICY && c < O_POLICY + 32) {
            if (nflags >= 64) return usage_error("too many policy flags");
            flags[nflags].flag = pol_cli_flags[c - O_POLICY];
            flags[nflags++].arg = optarg;
            watch_given |= !strcmp(pol_cli_flags[c - O_POLICY], "watch");
            continue;
        }
        switch (c) {
        case 'h':
            usage(stdout);
            return ST_OK;
        case 'V':
            printf("mitmwatch check %s\n", MW_VERSION);
            return ST_OK;
        case 'H':
            if (target) return usage_error("the host is given twice: %s and %s", target, optarg);
            target = optarg;
            break;
        case 'p':
            port_arg = optarg;
            break;
        case 't':
            if (!parse_timeout(optarg, &timeout_ms, &timeout_state))
                return usage_error("-t %s: expected seconds from 1 to %d, optionally with the "
                                   "state of a timeout (10:UNKNOWN)",
                                   optarg, CHECK_TIMEOUT_MAX_MS / 1000);
            break;
        case O_TIMEOUT_MS: {
            long ms;
            if (!parse_long(optarg, 1, CHECK_TIMEOUT_MAX_MS, &ms))
                return usage_error("--timeout %s: expected milliseconds from 1 to %d", optarg,
                                   CHECK_TIMEOUT_MAX_MS);
            timeout_ms = (int)ms;
            break;
        }
        case 'w':
            if (!parse_range(optarg, &warn))
                return usage_error("-w %s: expected days to expiry (21) or a range (21:, @0:21)",
                                   optarg);
            break;
        case 'c':
            if (!parse_range(optarg, &crit))
                return usage_error("-c %s: expected days to expiry (7) or a range (7:, @0:7); "
                                   "the policy file is --config FILE",
                                   optarg);
            break;
        case '4':
            family = AF_INET;
            break;
        case '6':
            family = AF_INET6;
            break;
        case O_STARTTLS:
            starttls_given = true;
            if (!pcert_starttls_parse(optarg, &starttls))
                return usage_error("--starttls %s: not a protocol mitmwatch speaks", optarg);
            break;
        case O_SNI:
            sni = optarg;
            break;
        case O_JARM:
            expect_jarm = optarg;
            break;
        case O_REQUIRE_SCT:
            if (nflags >= 64) return usage_error("too many policy flags");
            flags[nflags].flag = "min-scts";
            flags[nflags++].arg = optarg;
            break;
        case O_CONFIG:
            config = optarg;
            break;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            if (optopt && optopt != '?') return usage_error("unknown option -%c", optopt);
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        if (target) return usage_error("unexpected argument: %s", argv[optind]);
        target = argv[optind];
    }
    if (!target) return usage_error("no host: give -H HOST (or HOST[:PORT])");

    char host[256];
    uint16_t port = 0;
    if (pcert_parse_target(target, host, sizeof host, &port) != MW_OK)
        return usage_error("expected HOST, HOST:PORT or [IPV6]:PORT: %s", target);
    if (port_arg) {
        long p;
        if (!parse_long(port_arg, 1, 65535, &p))
            return usage_error("-p %s: expected a port from 1 to 65535", port_arg);
        if (port && port != p) return usage_error("two ports: %s and -p %s", target, port_arg);
        port = (uint16_t)p;
    }
    pcert_opts po = {.host = host,
                     .port = port,
                     .sni = sni,
                     .starttls = starttls,
                     .timeout_ms = timeout_ms,
                     .family = family};
    mw_hash_init();

    /* The policy: a file, then the flags; the checked name is the watched service. */
    char err[512];
    pol_policy pol;
    pol_policy_init(&pol);
    if (config && !pol_load_file(&pol, config, err, sizeof err)) goto policy_error;
    for (int i = 0; i < nflags; i++)
        if (!pol_cli_apply(&pol, flags[i].flag, flags[i].arg, err, sizeof err)) goto policy_error;
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
        if (!po.port && svc->nports) po.port = svc->ports[0];
    }
    if (!po.port) po.port = pcert_default_port(po.starttls);
    rule_engine *re = rule_engine_new(&pol, err, sizeof err);
    if (!re) goto policy_error;

    char shown[300];
    snprintf(shown, sizeof shown, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, po.port);
    g_alarm_state = timeout_state;
    snprintf(g_alarm_line, sizeof g_alarm_line,
             "MITMWATCH %s - %s: the check did not finish in %d ms\n", st_name[timeout_state],
             shown, timeout_ms);
    g_alarm_len = strlen(g_alarm_line);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    /* The fetch has the whole of -t, so its own timeout says where it stopped; the alarm is
     * for the rest. */
    set_alarm(timeout_ms + CHECK_GRACE_MS);

    pcert_result r;
    int64_t t0 = mono_us();
    mw_rc prc = pcert_probe(&po, &r);
    int64_t t1 = mono_us();
    int rc;
    if (prc != MW_OK) {
        set_alarm(0);
        rc = fetch_state(r.err, timeout_state);
        printf("MITMWATCH %s - %s%s%s: %s\n", st_name[rc], shown, po.starttls ? " " : "",
               po.starttls ? pcert_starttls_name(po.starttls) : "",
               r.error[0] ? r.error : "the fetch failed");
        pcert_result_free(&r);
        rule_engine_free(re);
        pol_policy_free(&pol);
        return rc;
    }
    verdict v;
    memset(&v, 0, sizeof v);
    cap_flow f;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    if (flow_of(&r, &f)) rule_judge(re, r.hs, &f, 0, now_us, on_alert, &v);

    const x509_info *leaf = r.hs->nchain ? r.hs->chain[0] : NULL;
    /* whole days left, rounded: a fresh 90-day certificate "expires in 90 days" */
    long days = leaf ? (long)((leaf->not_after - (int64_t)now.tv_sec + 43200) / 86400) : -1;
    /* an expired certificate is cert.expired already */
    if (leaf && days >= 0 && range_alerts(&crit, days))
        expiry_finding(&v, ST_CRITICAL, &crit, days);
    else if (leaf && days >= 0 && range_alerts(&warn, days))
        expiry_finding(&v, ST_WARNING, &warn, days);
    if (expect_jarm)
        check_jarm(&v, &po, expect_jarm, timeout_ms - (int)((mono_us() - t0) / 1000),
                   timeout_state);
    unsigned scts = 0;
    if (leaf && leaf->scts) scts += (unsigned)sk_SCT_num(leaf->scts);
    if (r.hs->tls_scts) scts += (unsigned)sk_SCT_num(r.hs->tls_scts);
    if (r.hs->ocsp_scts) scts += (unsigned)sk_SCT_num(r.hs->ocsp_scts);
    set_alarm(0);

    sort_findings(&v);
    printf("MITMWATCH %s - %s%s%s: ", st_name[v.state], shown, r.starttls ? " " : "",
           r.starttls ? r.starttls : "");
    if (v.n) {
        printf("%s: %s", v.f[0].id, v.f[0].msg);
        if (v.total > 1) printf(" (+%u more)", v.total - 1);
    } else if (leaf) {
        printf("%s from %s, expires in %ld day%s, %u SCT%s", leaf->subject, leaf->issuer, days,
               days == 1 ? "" : "s", scts, scts == 1 ? "" : "s");
    } else {
        printf("no certificate presented");
    }
    printf(" | time=%.6fs;;;0", (double)(t1 - t0) / 1e6);
    if (leaf) printf(" days_to_expiry=%ld;%s;%s;0", days, warn.text, crit.text);
    printf(" scts=%u;;;0\n", scts);
    for (unsigned i = 0; v.total > 1 && i < v.n; i++)
        printf("[%s] %s: %s\n", st_name[v.f[i].state], v.f[i].id, v.f[i].msg);
    if (v.total > v.n) printf("(%u more findings not shown)\n", v.total - v.n);
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
