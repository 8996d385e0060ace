/* The plaintext phase of STARTTLS protocols, up to the point where TLS begins.
 *
 * XMPP (<starttls/> / <proceed/>, RFC 6120 5.4), SMTP and submission (STARTTLS / 220, RFC 3207),
 * IMAP (tag STARTTLS / tag OK, RFC 9051 6.2.1), POP3 (STLS / +OK, RFC 2595 4), FTP (AUTH TLS /
 * 234, RFC 4217 4), LDAP (StartTLS extended operation, RFC 4511 4.14), PostgreSQL (SSLRequest /
 * 'S'), MySQL (SSL request in the handshake response). The protocol is recognised from the
 * first bytes of either side, not from the port. Text is handled a line at a time (a tag at a
 * time for XMPP) straight from the reassembled stream, so memory is bounded by the line cap
 * whatever the peers send. SMTP and FTP replies are matched to commands in order, so pipelined
 * commands work; a refused STARTTLS leaves the connection in plaintext and yields no
 * handshake. */
#ifndef STARTTLS_H
#define STARTTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an_stats.h"

#define STLS_LINE_MAX 4096u       /* longer lines (or XMPP tags) end the analysis */
#define STLS_PLAIN_MAX (1u << 20) /* plaintext bytes watched per connection before giving up */

typedef enum {
    STLS_UNKNOWN,
    STLS_XMPP,
    STLS_SMTP,
    STLS_IMAP,
    STLS_POP3,
    STLS_FTP,
    STLS_LDAP,
    STLS_POSTGRES,
    STLS_MYSQL,
    STLS_SMTP_OR_FTP, /* a "220" greeting: the client's commands decide */
} stls_proto;

typedef enum {
    STLS_PENDING,  /* keep feeding */
    STLS_UPGRADED, /* TLS starts right after the consumed bytes, on both sides */
    STLS_NOT,      /* not (or no longer) a STARTTLS candidate: stop looking */
} stls_rc;

typedef struct {
    stls_proto proto;
    bool requested;          /* the client asked for TLS; the answer is awaited */
    uint32_t cmds, replies;  /* SMTP/FTP: commands sent, final replies after the greeting */
    uint32_t upgrade_cmd;    /* index of the upgrade command among cmds */
    bool greeted;            /* the server's greeting (first final reply) was seen */
    char tag[32];            /* IMAP: the STARTTLS command's tag */
    uint64_t plain_bytes;
    /* For a session that ends in plaintext (STARTTLS stripping, tls.starttls_missing): */
    bool offered;           /* the server advertised STARTTLS (text protocols and XMPP) */
    bool asked;             /* the client asked for TLS at least once */
    bool refused;           /* the server refused it */
    uint32_t session_cmds;  /* client commands beyond greeting, capabilities and goodbye */
    uint32_t xmpp_depth;    /* XMPP: client element nesting (stanzas are at depth 1) */
    bool smtp_body;         /* SMTP: after DATA, until the "." line (one command, not lines) */
} stls_state;

void stls_init(stls_state *s);
/* Feeds the plaintext bytes of one role (0 client, 1 server); *consumed is how many were
 * parsed. On STLS_UPGRADED the unconsumed bytes are TLS. */
stls_rc stls_feed(stls_state *s, int role, const uint8_t *data, size_t len, size_t *consumed,
                  an_stats *st);
/* Whether the protocol's capability exchange is followed (stls_state.offered means something). */
bool stls_offer_visible(stls_proto p);
/* The protocol's name as --starttls and openssl s_client -starttls spell it ("postgres"). */
const char *stls_proto_name(stls_proto p);
/* The name for ECS network.protocol ("postgresql"). */
const char *stls_network_protocol(stls_proto p);
/* The same from a protocol's name (as --starttls spells it). */
const char *stls_network_protocol_of(const char *name);
/* True when data could begin a STARTTLS protocol (used to decide whether to keep a flow). */
bool stls_candidate(int role, const uint8_t *data, size_t len);

#endif
