#include "probe_cert.h"

#include "mw_hostport.h"

#include <arpa/inet.h>
#include <ctype.h>
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

/* ---------------------------------------------------------------- names */

static const struct {
    const char *name;
    pcert_starttls p;
} pcert_names[] = {
    {"xmpp", PCERT_STARTTLS_XMPP},         {"smtp", PCERT_STARTTLS_SMTP},
    {"imap", PCERT_STARTTLS_IMAP},         {"pop3", PCERT_STARTTLS_POP3},
    {"ftp", PCERT_STARTTLS_FTP},           {"ldap", PCERT_STARTTLS_LDAP},
    {"postgres", PCERT_STARTTLS_POSTGRES}, {"postgresql", PCERT_STARTTLS_POSTGRES},
};

bool pcert_starttls_parse(const char *name, pcert_starttls *out) {
    for (size_t i = 0; name && i < MW_ARRAY_LEN(pcert_names); i++)
        if (strcasecmp(name, pcert_names[i].name) == 0) {
            *out = pcert_names[i].p;
            return true;
        }
    return false;
}

const char *pcert_starttls_name(pcert_starttls p) {
    /* the passive path's names (stls_proto_name), so events from both paths compare */
    static const char *const names[] = {NULL,   "xmpp", "smtp", "imap",
                                        "pop3", "ftp",  "ldap", "postgres"};
    return (unsigned)p < MW_ARRAY_LEN(names) ? names[p] : NULL;
}

uint16_t pcert_default_port(pcert_starttls p) {
    static const uint16_t ports[] = {443, 5222, 25, 143, 110, 21, 389, 5432};
    return (unsigned)p < MW_ARRAY_LEN(ports) ? ports[p] : 443;
}

mw_rc pcert_parse_target(const char *s, char *host, size_t host_cap, uint16_t *port) {
    return mw_parse_hostport(s, host, host_cap, port);
}

/* ---------------------------------------------------------------- reply parsers */

void pcert_reply_init(pcert_reply *r) {
    memset(r, 0, sizeof *r);
}

static bool three_digits(const char *s, size_t len, int *code) {
    if (len < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]))
        return false;
    *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return true;
}

mw_rc pcert_reply_line(pcert_reply *r, const char *line, size_t len) {
    int code = 0;
    bool digits = three_digits(line, len, &code);
    char sep = len > 3 ? line[3] : ' ';
    MW_ENSURE(!r->done && r->lines < PCERT_REPLY_LINES, MW_MALFORMED);
    r->lines++;
    if (r->code == 0) {
        MW_ENSURE(digits && (sep == ' ' || sep == '-'), MW_MALFORMED);
        r->code = code;
        r->done = sep == ' ';
        return MW_OK;
    }
    /* RFC 959 4.2: the reply ends at the first line with the same code followed by a space */
    if (digits && code == r->code && sep == ' ') r->done = true;
    return MW_OK;
}

/* Case-insensitive: does line[0..len) start with word, followed by the end or a space? */
static bool word_at(const char *line, size_t len, const char *word) {
    size_t n = strlen(word);
    if (len < n || strncasecmp(line, word, n) != 0) return false;
    return len == n || line[n] == ' ';
}

pcert_imap pcert_imap_line(const char *line, size_t len, const char *tag) {
    size_t tl = strlen(tag);
    if (len >= 2 && line[0] == '*' && line[1] == ' ')
        return word_at(line + 2, len - 2, "BYE") ? PCERT_IMAP_BYE : PCERT_IMAP_UNTAGGED;
    if (len >= 1 && line[0] == '+') return PCERT_IMAP_UNTAGGED;
    if (len > tl && memcmp(line, tag, tl) == 0 && line[tl] == ' ') {
        const char *st = line + tl + 1;
        size_t sl = len - tl - 1;
        if (word_at(st, sl, "OK")) return PCERT_IMAP_OK;
        if (word_at(st, sl, "NO")) return PCERT_IMAP_NO;
        if (word_at(st, sl, "BAD")) return PCERT_IMAP_BAD;
    }
    return PCERT_IMAP_OTHER;
}

