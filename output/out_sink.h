/* Internal to the out_ module: one sink, its queue and the per-protocol drivers. */
#ifndef OUT_SINK_H
#define OUT_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "out.h"

/* An owned copy of an event, made on the emitting thread (one malloc) and freed by the sink
 * thread. data holds json '\0' rule_id '\0' dataset '\0'. */
typedef struct {
    uint32_t len; /* json length */
    uint8_t kind;
    int8_t severity;
    uint32_t rule_off; /* offset of rule_id in data; 0 = none */
    uint32_t ds_off;   /* offset of dataset in data */
    char data[];
} out_item;

static inline const char *out_item_rule(const out_item *it) {
    return it->rule_off ? it->data + it->rule_off : NULL;
}
static inline const char *out_item_dataset(const out_item *it) {
    return it->data + it->ds_off;
}

/* Result of one delivery attempt of a batch. */
typedef enum {
    OUT_SEND_OK,       /* all delivered (acknowledged where the protocol can) */
    OUT_SEND_RETRY,    /* transient: reconnect/back off and send the same batch again */
    OUT_SEND_REJECTED, /* the receiver refused for good (HTTP 4xx): count, do not resend */
} out_send_rc;

typedef struct out_sink out_sink;
typedef struct out_spool out_spool;

typedef struct {
    const char *type_name;
    bool (*open)(out_sink *s, char *err, size_t errlen); /* thread-independent setup */
    /* Delivers items[0..n). May shrink *n to the items still to resend (partial acceptance,
     * bulk item errors); rejected counts what the receiver refused for good. */
    out_send_rc (*send)(out_sink *s, out_item **items, size_t *n, uint64_t *rejected);
    void (*disconnect)(out_sink *s); /* after a failure: drop the connection */
    void (*close)(out_sink *s);
} out_net_ops;

struct out_sink {
    out_sink_cfg cfg;
    char name[160];
    const out_net_ops *ops; /* NULL for file/stdout sinks */

    /* counters: written by the sink thread (or the emitter for files), read by stats */
    _Atomic uint64_t offered, sent, retried, dropped, rejected, errors, queued;
    _Atomic uint64_t spooled, replayed, spool_dropped, spool_pending, spool_start;

    /* file / stdout */
    int fd;
    bool created; /* the last open made the file (out_give_files) */
    uint64_t file_size;
    mw_buf fbuf;
    size_t fbuf_lines; /* whole lines in fbuf */
    int64_t last_flush_ms;

    /* network */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* signalled: new item, flush request, stop */
    pthread_cond_t cv_idle; /* signalled: queue empty and no batch in flight */
    out_item **ring;
    size_t ring_cap, head, count, bytes;
    bool in_flight;
    bool stopping;
    bool waiting;     /* the thread sleeps on cv_work: the emitter must signal */
    bool backing_off; /* the thread waits out a backoff: wake it past the spill mark */
    bool lingering;   /* the thread lets a batch fill: wake it when one is full */
    bool spool_work;  /* the spool has items to replay (under mu) */
    /* Shutdown: give up delivering at this monotonic time (INT64_MAX: no deadline). Read by
     * the drivers' waits at every poll slice, so a request already waiting honours it. */
    _Atomic int64_t deadline_ms;
    _Atomic int64_t deadline_set_ms; /* when it was set */
    void *proto;                     /* per-protocol state */
    bool logged_4xx;

    /* delivery state, sink thread only */
    unsigned backoff_cur;   /* next backoff; back to cfg.backoff_ms after any progress */
    int64_t retry_after_ms; /* the collector asked for this pause (HTTP Retry-After); 0 none */
    char last_err[256];     /* what the driver last saw fail */
    bool failing;           /* logged "cannot deliver" once; cleared (and logged) on recovery */
    bool logged_full;       /* "queue full" said once */
    out_spool *spool;       /* NULL unless spool= */
};

int64_t out_now_ms(void);
/* Remaining ms for one attempt: min(timeout, deadline - now); >= 0. */
int out_attempt_ms(out_sink *s);
/* ms left until until_ms or the sink's deadline, whichever comes first; <= 0 when passed. The
 * drivers poll in slices of at most OUT_SLICE_MS so a deadline set meanwhile cuts the wait. */
