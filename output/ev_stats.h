/* The mitmwatch.stats event: every counter of capture, reassembly and analysis, so that a
 * sensor admits what it did not see (drops, caps, malformed input). */
#ifndef EV_STATS_H
#define EV_STATS_H

#include "an_stats.h"
#include "cap_stats.h"
#include "ev_tls.h"
#include "out.h"
#include "rule_engine.h"

/* The live sensor's triggered certificate fetches (probes/probe_trigger.h): fetches started,
 * triggers refused by the per-service interval, fetches dropped for a full queue. */
typedef struct {
    uint64_t triggered, rate_limited, dropped;
} ev_trigger_stats;

/* The threads' CPU time for mitmwatch.stats.cpu_ms: the main thread (the reader with -r and
 * several workers; the one worker with --workers 1; stats, probes and outputs), the judge
 * thread (-r with several workers: verdicts, baselines, events), and each worker's below. */
typedef struct {
    uint64_t main_ns, judge_ns;
    bool judge; /* a judge thread ran */
} ev_stats_cpu;
/* A worker's counters for mitmwatch.stats.workers (--workers N > 1). */
typedef struct {
    const cap_stats *cs;
    const an_stats *as;
    uint64_t judge_waits; /* handshakes that found the verdicts' lock taken by another worker */
    uint64_t ring_waits;  /* times it found its packet ring empty and slept */
    uint64_t turn_waits;  /* handshakes that waited for the other workers to catch up (-r) */
    uint64_t cpu_ns;      /* the worker thread's CPU time */
} ev_stats_worker;
/* The stats event, with the totals in cs and as. rs: the verdicts' counters, NULL when no
 * policy is judged; ts: the triggered fetches' (mitmwatch.stats.triggered_probes), NULL when
 * there are none (reading files); with cpu, a "cpu_ms" object
 * (after "anomalies"); when nw > 0, a "workers" array with each worker's share. */
bool ev_stats_build_workers(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, const cap_stats *cs,
                            const an_stats *as, const out_set *outs, const rule_stats *rs,
                            const ev_trigger_stats *ts, bool final, const ev_stats_cpu *cpu,
                            const ev_stats_worker *w, unsigned nw);
/* Writes the member "verdicts" with the verdicts' counters. */
void ev_stats_verdicts_json(mw_json *j, const rule_stats *st);

#endif
