/* mitmwatch probe trace: TCP traceroute to one host, per port (issue 6, active half).
 *
 *   mitmwatch probe trace HOST:PORT[,PORT...] [--max-ttl N] [--timeout MS] [--rate N]
 *                         [--attempts N] [--last N] [--expect-hops [PORT=]LIST]... [--json]
 *                         [-4|-6] [--user NAME]
 *
 * LIST is one acceptable path, "A,B,C" (addresses or '*' as a wildcard), compared on its last
 * --last hops (default 3; 0 = whole path); repeat the option for several acceptable paths, and
 * prefix "PORT=" to make it apply to one port only. Text output is traceroute-like; --json
 * prints one mitmwatch.path event and one path.hops_changed alert per port that matches none of
 * its expected paths.
 *
 * Exit status, in the Nagios plugin style the `check` command uses: 0 traced (and every port
 * matches its expectations), 1 a path.hops_changed alert was raised, 2 usage error, 3 the trace
 * could not run (no CAP_NET_RAW, name did not resolve, no route): UNKNOWN, because nothing was
 * learned about the path. The raw sockets are opened first; then privileges are dropped (to
 * --user, default nobody, when root; capabilities cleared in any case) before the name is
 * resolved or a packet is read. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ev_trace.h"
#include "mw_buf.h"
#include "probe_cli.h"
#include "probe_trace.h"

#define NO_CAP_MSG                                                                                 \
    "mitmwatch: probe trace needs CAP_NET_RAW (run as root or setcap cap_net_raw+ep)\n"
#define MAX_EXPECT 16

static void usage(FILE *f) {
    fputs("usage: mitmwatch probe trace HOST:PORT[,PORT...] [--max-ttl N] [--timeout MS]\n"
          "                             [--rate N] [--attempts N] [--last N]\n"
          "                             [--expect-hops [PORT=]ADDR,ADDR,...]... [--json]\n"
          "                             [-4|-6] [--user NAME]\n",
          f);
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end = NULL;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* "HOST:P[,P...]", "[V6]:P[,P...]". */
static int parse_target(const char *s, char *host, size_t cap, uint16_t *ports, unsigned *n) {
    const char *hs = s, *he, *ps;
    if (*s == '[') {
        he = strchr(s, ']');
        if (!he || he[1] != ':') return -1;
        hs = s + 1;
        ps = he + 2;
    } else {
        he = strrchr(s, ':');
        if (!he || memchr(s, ':', (size_t)(he - s)))
            return -1; /* a bare IPv6 literal needs brackets to carry ports */
        ps = he + 1;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= cap) return -1;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *n = 0;
    while (*ps) {
        char tok[8];
        const char *e = strchr(ps, ',');
        size_t l = e ? (size_t)(e - ps) : strlen(ps);
        unsigned long v;
        if (l == 0 || l >= sizeof tok || *n >= TRACE_MAX_PORTS) return -1;
        memcpy(tok, ps, l);
        tok[l] = '\0';
        if (parse_uint(tok, 1, 65535, &v) != 0) return -1;
        for (unsigned i = 0; i < *n; i++)
            if (ports[i] == v) return -1;
        ports[(*n)++] = (uint16_t)v;
        ps += l + (e ? 1 : 0);
        if (e && !*ps) return -1;
    }
    return *n ? 0 : -1;
}

static uint64_t wall_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

