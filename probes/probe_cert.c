/* The certificate fetch (see probe_cert.h): connect, hand the socket to the STARTTLS dialogue
 * (probe_starttls.c) where one is asked for, then the TLS handshake with OpenSSL, whose
 * messages and peer chain become the tls_hs facts. */
#include "probe_cert.h"

#include "mw_hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mw_cursor.h"

mw_rc pcert_parse_target(const char *s, char *host, size_t host_cap, uint16_t *port) {
    return mw_parse_hostport(s, host, host_cap, port);
}

/* ---------------------------------------------------------------- errors */

static void fail(pcert_result *r, pcert_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(pcert_result *r, pcert_err e, const char *fmt, ...) {
    va_list ap;
    if (r->err != PCERT_OK) /* the first cause is the one to report */
        return;
    r->err = e;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

/* Wall clock for @timestamp and the passive parser; deadlines use pcert_now_ms. */
static uint64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------------------- connect */

static void numeric(const struct sockaddr *sa, socklen_t len, char *ip, size_t cap,
                    uint16_t *port) {
    char serv[8];
    if (getnameinfo(sa, len, ip, (socklen_t)cap, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        ip[0] = '\0';
        *port = 0;
        return;
    }
    *port = (uint16_t)strtoul(serv, NULL, 10);
}

/* Tries each address in turn until one connects; the deadline covers them all. */
static int do_connect(const pcert_opts *o, pcert_result *r, int64_t deadline) {
    struct addrinfo hints, *ai = NULL;
    char portstr[8];
    int fd = -1, last_err = 0;
    bool timed_out = false;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = o->family;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)o->port);
    int g = getaddrinfo(o->host, portstr, &hints, &ai);
    if (g != 0 || !ai) {
        fail(r, PCERT_E_RESOLVE, "cannot resolve %s: %s", o->host,
             g ? gai_strerror(g) : "no address");
        return -1;
    }
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        char ip[64];
        uint16_t p;
        numeric(a->ai_addr, a->ai_addrlen, ip, sizeof ip, &p);
        snprintf(r->peer_ip, sizeof r->peer_ip, "%s", ip);
        r->peer_port = p;
        r->family = a->ai_family; /* so that a failure event still says ipv4 or ipv6 */
        int s = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            last_err = errno;
            continue;
        }
        if (connect(s, a->ai_addr, a->ai_addrlen) == 0) {
            fd = s;
            break;
        }
        if (errno != EINPROGRESS) {
            last_err = errno;
            close(s);
            continue;
        }
        int w = pcert_wait_fd(s, POLLOUT, deadline);
        int err = 0;
        socklen_t el = sizeof err;
        if (w == 0) {
            timed_out = true;
            close(s);
            break;
        }
        if (w < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            last_err = w < 0 ? errno : err;
            close(s);
            continue;
        }
        fd = s;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        if (timed_out)
            fail(r, PCERT_E_TIMEOUT, "timed out after %d ms connecting to %s port %u",
                 o->timeout_ms, r->peer_ip, r->peer_port);
        else if (last_err == ECONNREFUSED)
            fail(r, PCERT_E_CONNECT, "connection refused by %s port %u", r->peer_ip, r->peer_port);
        else
            fail(r, PCERT_E_CONNECT, "cannot connect to %s port %u: %s", r->peer_ip, r->peer_port,
                 strerror(last_err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        r->family = ss.ss_family;
        numeric((struct sockaddr *)&ss, sl, r->local_ip, sizeof r->local_ip, &r->local_port);
    }
    return fd;
}

/* ---------------------------------------------------------------- TLS */

/* Every plaintext ClientHello and ServerHello (HelloRetryRequest included) we exchanged goes
 * to the passive parser as a record of its own, so the fingerprints are computed by the same
 * code as for a captured handshake. OpenSSL hands us whole handshake messages. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg) {
    pcert_result *r = arg;
    mw_cur c = mw_cur_make(buf, len);
    uint8_t type, rec[5 + 16384];
    (void)version;
    (void)ssl;
    if (content_type != SSL3_RT_HANDSHAKE || !mw_cur_peek_u8(&c, 0, &type) ||
        (type != 1 && type != 2))
        return;
    uint64_t now = wall_us();
    while (!mw_cur_empty(&c)) { /* RFC 8446 5.1: at most 2^14 bytes a record */
        size_t n = c.len < 16384 ? c.len : 16384;
        mw_cur part;
        if (!mw_cur_get_bytes(&c, n, &part)) return;
        rec[0] = 22;
        rec[1] = 3;
        rec[2] = 3;
        rec[3] = (uint8_t)(n >> 8);
        rec[4] = (uint8_t)n;
        memcpy(rec + 5, part.data, n);
        (void)tls_session_feed(&r->sess, write_p ? 0 : 1, rec, n + 5, now);
    }
}