bool pcert_imap_greeting_ok(const char *line, size_t len) {
    /* RFC 9051 7.1: greeting is "* OK", "* PREAUTH" or "* BYE" */
    return len >= 2 && line[0] == '*' && line[1] == ' ' &&
           (word_at(line + 2, len - 2, "OK") || word_at(line + 2, len - 2, "PREAUTH"));
}

int pcert_pop3_status(const char *line, size_t len) {
    if (word_at(line, len, "+OK")) return 1;
    if (word_at(line, len, "-ERR")) return 0;
    return -1;
}

mw_rc pcert_xml_next_tag(const char *data, size_t len, size_t *off, size_t *tlen) {
    size_t i = 0;
    char quote = 0;
    while (i < len && data[i] != '<')
        i++;
    *off = i;
    *tlen = 0;
    if (i == len) return MW_NEED_MORE;
    for (size_t j = i + 1; j < len; j++) {
        char ch = data[j];
        MW_ENSURE(j - i < PCERT_LINE_MAX, MW_MALFORMED);
        if (quote) {
            if (ch == quote) quote = 0;
        } else if (ch == '"' || ch == '\'') {
            quote = ch;
        } else if (ch == '>') {
            *tlen = j - i + 1;
            return MW_OK;
        }
    }
    MW_ENSURE(len - i < PCERT_LINE_MAX, MW_MALFORMED);
    return MW_NEED_MORE;
}

void pcert_xml_tag_parse(const char *tag, size_t len, pcert_xml_tag *t) {
    size_t i = 1, colon;
    memset(t, 0, sizeof *t);
    if (len < 2 || tag[0] != '<') return;
    if (tag[1] == '?' || tag[1] == '!') {
        t->decl = true;
        return;
    }
    if (tag[1] == '/') {
        t->end = true;
        i = 2;
    }
    t->empty = len >= 3 && tag[len - 2] == '/';
    colon = i;
    while (i < len && tag[i] != '>' && tag[i] != '/' && !isspace((unsigned char)tag[i])) {
        if (tag[i] == ':') colon = i + 1;
        i++;
    }
    size_t n = i - colon;
    if (n >= sizeof t->local) n = sizeof t->local - 1;
    memcpy(t->local, tag + colon, n);
    t->local[n] = '\0';
}

/* LDAPMessage ::= SEQUENCE { messageID 1, protocolOp ExtendedRequest ::= [APPLICATION 23]
 * SEQUENCE { requestName [0] "1.3.6.1.4.1.1466.20037" } }           RFC 4511 4.2, 4.12, 4.14.1 */
const uint8_t pcert_ldap_starttls_req[31] = {
    0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16, '1', '.', '3', '.', '6', '.', '1',
    '.',  '4',  '.',  '1',  '.',  '1',  '4',  '6',  '6',  '.', '2', '0', '0', '3', '7'};

/* One BER tag and definite length (RFC 4511 5.1 limits LDAP to definite lengths and, for
 * us, low tag numbers). MW_NEED_MORE when c holds a prefix only. */
static mw_rc ber_get(mw_cur *c, uint8_t *tag, mw_cur *val) {
    uint8_t b;
    uint32_t l = 0;
    MW_ENSURE(mw_cur_get_u8(c, tag), MW_NEED_MORE);
    MW_ENSURE((*tag & 0x1f) != 0x1f, MW_MALFORMED);
    MW_ENSURE(mw_cur_get_u8(c, &b), MW_NEED_MORE);
    if (b < 0x80) {
        l = b;
    } else {
        unsigned n = b & 0x7f;
        MW_ENSURE(n >= 1 && n <= 3, MW_MALFORMED); /* 0x80: indefinite, not in LDAP */
        MW_ENSURE(mw_cur_get_uN(c, n, &l), MW_NEED_MORE);
    }
    MW_ENSURE(mw_cur_get_bytes(c, l, val), MW_NEED_MORE);
    return MW_OK;
}

static bool ber_uint(mw_cur v, uint32_t *out) {
    uint8_t b;
    *out = 0;
    if (v.len == 0 || v.len > 4) return false;
    if (!mw_cur_peek_u8(&v, 0, &b) || (b & 0x80)) /* negative */
        return false;
    while (mw_cur_get_u8(&v, &b))
        *out = (*out << 8) | b;
    return true;
}

