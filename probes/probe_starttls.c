/* The STARTTLS dialogues of the certificate fetch (see probe_starttls.h): the reply parsers,
 * a bounded socket reader, and one client exchange per protocol. */
#include "probe_starttls.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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

int64_t pcert_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pcert_wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - pcert_now_ms();
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
        int w = pcert_wait_fd(rd->fd, POLLIN, rd->deadline);
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
        int w = pcert_wait_fd(fd, POLLOUT, deadline);
        if (w <= 0) return w == 0 ? IO_TIMEOUT : IO_FAILED;
    }
    return IO_OK;
}

/* ---------------------------------------------------------------- STARTTLS dialogues */

typedef struct {
    const pcert_starttls_conn *c;
    pcert_starttls p;
    pcert_err err; /* the first failure, the one to report; its message is in error */
    char *error;
    size_t error_cap;
    pcert_rd rd;
    const char *proto; /* for messages: "SMTP", ... */
    char line[PCERT_LINE_MAX + 1];
    size_t line_len;
} pcert_dlg;

static void fail(pcert_dlg *d, pcert_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(pcert_dlg *d, pcert_err e, const char *fmt, ...) {
    va_list ap;
    if (d->err != PCERT_OK) /* the first cause is the one to report */
        return;
    d->err = e;
    va_start(ap, fmt);
    vsnprintf(d->error, d->error_cap, fmt, ap);
    va_end(ap);
}

/* Turns a failed read or write into the probe's error; phase says what we were waiting for. */
static void io_fail(pcert_dlg *d, enum pcert_io io, const char *phase) {
    switch (io) {
    case IO_TIMEOUT:
        fail(d, PCERT_E_TIMEOUT, "%s: timed out after %d ms %s", d->proto, d->c->timeout_ms, phase);
        break;
    case IO_CLOSED:
        fail(d, PCERT_E_CLOSED, "%s: the server closed the connection (%s)", d->proto, phase);
        break;
    case IO_TOO_LONG:
        fail(d, PCERT_E_STARTTLS, "%s: server reply longer than %u bytes (%s)", d->proto,
             PCERT_LINE_MAX, phase);
        break;
    default:
        fail(d, PCERT_E_CONNECT, "%s: %s (%s)", d->proto, strerror(d->rd.saved_errno), phase);
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
            fail(d, PCERT_E_STARTTLS, "%s: unexpected reply (%s): \"%s\"", d->proto, phase, shown);
            return false;
        }
    } while (!rep.done);
    *code = rep.code;
    return true;
}

static void refused(pcert_dlg *d, const char *what) {
    char shown[300];
    printable(shown, sizeof shown, d->line, d->line_len);
    fail(d, PCERT_E_STARTTLS, "%s: %s: \"%s\"", d->proto, what, shown);
}

/* RFC 5321 4.1.4: EHLO with our address literal when we have no name worth giving. */
static void ehlo_name(const pcert_starttls_conn *c, char *out, size_t cap) {
    int n = (int)strcspn(c->local_ip, "%"); /* a link-local scope has no place in a literal */
    if (!c->local_ip[0])
        snprintf(out, cap, "mitmwatch.invalid");
    else if (c->family == AF_INET6)
        snprintf(out, cap, "[IPv6:%.*s]", n, c->local_ip);
    else
        snprintf(out, cap, "[%s]", c->local_ip);
}

static bool dlg_smtp(pcert_dlg *d) {
    int code;
    char cmd[128], name[96];
    if (!dlg_reply(d, &code, "waiting for the greeting")) return false;
    if (code != 220) {
        refused(d, "greeting is not 220");
        return false;
    }
    ehlo_name(d->c, name, sizeof name);
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
    if (!xmpp_name_ok(d->c->name)) {
        fail(d, PCERT_E_USAGE, "XMPP: the domain \"%s\" cannot go in a stream header", d->c->name);
        return false;
    }
    snprintf(hdr, sizeof hdr,
             "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
             d->c->name);
    if (!dlg_send(d, hdr, strlen(hdr), "the stream header")) return false;
    /* header, then <features> ... </features>; a stream error ends it */
    for (bool in_features = false;; n++) {
        if (n >= PCERT_XMPP_TAGS) {
            fail(d, PCERT_E_STARTTLS, "XMPP: no stream features after %u tags", n);
            return false;
        }
        if (!dlg_tag(d, &t, "waiting for the stream features")) return false;
        if (t.decl) continue;
        if (!strcmp(t.local, "error") && !t.end) {
            pcert_xml_tag cond;
            if (!t.empty && dlg_tag(d, &cond, "reading the stream error") && !cond.end) {
                fail(d, PCERT_E_STARTTLS, "XMPP: stream error from server: %s", cond.local);
                return false;
            }
            fail(d, PCERT_E_STARTTLS, "XMPP: stream error from server");
            return false;
        }
        if (!strcmp(t.local, "stream") && t.end) {
            fail(d, PCERT_E_CLOSED, "XMPP: the server closed the stream before its features");
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
        fail(d, PCERT_E_STARTTLS, "XMPP: STARTTLS not offered in the server's stream features");
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
                fail(d, PCERT_E_STARTTLS, "LDAP: notice of disconnection: %u %s \"%s\"", code,
                     ldap_result_name(code), shown);
                return false;
            }
            if (code != 0) {
                fail(d, PCERT_E_STARTTLS,
                     "LDAP: StartTLS refused by server: resultCode %u (%s) \"%s\"", code,
                     ldap_result_name(code), shown);
                return false;
            }
            return true;
        }
        if (rc == MW_MALFORMED) {
            fail(d, PCERT_E_STARTTLS, "LDAP: the answer to StartTLS is not an ExtendedResponse");
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
        fail(d, PCERT_E_STARTTLS, "PostgreSQL: SSL refused by server (answered 'N')");
        return false;
    }
    char shown[200];
    printable(shown, sizeof shown, d->rd.buf, d->rd.len);
    fail(d, PCERT_E_STARTTLS, "PostgreSQL: unexpected answer to SSLRequest: \"%s\"", shown);
    return false;
}

static bool run_starttls(pcert_dlg *d) {
    static const char *const label[] = {"",     "XMPP", "SMTP", "IMAP",
                                        "POP3", "FTP",  "LDAP", "PostgreSQL"};
    bool ok;
    d->proto = label[d->p];
    switch (d->p) {
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
        fail(d, PCERT_E_STARTTLS,
             "%s: the server sent %zu bytes after agreeing to start TLS, before the handshake",
             d->proto, d->rd.len);
        return false;
    }
    return ok;
}

pcert_err pcert_starttls_run(pcert_starttls p, const pcert_starttls_conn *c, char *error,
                             size_t cap) {
    if (p == PCERT_STARTTLS_NONE) return PCERT_OK;
    pcert_dlg *d = calloc(1, sizeof *d); /* two line buffers: off the stack */
    if (!d) {
        snprintf(error, cap, "out of memory");
        return PCERT_E_INTERNAL;
    }
    d->c = c;
    d->p = p;
    d->error = error;
    d->error_cap = cap;
    d->rd.fd = c->fd;
    d->rd.deadline = c->deadline;
    /* every refusal says why; a silent false would be a dialogue's bug, reported as before */
    if (!run_starttls(d)) fail(d, PCERT_E_INTERNAL, "probe ended without a handshake");
    pcert_err e = d->err;
    free(d);
    return e;
}
