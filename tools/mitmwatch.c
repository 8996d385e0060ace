/* mitmwatch: the sensor's command line. Reads pcap files or live interfaces, runs the passive
 * pipeline, writes one JSON event a line. Exit codes: 0 done, 1 runtime failure, 2 usage or
 * unreadable input. */
#include <curl/curlver.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <ndpi/ndpi_api.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "an_engine.h"
#include "cap_source.h"
#include "ev_stats.h"
#include "ev_tls.h"
#include "mw_hash.h"
#include "out.h"
#include "pol_cli.h"
#include "pol_config.h"
#include "rule_engine.h"

#define MAX_SOURCES 16
#define EVENT_MAX (4u << 20)
#define MAX_POL_FLAGS 256
#define MAX_PENDING_ALERTS 32

typedef struct {
    const char *files[MAX_SOURCES];
    int nfiles;
    const char *ifaces[MAX_SOURCES];
    int nifaces;
    const char *bpf;
    const char *out_path;
    char observer[256];
    bool observer_given;
    uint64_t stats_interval_us;
    uint32_t max_flows;
    const char *config;
    struct {
        const char *flag, *arg;
    } pol_flags[MAX_POL_FLAGS];
    int npol_flags;
} opts;

typedef struct {
    char *json;
    size_t len;
    const char *rule_id;
    int severity;
} pending_alert;

typedef struct {
    an_engine *eng;
    out_set *outs;
    ev_ctx ctx;
    mw_buf ev;
    uint64_t stats_interval_us;
    uint64_t next_stats_us; /* capture time (files) or wall time (live) */
    cap_source *srcs;
    int nsrcs;
    uint64_t events_dropped; /* did not fit the event buffer */
    /* verdicts */
    const opts *o;
    pol_policy *pol; /* heap: the engine points into it until the next reload */
    rule_engine *re;
    mw_buf abuf;
    pending_alert pending[MAX_PENDING_ALERTS];
    int npending;
} sensor;

static volatile sig_atomic_t g_stop, g_hup;
static cap_source *g_current;

static void on_signal(int sig) {
    if (sig == SIGHUP) {
        g_hup = 1;
        return;
    }
    g_stop = 1;
    if (g_current)
        cap_source_break(g_current);
}

static void usage(FILE *fp) {
    fputs("usage: mitmwatch -r FILE [-r FILE...] [-o OUT] [options]   read pcap/pcapng files\n"
          "       mitmwatch -i IFACE [-i IFACE...] [-f BPF] [-o OUT] [options]   live capture\n"
          "       mitmwatch probe jarm HOST[:PORT] [--sni NAME] [--timeout MS] [--socks5 H:P]\n"
          "\n"
          "  -r, --read FILE        read a pcap or pcapng file; several are one timeline\n"
          "  -i, --interface IFACE  capture live on IFACE (root or CAP_NET_RAW)\n"
          "  -f, --filter BPF       capture filter (tcpdump syntax)\n"
          "  -o, --output OUT       JSON lines to OUT; - is stdout (default)\n"
          "      --observer NAME    observer.name in events (default: host name)\n"
          "      --stats-interval S seconds between stats events (default 60; 0: final only)\n"
          "      --max-flows N      flow table capacity (default 131072)\n"
          "  -h, --help             this text\n"
          "      --version          version and linked library versions\n"
          "\npolicy (see rules/example-policy.yaml):\n",
          fp);
    fputs(pol_cli_help, fp);
}

static void version(void) {
    printf("mitmwatch %s\n", MW_VERSION);
    printf("  %s\n", pcap_lib_version());
    printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("  nDPI %s\n", ndpi_revision());
    printf("  libcurl %s\n", LIBCURL_VERSION);
    printf("  msgpack-c %s\n", msgpack_version());
    printf("  jansson %s\n", JANSSON_VERSION);
}