mw_rc pcert_ldap_response(const uint8_t *data, size_t len, size_t *msg_len, uint32_t *result_code,
                          char *diag, size_t diag_cap, bool *disconnect) {
    mw_cur c = mw_cur_make(data, len), msg, v, op;
    uint8_t tag;
    uint32_t id;
    *disconnect = false;
    if (diag_cap) diag[0] = '\0';
    MW_GUARD(ber_get(&c, &tag, &msg));
    MW_ENSURE(tag == 0x30, MW_MALFORMED);
    *msg_len = len - c.len;
    MW_ENSURE(ber_get(&msg, &tag, &v) == MW_OK && tag == 0x02 && ber_uint(v, &id), MW_MALFORMED);
    MW_ENSURE(id == 1 || id == 0, MW_MALFORMED);
    /* ExtendedResponse ::= [APPLICATION 24] SEQUENCE { COMPONENTS OF LDAPResult, ... } */
    MW_ENSURE(ber_get(&msg, &tag, &op) == MW_OK && tag == 0x78, MW_MALFORMED);
    MW_ENSURE(ber_get(&op, &tag, &v) == MW_OK && tag == 0x0a && ber_uint(v, result_code),
              MW_MALFORMED);
    MW_ENSURE(ber_get(&op, &tag, &v) == MW_OK && tag == 0x04, MW_MALFORMED); /* matchedDN */
    MW_ENSURE(ber_get(&op, &tag, &v) == MW_OK && tag == 0x04, MW_MALFORMED); /* diagnostic */
    if (diag_cap) {
        size_t n = v.len < diag_cap - 1 ? v.len : diag_cap - 1;
        if (mw_cur_copy(&v, diag, n)) diag[n] = '\0';
    }
    *disconnect = id == 0;
    return MW_OK;
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

/* A server's text, made fit for a one-line message: control bytes and non-ASCII as '?'. */
static void printable(char *dst, size_t cap, const void *src, size_t n) {
    const uint8_t *s = src;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        dst[o++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    if (n > cap - 1 && cap > 4) {
        memcpy(dst + cap - 4, "...", 3);
        o = cap - 1;
    }
    dst[o] = '\0';
}

/* ---------------------------------------------------------------- socket reader */

enum pcert_io { IO_OK, IO_FAILED, IO_TIMEOUT, IO_CLOSED, IO_TOO_LONG };

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, ev, 0};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

typedef struct {
    int fd;
    int64_t deadline;
    int saved_errno;
    size_t len;
    char buf[PCERT_LINE_MAX + 1];
} pcert_rd;

static enum pcert_io rd_fill(pcert_rd *rd) {
    if (rd->len >= PCERT_LINE_MAX) return IO_TOO_LONG;
    for (;;) {
        int w = wait_fd(rd->fd, POLLIN, rd->deadline);
        if (w == 0) return IO_TIMEOUT;
        if (w < 0) {
            rd->saved_errno = errno;
            return IO_FAILED;
        }
        ssize_t k = recv(rd->fd, rd->buf + rd->len, PCERT_LINE_MAX - rd->len, 0);
        if (k > 0) {
            rd->len += (size_t)k;
            return IO_OK;
        }
        if (k == 0) return IO_CLOSED;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            rd->saved_errno = errno;
            return errno == ECONNRESET ? IO_CLOSED : IO_FAILED;
        }
    }
}

static void rd_consume(pcert_rd *rd, size_t n) {
    memmove(rd->buf, rd->buf + n, rd->len - n);
    rd->len -= n;
}

/* One line without its CR LF into line (cap PCERT_LINE_MAX + 1), NUL-terminated. */
static enum pcert_io rd_line(pcert_rd *rd, char *line, size_t *n) {
    for (;;) {
        char *nl = memchr(rd->buf, '\n', rd->len);
        if (nl) {
            size_t l = (size_t)(nl - rd->buf);
            size_t k = l > 0 && rd->buf[l - 1] == '\r' ? l - 1 : l;
            memcpy(line, rd->buf, k);
            line[k] = '\0';
            *n = k;
            rd_consume(rd, l + 1);
            return IO_OK;
        }
        enum pcert_io io = rd_fill(rd);
        if (io != IO_OK) return io;
    }
}

