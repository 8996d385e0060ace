/* mitmwatch probe jarm: the JARM fingerprint of one TLS server, printed as jarm.py prints it.
 * Prints the 62-character JARM, and with --raw the reference's raw string on a second line.
 * Exit 0 with a hash (62 zeros when a server took the connections and sent nothing back),
 * 1 when there is no JARM to print: nothing accepted a connection (a closed port, a name that
 * does not resolve, a SOCKS5 proxy that failed; jarm.py prints 62 zeros there, which read like
 * a fingerprint) or the answers are ones the reference cannot hash; 2 on a usage or option
 * error. With exit 1, --raw still prints the raw string on the second line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "jarm.h"
#include "probe_cli.h"

static void usage(FILE *f) {
    fputs(
        "usage: mitmwatch probe jarm HOST[:PORT] [--sni NAME] [--timeout MS] [--socks5 HOST:PORT]\n"
        "                      [--raw] [-4|-6]\n",
        f);
}

/* The raw string as the reference prints it; it may hold NULs from a server's ALPN text. */
static void print_raw(const jarm_result *r) {
    fwrite(r->raw, 1, r->raw_len, stdout);
    putchar('\n');
}

/* Why no probe reached the server (res->connected == 0). */
static void unreached_reason(const jarm_opts *o, const jarm_result *res, char *out, size_t cap) {
    char proxy[300] = "";
    if (o->socks5_host)
        snprintf(proxy, sizeof proxy, strchr(o->socks5_host, ':') ? "[%s]:%u" : "%s:%u",
                 o->socks5_host, (unsigned)o->socks5_port);
    if (res->timed_out)
        snprintf(out, cap, "no connection within %d ms",
                 o->timeout_ms > 0 ? o->timeout_ms : JARM_DEFAULT_TIMEOUT_MS);
    else if (res->resolve_failed)
        snprintf(out, cap,
                 o->socks5_host ? "the SOCKS5 proxy's name does not resolve"
                                : "the name does not resolve");
    else if (o->socks5_host && res->connect_errno)
        snprintf(out, cap, "the SOCKS5 proxy %s cannot be reached (%s)", proxy,
                 strerror(res->connect_errno));
    else if (o->socks5_host)
        snprintf(out, cap, "the SOCKS5 proxy %s could not connect to the target", proxy);
    else if (res->connect_errno == ECONNREFUSED)
        snprintf(out, cap, "the port is closed (connection refused)");
    else if (res->connect_errno)
        snprintf(out, cap, "cannot connect (%s)", strerror(res->connect_errno));
    else
        snprintf(out, cap, "no connection");
}

int cmd_probe_jarm(int argc, char **argv) {
    static jarm_result res; /* large: keep it off the stack */
    static char host[256], proxy[256];
    jarm_opts o = {0};
    probe_cli cli = {.cmd = "probe jarm", .usage = usage};
    int show_raw = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = probe_cli_arg(&cli, argc, argv, i);
        if (took < 0) return cli.exit_code;
        if (took > 0) {
            i += took - 1;
        } else if (!strcmp(a, "--sni") && v) {
            o.sni = v;
            i++;
        } else if (!strcmp(a, "--socks5") && v) {
            o.socks5_port = 1080;
            if (jarm_parse_target(v, proxy, sizeof proxy, &o.socks5_port) != MW_OK) {
                fprintf(stderr, "mitmwatch probe jarm: --socks5: expected HOST:PORT: %s\n", v);
                return 2;
            }
            o.socks5_host = proxy;
            i++;
        } else if (!strcmp(a, "--raw")) {
            show_raw = 1;
        } else {
            return probe_cli_reject(&cli, a);
        }
    }
    if (!probe_cli_has_target(&cli)) return 2;
    const char *target = cli.target;
    o.family = cli.family;
    o.timeout_ms = cli.timeout_ms;
    o.port = JARM_DEFAULT_PORT;
    if (jarm_parse_target(target, host, sizeof host, &o.port) != MW_OK) {
        fprintf(stderr, "mitmwatch probe jarm: expected HOST, HOST:PORT or [IPV6]:PORT: %s\n",
                target);
        return 2;
    }
    o.host = host;
    if (o.sni && strlen(o.sni) > JARM_SNI_MAX) {
        fprintf(stderr, "mitmwatch probe jarm: --sni: longer than %d bytes\n", JARM_SNI_MAX);
        return 2;
    }

    mw_rc rc = jarm_probe(&o, &res);
    if (rc == MW_ERR) {
        fprintf(stderr, "mitmwatch probe jarm: %s: probe failed (out of resources)\n", target);
        return 2;
    }
    if (rc == MW_MALFORMED) {
        fprintf(stderr,
                "mitmwatch probe jarm: %s: the answers cannot be hashed the reference's way\n",
                target);
        if (show_raw) { /* an empty hash line, then the raw, so line 2 is always the raw */
            putchar('\n');
            print_raw(&res);
        }
        return 1;
    }
    if (res.connected == 0) {
        char why[400];
        unreached_reason(&o, &res, why, sizeof why);
        fprintf(stderr, "mitmwatch probe jarm: %s: %s, no JARM\n", target, why);
        if (show_raw) {
            putchar('\n');
            print_raw(&res);
        }
        return 1;
    }
    printf("%s\n", res.hash);
    if (show_raw) print_raw(&res);
    return 0;
}