/* Alerts the server sent; SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with the alerts we
 * send, so both bits are tested. */
static void info_cb(const SSL *ssl, int where, int ret) {
    pcert_result *r = SSL_get_app_data(ssl);
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && r && !r->tls_alert) {
        r->tls_alert = true;
        r->tls_alert_value = ret;
    }
}

static bool alpn_wire(const char *list, uint8_t *out, size_t cap, unsigned *len) {
    size_t o = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n > 255 || o + 1 + n > cap) return false;
        out[o++] = (uint8_t)n;
        memcpy(out + o, p, n);
        o += n;
        p += n + (e ? 1 : 0);
    }
    *len = (unsigned)o;
    return o > 0;
}

/* Copies the SCTs OpenSSL found in one place (TLS extension or stapled OCSP); SCTs have no dup
 * function, so they go through their wire form. */
static STACK_OF(SCT) * scts_from(const STACK_OF(SCT) * all, sct_source_t src) {
    STACK_OF(SCT) *out = NULL;
    for (int i = 0; all && i < sk_SCT_num(all); i++) {
        const SCT *s = sk_SCT_value(all, i);
        if (SCT_get_source(s) != src) continue;
        unsigned char *der = NULL;
        int n = i2o_SCT(s, &der);
        const unsigned char *p = der;
        SCT *copy = n > 0 ? o2i_SCT(NULL, &p, (size_t)n) : NULL;
        OPENSSL_free(der);
        if (!copy) continue;
        SCT_set_source(copy, src);
        if (!out) out = sk_SCT_new_null();
        if (!out || !sk_SCT_push(out, copy)) SCT_free(copy);
    }
    return out;
}

static void tls_fail(pcert_result *r, SSL *ssl, int k) {
    int e = SSL_get_error(ssl, k);
    unsigned long first = ERR_peek_error();
    if (r->tls_alert) {
        fail(r, PCERT_E_TLS, "TLS handshake failed: the server sent alert %s (%d)",
             SSL_alert_desc_string_long(r->tls_alert_value), r->tls_alert_value & 0xff);
    } else if (e == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        fail(r, PCERT_E_TLS, "TLS handshake failed: the server closed the connection");
    } else if (e == SSL_ERROR_SSL && first) {
        const char *why = ERR_reason_error_string(first);
        if (ERR_GET_REASON(first) == SSL_R_WRONG_VERSION_NUMBER ||
            ERR_GET_REASON(first) == SSL_R_PACKET_LENGTH_TOO_LONG)
            fail(r, PCERT_E_TLS, "TLS handshake failed: %s (the server did not answer with TLS)",
                 why ? why : "record error");
        else
            fail(r, PCERT_E_TLS, "TLS handshake failed: %s", why ? why : "OpenSSL error");
    } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        /* A server that closes while our ClientHello is unread answers with RST instead of
         * FIN, depending only on timing: both are the server hanging up. */
        bool hangup = errno == 0 || errno == ECONNRESET || errno == EPIPE;
        fail(r, PCERT_E_TLS, "TLS handshake failed: the server closed the connection%s%s",
             hangup ? "" : ": ", hangup ? "" : strerror(errno));
    } else {
        fail(r, PCERT_E_TLS, "TLS handshake failed (SSL error %d)", e);
    }
    ERR_clear_error();
}