static enum pcert_io send_all(int fd, const void *data, size_t n, int64_t deadline) {
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_FAILED;
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w <= 0) return w == 0 ? IO_TIMEOUT : IO_FAILED;
    }
    return IO_OK;
}

/* ---------------------------------------------------------------- STARTTLS dialogues */

typedef struct {
    pcert_result *r;
    const pcert_opts *o;
    pcert_rd rd;
    const char *proto; /* for messages: "SMTP", ... */
    const char *name;  /* the SNI or host: XMPP to= */
    char line[PCERT_LINE_MAX + 1];
    size_t line_len;
} pcert_dlg;

/* Turns a failed read or write into the probe's error; phase says what we were waiting for. */
static void io_fail(pcert_dlg *d, enum pcert_io io, const char *phase) {
    switch (io) {
    case IO_TIMEOUT:
        fail(d->r, PCERT_E_TIMEOUT, "%s: timed out after %d ms %s", d->proto, d->o->timeout_ms,
             phase);
        break;
    case IO_CLOSED:
        fail(d->r, PCERT_E_CLOSED, "%s: the server closed the connection (%s)", d->proto, phase);
        break;
    case IO_TOO_LONG:
        fail(d->r, PCERT_E_STARTTLS, "%s: server reply longer than %u bytes (%s)", d->proto,
             PCERT_LINE_MAX, phase);
        break;
    default:
        fail(d->r, PCERT_E_CONNECT, "%s: %s (%s)", d->proto, strerror(d->rd.saved_errno), phase);
        break;
    }
}

static bool dlg_send(pcert_dlg *d, const void *data, size_t n, const char *what) {
    enum pcert_io io = send_all(d->rd.fd, data, n, d->rd.deadline);
    if (io != IO_OK) {
        char phase[96];
        snprintf(phase, sizeof phase, "while sending %s", what);
        if (io == IO_FAILED) d->rd.saved_errno = errno;
        io_fail(d, io, phase);
        return false;
    }
    return true;
}

static bool dlg_line(pcert_dlg *d, const char *phase) {
    enum pcert_io io = rd_line(&d->rd, d->line, &d->line_len);
    if (io != IO_OK) {
        io_fail(d, io, phase);
        return false;
    }
    return true;
}

/* An SMTP/FTP reply; d->line keeps its last line. */
static bool dlg_reply(pcert_dlg *d, int *code, const char *phase) {
    pcert_reply rep;
    pcert_reply_init(&rep);
    do {
        if (!dlg_line(d, phase)) return false;
        if (pcert_reply_line(&rep, d->line, d->line_len) != MW_OK) {
            char shown[200];
            printable(shown, sizeof shown, d->line, d->line_len);
            fail(d->r, PCERT_E_STARTTLS, "%s: unexpected reply (%s): \"%s\"", d->proto, phase,
                 shown);
            return false;
        }
    } while (!rep.done);
    *code = rep.code;
    return true;
}

static void refused(pcert_dlg *d, const char *what) {
    char shown[300];
    printable(shown, sizeof shown, d->line, d->line_len);
    fail(d->r, PCERT_E_STARTTLS, "%s: %s: \"%s\"", d->proto, what, shown);
}

/* RFC 5321 4.1.4: EHLO with our address literal when we have no name worth giving. */
static void ehlo_name(const pcert_result *r, char *out, size_t cap) {
    int n = (int)strcspn(r->local_ip, "%"); /* a link-local scope has no place in a literal */
    if (!r->local_ip[0])
        snprintf(out, cap, "mitmwatch.invalid");
    else if (r->family == AF_INET6)
        snprintf(out, cap, "[IPv6:%.*s]", n, r->local_ip);
    else
        snprintf(out, cap, "[%s]", r->local_ip);
}

