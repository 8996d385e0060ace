/* RELP sink (Reliable Event Logging Protocol, rsyslog's imrelp) over Debian's librelp: each
 * event is an RFC 5424 syslog message (as out_syslog.c formats it) in a "syslog" command that the
 * collector answers with "200 OK" once it has taken it.
 *
 * librelp keeps the unacknowledged frames to itself and tells its caller nothing about which
 * were answered, only that a session broke. So one batch is one RELP session: open, the
 * messages (librelp's window keeps up to RELP_WINDOW in flight), close. The collector answers
 * the close after every command before it (RELP processes a session's commands in order), so
 * a clean close means every message of the batch was taken; any error reported by librelp
 * meanwhile (a broken session, a timeout, a refused message) sends the whole batch again on a
 * new session. At-least-once: a collector that took part of a batch before it broke gets that
 * part twice; one that restarts loses nothing that was counted as sent.
 * librelp's waits are whole seconds: an attempt waits ceil(the time left) seconds, so at
 * shutdown the flush budget can be passed by up to a second. */
#include <stddef.h> /* before librelp.h, which uses size_t without it */

#include <librelp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "out_sink.h"

#define RELP_WINDOW 512

typedef struct {
    relpEngine_t *eng;
    out_syslog_fmt *fmt;
    int failed; /* librelp reported an error during this attempt */
} relp_state;

static void on_relp_err(void *usr, char *objinfo, char *errmsg, relpRetVal code) {
    out_sink *s = usr;
    if (!s || !s->proto) return;
    relp_state *st = s->proto;
    st->failed = 1;
    out_set_err(s, "RELP %s: %s (librelp %d)", objinfo ? objinfo : "", errmsg ? errmsg : "",
                (int)code);
}

static bool relp_open(out_sink *s, char *err, size_t errlen) {
    relp_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->proto = st;
    st->fmt = out_syslog_fmt_new(&s->cfg);
    if (!st->fmt || relpEngineConstruct(&st->eng) != RELP_RET_OK) {
        snprintf(err, errlen, "output %s: cannot set up librelp", s->name);
        return false;
    }
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
    relpCltSetUsrPtr(clt, s);
    relpCltSetTimeout(clt, secs);
    relpCltSetConnTimeout(clt, (int)secs);
    relpCltSetWindowSize(clt, RELP_WINDOW);
    char port[8];
    snprintf(port, sizeof port, "%u", s->cfg.port);
    st->failed = 0;
    relpRetVal r =
        relpCltConnect(clt, AF_UNSPEC, (unsigned char *)port, (unsigned char *)s->cfg.host);
    size_t total = *n, kept = 0;
    if (r == RELP_RET_OK) {
        relpCltHintBurstBegin(clt);
        for (size_t i = 0; i < total && !st->failed; i++) {
            const mw_buf *m = out_syslog_format(st->fmt, &s->cfg, batch[i]);
            if (!m) {
                (*rejected)++;
                continue;
            }
            batch[kept++] = batch[i];
            r = relpCltSendSyslog(clt, (unsigned char *)m->data, m->len);
            if (r != RELP_RET_OK) {
                st->failed = 1;
                if (!s->last_err[0]) out_set_err(s, "RELP send failed (librelp %d)", (int)r);
            }
        }
        relpCltHintBurstEnd(clt);
        for (size_t i = kept; i < total && st->failed; i++)
            batch[kept++] = batch[i]; /* not reached: all of them again */
    } else {
        st->failed = 1;
        kept = total;
    }
    /* The clean close: waits for the answer to "close", which comes after every other. */
    relpEngineCltDestruct(st->eng, &clt);
    *n = kept;
    return st->failed ? OUT_SEND_RETRY : OUT_SEND_OK;
}

const out_net_ops out_relp_ops = {
    .type_name = "relp",
    .open = relp_open,
    .send = relp_send,
    .disconnect = relp_disconnect,
    .close = relp_close,
};
