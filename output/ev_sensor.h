/* The sensor's own alerts (docs/ARCHITECTURE.md): sensor.drops, sensor.overload and
 * sensor.undecoded, raised with the stats
 * when the capture lost packets or the sensor hit its caps since the last report, so that the
 * sensor admits blindness. mitmwatch.expected is 0; mitmwatch.observed the count since the last
 * report. No flow and no target. */
#ifndef EV_SENSOR_H
#define EV_SENSOR_H

#include "ev_tls.h"
#include "out.h"

/* sensor.drops: lost packets (kernel or interface drops) since the last report. */
bool ev_sensor_drops_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t lost,
                           out_event *ev);
/* sensor.overload: flows evicted and reassembly or handshake caps reached since the last
 * report. */
bool ev_sensor_overload_build(mw_buf *out, const ev_ctx *ctx, uint64_t ts_us, uint64_t hits,
                              out_event *ev);

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
