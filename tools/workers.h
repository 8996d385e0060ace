/* Workers (--workers N): the packet path on N threads, each with its own analysis engine and
 * flow table, and no lock between them on the way of a packet.
 *
 * Files (wk_pool): the caller's thread is the one reader. It hashes each frame's flow
 * symmetrically (addresses, ports and VLANs, whichever direction; frames without a TCP header
 * go to worker 0) and copies it into the owning worker's ring: a bounded single-producer,
 * single-consumer byte ring, published in batches. A full ring makes the reader wait (a file is
 * never read faster than its workers judge it, and nothing is dropped). The reader also
 * broadcasts capture time (wk_pool_tick), so that a worker whose flows went quiet still
 * expires them, and can wait for every worker to have judged everything handed so far
 * (wk_pool_sync: periodic stats, the end of the input).
 *
 * Live (wk_live): every worker owns one capture socket per interface, the sockets of one
 * interface joined in one PACKET_FANOUT group (hash mode, so both directions of a flow reach
 * the same worker; defragmented first). The sockets are opened by the caller's thread (before
 * privileges are dropped); each worker polls its own.
 *
 * Callbacks run on the worker's thread with that worker's user pointer. The threads block
 * every signal: signals reach the main thread. */
#ifndef WORKERS_H
#define WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cap_source.h"

#define WK_MAX 32         /* --workers (at 32, peak RSS on big.pcap is about 320 MB) */
#define WK_DEFAULT_MAX 16 /* the default, online CPUs, is capped here */
#define WK_MAX_IFACES 16  /* -i */

/* The default worker count: the online CPUs, at most WK_DEFAULT_MAX, at least 1. */
unsigned wk_default_count(void);

/* Which of n workers owns this frame's flow (the same for both directions); 0 for frames
 * without a decodable TCP header. */
unsigned wk_flow_worker(int dlt, const uint8_t *data, uint32_t caplen, unsigned n);

typedef void (*wk_tick_fn)(void *user, uint64_t ts_us);

typedef struct wk_pool wk_pool;
typedef struct {
    unsigned n;
    size_t ring_bytes; /* per worker; 0: 4 MiB */
    cap_frame_fn on_frame;
    wk_tick_fn on_tick;
    void *const *users; /* n of them */
} wk_pool_cfg;

/* Starts the n worker threads. NULL with err filled on failure. */
wk_pool *wk_pool_start(const wk_pool_cfg *cfg, char *err, size_t errlen);
/* Reader side (one thread): hands one frame to its worker, copying it; waits while that
 * worker's ring is full. */
void wk_pool_frame(wk_pool *p, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                   uint32_t wire_len);
/* Every worker's clock moves to ts_us (on_tick, in order with its frames). */
void wk_pool_tick(wk_pool *p, uint64_t ts_us);
/* Returns once every worker has handled every frame and tick handed so far. After it, until
 * the next frame or tick, the workers touch nothing: their state may be read. */
void wk_pool_sync(wk_pool *p);
/* Times wk_pool_wait_passed waited for worker i to reach a record. */
uint64_t wk_pool_turn_waits(const wk_pool *p, unsigned i);
#define WK_IDLE UINT64_MAX
/* The place in the input of the record worker i is handling (WK_IDLE: none). On worker i's
 * thread, what its current record raised is tagged with it. */
uint64_t wk_pool_cur(const wk_pool *p, unsigned i);
/* Waits until worker j has handled every record read before record k: then whatever j's records
 * before k raised has been raised. The judge stage calls it before it judges what record k
 * raised, so that it judges in the order of the input, as one worker would (the same events
 * for any number of workers). True when it had to wait, counted in wk_pool_turn_waits(j). */
bool wk_pool_wait_passed(wk_pool *p, unsigned j, uint64_t k);
/* An absolute CLOCK_REALTIME deadline ms milliseconds from now (pthread_cond_timedwait). */
void wk_deadline_ms(struct timespec *ts, int ms);
/* Times worker i found its ring empty and slept; times the reader found a ring full. Read
 * after wk_pool_sync. */
uint64_t wk_pool_idle_waits(const wk_pool *p, unsigned i);
uint64_t wk_pool_full_waits(const wk_pool *p);
/* The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID; 0 if unavailable). */
uint64_t wk_thread_cpu_ns(void);
/* Worker i's CPU time as of the last batch it handled: exact after wk_pool_sync (a synced
 * worker has gone idle and published it) and after wk_pool_stop's join. */
uint64_t wk_pool_cpu_ns(const wk_pool *p, unsigned i);
/* wk_pool_sync, then the threads end; frees. */
void wk_pool_stop(wk_pool *p);

/* Called on a live worker's thread after each round of its sockets (at least every 200 ms):
 * where it publishes its counters. */
typedef void (*wk_poll_fn)(void *user, cap_source *srcs, int nsrcs);

typedef struct wk_live wk_live;
typedef struct {
    unsigned n;
    const char *const *ifaces;
    int nifaces;
    const char *bpf;
    int snaplen;
    int buffer_bytes;     /* kernel buffer per socket; 0: 64 MiB shared out over the workers */
    unsigned fanout_base; /* fanout group id of the first interface (+i for the others);
                             0: from the process id */
    cap_frame_fn on_frame;
    wk_poll_fn on_poll;
    void *const *users;
} wk_live_cfg;

/* Opens every worker's sockets (n x nifaces) and joins the fanout groups; checks the link
 * types. NULL with err filled. */
wk_live *wk_live_open(const wk_live_cfg *cfg, char *err, size_t errlen);
bool wk_live_start(wk_live *l, char *err, size_t errlen);
/* A worker's socket failed or its interface went away: true with the reason in err. */
bool wk_live_failed(wk_live *l, char *err, size_t errlen);
/* Stops and joins the threads (the sockets stay open, their counters readable). */
void wk_live_stop(wk_live *l);
/* Live worker i's CPU time as of its last round of its sockets (at most 200 ms old). */
uint64_t wk_live_cpu_ns(const wk_live *l, unsigned i);
/* Worker i's sockets, one per interface. */
cap_source *wk_live_sources(wk_live *l, unsigned i);
void wk_live_close(wk_live *l);

#endif