static bool dlg_smtp(pcert_dlg *d) {
    int code;
    char cmd[128], name[96];
    if (!dlg_reply(d, &code, "waiting for the greeting")) return false;
    if (code != 220) {
        refused(d, "greeting is not 220");
        return false;
    }
    ehlo_name(d->r, name, sizeof name);
    snprintf(cmd, sizeof cmd, "EHLO %s\r\n", name);
    if (!dlg_send(d, cmd, strlen(cmd), "EHLO") ||
        !dlg_reply(d, &code, "waiting for the EHLO reply"))
        return false;
    if (code != 250) {
        refused(d, "EHLO refused by server");
        return false;
    }
    /* STARTTLS goes out even when EHLO did not list it: the answer is the better evidence. */
    if (!dlg_send(d, "STARTTLS\r\n", 10, "STARTTLS") ||
        !dlg_reply(d, &code, "waiting for the STARTTLS reply"))
        return false;
    if (code != 220) {
        refused(d, "STARTTLS refused by server");
        return false;
    }
    return true;
}

static bool dlg_ftp(pcert_dlg *d) {
    int code;
    do { /* RFC 959 5.4: 120 "ready in nnn minutes" comes before the 220 */
        if (!dlg_reply(d, &code, "waiting for the greeting")) return false;
    } while (code == 120);
    if (code != 220) {
        refused(d, "greeting is not 220");
        return false;
    }
    if (!dlg_send(d, "AUTH TLS\r\n", 10, "AUTH TLS") ||
        !dlg_reply(d, &code, "waiting for the AUTH TLS reply"))
        return false;
    if (code != 234) { /* RFC 4217 4: 234 is the only acceptance */
        refused(d, "AUTH TLS refused by server");
        return false;
    }
    return true;
}

static bool dlg_imap(pcert_dlg *d) {
    if (!dlg_line(d, "waiting for the greeting")) return false;
    if (!pcert_imap_greeting_ok(d->line, d->line_len)) {
        refused(d, "greeting is not OK");
        return false;
    }
    if (!dlg_send(d, "a STARTTLS\r\n", 12, "STARTTLS")) return false;
    for (unsigned i = 0; i < PCERT_REPLY_LINES; i++) {
        if (!dlg_line(d, "waiting for the STARTTLS reply")) return false;
        switch (pcert_imap_line(d->line, d->line_len, "a")) {
        case PCERT_IMAP_UNTAGGED:
            continue;
        case PCERT_IMAP_OK:
            return true;
        case PCERT_IMAP_BYE:
            refused(d, "server said BYE");
            return false;
        default:
            refused(d, "STARTTLS refused by server");
            return false;
        }
    }
    refused(d, "no tagged reply to STARTTLS");
    return false;
}

static bool dlg_pop3(pcert_dlg *d) {
    if (!dlg_line(d, "waiting for the greeting")) return false;
    if (pcert_pop3_status(d->line, d->line_len) != 1) {
        refused(d, "greeting is not +OK");
        return false;
    }
    if (!dlg_send(d, "STLS\r\n", 6, "STLS") || !dlg_line(d, "waiting for the STLS reply"))
        return false;
    if (pcert_pop3_status(d->line, d->line_len) != 1) {
        refused(d, "STLS refused by server");
        return false;
    }
    return true;
}

/* The next XMPP tag into d->line. */
static bool dlg_tag(pcert_dlg *d, pcert_xml_tag *t, const char *phase) {
    for (;;) {
        size_t off, tlen;
        mw_rc rc = pcert_xml_next_tag(d->rd.buf, d->rd.len, &off, &tlen);
        if (rc == MW_OK) {
            memcpy(d->line, d->rd.buf + off, tlen);
            d->line[tlen] = '\0';
            d->line_len = tlen;
            rd_consume(&d->rd, off + tlen);
            pcert_xml_tag_parse(d->line, d->line_len, t);
            return true;
        }
        if (rc == MW_MALFORMED) {
            io_fail(d, IO_TOO_LONG, phase);
            return false;
        }
        rd_consume(&d->rd, off); /* text between tags (whitespace keepalives) */
        enum pcert_io io = rd_fill(&d->rd);
        if (io != IO_OK) {
            io_fail(d, io, phase);
            return false;
        }
    }
}

