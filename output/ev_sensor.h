/* The sensor's own alerts (docs/ARCHITECTURE.md): sensor.drops, sensor.overload and
 * sensor.undecoded, raised with the stats when the capture lost packets, the sensor hit its caps
 * or could not decode a notable share of the packets since the last report, so that the sensor
 * admits blindness. sensor.drops and sensor.overload name the counters that moved with their
 * deltas (mitmwatch.drops.counters, mitmwatch.overload.counters: the stats event's names);
 * mitmwatch.expected is 0, mitmwatch.observed the sum of the deltas. A sensor.overload caused by
 * one flow's own bytes (a per-flow cap) carries that flow's fields (source, destination,
 * network.community_id); no target. */
#ifndef EV_SENSOR_H
#define EV_SENSOR_H

#include "an_engine.h"
#include "rule_engine.h"
#include "ev_tls.h"
#include "out.h"

/* Where the counters are read. Fields for new counters go here, with their rows in the tables
 * of ev_sensor.c (the one list of what raises sensor.drops and sensor.overload). */
typedef struct {
    const cap_stats *cs;
    const an_stats *as;
    const rule_stats *rs; /* NULL: no verdicts */
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

/* mitmwatch.sensor, mitmwatch.sensor.action "start": the live sensor's process once its capture
 * is open and privileges are dropped: the user (uid, gid) it runs as, whether it dropped its
 * privileges, and a warning when it kept them (--no-drop-privileges). */
typedef struct {
    const char *user; /* the account name of uid, NULL when it has none */
    unsigned uid, gid;
    bool dropped;
    const char *warning; /* NULL: none */
} ev_sensor_start;
bool ev_sensor_start_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us,
                           const ev_sensor_start *st, out_event *ev);

/* sensor.undecoded: more than 1% of the packets since the last report could not be decoded
 * (cap_stats_undecoded): undecoded of packets, by[] the count per cause, each cause with a
 * non-zero count named in the message. */
bool ev_sensor_undecoded_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t undecoded,
                               uint64_t packets, const uint64_t by[CAP_UNDEC_COUNT], out_event *ev);

#endif
