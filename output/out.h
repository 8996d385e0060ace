/* Event records and their sinks.
 *
 * An event is one JSON object (one line, no newline inside) plus the routing facts sinks filter
 * on. Producers build the JSON with mw_json and call out_emit; the sinks own delivery. The
 * packet path never blocks here: file/stdout writes are buffered and written whole lines at a
 * time; every network sink (syslog, Fluentd forward, HTTP) has a bounded queue of owned copies
 * drained by its own thread, and when that queue is full the event is dropped and counted.
 *
 * Threading: out_emit, out_reopen, out_flush*, out_stats_json and out_set_free are called from
 * one thread (the core's event thread). None of them is async-signal-safe: a SIGHUP handler sets
 * a flag and the main loop calls out_reopen. */
#ifndef OUT_H
#define OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_json.h"

enum out_kind { OUT_KIND_EVENT, OUT_KIND_ALERT, OUT_KIND_METRIC };

typedef struct {
    const char *json; /* one JSON object, no trailing newline */
    size_t len;
    enum out_kind kind;
    const char *dataset; /* "mitmwatch.tls", "mitmwatch.alert", ... */
    int severity;        /* alerts: 1 low .. 4 critical; else 0 */
    const char *rule_id; /* alerts only, else NULL */
} out_event;

enum out_sink_type {
    OUT_SINK_FILE,    /* JSON lines to a file */
    OUT_SINK_STDOUT,  /* JSON lines to stdout */
    OUT_SINK_SYSLOG,  /* RFC 5424 (or 3164) over UDP, TCP (RFC 6587) or a local socket */
    OUT_SINK_FLUENTD, /* Fluentd forward protocol, PackedForward mode, optional ack */
    OUT_SINK_HEC,     /* Splunk HTTP Event Collector */
    OUT_SINK_BULK,    /* Elasticsearch / OpenSearch _bulk */
    OUT_SINK_RELP,    /* RELP (librelp): syslog messages each acknowledged by the collector */
};

enum out_syslog_transport { OUT_SYSLOG_UDP, OUT_SYSLOG_TCP, OUT_SYSLOG_UNIX };
enum out_syslog_format { OUT_SYSLOG_5424, OUT_SYSLOG_3164 };
enum out_syslog_framing { OUT_FRAMING_OCTET, OUT_FRAMING_LF }; /* RFC 6587 3.4.1 / 3.4.2 */

#define OUT_MAX_DATASETS 8

/* One output as the config (or --output) describes it. out_sink_cfg_init gives the defaults;
 * strings are copied into the sink by out_add. */
typedef struct {
    enum out_sink_type type;
    char name[128]; /* key under mitmwatch.stats.outputs; default: the spec without its query */

    /* Filter: an event passes when its kind is in kinds_mask (bit 1 << OUT_KIND_x; 0 = every
     * kind) and, if any dataset prefixes are given, event.dataset starts with one of them. */
    unsigned kinds_mask;
    char datasets[OUT_MAX_DATASETS][64];
    int ndatasets;

    /* Where: host/port for TCP/UDP, path for files and local sockets, url for HTTP. */
    char host[256];
    unsigned port;
    char path[512];
    char url[1024];

    /* File */
    uint64_t rotate_bytes; /* 0 = never; else rename to path.1 .. path.N when passed */
    unsigned rotate_keep;  /* N, default 5 */

    /* Network sinks: queue and batching */
    size_t queue_max;        /* events; default 65536 */
    size_t queue_bytes;      /* bytes of queued JSON; default 64 MiB */
    size_t batch_max;        /* events per batch; default 512 */
    unsigned timeout_ms;     /* one attempt (connect, write, ack, HTTP request); default 10000 */
    unsigned backoff_ms;     /* first retry delay, doubling; default 100 */
    unsigned backoff_max_ms; /* default 5000 */
    unsigned linger_ms;      /* wait up to this for a batch to fill; default 20 (syslog: 0) */
    unsigned flush_ms;       /* this output's shutdown flush budget; 0 = the set's */
    unsigned ack_timeout_ms; /* Fluentd: wait for one ack; default 5000 */

    /* Optional disk spool (network outputs): what the collector cannot take is kept in
     * spool_dir (one folder per output) up to spool_max bytes and replayed in order. */
    char spool_dir[512];
    uint64_t spool_max; /* default 256 MiB */

    /* Syslog */
    enum out_syslog_transport transport;
    enum out_syslog_format format;
    enum out_syslog_framing framing;
    int facility;       /* 0..23, default 16 (local0) */
    char app_name[49];  /* default "mitmwatch" */
    char hostname[256]; /* default gethostname() */

    /* Fluentd */
    char tag[128]; /* default "mitmwatch" */
    bool ack;      /* require {"ack": chunk} for each batch and resend until acknowledged */

    /* HTTP */
    char token[256];  /* HEC: "Authorization: Splunk TOKEN" */
    char apikey[256]; /* bulk: "Authorization: ApiKey KEY" */
    char user[128];   /* bulk: basic auth */
    char password[128];
    char index[256];     /* bulk: index name, strftime-like %Y %m %d %H of @timestamp (UTC);
                            HEC: optional "index" field */
    char sourcetype[64]; /* HEC, default "_json" */
    bool tls_verify;     /* default true */
    char ca_file[512];

    /* Text (text:PATH, text:-): a file/stdout sink writing one line for people per alert
     * (output/out_text.c) instead of JSON; handshakes=1 adds a line per handshake. */
    bool text;
    bool text_handshakes;
} out_sink_cfg;

