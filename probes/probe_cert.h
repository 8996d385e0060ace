/* Active certificate fetch (DESIGN.md 7): connect, speak the plaintext STARTTLS dialogue where
 * asked, complete a TLS handshake trusting nothing, and keep what the server presented. For a
 * TLS 1.3 server this is the only view of its certificate: the passive path sees it encrypted.
 *
 * The facts land in a tls_session's tls_hs, built the way the passive path builds them: the
 * ClientHello and ServerHello we exchanged go through tls_session_feed (so JA3, JA4, JA3S,
 * version, cipher, ALPN and extension SCTs come from the same parser), and every certificate
 * of the peer chain goes through the same X.509 cache code (so hashes and JSON fragments are
 * byte-identical to the passive event's). Stapled OCSP and SCTs come from OpenSSL, which also
 * sees them in TLS 1.3, where they travel inside the encrypted Certificate message.
 *
 * The client side of each STARTTLS dialogue: XMPP (RFC 6120 5.4.2), SMTP (RFC 3207 4),
 * IMAP (RFC 9051 6.2.1), POP3 (RFC 2595 4), FTP (RFC 4217 4), LDAP (RFC 4511 4.14.1) and
 * PostgreSQL (SSLRequest, protocol docs 55.2.10). Server replies are read through a bounded
 * reader: every line (or XMPP tag, or LDAP message) has a byte cap, every wait has the probe's
 * deadline. Bytes the server sends after agreeing to start TLS and before our ClientHello
 * would be taken as TLS by a careless client (the STARTTLS command-injection class of bugs,
 * CVE-2011-0411): they fail the probe instead.
 *
 * The reply parsers are separate pure functions so that unit tests can drive them. */
#ifndef PROBE_CERT_H
#define PROBE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an_stats.h"
#include "mw_result.h"
#include "tls_session.h"
#include "x509_info.h"

#define PCERT_DEFAULT_TIMEOUT_MS 10000
#define PCERT_LINE_MAX 4096u   /* one reply line, XMPP tag or LDAP message */
#define PCERT_REPLY_LINES 128u /* lines in one multi-line reply (SMTP EHLO, FTP greeting) */
#define PCERT_XMPP_TAGS 256u   /* tags read while waiting for features or the answer */
#define PCERT_ERR_MAX 512
#define PCERT_SNI_MAX 255

typedef enum {
    PCERT_STARTTLS_NONE,
    PCERT_STARTTLS_XMPP,
    PCERT_STARTTLS_SMTP,
    PCERT_STARTTLS_IMAP,
    PCERT_STARTTLS_POP3,
    PCERT_STARTTLS_FTP,
    PCERT_STARTTLS_LDAP,
    PCERT_STARTTLS_POSTGRES,
} pcert_starttls;

/* "xmpp", "smtp", "imap", "pop3", "ftp", "ldap", "postgres" or "postgresql" (case-insensitive).
 * False for anything else. */
bool pcert_starttls_parse(const char *name, pcert_starttls *out);
/* The name the passive path uses in mitmwatch.tls.starttls and network.protocol
 * (stls_proto_name: "postgresql" for PostgreSQL); NULL for NONE. */
const char *pcert_starttls_name(pcert_starttls p);

typedef enum {
    PCERT_OK,
    PCERT_E_USAGE,    /* bad options */
    PCERT_E_RESOLVE,  /* the name did not resolve */
    PCERT_E_CONNECT,  /* refused, unreachable, ... */
    PCERT_E_TIMEOUT,  /* the deadline passed */
    PCERT_E_CLOSED,   /* the server closed the connection in the plaintext phase */
    PCERT_E_STARTTLS, /* the server refused STARTTLS or answered something else */
    PCERT_E_TLS,      /* the TLS handshake failed (alert, not TLS, ...) */
    PCERT_E_INTERNAL, /* out of memory, OpenSSL setup */
} pcert_err;

typedef struct {
    const char *host; /* name, IPv4 or IPv6 literal (no brackets) */
    uint16_t port;    /* 0: the protocol's usual port (443 direct, 5222 xmpp, 25 smtp, ...) */
    const char *sni;  /* NULL: host when it is a name; none for an IP literal (RFC 6066 3) */
    pcert_starttls starttls;
    const char *alpn; /* NULL or "h2,http/1.1": offered in this order */
    int timeout_ms;   /* one deadline for the whole probe; <= 0: PCERT_DEFAULT_TIMEOUT_MS */
    int family;       /* AF_UNSPEC (0), AF_INET or AF_INET6 */
    uint16_t tls_max; /* 0: TLS 1.3; 0x0303 to stay at TLS 1.2 (what the passive path sees) */
} pcert_opts;

