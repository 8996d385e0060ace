/* The mitmwatch.probe event of a certificate fetch (docs/ARCHITECTURE.md): the handshake's tls.*
 * and mitmwatch.tls.* fields exactly as the passive mitmwatch.tls event writes them, plus
 * mitmwatch.probe.{type, target, starttls, duration_ms, handshake_ms, error, trigger} and
 * event.outcome. */
#ifndef EV_PROBE_H
#define EV_PROBE_H

#include "ev_tls.h"
#include "probe_cert.h"

/* What a triggered fetch (probes/probe_trigger.h) links to: the passive handshake that
 * triggered it, written as mitmwatch.probe.trigger. Owned copies: it travels with the fetch. */
typedef struct {
    char handshake_id[EV_ID_LEN]; /* event.id of the triggering mitmwatch.tls event */
    char community_id[64];        /* its network.community_id */
    char rule_id[32];             /* the rule that triggered: tls.ja3s_changed, path.ttl_changed */
    char service[256];            /* the watched service's name as configured */
    char client_ip[64], server_ip[64];
    uint16_t client_port, server_port;
} ev_probe_trigger;

/* target is what was asked for ("host:port"); trig the handshake that triggered the fetch, or
 * NULL for a scheduled one. Returns false when the event did not fit. */
bool ev_probe_cert_build(mw_buf *out, const ev_ctx *ctx, const char *target, const pcert_result *r,
                         const ev_probe_trigger *trig);

#endif
