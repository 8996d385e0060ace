/* Syslog sink: RFC 5424 messages (RFC 3164 on request) carrying the event JSON as MSG, over UDP
 * (RFC 5426), TCP with octet counting (RFC 6587 3.4.1) or LF framing, or a local datagram socket
 * (/dev/log). Syslog has no acknowledgement: delivered means "accepted by the kernel". */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "out_sink.h"

/* RFC 5426 3.2: IPv4 UDP payload is at most 65507 bytes. */
#define SYSLOG_DGRAM_MAX 65507
#define SYSLOG_FRAME_MAX (4u << 20)
/* RFC 5612 documentation enterprise number, for our SD-ID until one is registered. */
#define SYSLOG_SD_ID "mitmwatch@32473"

struct out_syslog_fmt {
    long pid;
    char host[256];
    mw_buf msg; /* one formatted message */
};

typedef struct {
    int fd;
    out_syslog_fmt *fmt;
    mw_buf frames; /* TCP: the batch, framed */
    size_t *ends;  /* TCP: end offset of each item's frame in frames */
} syslog_state;

/* event.severity 1 low .. 4 critical onto RFC 5424 6.2.1 severities: 4 -> 2 Critical,
 * 3 -> 3 Error, 2 -> 4 Warning, 1 -> 5 Notice. Plain events and metrics are 6 Informational. */
static int syslog_severity(const out_item *it) {
    if (it->kind != OUT_KIND_ALERT) return 6;
    switch (it->severity) {
    case 4:
        return 2;
    case 3:
        return 3;
    case 2:
        return 4;
    case 1:
        return 5;
    default:
        return 4;
    }
}

static bool put(mw_buf *b, const char *s, size_t n) {
    return mw_buf_append(b, s, n);
}
static bool puts_(mw_buf *b, const char *s) {
    return mw_buf_append_str(b, s);
}

/* PRINTUSASCII (33..126) only, at most max chars, "-" (NILVALUE) when empty. */
static bool put_token(mw_buf *b, const char *s, size_t max) {
    size_t n = 0;
    for (; s && s[n] && n < max; n++) {
        unsigned char c = (unsigned char)s[n];
        char ch = (c >= 33 && c <= 126) ? (char)c : '_';
        if (!mw_buf_putc(b, ch)) return false;
    }
    return n > 0 || mw_buf_putc(b, '-');
}

/* RFC 5424 6.3.3: '"', '\' and ']' are escaped with a backslash. */
static bool put_param(mw_buf *b, const char *s) {
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\' || *s == ']') && !mw_buf_putc(b, '\\')) return false;
        if (!mw_buf_putc(b, *s)) return false;
    }
    return true;
}