static bool xmpp_name_ok(const char *s) {
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(".-_:[]", *s)) return false;
    return true;
}

/* RFC 6120 4.2, 5.4.2: our stream header, the server's header and features, <starttls/>,
 * then <proceed/> or <failure/>. */
static bool dlg_xmpp(pcert_dlg *d) {
    char hdr[512];
    pcert_xml_tag t;
    bool offered = false;
    unsigned n = 0;
    if (!xmpp_name_ok(d->name)) {
        fail(d->r, PCERT_E_USAGE, "XMPP: the domain \"%s\" cannot go in a stream header", d->name);
        return false;
    }
    snprintf(hdr, sizeof hdr,
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
             d->name);
    if (!dlg_send(d, hdr, strlen(hdr), "the stream header")) return false;
    /* header, then <features> ... </features>; a stream error ends it */
    for (bool in_features = false;; n++) {
        if (n >= PCERT_XMPP_TAGS) {
            fail(d->r, PCERT_E_STARTTLS, "XMPP: no stream features after %u tags", n);
            return false;
        }
        if (!dlg_tag(d, &t, "waiting for the stream features")) return false;
        if (t.decl) continue;
        if (!strcmp(t.local, "error") && !t.end) {
            pcert_xml_tag cond;
            if (!t.empty && dlg_tag(d, &cond, "reading the stream error") && !cond.end) {
                fail(d->r, PCERT_E_STARTTLS, "XMPP: stream error from server: %s", cond.local);
                return false;
            }
            fail(d->r, PCERT_E_STARTTLS, "XMPP: stream error from server");
            return false;
        }
        if (!strcmp(t.local, "stream") && t.end) {
            fail(d->r, PCERT_E_CLOSED, "XMPP: the server closed the stream before its features");
            return false;
        }
        if (!strcmp(t.local, "features")) {
            if (t.end || t.empty) break;
            in_features = true;
            continue;
        }
        if (in_features && !strcmp(t.local, "starttls") && !t.end) offered = true;
    }
    if (!offered) {
        fail(d->r, PCERT_E_STARTTLS, "XMPP: STARTTLS not offered in the server's stream features");
        return false;
    }
    static const char req[] = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    if (!dlg_send(d, req, sizeof req - 1, "<starttls/>")) return false;
    if (!dlg_tag(d, &t, "waiting for <proceed/>")) return false;
    if (!strcmp(t.local, "proceed") && !t.end) {
        if (!t.empty && !dlg_tag(d, &t, "waiting for </proceed>")) return false;
        return true;
    }
    refused(d, !strcmp(t.local, "failure") ? "STARTTLS refused by server"
                                           : "unexpected answer to <starttls/>");
    return false;
}

static const char *ldap_result_name(uint32_t rc) {
    switch (rc) { /* RFC 4511 4.1.9, the codes a StartTLS refusal uses */
    case 1:
        return "operationsError";
    case 2:
        return "protocolError";
    case 12:
        return "unavailableCriticalExtension";
    case 51:
        return "busy";
    case 52:
        return "unavailable";
    case 53:
        return "unwillingToPerform";
    case 80:
        return "other";
    default:
        return "error";
    }
}

static bool dlg_ldap(pcert_dlg *d) {
    if (!dlg_send(d, pcert_ldap_starttls_req, sizeof pcert_ldap_starttls_req,
                  "the StartTLS request"))
        return false;
    for (;;) {
        size_t ml = 0;
        uint32_t code = 0;
        bool disc = false;
        char diag[256], shown[256];
        mw_rc rc = pcert_ldap_response((const uint8_t *)d->rd.buf, d->rd.len, &ml, &code, diag,
                                       sizeof diag, &disc);
        if (rc == MW_OK) {
            rd_consume(&d->rd, ml);
            printable(shown, sizeof shown, diag, strlen(diag));
            if (disc) {
                fail(d->r, PCERT_E_STARTTLS, "LDAP: notice of disconnection: %u %s \"%s\"", code,
                     ldap_result_name(code), shown);
                return false;
            }
            if (code != 0) {
                fail(d->r, PCERT_E_STARTTLS,
                     "LDAP: StartTLS refused by server: resultCode %u (%s) \"%s\"", code,
                     ldap_result_name(code), shown);
                return false;
            }
            return true;
        }
        if (rc == MW_MALFORMED) {
            fail(d->r, PCERT_E_STARTTLS, "LDAP: the answer to StartTLS is not an ExtendedResponse");
            return false;
        }
        enum pcert_io io = rd_fill(&d->rd);
        if (io != IO_OK) {
            io_fail(d, io, "waiting for the StartTLS response");
            return false;
        }
    }
}