int64_t out_left_ms(out_sink *s, int64_t until_ms);
#define OUT_SLICE_MS 100
/* Records why an attempt failed (for the one stderr line an outage gets). */
void out_set_err(out_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Socket helpers for the network drivers (non-blocking fds, poll with a bound). */
int out_tcp_connect(out_sink *s, const char *host, unsigned port, int timeout_ms, char *err,
                    size_t errlen);
int out_udp_connect(const char *host, unsigned port, char *err, size_t errlen);
int out_unix_dgram_connect(const char *path, char *err, size_t errlen);
/* Writes all n bytes within timeout_ms (and the sink's deadline) or fails. *written gets what
 * the kernel accepted. */
bool out_write_all(out_sink *s, int fd, const void *p, size_t n, int timeout_ms, size_t *written);
/* Waits until fd is readable within timeout_ms and the sink's deadline; false on timeout. */
bool out_wait_readable(out_sink *s, int fd, int timeout_ms);

/* Syslog message of one event (out_syslog.c), also what RELP carries. */
typedef struct out_syslog_fmt out_syslog_fmt;
out_syslog_fmt *out_syslog_fmt_new(const out_sink_cfg *cfg);
void out_syslog_fmt_free(out_syslog_fmt *f);
/* The formatted message, valid until the next call; NULL when too large. */
const mw_buf *out_syslog_format(out_syslog_fmt *f, const out_sink_cfg *cfg, const out_item *it);

/* Disk spool (out_spool.c), used by the sink thread only. */
out_spool *out_spool_open(const char *dir, uint64_t max_bytes, uint64_t *pending, char *err,
                          size_t errlen);
void out_spool_close(out_spool *sp);
/* Appends items in order; returns how many fit (the rest: over the cap or an I/O error). */
size_t out_spool_append(out_spool *sp, out_item *const *items, size_t n);
/* Reads up to max items after those already read and not yet committed; 0 when none. */
size_t out_spool_read(out_spool *sp, out_item **items, size_t max);
/* The items read so far are resolved (delivered, rejected): forget them for good. */
bool out_spool_commit(out_spool *sp);
/* Forget the read position: the uncommitted items will be read again. */
void out_spool_rewind(out_spool *sp);
bool out_spool_has_unread(const out_spool *sp);

/* RFC 3339 time of the event (its leading "@timestamp" when present), as epoch sec + usec. */
bool out_event_time(const char *json, size_t len, int64_t *sec, int32_t *usec);
void out_time_now(int64_t *sec, int32_t *usec);

extern const out_net_ops out_syslog_ops;
extern const out_net_ops out_fluentd_ops;
extern const out_net_ops out_hec_ops;
extern const out_net_ops out_bulk_ops;
extern const out_net_ops out_relp_ops;

#define OUT_FILE_BUF (256u * 1024u) /* a file output's write buffer */
#define OUT_FILE_FLUSH_MS 1000      /* and how often it is flushed */

/* A monotonic clock read cheaply (CLOCK_MONOTONIC_COARSE), ms. */
int64_t out_now_coarse_ms(void);

/* out_file.c: the JSON-lines writer of file and stdout outputs (no thread). */
bool out_file_open(out_sink *s, char *err, size_t errlen);
void out_file_flush(out_sink *s);
void out_file_close(out_sink *s);
void out_file_emit(out_sink *s, const out_event *ev);

/* out_queue.c: the queue and thread of network sinks. */
void *out_queue_thread(void *arg);
void out_queue_emit(out_sink *s, const out_event *ev);
int64_t out_queue_deadline(out_sink *s);
bool out_queue_idle(out_sink *s);
/* Takes every queued item (caller holds s->mu); *items is malloc'd. */
size_t out_queue_take_all(out_sink *s, out_item ***items);
/* Counts the items as dropped (or spools them) and frees them. */
void out_queue_give_up(out_sink *s, out_item **items, size_t n);
void out_abs_time(struct timespec *ts, int64_t mono_ms);

#endif