static bool format_msg(const out_sink_cfg *c, out_syslog_fmt *st, const out_item *it) {
    mw_buf *b = &st->msg;
    mw_buf_reset(b);
    int pri = c->facility * 8 + syslog_severity(it);
    int64_t sec;
    int32_t usec;
    if (!out_event_time(it->data, it->len, &sec, &usec)) out_time_now(&sec, &usec);
    time_t t = (time_t)sec;
    struct tm tm;
    char hdr[128];
    bool ok = true;
    if (c->format == OUT_SYSLOG_5424) {
        gmtime_r(&t, &tm);
        /* <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG */
        snprintf(hdr, sizeof hdr, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06dZ ", pri,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)usec);
        ok = puts_(b, hdr) && put_token(b, st->host, 255) && puts_(b, " ") &&
             put_token(b, c->app_name, 48);
        snprintf(hdr, sizeof hdr, " %ld ", st->pid);
        ok = ok && puts_(b, hdr);
        const char *rule = out_item_rule(it);
        ok = ok && put_token(b, rule ? rule : out_item_dataset(it), 32) && puts_(b, " ");
        if (it->kind == OUT_KIND_ALERT && rule) {
            char sev[8];
            snprintf(sev, sizeof sev, "%d", (int)it->severity);
            ok = ok && puts_(b, "[" SYSLOG_SD_ID " rule.id=\"") && put_param(b, rule) &&
                 puts_(b, "\" severity=\"") && puts_(b, sev) && puts_(b, "\"]");
        } else {
            ok = ok && puts_(b, "-");
        }
        ok = ok && puts_(b, " ");
    } else {
        /* RFC 3164 4.1: local time "Mmm dd hh:mm:ss"; to a local socket without HOSTNAME, as
         * syslog(3) does, since the local daemon adds its own. */
        static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        localtime_r(&t, &tm);
        snprintf(hdr, sizeof hdr, "<%d>%s %2d %02d:%02d:%02d ", pri, mon[tm.tm_mon], tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        ok = puts_(b, hdr);
        if (c->transport != OUT_SYSLOG_UNIX || c->type == OUT_SINK_RELP)
            ok = ok && put_token(b, st->host, 255) && puts_(b, " ");
        ok = ok && put_token(b, c->app_name, 32);
        snprintf(hdr, sizeof hdr, "[%ld]: ", st->pid);
        ok = ok && puts_(b, hdr);
    }
    return ok && put(b, it->data, it->len);
}

out_syslog_fmt *out_syslog_fmt_new(const out_sink_cfg *cfg) {
    out_syslog_fmt *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->pid = (long)getpid();
    if (cfg->hostname[0])
        snprintf(f->host, sizeof f->host, "%s", cfg->hostname);
    else if (gethostname(f->host, sizeof f->host) != 0)
        snprintf(f->host, sizeof f->host, "-");
    f->host[sizeof f->host - 1] = '\0';
    mw_buf_init(&f->msg, SYSLOG_FRAME_MAX);
    return f;
}

void out_syslog_fmt_free(out_syslog_fmt *f) {
    if (!f) return;
    mw_buf_free(&f->msg);
    free(f);
}

const mw_buf *out_syslog_format(out_syslog_fmt *f, const out_sink_cfg *cfg, const out_item *it) {
    return format_msg(cfg, f, it) ? &f->msg : NULL;
}

static bool syslog_open(out_sink *s, char *err, size_t errlen) {
    syslog_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->proto = st;
    st->fd = -1;
    st->ends = calloc(s->cfg.batch_max, sizeof *st->ends);
    st->fmt = out_syslog_fmt_new(&s->cfg);
    if (!st->ends || !st->fmt) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    mw_buf_init(&st->frames, SYSLOG_FRAME_MAX * 2);
    return true;
}

static void syslog_disconnect(out_sink *s) {
    syslog_state *st = s->proto;
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
}

static void syslog_close(out_sink *s) {
    syslog_state *st = s->proto;
    if (!st) return;
    syslog_disconnect(s);
    out_syslog_fmt_free(st->fmt);
    mw_buf_free(&st->frames);
    free(st->ends);
    free(st);
    s->proto = NULL;
}

static bool ensure_connected(out_sink *s, syslog_state *st) {
    char err[256];
    if (st->fd >= 0 && s->cfg.transport == OUT_SYSLOG_TCP) {
        /* A collector never talks back: readable means it closed (FIN/RST). Reconnect now
         * rather than write a batch into a dead connection. */
        char ch;
        ssize_t r = recv(st->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) syslog_disconnect(s);
    }
    if (st->fd >= 0) return true;
    switch (s->cfg.transport) {
    case OUT_SYSLOG_TCP:
        st->fd = out_tcp_connect(s, s->cfg.host, s->cfg.port, out_attempt_ms(s), err, sizeof err);
        break;
    case OUT_SYSLOG_UDP:
        st->fd = out_udp_connect(s->cfg.host, s->cfg.port, err, sizeof err);
        break;
    case OUT_SYSLOG_UNIX:
        st->fd = out_unix_dgram_connect(s->cfg.path, err, sizeof err);
        break;
    }
    if (st->fd < 0) out_set_err(s, "%s", err);
    return st->fd >= 0;
}

/* Moves batch[k..n) to the front; *n = n - k. */
static void keep_from(out_item **batch, size_t *n, size_t k) {
    memmove(batch, batch + k, (*n - k) * sizeof *batch);
    *n -= k;
}

static out_send_rc send_dgrams(out_sink *s, syslog_state *st, out_item **batch, size_t *n,
                               uint64_t *rejected) {
    size_t total = *n;
    for (size_t i = 0; i < total; i++) {
        const mw_buf *m = out_syslog_format(st->fmt, &s->cfg, batch[i]);
        if (!m || m->len > SYSLOG_DGRAM_MAX) {
            (*rejected)++; /* cannot be sent as one datagram: resending will not help */
            continue;
        }
        int64_t until = out_now_ms() + out_attempt_ms(s);
        for (;;) {
            ssize_t w = send(st->fd, m->data, m->len, MSG_NOSIGNAL);
            if (w == (ssize_t)m->len) break;
            if (w < 0 && errno == EINTR) continue;
            int e = errno;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
                int64_t left = out_left_ms(s, until);
                struct pollfd pf = {st->fd, POLLOUT, 0};
                if (left > 0 && poll(&pf, 1, (int)(left > 50 ? 50 : left)) >= 0) continue;
            }
            out_set_err(s, "send: %s", w < 0 ? strerror(e) : "short datagram");
            keep_from(batch, n, i); /* not sent: this one and the rest again */
            return OUT_SEND_RETRY;
        }
        if (s->cfg.transport == OUT_SYSLOG_UDP) {
            /* ICMP port unreachable for this datagram (on loopback it arrives before send
             * returns) means it was lost: send it again once the collector is back. */
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0) {
                out_set_err(s, "udp: %s", strerror(soerr));
                keep_from(batch, n, i);
                return OUT_SEND_RETRY;
            }
        }
    }
    return OUT_SEND_OK;
}