int cmd_probe_trace(int argc, char **argv) {
    static trace_result res;
    static trace_pathset sets[MAX_EXPECT]; /* one per distinct port prefix (0: all ports) */
    static trace_path tmp;
    unsigned nsets = 0;
    trace_opts o = {0};
    const char *user = NULL;
    char host[256];
    bool json = false;
    unsigned long last_n = TRACE_DEFAULT_LAST_N, v;
    probe_cli cli = {.cmd = "probe trace", .usage = usage, .timeout_max_ms = 60000};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int took = probe_cli_arg(&cli, argc, argv, i);
        if (took < 0) return cli.exit_code;
        if (took > 0) {
            i += took - 1;
        } else if (!strcmp(a, "--max-ttl") && val) {
            if (parse_uint(val, 1, TRACE_MAX_TTL, &v) != 0) {
                fprintf(stderr, "mitmwatch probe trace: --max-ttl: 1..%d: %s\n", TRACE_MAX_TTL,
                        val);
                return 2;
            }
            o.max_ttl = (unsigned)v;
            i++;
        } else if (!strcmp(a, "--rate") && val) {
            if (parse_uint(val, 1, 10000, &v) != 0) {
                fprintf(stderr, "mitmwatch probe trace: --rate: probes per second 1..10000: %s\n",
                        val);
                return 2;
            }
            o.rate = (unsigned)v;
            i++;
        } else if (!strcmp(a, "--attempts") && val) {
            if (parse_uint(val, 1, 4, &v) != 0) {
                fprintf(stderr, "mitmwatch probe trace: --attempts: 1..4: %s\n", val);
                return 2;
            }
            o.attempts = (unsigned)v;
            i++;
        } else if (!strcmp(a, "--last") && val) {
            if (parse_uint(val, 0, TRACE_MAX_TTL, &last_n) != 0) {
                fprintf(stderr, "mitmwatch probe trace: --last: 0..%d: %s\n", TRACE_MAX_TTL, val);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--expect-hops") && val) {
            unsigned long port = 0;
            const char *list = val, *eq = strchr(val, '=');
            if (eq) {
                char tok[8];
                size_t l = (size_t)(eq - val);
                if (l == 0 || l >= sizeof tok) {
                    fprintf(stderr, "mitmwatch probe trace: --expect-hops: bad port: %s\n", val);
                    return 2;
                }
                memcpy(tok, val, l);
                tok[l] = '\0';
                if (parse_uint(tok, 1, 65535, &port) != 0) {
                    fprintf(stderr, "mitmwatch probe trace: --expect-hops: bad port: %s\n", val);
                    return 2;
                }
                list = eq + 1;
            }
            if (trace_path_parse(list, &tmp) != MW_OK) {
                fprintf(stderr,
                        "mitmwatch probe trace: --expect-hops: expected ADDR,ADDR,... (IPv4, "
                        "IPv6 or *): %s\n",
                        val);
                return 2;
            }
            unsigned s = 0;
            while (s < nsets && sets[s].port != port)
                s++;
            if (s == nsets) {
                if (nsets == MAX_EXPECT) {
                    fprintf(stderr, "mitmwatch probe trace: --expect-hops: too many ports\n");
                    return 2;
                }
                memset(&sets[s], 0, sizeof sets[s]);
                sets[s].port = (uint16_t)port;
                nsets++;
            }
            if (trace_pathset_add(&sets[s], &tmp) != MW_OK) {
                fprintf(stderr, "mitmwatch probe trace: --expect-hops: at most %d paths each\n",
                        TRACE_SET_MAX);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--user") && val) {
            user = val;
            i++;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            return probe_cli_reject(&cli, a);
        }
    }
    if (!probe_cli_has_target(&cli)) return 2;
    const char *target = cli.target;
    int family = cli.family;
    o.timeout_ms = cli.timeout_ms;
    if (parse_target(target, host, sizeof host, o.ports, &o.nports) != 0) {
        fprintf(stderr,
                "mitmwatch probe trace: expected HOST:PORT[,PORT...] or [IPV6]:PORT[,PORT...] "
                "(1..%d distinct ports): %s\n",
                TRACE_MAX_PORTS, target);
        return 2;
    }
    for (unsigned s = 0; s < nsets; s++) {
        bool found = sets[s].port == 0;
        for (unsigned i = 0; i < o.nports && !found; i++)
            found = o.ports[i] == sets[s].port;
        if (!found) {
            fprintf(stderr, "mitmwatch probe trace: --expect-hops: port %u is not traced\n",
                    sets[s].port);
            return 2;
        }
    }

    trace_sockets socks;
    if (trace_sockets_open(&socks) != MW_OK) {
        if (trace_sockets_denied(&socks))
            fputs(NO_CAP_MSG, stderr);
        else
            fprintf(stderr, "mitmwatch probe trace: cannot open raw sockets: %s\n",
                    strerror(socks.err4));
        return 3;
    }
    char err[256];
    if (trace_drop_privileges(user, err, sizeof err) != MW_OK) {
        fprintf(stderr, "mitmwatch probe trace: cannot drop privileges: %s\n", err);
        trace_sockets_close(&socks);
        return 3;
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, NULL, &hints, &ai);
    if (g != 0 || !ai) {
        fprintf(stderr, "mitmwatch probe trace: %s: %s\n", host, gai_strerror(g));
        trace_sockets_close(&socks);
        return 3;
    }
    o.family = ai->ai_family;
    if (o.family == AF_INET)
        memcpy(o.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
    else
        memcpy(o.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
    freeaddrinfo(ai);

    uint64_t ts = wall_us();
    mw_rc rc = trace_run(&socks, &o, &res, err, sizeof err);
    trace_sockets_close(&socks);
    if (rc != MW_OK) {
        fprintf(stderr, "mitmwatch probe trace: %s: %s\n", target, err);
        return 3;
    }

    char observer[256] = "";
    if (gethostname(observer, sizeof observer - 1) != 0)
        snprintf(observer, sizeof observer, "mitmwatch");
    mw_buf out;
    mw_buf_init(&out, 1u << 20);
    int status = 0;
    bool ok = json ? trace_event_path(&out, observer, ts, host, &res, (unsigned)last_n)
                   : trace_text(&out, host, &res, (unsigned)last_n);
    if (json) ok = ok && mw_buf_putc(&out, '\n');
    for (unsigned i = 0; i < res.nports && ok; i++) {
        /* a port's own expectations win over the ones for every port */
        const trace_pathset *set = NULL;
        for (unsigned s = 0; s < nsets; s++)
            if (sets[s].port == res.ports[i].port) set = &sets[s];
        for (unsigned s = 0; s < nsets && !set; s++)
            if (sets[s].port == 0) set = &sets[s];
        if (!set) continue;
        trace_path_of(&res, i, &tmp);
        if (trace_compare(set, &tmp, (unsigned)last_n)) continue;
        status = 1;
        if (json) {
            ok = trace_event_hops_changed(&out, observer, ts, host, &res, i, set, (unsigned)last_n,
                                          NULL) &&
                 mw_buf_putc(&out, '\n');
        } else {
            ok = mw_buf_append_str(&out, "path.hops_changed: port ");
            char line[64];
            snprintf(line, sizeof line, "%u: observed ", res.ports[i].port);
            ok = ok && mw_buf_append_str(&out, line);
            for (unsigned h = 0; h < tmp.n && ok; h++)
                ok = (h == 0 || mw_buf_putc(&out, ',')) && mw_buf_append_str(&out, tmp.hop[h]);
            ok = ok && mw_buf_putc(&out, '\n');
        }
    }
    if (!ok) {
        fprintf(stderr, "mitmwatch probe trace: output larger than its cap\n");
        mw_buf_free(&out);
        return 3;
    }
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    mw_buf_free(&out);
    return status;
}