static bool do_tls(const pcert_opts *o, pcert_result *r, int fd, const char *sni,
                   int64_t deadline) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    bool ok = false;
    uint8_t alpn[512];
    unsigned alpn_len = 0;

    if (!ctx) goto internal;
    /* Trust nothing and judge nothing here: any chain, any key, as long as it is TLS 1.2+.
     * The default suites keep the ClientHello that of any OpenSSL client (curl, s_client). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_security_level(ctx, 0);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, o->tls_max ? o->tls_max : TLS1_3_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"))
        goto internal;
    SSL_CTX_set_msg_callback(ctx, msg_cb);
    SSL_CTX_set_info_callback(ctx, info_cb);
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set_app_data(ssl, r)) goto internal;
    SSL_set_msg_callback_arg(ssl, r);
    if (sni) { /* the macro casts away const: hand it a copy */
        char name[PCERT_SNI_MAX + 1];
        snprintf(name, sizeof name, "%s", sni);
        if (!SSL_set_tlsext_host_name(ssl, name)) goto internal;
    }
    if (o->alpn) {
        if (!alpn_wire(o->alpn, alpn, sizeof alpn, &alpn_len)) {
            fail(r, PCERT_E_USAGE, "bad ALPN list: %s", o->alpn);
            goto out;
        }
        if (SSL_set_alpn_protos(ssl, alpn, alpn_len) != 0) goto internal;
    }
    /* status_request and signed_certificate_timestamp; "permissive" records without judging */
    if (!SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) ||
        !SSL_enable_ct(ssl, SSL_CT_VALIDATION_PERMISSIVE))
        goto internal;
    SSL_set_connect_state(ssl);

    int64_t t0 = pcert_now_ms();
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int k = SSL_connect(ssl);
        if (k == 1) break;
        int e = SSL_get_error(ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = pcert_wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w == 0) {
                fail(r, PCERT_E_TIMEOUT, "timed out after %d ms during the TLS handshake",
                     o->timeout_ms);
                goto out;
            }
            if (w < 0) {
                fail(r, PCERT_E_TLS, "TLS handshake failed: %s", strerror(errno));
                goto out;
            }
            continue;
        }
        tls_fail(r, ssl, k);
        goto out;
    }
    r->handshake_ms = (uint64_t)(pcert_now_ms() - t0);
    r->handshake_done = true;

    tls_hs *h = r->hs;
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl); /* client side: leaf first */
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        unsigned char *der = NULL;
        int n = i2d_X509(sk_X509_value(chain, i), &der);
        if (n > 0 && h->nchain < TLS_MAX_CHAIN) {
            x509_info *e = x509_cache_get(r->certs, der, (size_t)n);
            if (e) h->chain[h->nchain++] = e;
        }
        OPENSSL_free(der);
    }
    h->cert_seen = h->nchain > 0;
    const unsigned char *ocsp = NULL;
    long ocsp_len = SSL_get_tlsext_status_ocsp_resp(ssl, &ocsp);
    h->ocsp_stapled = ocsp && ocsp_len > 0;
    /* OpenSSL sees SCTs in TLS 1.3's Certificate entries too, where the passive parser can't */
    const STACK_OF(SCT) *scts = SSL_get0_peer_scts(ssl);
    SCT_LIST_free(h->tls_scts);
    SCT_LIST_free(h->ocsp_scts);
    h->tls_scts = scts_from(scts, SCT_SOURCE_TLS_EXTENSION);
    h->ocsp_scts = scts_from(scts, SCT_SOURCE_OCSP_STAPLED_RESPONSE);
    /* Facts the parser only knows from the ServerHello; confirm them from the library. */
    if (!h->have_sh) {
        h->have_sh = true;
        h->version = (uint16_t)SSL_version(ssl);
        const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
        h->cipher = c ? (uint16_t)(SSL_CIPHER_get_id(c) & 0xffff) : 0;
    }
    if (!h->alpn) { /* TLS 1.3: in EncryptedExtensions, which the parser never sees */
        const unsigned char *sel = NULL;
        unsigned sel_len = 0;
        SSL_get0_alpn_selected(ssl, &sel, &sel_len);
        if (sel && sel_len > 0 && (h->alpn = malloc(sel_len + 1)) != NULL) {
            memcpy(h->alpn, sel, sel_len);
            h->alpn[sel_len] = '\0';
        }
    }
    h->established = true;
    h->incomplete = false;
    ok = true;
    (void)SSL_shutdown(ssl); /* close_notify, without waiting for the server's */
    goto out;
