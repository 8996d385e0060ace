/* The TLS analyzer of one TCP connection: record layer, handshake message reassembly, and the
 * handshake facts (tls_hs) that become one mitmwatch.tls event.
 *
 * Bytes come in per side (0/1, the flow key's sides) as they leave the reassembler; whole
 * records are parsed and consumed, a partial record waits. Plaintext handshake messages may be
 * split across records and several may share one record (RFC 8446 section 5.1). The facts are
 * ready once the handshake's outcome is known: both ChangeCipherSpecs (TLS <= 1.2), the
 * client's first encrypted record after the ServerHello (TLS 1.3), an alert, or the end of
 * the connection. */
#ifndef TLS_SESSION_H
#define TLS_SESSION_H

#include <openssl/ct.h>
#include <stdbool.h>
#include <stdint.h>

#include "an_stats.h"
#include "cap_reasm.h"
#include "mw_buf.h"
#include "tls_fp.h"
#include "x509_info.h"

#define TLS_MAX_CHAIN 16
/* The largest handshake message reassembled: certificate chains of several hundred KB exist
 * (long chains, big CRL-laden certificates); what they hold is charged to the global budget. */
#define TLS_HS_MSG_MAX (1024u * 1024)
/* A message buffer left empty and larger than this is freed, not kept for the session. */
#define TLS_HS_KEEP_MAX 4096u

typedef struct {
    /* ClientHello */
    bool have_ch;
    uint16_t ch_version; /* highest offered */
    char *sni;
    char *alpn_offered; /* first offered protocol */
    char *ja3_string;
    char ja3[33];
    char ja4[TLS_JA4_LEN];
    uint8_t ch_session_id[32];
    uint8_t ch_session_id_len;
    bool ch_ticket, ch_psk;
    /* ServerHello */
    bool have_sh;
    bool hrr;
    uint16_t version; /* negotiated */
    uint16_t sh_legacy_version;
    uint16_t cipher;
    char *ja3s_string;
    char ja3s[33];
    char *alpn; /* selected */
    bool resumed;
    /* certificates: presented chain in order */
    x509_info *chain[TLS_MAX_CHAIN];
    uint8_t nchain;
    bool cert_seen;
    STACK_OF(SCT) *tls_scts;  /* ServerHello signed_certificate_timestamp */
    STACK_OF(SCT) *ocsp_scts; /* stapled OCSP response */
    bool ocsp_stapled;
    /* outcome */
    bool ccs[2];     /* by role: [0] client, [1] server */
    bool appdata[2]; /* an application_data record seen, by role */
    bool established;
    bool alert_seen;
    uint8_t alert_level, alert_desc, alert_from_server;
    bool incomplete; /* ended before the outcome was known (gap, truncation, close) */
    uint64_t ts_us;  /* capture time of the ServerHello, else of the ClientHello */
    const char *starttls; /* the plaintext protocol upgraded (static string), NULL if direct */
    const char *app_protocol; /* its network.protocol name (static string), NULL if direct */
    /* The forward proxy the client tunnelled through (proxy.h): */
    const char *proxy; /* prx_type_name (static string), NULL when none */
    char *proxy_host;  /* the target the client asked the proxy for */
    uint16_t proxy_port;
    bool proxy_host_is_name; /* a DNS name, not an address literal */
    bool proxy_auth;         /* the client authenticated to the proxy */
    bool sslv2_hello;        /* the ClientHello came in SSL 2.0 format (RFC 6101 E.2) */
    char ndpi_protocol[48];  /* nDPI's name for the flow, "" when unknown or nDPI is off */
    uint64_t ndpi_risks;     /* nDPI's risk bitmap (bit i = ndpi_risk_enum i) */
} tls_hs;

typedef struct {
    mw_buf msg;     /* partial handshake message(s) of this side */
    size_t charged; /* of msg's allocation, held against the budget */
    bool encrypted; /* records from here on are opaque */
    bool stopped;   /* malformed or gap: this side's bytes are ignored */
    bool started;   /* a record of this side was parsed */
} tls_side;

typedef struct {
    tls_side side[2];
    int client_side; /* 0/1 once known from the ClientHello or the flow; -1 unknown */
    tls_hs hs;
    bool ready; /* facts complete: emit */
    x509_cache *certs;
    an_stats *st;
    mw_buf scratch; /* fingerprint strings */
    char strs[1024]; /* the facts' strings (SNI, ALPNs, JA3/JA3S strings) when they fit */
    size_t strs_used;
    /* The global reassembly budget the message buffers are charged to (optional, set after
     * tls_session_init): a refusal stops the side (tls_handshake_budget, and tcp_global_cap
     * in the budget's stats), as a message over TLS_HS_MSG_MAX does. */
    cap_reasm *budget;
} tls_session;

/* True when these bytes start a TLS handshake record (what a TLS connection begins with). */
bool tls_looks_like_tls(const uint8_t *p, size_t len);
/* True when they start an SSL 2.0-format CLIENT-HELLO (2-byte header with the high bit set,
 * message type 1, version 2 or 3.x): what SSLv2-compatible clients open with (RFC 6101 E.2). */
bool tls_is_sslv2_hello(const uint8_t *p, size_t len);

void tls_session_init(tls_session *s, int client_side_guess, x509_cache *certs, an_stats *st);
void tls_session_free(tls_session *s);
/* A copy of a handshake's facts that owns its strings and SCT lists and holds a reference on
 * each certificate of the chain (the judge stage of several workers judges it after its
 * session moved on). False on allocation failure (dst then holds nothing). */
bool tls_hs_copy(tls_hs *dst, const tls_hs *src);
/* Frees what tls_hs_copy made: certs is the cache the chain's entries came from. */
void tls_hs_release(tls_hs *h, x509_cache *certs);
/* Pooled sessions (no allocation per handshake): tls_session_free_keep ends a session as
 * tls_session_free does but keeps its message and scratch buffers, when at most
 * TLS_HS_KEEP_MAX bytes, empty and charged to nothing; tls_session_init_kept starts a session
 * on such a one (or an all-zero one) with those buffers. tls_session_free releases them. */
void tls_session_free_keep(tls_session *s);
void tls_session_init_kept(tls_session *s, int client_side_guess, x509_cache *certs,
                           an_stats *st);
/* Parses the whole records in data[0..len) sent by side; returns the bytes consumed (a partial
 * record at the end is left). now_us stamps the facts. */
size_t tls_session_feed(tls_session *s, int side, const uint8_t *data, size_t len,
                        uint64_t now_us);
/* The reassembler skipped a hole on this side: its record framing is lost. */
void tls_session_gap(tls_session *s, int side);
/* The connection ended: whatever was seen is final. Sets ready if a hello was seen. */
void tls_session_finish(tls_session *s);
/* The role of a side: 0 client, 1 server. */
static inline int tls_role(const tls_session *s, int side) {
    return side == s->client_side ? 0 : 1;
}

#endif
