/* The sensor's own alerts (docs/ARCHITECTURE.md): sensor.drops and sensor.overload, raised with
 * the stats when the capture lost packets or the sensor hit its caps since the last report, so
 * that the sensor admits blindness. Each names the counters that moved with their deltas
 * (mitmwatch.drops.counters, mitmwatch.overload.counters: the stats event's names);
 * mitmwatch.expected is 0, mitmwatch.observed the sum of the deltas. A sensor.overload caused by
 * one flow's own bytes (a per-flow cap) carries that flow's fields (source, destination,
 * network.community_id); no target. */
#ifndef EV_SENSOR_H
#define EV_SENSOR_H

#include "an_engine.h"
#include "ev_tls.h"
#include "out.h"

/* Where the counters are read. Fields for new counters go here, with their rows in the tables
 * of ev_sensor.c (the one list of what raises sensor.drops and sensor.overload). */
typedef struct {
    const cap_stats *cs;
    const an_stats *as;
} ev_sensor_src;

#define EV_SENSOR_MAX_COUNTERS 24
typedef struct {
    uint64_t v[EV_SENSOR_MAX_COUNTERS];
} ev_sensor_counts;

typedef enum { EV_SENSOR_DROPS, EV_SENSOR_OVERLOAD } ev_sensor_kind;

/* Reads the counters of kind (their current values) into out. */
void ev_sensor_read(ev_sensor_kind kind, const ev_sensor_src *src, ev_sensor_counts *out);
/* The alert of kind when a counter moved from prev to now (false otherwise, or when it did
 * not fit out: *ev is set only on true). flow: the one flow behind a per-flow cap, or NULL. */
bool ev_sensor_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, ev_sensor_kind kind,
                     const ev_sensor_counts *prev, const ev_sensor_counts *now,
                     const an_overload_flow *flow, out_event *ev);

#endif