/* SSLRequest: Int32(8) Int32(80877103); the answer is one byte, 'S' or 'N'.  PostgreSQL
 * protocol 55.2.10; an 'E' (ErrorResponse) comes from servers older than 7.0 or failing. */
static bool dlg_postgres(pcert_dlg *d) {
    static const uint8_t req[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    if (!dlg_send(d, req, sizeof req, "SSLRequest")) return false;
    enum pcert_io io = rd_fill(&d->rd);
    if (io != IO_OK) {
        io_fail(d, io, "waiting for the SSLRequest answer");
        return false;
    }
    if (d->rd.buf[0] == 'S') {
        rd_consume(&d->rd, 1);
        return true;
    }
    if (d->rd.buf[0] == 'N') {
        fail(d->r, PCERT_E_STARTTLS, "PostgreSQL: SSL refused by server (answered 'N')");
        return false;
    }
    char shown[200];
    printable(shown, sizeof shown, d->rd.buf, d->rd.len);
    fail(d->r, PCERT_E_STARTTLS, "PostgreSQL: unexpected answer to SSLRequest: \"%s\"", shown);
    return false;
}

static bool run_starttls(pcert_dlg *d) {
    static const char *const label[] = {"",     "XMPP", "SMTP", "IMAP",
                                        "POP3", "FTP",  "LDAP", "PostgreSQL"};
    bool ok;
    d->proto = label[d->o->starttls];
    switch (d->o->starttls) {
    case PCERT_STARTTLS_XMPP:
        ok = dlg_xmpp(d);
        break;
    case PCERT_STARTTLS_SMTP:
        ok = dlg_smtp(d);
        break;
    case PCERT_STARTTLS_IMAP:
        ok = dlg_imap(d);
        break;
    case PCERT_STARTTLS_POP3:
        ok = dlg_pop3(d);
        break;
    case PCERT_STARTTLS_FTP:
        ok = dlg_ftp(d);
        break;
    case PCERT_STARTTLS_LDAP:
        ok = dlg_ldap(d);
        break;
    case PCERT_STARTTLS_POSTGRES:
        ok = dlg_postgres(d);
        break;
    default:
        return true;
    }
    if (ok && d->rd.len > 0) {
        /* Nothing may come between the server's yes and our ClientHello (CVE-2011-0411). */
        fail(d->r, PCERT_E_STARTTLS,
             "%s: the server sent %zu bytes after agreeing to start TLS, before the handshake",
             d->proto, d->rd.len);
        return false;
    }
    return ok;
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
        int w = wait_fd(s, POLLOUT, deadline);
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

    int64_t t0 = now_ms();
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int k = SSL_connect(ssl);
        if (k == 1) break;
        int e = SSL_get_error(ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
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
    r->handshake_ms = (uint64_t)(now_ms() - t0);
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
    int64_t t0 = now_ms();
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

    pcert_dlg *d = calloc(1, sizeof *d); /* two line buffers: off the stack */
    if (!d) {
        fail(r, PCERT_E_INTERNAL, "out of memory");
        return MW_ERR;
    }
    fd = do_connect(&o, r, deadline);
    if (fd >= 0) {
        d->r = r;
        d->o = &o;
        d->rd.fd = fd;
        d->rd.deadline = deadline;
        d->name = sni ? sni : o.host;
        if (run_starttls(d)) {
            r->starttls_done = o.starttls != PCERT_STARTTLS_NONE;
            r->hs->starttls = r->starttls;
            (void)do_tls(&o, r, fd, sni, deadline);
        }
        close(fd);
    }
    free(d);
    r->duration_ms = (uint64_t)(now_ms() - t0);
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