static int fail_usage(const char *msg, const char *arg) {
    fprintf(stderr, "mitmwatch: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "Try 'mitmwatch --help'.\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, opts *o) {
    enum { O_VERSION = 1000, O_OBSERVER, O_STATS, O_MAXFLOWS, O_POLICY = 1100 };
    static const struct option base[] = {{"read", required_argument, NULL, 'r'},
                                       {"config", required_argument, NULL, 'c'},
                                       {"interface", required_argument, NULL, 'i'},
                                       {"filter", required_argument, NULL, 'f'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, O_VERSION},
                                       {"observer", required_argument, NULL, O_OBSERVER},
                                       {"stats-interval", required_argument, NULL, O_STATS},
                                       {"max-flows", required_argument, NULL, O_MAXFLOWS}};
    /* the policy flags come from pol_cli.c, so the file and the flags cannot drift apart */
    struct option lo[sizeof base / sizeof base[0] + 32];
    size_t nlo = sizeof base / sizeof base[0];
    memcpy(lo, base, sizeof base);
    for (int i = 0; pol_cli_flags[i] && nlo < sizeof lo / sizeof lo[0] - 1; i++)
        lo[nlo++] = (struct option){pol_cli_flags[i], required_argument, NULL, O_POLICY + i};
    lo[nlo] = (struct option){NULL, 0, NULL, 0};
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:f:o:c:h", lo, NULL)) != -1) {
        if (c >= O_POLICY && c < O_POLICY + 32) {
            if (o->npol_flags >= MAX_POL_FLAGS)
                return fail_usage("too many policy flags", NULL);
            o->pol_flags[o->npol_flags].flag = pol_cli_flags[c - O_POLICY];
            o->pol_flags[o->npol_flags++].arg = optarg;
            continue;
        }
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'r':
            if (o->nfiles >= MAX_SOURCES)
                return fail_usage("too many -r files", NULL);
            o->files[o->nfiles++] = optarg;
            break;
        case 'i':
            if (o->nifaces >= MAX_SOURCES)
                return fail_usage("too many -i interfaces", NULL);
            o->ifaces[o->nifaces++] = optarg;
            break;
        case 'f':
            o->bpf = optarg;
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case O_VERSION:
            version();
            exit(0);
        case O_OBSERVER:
            snprintf(o->observer, sizeof o->observer, "%s", optarg);
            o->observer_given = true;
            break;
        case O_STATS:
            if (!parse_u64(optarg, 86400 * 365, &v))
                return fail_usage("--stats-interval wants seconds", optarg);
            o->stats_interval_us = v * 1000000u;
            break;
        case O_MAXFLOWS:
            if (!parse_u64(optarg, 1u << 26, &v) || v == 0)
                return fail_usage("--max-flows wants a number from 1 to 67108864", optarg);
            o->max_flows = (uint32_t)v;
            break;
        case ':':
            return fail_usage("option needs a value", argv[optind - 1]);
        default:
            return fail_usage("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail_usage("unexpected argument", argv[optind]);
    if (o->nfiles == 0 && o->nifaces == 0)
        return fail_usage("nothing to read: give -r FILE or -i IFACE", NULL);
    if (o->nfiles > 0 && o->nifaces > 0)
        return fail_usage("-r and -i cannot be combined", NULL);
    return 0;
}

static void emit_json(sensor *s, enum out_kind kind, const char *dataset) {
    out_event ev = {.json = (const char *)s->ev.data,
                    .len = s->ev.len,
                    .kind = kind,
                    .dataset = dataset,
                    .severity = 0,
                    .rule_id = NULL};
    out_emit(s->outs, &ev);
}

/* Alerts are built during judging and written after the handshake event they refer to. */
static void on_alert(const rule_alert *a, const tls_hs *hs, const cap_flow *f, int client_side,
                     void *user) {
    sensor *s = user;
    if (s->npending >= MAX_PENDING_ALERTS ||
        !rule_alert_build(&s->abuf, &s->ctx, a, hs, f, client_side, hs->ts_us)) {
        s->events_dropped++;
        return;
    }
    pending_alert *pa = &s->pending[s->npending];
    pa->json = malloc(s->abuf.len);
    if (!pa->json) {
        s->events_dropped++;
        return;
    }
    memcpy(pa->json, s->abuf.data, s->abuf.len);
    pa->len = s->abuf.len;
    pa->rule_id = a->rule_id;
    pa->severity = a->severity;
    s->npending++;
}

static void on_handshake(const tls_hs *hs, const cap_flow *f, int client_side, void *user) {
    sensor *s = user;
    if (s->re)
        rule_judge(s->re, hs, f, client_side, hs->ts_us, on_alert, s);
    if (!ev_tls_build(&s->ev, &s->ctx, hs, f, client_side)) {
        s->events_dropped++;
        fprintf(stderr, "mitmwatch: a handshake event exceeded %u bytes and was dropped\n",
                EVENT_MAX);
    } else {
        emit_json(s, OUT_KIND_EVENT, "mitmwatch.tls");
    }
    for (int i = 0; i < s->npending; i++) {
        out_event ev = {.json = s->pending[i].json,
                        .len = s->pending[i].len,
                        .kind = OUT_KIND_ALERT,
                        .dataset = "mitmwatch.alert",
                        .severity = s->pending[i].severity,
                        .rule_id = s->pending[i].rule_id};
        out_emit(s->outs, &ev);
        free(s->pending[i].json);
    }
    s->npending = 0;
}

/* The policy: the file first, then the flags. */
static bool load_policy(const opts *o, pol_policy *p, char *err, size_t errlen) {
    pol_policy_init(p);
    if (o->config && !pol_load_file(p, o->config, err, errlen))
        return false;
    for (int i = 0; i < o->npol_flags; i++)
        if (!pol_cli_apply(p, o->pol_flags[i].flag, o->pol_flags[i].arg, err, errlen))
            return false;
    return true;
}

static void emit_stats(sensor *s, uint64_t ts_us, bool final) {
    cap_stats *cs = an_engine_cap_stats(s->eng);
    cs->pcap_recv = cs->pcap_drop = cs->pcap_ifdrop = 0;
    for (int i = 0; i < s->nsrcs; i++)
        cap_source_stats(&s->srcs[i], cs);
    if (ev_stats_build(&s->ev, &s->ctx, ts_us, cs, an_engine_stats(s->eng), s->outs, final))
        emit_json(s, OUT_KIND_METRIC, "mitmwatch.stats");
}

static uint64_t wall_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void on_frame(void *user, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                     uint32_t wire_len) {
    sensor *s = user;
    an_engine_frame(s->eng, dlt, ts_us, data, caplen, wire_len);
    if (s->stats_interval_us && !s->srcs[0].live) {
        if (s->next_stats_us == 0)
            s->next_stats_us = ts_us + s->stats_interval_us;
        else if (ts_us >= s->next_stats_us) {
            emit_stats(s, ts_us, false);
            s->next_stats_us = ts_us + s->stats_interval_us;
        }
    }
}

static void service_signals(sensor *s) {
    if (g_hup) {
        g_hup = 0;
        out_reopen(s->outs);
        pol_policy *np = malloc(sizeof *np);
        char err[512] = "out of memory";
        if (!np || !load_policy(s->o, np, err, sizeof err) ||
            !rule_engine_reload(s->re, np, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: reload failed, keeping the old policy: %s\n", err);
            if (np)
                pol_policy_free(np);
            free(np);
        } else {
            pol_policy_free(s->pol);
            free(s->pol);
            s->pol = np;
        }
    }
}

static int run_files(sensor *s, const opts *o) {
    char err[512];
    for (int i = 0; i < o->nfiles && !g_stop; i++) {
        cap_source *src = &s->srcs[0];
        s->nsrcs = 0;
        if (!cap_source_open_file(src, o->files[i], err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            return 2;
        }
        if (!cap_linktype_supported(src->dlt)) {
            fprintf(stderr, "mitmwatch: %s: link type %s (%d) is not supported\n", o->files[i],
                    pcap_datalink_val_to_name(src->dlt) ? pcap_datalink_val_to_name(src->dlt)
                                                        : "?",
                    src->dlt);
            cap_source_close(src);
            return 2;
        }
        if (o->bpf && !cap_source_filter(src, o->bpf, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            cap_source_close(src);
            return 2;
        }
        g_current = src;
        for (;;) {
            int n = cap_source_dispatch(src, 4096, on_frame, s, err, sizeof err);
            service_signals(s);
            if (n == -1 || n == -3 || g_stop)
                break;
            if (n == -2) {
                /* A truncated file ends in an error after its good packets: report, go on. */
                fprintf(stderr, "mitmwatch: %s\n", err);
                break;
            }
        }
        g_current = NULL;
        cap_source_close(src);
    }
    return 0;
}

static int run_live(sensor *s, const opts *o) {
    char err[512];
    struct pollfd pfd[MAX_SOURCES];
    for (int i = 0; i < o->nifaces; i++) {
        if (!cap_source_open_live(&s->srcs[i], o->ifaces[i], o->bpf, 65535, err, sizeof err)) {
            fprintf(stderr, "mitmwatch: %s\n", err);
            return 2;
        }
        s->nsrcs = i + 1;
        if (!cap_linktype_supported(s->srcs[i].dlt)) {
            fprintf(stderr, "mitmwatch: %s: link type %d is not supported\n", o->ifaces[i],
                    s->srcs[i].dlt);
            return 2;
        }
        pfd[i].fd = pcap_get_selectable_fd(s->srcs[i].p);
        pfd[i].events = POLLIN;
        pcap_setnonblock(s->srcs[i].p, 1, err);
    }
    s->next_stats_us = wall_us() + s->stats_interval_us;
    while (!g_stop) {
        int r = poll(pfd, (nfds_t)s->nsrcs, 200);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "mitmwatch: poll: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < s->nsrcs && !g_stop; i++) {
            if (r > 0 && !(pfd[i].revents & POLLIN))
                continue;
            g_current = &s->srcs[i];
            int n = cap_source_dispatch(&s->srcs[i], 4096, on_frame, s, err, sizeof err);
            g_current = NULL;
            if (n == -2) {
                fprintf(stderr, "mitmwatch: %s\n", err);
                return 1;
            }
        }
        service_signals(s);
        uint64_t now = wall_us();
        if (s->stats_interval_us && now >= s->next_stats_us) {
            emit_stats(s, now, false);
            out_flush(s->outs);
            s->next_stats_us = now + s->stats_interval_us;
        }
    }
    return 0;
}

int cmd_probe_jarm(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "probe") == 0 && strcmp(argv[2], "jarm") == 0)
        return cmd_probe_jarm(argc - 2, argv + 2);
    opts o = {.stats_interval_us = 60u * 1000000u};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (!o.observer[0] && gethostname(o.observer, sizeof o.observer - 1) != 0)
        snprintf(o.observer, sizeof o.observer, "mitmwatch");
    if (!mw_hash_init()) {
        fprintf(stderr, "mitmwatch: OpenSSL has no SHA-256/MD5 (default provider missing)\n");
        return 1;
    }

    char err[512];
    cap_source srcs[MAX_SOURCES];
    memset(srcs, 0, sizeof srcs);
    sensor s = {.stats_interval_us = o.stats_interval_us, .srcs = srcs, .o = &o};
    s.pol = calloc(1, sizeof *s.pol);
    if (!s.pol || !load_policy(&o, s.pol, err, sizeof err) ||
        !(s.re = rule_engine_new(s.pol, err, sizeof err))) {
        fprintf(stderr, "mitmwatch: %s\n", s.pol ? err : "out of memory");
        if (s.pol)
            pol_policy_free(s.pol);
        free(s.pol);
        return 2;
    }
    if (s.pol->observer && !o.observer_given)
        snprintf(o.observer, sizeof o.observer, "%s", s.pol->observer);
    mw_buf_init(&s.abuf, EVENT_MAX);
    s.ctx.observer = o.observer;
    mw_buf_init(&s.ev, EVENT_MAX);
    s.outs = out_set_new();
    bool outs_ok = s.outs != NULL;
    if (outs_ok && !o.out_path && s.pol->noutputs) { /* the policy's outputs unless -o */
        for (size_t i = 0; outs_ok && i < s.pol->noutputs; i++)
            outs_ok = out_add_file(s.outs, s.pol->outputs[i], err, sizeof err);
    } else if (outs_ok) {
        outs_ok = out_add_file(s.outs, o.out_path ? o.out_path : "-", err, sizeof err);
    }
    if (!outs_ok) {
        fprintf(stderr, "mitmwatch: %s\n", s.outs ? err : "out of memory");
        out_set_free(s.outs);
        return 2;
    }
    an_engine_cfg ec = {.max_flows = o.max_flows, .on_handshake = on_handshake, .user = &s};
    s.eng = an_engine_new(&ec);
    if (!s.eng) {
        fprintf(stderr, "mitmwatch: cannot allocate the flow table\n");
        out_set_free(s.outs);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = o.nfiles ? run_files(&s, &o) : run_live(&s, &o);

    /* Whatever stopped us, every pending handshake and the final counters go out. */
    an_engine_flush(s.eng);
    uint64_t ts = o.nfiles ? an_engine_now(s.eng) : wall_us();
    emit_stats(&s, ts, true);
    for (int i = 0; i < s.nsrcs; i++)
        cap_source_close(&srcs[i]);
    an_engine_free(s.eng);
    out_set_free(s.outs);
    mw_buf_free(&s.ev);
    rule_engine_free(s.re);
    pol_policy_free(s.pol);
    free(s.pol);
    mw_buf_free(&s.abuf);
    mw_hash_cleanup();
    return rc;
}