internal:
    fail(r, PCERT_E_INTERNAL, "OpenSSL setup failed: %s",
         ERR_reason_error_string(ERR_peek_last_error())
             ? ERR_reason_error_string(ERR_peek_last_error())
             : "unknown");
out:
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return ok;
}

/* ---------------------------------------------------------------- probe */

static bool is_ip_literal(const char *h) {
    struct in6_addr a;
    return inet_pton(AF_INET, h, &a) == 1 || inet_pton(AF_INET6, h, &a) == 1;
}

mw_rc pcert_probe(const pcert_opts *opts, pcert_result *r) {
    pcert_opts o = *opts;
    int fd = -1;

    memset(r, 0, sizeof *r);
    r->start_us = wall_us();
    int64_t t0 = pcert_now_ms();
    if (o.timeout_ms <= 0) o.timeout_ms = PCERT_DEFAULT_TIMEOUT_MS;
    if (o.port == 0) o.port = pcert_default_port(o.starttls);
    int64_t deadline = t0 + o.timeout_ms;
    r->starttls = pcert_starttls_name(o.starttls);
    r->certs = x509_cache_new(TLS_MAX_CHAIN * 2, &r->st);
    if (!r->certs) {
        fail(r, PCERT_E_INTERNAL, "out of memory");
        return MW_ERR;
    }
    tls_session_init(&r->sess, 0, r->certs, &r->st);
    r->sess_init = true;
    r->hs = &r->sess.hs;
    if (!o.host || !o.host[0]) {
        fail(r, PCERT_E_USAGE, "no host");
        return MW_ERR;
    }
    const char *sni = o.sni ? o.sni : is_ip_literal(o.host) ? NULL : o.host;
    if (sni && (!sni[0] || strlen(sni) > PCERT_SNI_MAX)) {
        fail(r, PCERT_E_USAGE, "server name must be 1 to %d bytes", PCERT_SNI_MAX);
        return MW_ERR;
    }

    fd = do_connect(&o, r, deadline);
    if (fd >= 0) {
        pcert_starttls_conn c = {.fd = fd,
                                 .deadline = deadline,
                                 .timeout_ms = o.timeout_ms,
                                 .name = sni ? sni : o.host,
                                 .family = r->family,
                                 .local_ip = r->local_ip};
        /* r->err is still PCERT_OK here, so the dialogue's message is the first cause */
        pcert_err e = pcert_starttls_run(o.starttls, &c, r->error, sizeof r->error);
        if (e == PCERT_OK) {
            r->starttls_done = o.starttls != PCERT_STARTTLS_NONE;
            r->hs->starttls = r->starttls;
            (void)do_tls(&o, r, fd, sni, deadline);
        } else {
            r->err = e;
        }
        close(fd);
    }
    r->duration_ms = (uint64_t)(pcert_now_ms() - t0);
    if (r->err == PCERT_OK && !r->handshake_done)
        fail(r, PCERT_E_INTERNAL, "probe ended without a handshake");
    return r->err == PCERT_OK ? MW_OK : MW_ERR;
}

void pcert_result_free(pcert_result *r) {
    if (r->sess_init) tls_session_free(&r->sess); /* drops the chain's references into certs */
    x509_cache_free(r->certs);
    r->sess_init = false;
    r->certs = NULL;
    r->hs = NULL;
}
