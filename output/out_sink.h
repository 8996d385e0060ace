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
    _Atomic uint64_t sent, retried, dropped, rejected, errors, queued;

    /* file / stdout */
    int fd;
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
    bool waiting;        /* the thread sleeps on cv_work: the emitter must signal */
    int64_t deadline_ms; /* while stopping: give up delivering at this monotonic time */
    void *proto;         /* per-protocol state */
    bool logged_4xx;
};

int64_t out_now_ms(void);
/* Remaining ms for one attempt: min(timeout, deadline - now) while stopping; >= 0. */
int out_attempt_ms(out_sink *s);

/* Socket helpers for the network drivers (non-blocking fds, poll with a bound). */
int out_tcp_connect(const char *host, unsigned port, int timeout_ms, char *err, size_t errlen);
int out_udp_connect(const char *host, unsigned port, char *err, size_t errlen);
int out_unix_dgram_connect(const char *path, char *err, size_t errlen);
/* Writes all n bytes or fails (timeout, error). *written gets what the kernel accepted. */
bool out_write_all(int fd, const void *p, size_t n, int timeout_ms, size_t *written);

/* RFC 3339 time of the event (its leading "@timestamp" when present), as epoch sec + usec. */
bool out_event_time(const char *json, size_t len, int64_t *sec, int32_t *usec);
void out_time_now(int64_t *sec, int32_t *usec);

extern const out_net_ops out_syslog_ops;
extern const out_net_ops out_fluentd_ops;
extern const out_net_ops out_hec_ops;
extern const out_net_ops out_bulk_ops;

#endif
