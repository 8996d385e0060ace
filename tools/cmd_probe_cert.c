/* mitmwatch probe cert: fetch a server's certificate chain, after STARTTLS where asked.
 * Prints a summary (version, cipher, each certificate's subject, issuer, SHA-256 and validity),
 * or with --json the mitmwatch.probe event line. Exit 0 when the handshake completed, 2 on a
 * usage error, 3 (UNKNOWN, as for a monitoring plugin) when the probe failed, with one line on
 * stderr naming the cause; --json still prints the failure event. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev_probe.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "probe_cert.h"
#include "probe_cli.h"
#include "tls_names.h"

#define PCERT_EVENT_MAX (1u << 20)

static void usage(FILE *f) {
    fputs(
        "usage: mitmwatch probe cert HOST[:PORT] [--starttls PROTO] [--sni NAME]\n"
        "                      [--alpn P1,P2] [--tls-max 1.2|1.3] [--timeout MS] [--json] [-4|-6]\n"
        "  PROTO: xmpp smtp imap pop3 ftp ldap postgres\n",
        f);
}

static void print_summary(const char *target, const pcert_result *r) {
    const tls_hs *h = r->hs;
    char ts1[MW_TS_LEN], ts2[MW_TS_LEN], hex[65];
    const char *vn = tls_version_name(h->version), *cn = tls_cipher_name(h->cipher);
    const STACK_OF(SCT) *embedded = h->nchain > 0 ? h->chain[0]->scts : NULL;
    printf("target      %s (%s port %u)\n", target, r->peer_ip, r->peer_port);
    if (r->starttls) printf("starttls    %s: the server agreed to start TLS\n", r->starttls);
    printf("tls         %s%s %s\n", vn ? "TLS " : "", vn ? vn : "?", cn ? cn : "?");
    if (h->sni) printf("sni         %s\n", h->sni);
    if (h->alpn) printf("alpn        %s\n", h->alpn);
    printf("handshake   %llu ms (probe %llu ms)\n", (unsigned long long)r->handshake_ms,
           (unsigned long long)r->duration_ms);
    printf("ocsp        %s\n", h->ocsp_stapled ? "stapled" : "none");
    printf("scts        %d embedded, %d tls extension, %d ocsp\n",
           embedded ? sk_SCT_num(embedded) : 0, h->tls_scts ? sk_SCT_num(h->tls_scts) : 0,
           h->ocsp_scts ? sk_SCT_num(h->ocsp_scts) : 0);
    printf("chain       %u certificate%s\n", h->nchain, h->nchain == 1 ? "" : "s");
    for (int i = 0; i < h->nchain; i++) {
        const x509_info *e = h->chain[i];
        mw_hex(hex, e->sha256, 32);
        mw_ts_sec(ts1, e->not_before);
        mw_ts_sec(ts2, e->not_after);
        printf("  [%d] subject  %s\n", i, e->subject);
        printf("      issuer   %s\n", e->issuer);
        printf("      sha256   %s\n", hex);
        printf("      valid    %s .. %s\n", ts1, ts2);
    }
}

int cmd_probe_cert(int argc, char **argv) {
    static pcert_result res; /* large: keep it off the stack */
    static char host[256], target[300], observer[256];
    pcert_opts o = {0};
    probe_cli cli = {.cmd = "probe cert", .usage = usage};
    bool json = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = probe_cli_arg(&cli, argc, argv, i);
        if (took < 0)
            return cli.exit_code;
        if (took > 0) {
            i += took - 1;
        } else if (!strcmp(a, "--sni") && v) {
            o.sni = v;
            i++;
        } else if (!strcmp(a, "--starttls") && v) {
            if (!pcert_starttls_parse(v, &o.starttls)) {
                fprintf(stderr, "mitmwatch probe cert: --starttls: unknown protocol: %s\n", v);
                usage(stderr);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--alpn") && v) {
            o.alpn = v;
            i++;
        } else if (!strcmp(a, "--tls-max") && v) {
            if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0) {
                fprintf(stderr, "mitmwatch probe cert: --tls-max: 1.2 or 1.3: %s\n", v);
                return 2;
            }
            o.tls_max = strcmp(v, "1.2") == 0 ? 0x0303 : 0x0304;
            i++;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            return probe_cli_reject(&cli, a);
        }
    }
    if (!probe_cli_has_target(&cli))
        return 2;
    const char *arg_target = cli.target;
    o.family = cli.family;
    o.timeout_ms = cli.timeout_ms;
    o.port = pcert_default_port(o.starttls);
    if (pcert_parse_target(arg_target, host, sizeof host, &o.port) != MW_OK) {
        fprintf(stderr, "mitmwatch probe cert: expected HOST, HOST:PORT or [IPV6]:PORT: %s\n",
                arg_target);
        return 2;
    }
    o.host = host;
    if (o.sni && (!o.sni[0] || strlen(o.sni) > PCERT_SNI_MAX)) {
        fprintf(stderr, "mitmwatch probe cert: --sni: 1 to %d bytes\n", PCERT_SNI_MAX);
        return 2;
    }
    snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             (unsigned)o.port);
    if (!mw_hash_init()) {
        fprintf(stderr, "mitmwatch probe cert: OpenSSL has no SHA-256/MD5\n");
        return 3;
    }
    if (gethostname(observer, sizeof observer - 1) != 0)
        snprintf(observer, sizeof observer, "mitmwatch");

    signal(SIGPIPE, SIG_IGN); /* OpenSSL writes without MSG_NOSIGNAL; a closed peer is an error */
    mw_rc rc = pcert_probe(&o, &res);
    int status = 0;
    if (rc != MW_OK) {
        fprintf(stderr, "mitmwatch probe cert: %s: %s\n", target, res.error);
        status = res.err == PCERT_E_USAGE ? 2 : 3;
    }
    if (json) {
        mw_buf ev;
        ev_ctx ctx = {.observer = observer};
        mw_buf_init(&ev, PCERT_EVENT_MAX);
        if (ev_probe_cert_build(&ev, &ctx, target, &res, NULL)) {
            fwrite(ev.data, 1, ev.len, stdout);
            putchar('\n');
        } else {
            fprintf(stderr, "mitmwatch probe cert: %s: the event is larger than %u bytes\n", target,
                    PCERT_EVENT_MAX);
            if (!status) status = 3;
        }
        mw_buf_free(&ev);
    } else if (status == 0) {
        print_summary(target, &res);
    }
    pcert_result_free(&res);
    mw_hash_cleanup();
    if (fflush(stdout) != 0 && !status) status = 3;
    return status;
}