typedef struct {
    pcert_err err;
    char error[PCERT_ERR_MAX]; /* one line saying what failed; "" on success */
    /* endpoints, numeric: the last address tried; family 0 when none was */
    int family;
    char local_ip[64], peer_ip[64];
    uint16_t local_port, peer_port;
    const char *starttls; /* pcert_starttls_name, NULL when direct */
    bool starttls_done;   /* the server agreed to start TLS */
    uint64_t start_us;    /* wall clock when the probe began */
    uint64_t duration_ms; /* whole probe: resolve, connect, STARTTLS, handshake */
    uint64_t handshake_ms;
    bool handshake_done;
    bool tls_alert;      /* the server sent an alert during the handshake */
    int tls_alert_value; /* as OpenSSL's info callback gives it: level << 8 | description */
    /* The handshake facts; hs is sess.hs. Valid after pcert_probe until pcert_result_free. */
    tls_session sess;
    tls_hs *hs;
    bool sess_init;
    x509_cache *certs;
    an_stats st;
} pcert_result;

/* Runs one probe. Returns MW_OK when the handshake completed (r->err PCERT_OK) and MW_ERR
 * otherwise, with r->err and r->error saying why. Whatever the outcome, call
 * pcert_result_free. */
MW_WUR mw_rc pcert_probe(const pcert_opts *o, pcert_result *r);
void pcert_result_free(pcert_result *r);

/* Splits "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 literal; *port unchanged when none. */
MW_WUR mw_rc pcert_parse_target(const char *s, char *host, size_t host_cap, uint16_t *port);
uint16_t pcert_default_port(pcert_starttls p);

/* ---- reply parsers (pure; exported for the unit tests) ---- */

/* SMTP (RFC 5321 4.2) and FTP (RFC 959 4.2) replies, a line at a time (without CR LF).
 * A reply is "ddd-..." lines ended by "ddd ..." or "ddd" with the same code; FTP allows any
 * text between, which is accepted for both. The first line must start with 3 digits. */
typedef struct {
    int code;  /* 0 until the first line */
    bool done; /* the final line was seen */
    unsigned lines;
} pcert_reply;
void pcert_reply_init(pcert_reply *r);
/* MW_OK: r->done says whether the reply is complete; MW_MALFORMED: not an SMTP/FTP reply. */
MW_WUR mw_rc pcert_reply_line(pcert_reply *r, const char *line, size_t len);

/* IMAP: the answer to a tagged command. */
typedef enum {
    PCERT_IMAP_UNTAGGED, /* "* ..." or "+ ...": keep reading */
    PCERT_IMAP_OK,
    PCERT_IMAP_NO,
    PCERT_IMAP_BAD,
    PCERT_IMAP_BYE, /* untagged BYE: the server is closing */
    PCERT_IMAP_OTHER,
} pcert_imap;
pcert_imap pcert_imap_line(const char *line, size_t len, const char *tag);
/* The IMAP greeting: OK or PREAUTH may go on (true), BYE or anything else may not. */
bool pcert_imap_greeting_ok(const char *line, size_t len);
/* POP3 status line: 1 for "+OK", 0 for "-ERR", -1 for anything else. */
int pcert_pop3_status(const char *line, size_t len);

/* XMPP: the next whole tag in data[0..len): "<...>" with quoted attribute values allowed to
 * contain '>'. Text and whitespace before it are skipped. MW_OK with *off and *tlen set (tag
 * bytes data[*off .. *off + *tlen)), MW_NEED_MORE when the tag is not complete yet (*off then
 * points at its '<', or at len when there is none), MW_MALFORMED for a tag longer than
 * PCERT_LINE_MAX. */
MW_WUR mw_rc pcert_xml_next_tag(const char *data, size_t len, size_t *off, size_t *tlen);
typedef struct {
    char local[32]; /* local name without prefix, truncated; "" for <?xml ...?> */
    bool end;       /* "</name>" */
    bool empty;     /* "<name/>" */
    bool decl;      /* "<?...?>" or "<!...>" */
} pcert_xml_tag;
void pcert_xml_tag_parse(const char *tag, size_t len, pcert_xml_tag *t);

/* LDAP: the ExtendedResponse to our StartTLS request (RFC 4511 4.12, 4.14.2) in BER.
 * MW_OK with the resultCode and the diagnosticMessage (truncated to diag_cap - 1, NUL-ended),
 * MW_NEED_MORE for a prefix, MW_MALFORMED otherwise (wrong message id or operation too).
 * *msg_len is the size of the whole LDAPMessage. A Notice of Disconnection (message id 0,
 * RFC 4511 4.4.1) is returned as MW_OK with its resultCode and *disconnect set. */
MW_WUR mw_rc pcert_ldap_response(const uint8_t *data, size_t len, size_t *msg_len,
                                 uint32_t *result_code, char *diag, size_t diag_cap,
                                 bool *disconnect);
/* The StartTLS ExtendedRequest, message id 1 (31 bytes). */
extern const uint8_t pcert_ldap_starttls_req[31];

#endif