typedef struct out_set out_set;

void out_sink_cfg_init(out_sink_cfg *cfg);
/* Parses the --output form into cfg (after out_sink_cfg_init), e.g.
 *   -  file:///var/log/x.json?rotate=100M&keep=5  /var/log/x.json  stdout:
 *   syslog+udp://127.0.0.1:514  syslog+tcp://[::1]:6514?filter=alert&format=3164
 *   syslog+unix:///dev/log  fluentd://127.0.0.1:24224?tag=mitmwatch&ack=1
 *   hec+https://splunk:8088?token=XYZ  bulk+http://127.0.0.1:9200?index=mitmwatch-%Y.%m.%d
 *   relp://127.0.0.1:2514
 *   text:/var/log/mitmwatch/fast.log  text:-?handshakes=1
 * Common query keys: filter (kinds: event,alert,metric), dataset (prefixes), name, queue,
 * queue_bytes, batch, linger, timeout (ms), backoff, backoff_max, flush_budget (ms), spool
 * (folder), spool_max (bytes, K/M/G). Values are %XX-decoded. */
bool out_parse_spec(const char *spec, out_sink_cfg *cfg, char *err, size_t errlen);

out_set *out_set_new(void);
/* Adds one sink; network sinks start their thread here (connecting lazily, so a collector that
 * is down at start is not an error). Returns false with err filled. */
bool out_add(out_set *o, const out_sink_cfg *cfg, char *err, size_t errlen);
/* Adds a JSON-lines sink writing to path ("-" = stdout). Returns false with err filled. */
bool out_add_file(out_set *o, const char *path, char *err, size_t errlen);
void out_emit(out_set *o, const out_event *ev);
/* Reopens files (SIGHUP, logrotate). Buffered lines are written to the old file first. */
void out_reopen(out_set *o);
/* Live capture, about to drop privileges to uid/gid: the output files this run created are
 * given to that user, who reopens them on SIGHUP and rotates them (their folders must let
 * the user make files for rotation; files that already existed are left as they are). */
void out_give_files(out_set *o, unsigned uid, unsigned gid);
/* Call from the main loop about once a second, also when no event comes: writes file lines
 * buffered for more than a second (out_emit does the same when events flow). Never waits. */
void out_tick(out_set *o);
/* Writes buffered file lines now. Never waits for network sinks (their threads deliver on
 * their own), so the packet loop may call it. */
void out_flush(out_set *o);
/* Waits up to ms for every network queue to drain (files are flushed first); true if all did.
 * Not for the packet loop. */
bool out_flush_ms(out_set *o, unsigned ms);
/* The shutdown flush budget of the network sinks (an output's flush_budget= overrides it);
 * default 5000 ms. Every wait of a sink (connect, write, ack, HTTP request, backoff) is cut
 * at its deadline, so the budget holds also for a request already waiting. */
void out_set_flush_ms(out_set *o, unsigned ms);
unsigned out_get_flush_ms(const out_set *o);
/* Shutdown, first step: every network sink gets its flush budget (in parallel) to deliver its
 * queue (and replay its spool); what is still queued when it runs out is spooled, or else
 * dropped and counted. Files are flushed. The sinks keep running: an event emitted after this
 * (the final stats) is delivered by out_close. True if every queue was delivered. */
bool out_drain(out_set *o);
/* Shutdown: every network sink gets at most ms (one deadline shared by all, in parallel) to
 * deliver what is queued; the rest is spooled or dropped and counted. The threads are stopped;
 * counters stay readable (out_stats_json, out_totals) and later emits to network sinks are
 * counted as dropped. Files are flushed and stay open. */
void out_close_ms(out_set *o, unsigned ms);
/* out_close_ms with the flush budget (out_set_flush_ms). */
void out_close(out_set *o);
/* out_close, then frees. */
void out_set_free(out_set *o);
uint64_t out_events_written(const out_set *o);
/* Per-output counters as one JSON object {"<name>":{"type":..,"offered":..,"sent":..,
 * "retried":..,"dropped":..,"rejected":..,"queued":..,"errors":..[,"spooled":..,"replayed":..,
 * "spool_dropped":..,"spool_pending":..]}, ...} for mitmwatch.stats.outputs. */
void out_stats_json(const out_set *o, mw_json *j);

/* Sums over every output. After out_close: offered + spool_start == sent + dropped + rejected +
 * spool_pending for each output (queued is 0). */
typedef struct {
    uint64_t offered, sent, dropped, rejected, queued, spool_pending;
} out_totals;
void out_get_totals(const out_set *o, out_totals *t);
/* After out_close: one stderr line per output that dropped or rejected events (with its
 * counts and last error) and per output that left events in its spool. Returns the number of
 * events not delivered and not kept (dropped + rejected) over all outputs. */
uint64_t out_report_losses(const out_set *o, const char *prog);

#endif
