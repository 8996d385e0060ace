/* mitmwatch: the command line. Dispatches the subcommands (probe, ct, check: cmd_*.c) and
 * parses the sensor's options into sensor_opts for sensor.c, which reads pcap files or live
 * interfaces and writes one JSON event a line. Exit codes: 0 done, 1 runtime failure, 2 usage
 * or unreadable input, 3 ran to the end but events did not reach an output (dropped or
 * rejected; one stderr line per output says how many). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <msgpack.h>
#include <ndpi/ndpi_api.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pol_cli.h"
#include "sensor.h"
#include "workers.h"

static void usage(FILE *fp) {
    fputs(
        "usage: mitmwatch -r FILE [-r FILE...] [-o OUT] [options]   read pcap/pcapng files\n"
        "       mitmwatch -i IFACE [-i IFACE...] [-f BPF] [-o OUT] [options]   live capture\n"
        "       mitmwatch probe jarm HOST[:PORT] [--sni NAME] [--timeout MS] [--socks5 H:P]\n"
        "       mitmwatch probe trace HOST:PORT[,PORT...] [--max-ttl N] [--expect-hops LIST]\n"
        "                             [--last N] [--timeout MS] [--rate N] [--json]\n"
        "       mitmwatch probe cert HOST[:PORT] [--starttls PROTO] [--sni NAME] [--alpn P1,P2]\n"
        "                            [--tls-max 1.2|1.3] [--timeout MS] [--json] [-4|-6]\n"
        "       mitmwatch ct sync|audit|show|check ...   Certificate Transparency cache\n"
        "       mitmwatch check -H HOST [-p PORT] [-t S] [-w D] [-c D] [--config F]\n"
        "                       [--starttls P] [--expect-issuer X] [--known-certs D] ...\n"
        "                       Nagios/Icinga plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
        "                       (there -c is the critical threshold: mitmwatch check --help)\n"
        "\n"
        "  -r, --read FILE        read a pcap or pcapng file; several are one timeline\n"
        "  -i, --interface IFACE  capture live on IFACE (root or CAP_NET_RAW)\n"
        "  -f, --filter BPF       capture filter (tcpdump syntax)\n"
        "  -o, --output OUT       JSON lines to OUT (appended); - is stdout (default); or a\n"
        "                         sink: syslog+udp://H:P, syslog+tcp://H:P, syslog:///dev/log,\n"
        "                         fluentd://H:P?tag=T&ack=1, hec+https://H:P?token=T,\n"
        "                         bulk+https://H:P?index=mitmwatch-%Y.%m.%d, relp://H:P,\n"
        "                         file:///PATH?rotate=100M, with ?filter=alert,event,metric or\n"
        "                         dataset=...; network ones with ?spool=DIR; repeatable\n"
        "      --observer NAME    observer.name in events (default: host name)\n"
        "      --stats-interval S seconds between stats events (default 60; 0: final only)\n"
        "      --max-flows N      flow table capacity (default 131072; shared out over workers)\n"
        "      --workers N        packet-path threads, each with its own flow table (default:\n"
        "                         the online CPUs, at most 16; 1: one thread, as before)\n"
        "      --capture-buffer B live: kernel buffer per capture socket in bytes (default\n"
        "                         64 MiB, shared out over the workers, at least 8 MiB each)\n"
        "      --no-ndpi          skip nDPI classification (network.protocol from mitmwatch)\n"
        "      --summary          with -r, a summary on stderr at the end (handshakes, certificates,\n"
        "                         alerts by rule, top services); --no-summary: none (default:\n"
        "                         shown when stderr is a terminal)\n"
        "      --checksum MODE    IPv4/TCP/UDP checksums: auto (default: checked, unless the\n"
        "                         capture shows the checksum-offload pattern), on, off\n"
        "      --flush-timeout S  at exit, the time network outputs get to deliver what is\n"
        "                         queued (default 5; 500ms form too); the rest is spooled or\n"
        "                         dropped, said on stderr, and the exit code is 3\n"
        "      --state FILE       learned baselines (TTL/hops, JA3S, trace paths) kept across "
        "runs\n"
        "      --state-interval S seconds between saves of --state (default 300; also on\n"
        "                         SIGHUP, SIGUSR1 and at exit; 0: only those)\n"
        "      --learn-flows N    handshakes per service before its baseline is set (10)\n"
        "      --ttl-tolerance N  hops of slack before path.ttl_changed (0)\n"
        "      --probe SPEC       scheduled probe (live): jarm:HOST[:PORT][=JARM],\n"
        "                         cert:HOST[:PORT][/STARTTLS] or trace:HOST:PORT[,PORT...]\n"
        "                         (learned trace paths are kept in --state; --expect-hops)\n"
        "      --probe-interval S seconds between rounds of a probe (3600)\n"
        "      --probe-jitter PCT random spread of the interval, percent (10)\n"
        "      --trigger-interval S live: at least S seconds between the certificate fetches\n"
        "                         a TLS 1.3 handshake with a changed JA3S or path triggers,\n"
        "                         per service (300; 0: no triggered fetches)\n"
        "      --user NAME        live: once the interfaces and raw sockets are open, run as\n"
        "                         NAME with no capabilities (default: mitmwatch if that\n"
        "                         account exists, else nobody; files written later, such as\n"
        "                         --state and reopened logs, must be writable by NAME)\n"
        "      --no-drop-privileges  live: keep running as the user that started it (root):\n"
        "                         packets from the network are parsed with its privileges\n"
        "  -T, --test-config      load and check the configuration (-c, policy flags, its\n"
        "                         files, outputs, state, probes) without capturing; prints\n"
        "                         \"configuration OK\" (exit 0) or every problem (exit 2)\n"
        "  -h, --help             this text\n"
        "      --version          version and linked library versions\n"
        "\npolicy (see rules/example-policy.yaml, rules/ALERTS.md):\n",
        fp);
    fputs(pol_cli_help, fp);
}

static void version(void) {
    printf("mitmwatch %s\n", MW_VERSION);
    printf("  %s\n", pcap_lib_version());
    printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("  nDPI %s\n", ndpi_revision());
    printf("  %s\n", curl_version());
    printf("  msgpack-c %s\n", msgpack_version());
    printf("  jansson %s\n", jansson_version_str());
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
    if (errno || end == s || *end || v > max || s[0] == '-') return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, sensor_opts *o) {
    enum {
        O_VERSION = 1000,
        O_OBSERVER,
        O_STATS,
        O_MAXFLOWS,
        O_NONDPI,
        O_CHECKSUM,
        O_SUMMARY,
        O_NOSUMMARY,
        O_STATE,
        O_LEARN,
        O_TTLTOL,
        O_OUTPUT,
        O_PROBE,
        O_PINT,
        O_PJIT,
        O_USER,
        O_NODROP,
        O_FLUSH,
        O_STATEINT,
        O_TRIGINT,
        O_WORKERS,
        O_CAPBUF,
        O_DEBUGDELAY,
        O_DEBUGREADER,
        O_DEBUGUNORDERED,
        O_POLICY = 1100
    };
    static const struct option base[] = {{"read", required_argument, NULL, 'r'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"interface", required_argument, NULL, 'i'},
                                         {"filter", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, O_OUTPUT},
                                         {"help", no_argument, NULL, 'h'},
                                         {"test-config", no_argument, NULL, 'T'},
                                         {"version", no_argument, NULL, O_VERSION},
                                         {"observer", required_argument, NULL, O_OBSERVER},
                                         {"stats-interval", required_argument, NULL, O_STATS},
                                         {"max-flows", required_argument, NULL, O_MAXFLOWS},
                                         {"no-ndpi", no_argument, NULL, O_NONDPI},
                                         {"checksum", required_argument, NULL, O_CHECKSUM},
                                         {"summary", no_argument, NULL, O_SUMMARY},
                                         {"no-summary", no_argument, NULL, O_NOSUMMARY},
                                         {"state", required_argument, NULL, O_STATE},
                                         {"state-interval", required_argument, NULL, O_STATEINT},
                                         {"workers", required_argument, NULL, O_WORKERS},
                                         {"capture-buffer", required_argument, NULL, O_CAPBUF},
                                         {"debug-delay-us", required_argument, NULL, O_DEBUGDELAY},
                                         {"debug-reader-only", no_argument, NULL, O_DEBUGREADER},
                                         {"debug-unordered", no_argument, NULL, O_DEBUGUNORDERED},
                                         {"flush-timeout", required_argument, NULL, O_FLUSH},
                                         {"probe", required_argument, NULL, O_PROBE},
                                         {"probe-interval", required_argument, NULL, O_PINT},
                                         {"probe-jitter", required_argument, NULL, O_PJIT},
                                         {"trigger-interval", required_argument, NULL, O_TRIGINT},
                                         {"user", required_argument, NULL, O_USER},
                                         {"no-drop-privileges", no_argument, NULL, O_NODROP},
                                         {"learn-flows", required_argument, NULL, O_LEARN},
                                         {"ttl-tolerance", required_argument, NULL, O_TTLTOL}};
    /* the policy flags come from pol_cli.c, so the file and the flags cannot drift apart */
    struct option lo[sizeof base / sizeof base[0] + 32];
    pol_cli_longopts(lo, sizeof lo / sizeof lo[0], base, sizeof base / sizeof base[0], O_POLICY);
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:f:o:c:hT", lo, NULL)) != -1) {
        if (c >= O_POLICY && c < O_POLICY + 32) {
            if (o->npol_flags >= SENSOR_MAX_POL_FLAGS)
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
            if (o->nfiles >= SENSOR_MAX_SOURCES) return fail_usage("too many -r files", NULL);
            o->files[o->nfiles++] = optarg;
            break;
        case 'i':
            if (o->nifaces >= SENSOR_MAX_SOURCES) return fail_usage("too many -i interfaces", NULL);
            o->ifaces[o->nifaces++] = optarg;
            break;
        case 'f':
            o->bpf = optarg;
            break;
        case 'o':
        case O_OUTPUT:
            if (o->nouts >= SENSOR_MAX_SOURCES) return fail_usage("too many outputs", NULL);
            o->out_paths[o->nouts++] = optarg;
            break;
        case 'T':
            o->test_config = true;
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
        case O_NONDPI:
            o->no_ndpi = true;
            break;
        case O_SUMMARY:
            o->summary = 1;
            break;
        case O_NOSUMMARY:
            o->summary = 0;
            break;
        case O_CHECKSUM:
            if (!cap_csum_mode_parse(optarg, &o->checksum))
                return fail_usage("--checksum wants auto, on or off", optarg);
            break;
        case O_STATE:
            o->state_path = optarg;
            break;
        case O_WORKERS:
            if (!parse_u64(optarg, WK_MAX, &v) || v == 0)
                return fail_usage("--workers wants a number from 1 to 32", optarg);
            o->workers = (unsigned)v;
            break;
        case O_CAPBUF:
            if (!parse_u64(optarg, 1u << 30, &v) || v < 65536)
                return fail_usage("--capture-buffer wants bytes from 65536 to 1073741824", optarg);
            o->capture_buffer = (uint32_t)v;
            break;
        case O_DEBUGDELAY: /* not in --help: tests make a sensor slower than its link */
            if (!parse_u64(optarg, 1000000, &v))
                return fail_usage("--debug-delay-us wants microseconds up to 1000000", optarg);
            o->debug_delay_us = (unsigned)v;
            break;
        case O_DEBUGREADER: /* not in --help: the bench's ceiling of -r with workers */
            o->debug_reader_only = true;
            break;
        case O_DEBUGUNORDERED: /* not in --help: the bench's cost of judging in input order */
            o->debug_unordered = true;
            break;
        case O_STATEINT:
            if (!parse_u64(optarg, 86400 * 7, &v))
                return fail_usage("--state-interval wants seconds", optarg);
            o->state_interval_us = v * 1000000u;
            break;
        case O_FLUSH: {
            /* seconds, or milliseconds with "ms" */
            char num[32];
            size_t l = strlen(optarg);
            bool ms = l > 2 && strcmp(optarg + l - 2, "ms") == 0;
            snprintf(num, sizeof num, "%.*s", (int)(ms ? l - 2 : l), optarg);
            if (l >= sizeof num || !parse_u64(num, ms ? 3600000 : 3600, &v))
                return fail_usage("--flush-timeout wants seconds (or 500ms)", optarg);
            o->flush_ms = (unsigned)(ms ? v : v * 1000);
            break;
        }
        case O_PROBE:
            if (o->nprobes >= SENSOR_MAX_PROBES) return fail_usage("too many --probe", NULL);
            o->probes[o->nprobes++] = optarg;
            break;
        case O_PINT:
            if (!parse_u64(optarg, 86400 * 30, &v) || v == 0)
                return fail_usage("--probe-interval wants seconds", optarg);
            o->probe_interval_us = v * 1000000u;
            break;
        case O_TRIGINT:
            if (!parse_u64(optarg, 86400 * 30, &v))
                return fail_usage("--trigger-interval wants seconds (0: none)", optarg);
            o->trigger_interval_us = v * 1000000u;
            o->no_triggers = v == 0;
            break;
        case O_USER:
            o->user = optarg;
            break;
        case O_NODROP:
            o->no_drop = true;
            break;
        case O_PJIT:
            if (!parse_u64(optarg, 50, &v))
                return fail_usage("--probe-jitter wants a percentage from 0 to 50", optarg);
            o->probe_jitter = (unsigned)v;
            break;
        case O_LEARN:
            if (!parse_u64(optarg, 1000000, &v) || v == 0)
                return fail_usage("--learn-flows wants a number from 1 to 1000000", optarg);
            o->bl.learn_flows = (uint32_t)v;
            break;
        case O_TTLTOL:
            if (!parse_u64(optarg, 255, &v))
                return fail_usage("--ttl-tolerance wants hops from 0 to 255", optarg);
            o->bl.tolerance = (uint32_t)v;
            break;
        case ':':
            return fail_usage("option needs a value", argv[optind - 1]);
        default:
            return fail_usage("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc) return fail_usage("unexpected argument", argv[optind]);
    if (o->test_config) return 0;
    if (o->nfiles == 0 && o->nifaces == 0)
        return fail_usage("nothing to read: give -r FILE or -i IFACE", NULL);
    if (o->nfiles > 0 && o->nifaces > 0) return fail_usage("-r and -i cannot be combined", NULL);
    if (o->nprobes > 0 && o->nifaces == 0)
        return fail_usage("--probe runs in the live sensor: it needs -i", NULL);
    for (int i = 0; i < o->npol_flags && o->nprobes == 0; i++)
        if (strcmp(o->pol_flags[i].flag, "expect-hops") == 0)
            return fail_usage("--expect-hops is for --probe trace:HOST:PORTS", NULL);
    return 0;
}

int cmd_probe_jarm(int argc, char **argv);
int cmd_probe_trace(int argc, char **argv);
int cmd_ct(int argc, char **argv);
int cmd_probe_cert(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* `mitmwatch probe` without a known probe: the three usages, exit 2 (0 for --help). */
static int probe_usage(int argc, char **argv) {
    bool help = argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"));
    FILE *fp = help ? stdout : stderr;
    if (argc >= 3 && !help)
        fprintf(fp, "mitmwatch probe: unknown probe %s (jarm, trace or cert)\n", argv[2]);
    fputs("usage: mitmwatch probe jarm HOST[:PORT] [options]    JARM fingerprint\n"
          "       mitmwatch probe trace HOST:PORT[,PORT...] [options]   TCP traceroute per port\n"
          "       mitmwatch probe cert HOST[:PORT] [options]    the served certificate chain\n"
          "'mitmwatch probe jarm|trace|cert --help' lists each one's options.\n",
          fp);
    return help ? 0 : 2;
}

/* Live capture opens AF_PACKET sockets (libpcap), which need CAP_NET_RAW; without it libpcap
 * says only "socket: Operation not permitted". Asked the same way before anything is opened,
 * so the answer can name the capability. */
static bool can_capture(void) {
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    return errno != EPERM && errno != EACCES; /* any other failure: libpcap's message says it */
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "probe") == 0) {
        if (argc >= 3 && strcmp(argv[2], "jarm") == 0) return cmd_probe_jarm(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], "trace") == 0) return cmd_probe_trace(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], "cert") == 0) return cmd_probe_cert(argc - 2, argv + 2);
        return probe_usage(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "ct") == 0) return cmd_ct(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0) return cmd_check(argc - 1, argv + 1);
    sensor_opts o = {.stats_interval_us = 60u * 1000000u,
                     .state_interval_us = 300u * 1000000u,
                     .flush_ms = 5000,
                     .summary = -1};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    /* Live capture parses attacker bytes: it drops to an unprivileged user by default (as
     * tcpdump does), unless told not to. */
    if (o.user && o.no_drop) {
        fprintf(stderr, "mitmwatch: --user and --no-drop-privileges: choose one\n");
        return 2;
    }
    if (o.nifaces > 0 && !o.user && !o.no_drop) {
        o.user = sensor_default_user();
        o.user_default = true;
        if (!o.user) {
            fprintf(stderr,
                    "mitmwatch: live capture drops privileges to the user " SENSOR_DEFAULT_USER
                    " or nobody, and neither exists: name one with --user NAME (or keep "
                    "them with --no-drop-privileges)\n");
            return 2;
        }
    }
    /* Before anything is opened: a --user that does not exist would otherwise show up only
     * after the capture, the outputs and the state are open. */
    if (o.user && !o.user_default) {
        const struct passwd *pw = getpwnam(o.user);
        if (!pw || pw->pw_uid == 0) {
            fprintf(stderr, "mitmwatch: --user %s: %s\n", o.user,
                    pw ? "is root; name the unprivileged user to run as (or "
                         "--no-drop-privileges to keep root, not advised)"
                       : "no such user");
            return 2;
        }
    }
    /* -T checks the configuration: the capability comes at run time (the unit grants it) */
    if (!o.test_config && o.nifaces > 0 && !can_capture()) {
        fprintf(stderr, "mitmwatch: live capture needs CAP_NET_RAW: run as root, or grant it "
                        "(setcap cap_net_raw+ep on the binary, or AmbientCapabilities=CAP_NET_RAW "
                        "in a systemd unit, as the packaged one does)\n");
        return 2;
    }
    if (!o.observer[0] && gethostname(o.observer, sizeof o.observer - 1) != 0)
        snprintf(o.observer, sizeof o.observer, "mitmwatch");
    if (o.test_config) return sensor_test_config(&o);
    return sensor_run(&o);
}
