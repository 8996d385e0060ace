/* The passive pipeline below the verdicts: frames in, handshake facts out.
 *
 * decode -> flow table -> per-direction reassembly -> TLS session -> on_handshake callback.
 * Once a flow's handshake facts are out, the flow is bypassed: its later packets cost a decode
 * and a lookup, nothing else. Everything is single-threaded per engine (one engine a worker). */
#ifndef AN_ENGINE_H
#define AN_ENGINE_H

#include <stdint.h>

#include "an_ndpi.h"
#include "an_stats.h"
#include "cap_csum.h"
#include "cap_flow.h"
#include "cap_stats.h"
#include "tls_session.h"

typedef struct an_engine an_engine;

/* Called once per TLS handshake with its facts; client_side tells which key side is the
 * client. The facts and the flow are valid only during the call. */
typedef void (*an_handshake_fn)(const tls_hs *hs, const cap_flow *f, int client_side,
                                void *user);

/* A STARTTLS-protocol flow that ended, or was given up, without reaching TLS, seen without
 * holes (what the verdicts need for tls.starttls_missing). Valid only during the call. */
typedef struct {
    const char *protocol;         /* stls_proto_name: "xmpp", "smtp", "postgres", ... */
    const char *network_protocol; /* for ECS network.protocol */
    bool offer_visible;           /* the protocol's capability exchange is followed */
    bool offered, requested, refused;
    bool stripped;                /* the server agreed, then plaintext came instead of TLS */
    uint32_t session_cmds;        /* client commands sent in plaintext (stls_state) */
    uint64_t ts_us;
} an_plain;

typedef void (*an_plaintext_fn)(const an_plain *p, const cap_flow *f, int client_side,
                                void *user);

/* Two versions of the same sequence numbers of one direction (an injection: see cap_reasm.h).
 * A difference found before a flow's handshake facts go out is in the flow during
 * on_handshake: cap_flow_conflict(f, side) for each side. This callback reports one found
 * after them (the verdict came first, e.g. an attacker forged the handshake's end too), once
 * per direction, while the flow is watched (AN_WATCH_US of capture time after the verdict).
 * side is the sending side of the conflicting bytes. Valid only during the call. */
typedef void (*an_conflict_fn)(const cap_conflict *c, const cap_flow *f, int side,
                               int client_side, void *user);

#define AN_WATCH_US (5u * 1000000u)

typedef struct {
    uint32_t max_flows;          /* 0: default */
    uint64_t idle_timeout_us;    /* 0: default */
    uint32_t stream_max_bytes;   /* per direction; 0: default */
    uint64_t reasm_max_bytes;    /* all flows; 0: default */
    uint32_t cert_cache_entries; /* 0: default */
    size_t cert_cache_bytes;     /* 0: X509_CACHE_DEFAULT_BYTES */
    bool no_ndpi;                /* skip nDPI classification */
    x509_cache *shared_certs;    /* workers: the process's cache (x509_cache_new_shared), not
                                    owned; NULL: the engine's own */
    dpi_ctx *shared_dpi;         /* optional: an nDPI context the caller made (dpi_new) and
                                  * frees, used instead of the engine's own (one nDPI start a
                                  * process, e.g. a fuzz target's); ignored with no_ndpi */
    cap_csum_mode checksum;      /* checksum validation (cap_csum.h); 0: CAP_CSUM_AUTO */
    an_handshake_fn on_handshake;
    an_plaintext_fn on_plaintext; /* optional */
    an_conflict_fn on_conflict;   /* optional */
    void *user;
} an_engine_cfg;

an_engine *an_engine_new(const an_engine_cfg *cfg);
void an_engine_free(an_engine *e);
void an_engine_frame(an_engine *e, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                     uint32_t wire_len);
/* Ends every flow, emitting the handshakes still pending (end of input, shutdown). */
void an_engine_flush(an_engine *e);
/* The least recently seen flow's last capture time (UINT64_MAX: none), and ending just that
 * flow: the flows of several engines ended in the order one engine would end them. */
uint64_t an_engine_oldest_us(const an_engine *e);
bool an_engine_flush_oldest(an_engine *e);
/* The flow behind sensor.overload: the per-flow caps (a stream's reassembly, out-of-order and
 * history caps, a handshake message too large) name the flow that hit them. set: one flow
 * did since the last an_engine_take_overload_flow (key, its client side and the last TTLs);
 * several: more than one did (key: the first). */
typedef struct {
    bool set, several;
    cap_flow_key key;
    uint8_t client_side;
    uint8_t ttl[2];
} an_overload_flow;
void an_engine_take_overload_flow(an_engine *e, an_overload_flow *out);
cap_stats *an_engine_cap_stats(an_engine *e);
an_stats *an_engine_stats(an_engine *e);
uint64_t an_engine_now(const an_engine *e); /* latest capture time seen */
/* Capture time passes without a packet for this engine (a worker's share of a file): moves its
 * clock to ts_us and expires idle flows as a packet of that time would. */
void an_engine_tick(an_engine *e, uint64_t ts_us);

#endif