static out_send_rc send_stream(out_sink *s, syslog_state *st, out_item **batch, size_t *n,
                               uint64_t *rejected) {
    mw_buf_reset(&st->frames);
    size_t total = *n, kept = 0;
    for (size_t i = 0; i < total; i++) {
        const mw_buf *m = out_syslog_format(st->fmt, &s->cfg, batch[i]);
        if (!m) {
            (*rejected)++;
            continue;
        }
        char len[24];
        int ll = 0;
        if (s->cfg.framing == OUT_FRAMING_OCTET)
            ll = snprintf(len, sizeof len, "%zu ", m->len); /* MSG-LEN SP SYSLOG-MSG */
        bool ok = mw_buf_append(&st->frames, len, (size_t)ll) &&
                  mw_buf_append(&st->frames, m->data, m->len);
        if (ok && s->cfg.framing == OUT_FRAMING_LF) ok = mw_buf_putc(&st->frames, '\n');
        if (!ok) {
            (*rejected)++;
            continue;
        }
        batch[kept] = batch[i];
        st->ends[kept++] = st->frames.len;
    }
    size_t written = 0;
    if (out_write_all(s, st->fd, st->frames.data, st->frames.len, out_attempt_ms(s), &written))
        return OUT_SEND_OK;
    size_t k = 0;
    while (k < kept && st->ends[k] <= written)
        k++;
    *n = kept;
    keep_from(batch, n, k);
    return OUT_SEND_RETRY;
}

static out_send_rc syslog_send(out_sink *s, out_item **batch, size_t *n, uint64_t *rejected) {
    syslog_state *st = s->proto;
    if (!ensure_connected(s, st)) return OUT_SEND_RETRY;
    if (s->cfg.transport == OUT_SYSLOG_TCP) return send_stream(s, st, batch, n, rejected);
    return send_dgrams(s, st, batch, n, rejected);
}

const out_net_ops out_syslog_ops = {
    .type_name = "syslog",
    .open = syslog_open,
    .send = syslog_send,
    .disconnect = syslog_disconnect,
    .close = syslog_close,
};
