/* RELP sink (Reliable Event Logging Protocol, rsyslog's imrelp) over Debian's librelp: each
 * event is an RFC 5424 syslog message (as out_syslog.c formats it) in a "syslog" command that the
 * collector answers with "200 OK" once it has taken it.
 *
 * One batch is one RELP session: open, the messages (librelp's window keeps up to RELP_WINDOW in
 * flight), close. librelp does not tell its caller which frames were answered, and a collector
 * that shuts down answers part of them, then "serverclose", which librelp takes without a word
 * (the session just becomes broken). So the answers are counted where librelp reports them: its
 * debug printer, given "in rsp command handler, txnr %d, code %d" for each answer and "in
 * serverclose command handler". The frames of a session are numbered 2.. in the order sent
 * (1 is the open), so every event knows whether it was answered 200; those that were not are
 * sent again on a new session. At-least-once: an answer lost with the connection means the
 * event arrives twice; one counted as sent was taken by the collector.
 * librelp's waits are whole seconds: an attempt waits ceil(the time left) seconds, so at
 * shutdown the flush budget can be passed by up to a second. */
#include <stddef.h> /* before librelp.h, which uses size_t without it */

#include <librelp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "out_sink.h"

#define RELP_WINDOW 512

typedef struct {
    relpEngine_t *eng;
    out_syslog_fmt *fmt;
    int failed;       /* librelp reported an error during this attempt */
    bool serverclose; /* the collector closed the session */
    uint8_t *acked;   /* per frame of this session (index txnr - 2): answered 200 */
    size_t nframes;   /* frames sent in this session */
    size_t nacked;
} relp_state;

/* The sink thread's RELP state, for the debug printer (which gets no user pointer). */
static _Thread_local relp_state *tl_relp;

static void on_relp_err(void *usr, char *objinfo, char *errmsg, relpRetVal code) {
    out_sink *s = usr;
    if (!s || !s->proto) return;
    relp_state *st = s->proto;
    st->failed = 1;
    out_set_err(s, "RELP %s: %s (librelp %d)", objinfo ? objinfo : "", errmsg ? errmsg : "",
                (int)code);
}

/* librelp calls its debug printer unconditionally (1.11 leaves it NULL). Only the two
 * messages above are looked at, by their format, before anything is formatted. */
static void relp_dbg(char *fmt, ...) {
    static const char rsp[] = "in rsp command handler, txnr %d, code %d";
    static const char sclose[] = "in serverclose command handler";
    relp_state *st = tl_relp;
    if (!st || !fmt) return;
    if (strncmp(fmt, rsp, sizeof rsp - 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        int txnr = va_arg(ap, int), code = va_arg(ap, int);
        va_end(ap);
        size_t k = txnr >= 2 ? (size_t)txnr - 2 : SIZE_MAX;
        if (code == 200 && k < st->nframes && !st->acked[k]) {
            st->acked[k] = 1;
            st->nacked++;
        }
    } else if (strncmp(fmt, sclose, sizeof sclose - 1) == 0) {
        st->serverclose = true;
    }
}

static bool relp_open(out_sink *s, char *err, size_t errlen) {
    relp_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->proto = st;
    st->fmt = out_syslog_fmt_new(&s->cfg);
    st->acked = calloc(s->cfg.batch_max, 1);
    if (!st->fmt || !st->acked || relpEngineConstruct(&st->eng) != RELP_RET_OK) {
        snprintf(err, errlen, "output %s: cannot set up librelp", s->name);
        return false;
    }
    relpEngineSetDbgprint(st->eng, relp_dbg);
    relpEngineSetDnsLookupMode(st->eng, 0);
    relpEngineSetOnErr(st->eng, on_relp_err);
    static unsigned char cmd_syslog[] = "syslog";
    relpEngineSetEnableCmd(st->eng, cmd_syslog, eRelpCmdState_Required);
    return true;
}

static void relp_disconnect(out_sink *s) {
    (void)s; /* every attempt is its own session */
}

static void relp_close(out_sink *s) {
    relp_state *st = s->proto;
    if (!st) return;
    if (st->eng) relpEngineDestruct(&st->eng);
    out_syslog_fmt_free(st->fmt);
    free(st->acked);
    free(st);
    s->proto = NULL;
}

static out_send_rc relp_send(out_sink *s, out_item **batch, size_t *n, uint64_t *rejected) {
    relp_state *st = s->proto;
    int ms = out_attempt_ms(s);
    if (ms <= 0) {
        out_set_err(s, "no time left");
        return OUT_SEND_RETRY;
    }
    unsigned secs = (unsigned)((ms + 999) / 1000);
    relpClt_t *clt = NULL;
    if (relpEngineCltConstruct(st->eng, &clt) != RELP_RET_OK) {
        out_set_err(s, "librelp: cannot make a client");
        return OUT_SEND_RETRY;
    }
    tl_relp = st;
    relpCltSetUsrPtr(clt, s);
    relpCltSetTimeout(clt, secs);
    relpCltSetConnTimeout(clt, (int)secs);
    relpCltSetWindowSize(clt, RELP_WINDOW);
    char port[8];
    snprintf(port, sizeof port, "%u", s->cfg.port);
    st->failed = 0;
    st->serverclose = false;
    st->nframes = st->nacked = 0;
    size_t total = *n, kept = 0;
    relpRetVal r =
        relpCltConnect(clt, AF_UNSPEC, (unsigned char *)port, (unsigned char *)s->cfg.host);
    if (r == RELP_RET_OK) {
        relpCltHintBurstBegin(clt);
        for (size_t i = 0; i < total; i++) {
            const mw_buf *m = st->failed || st->serverclose
                                  ? NULL
                                  : out_syslog_format(st->fmt, &s->cfg, batch[i]);
            if (!m && !st->failed && !st->serverclose) {
                (*rejected)++; /* cannot be formatted: resending will not help */
                continue;
            }
            batch[kept++] = batch[i];
            if (!m) continue; /* the session broke: the rest waits for the next one */
            st->acked[st->nframes++] = 0;
            r = relpCltSendSyslog(clt, (unsigned char *)m->data, m->len);
            if (r != RELP_RET_OK && !st->failed) {
                st->failed = 1;
                out_set_err(s, "RELP send failed (librelp %d)", (int)r);
            }
        }
        relpCltHintBurstEnd(clt);
    } else {
        st->failed = 1;
        kept = total;
    }
    /* The close waits for the answers still out (they come before the answer to "close"). */
    relpEngineCltDestruct(st->eng, &clt);
    tl_relp = NULL;
    if (st->nacked == kept && !st->failed && !st->serverclose) {
        *n = kept;
        return OUT_SEND_OK;
    }
    if (st->serverclose)
        out_set_err(s, "the collector closed the RELP session (%zu of %zu answered)", st->nacked,
                    kept);
    else if (!st->failed)
        out_set_err(s, "RELP: %zu of %zu messages answered", st->nacked, kept);
    /* Keep what was not answered 200, in order. */
    size_t left = 0;
    for (size_t i = 0; i < kept; i++)
        if (i >= st->nframes || !st->acked[i]) batch[left++] = batch[i];
    *n = left;
    return OUT_SEND_RETRY;
}

const out_net_ops out_relp_ops = {
    .type_name = "relp",
    .open = relp_open,
    .send = relp_send,
    .disconnect = relp_disconnect,
    .close = relp_close,
};
