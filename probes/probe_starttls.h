/* The client side of each STARTTLS dialogue the certificate fetch (probe_cert.h) speaks before
 * its TLS handshake: XMPP (RFC 6120 5.4.2), SMTP (RFC 3207 4), IMAP (RFC 9051 6.2.1), POP3
 * (RFC 2595 4), FTP (RFC 4217 4), LDAP (RFC 4511 4.14.1) and PostgreSQL (SSLRequest, protocol
 * docs 55.2.10). Server replies are read through a bounded reader: every line (or XMPP tag, or
 * LDAP message) has a byte cap, every wait has the probe's deadline. Bytes the server sends
 * after agreeing to start TLS and before our ClientHello would be taken as TLS by a careless
 * client (the STARTTLS command-injection class of bugs, CVE-2011-0411): they fail the probe
 * instead.
 *
 * The reply parsers are separate pure functions so that unit tests (and a fuzz target) can
 * drive them. The names keep the probe's pcert_ prefix: this is the probe's plaintext phase,
 * and its one caller is pcert_probe. */
#ifndef PROBE_STARTTLS_H
#define PROBE_STARTTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"

#define PCERT_LINE_MAX 4096u   /* one reply line, XMPP tag or LDAP message */
#define PCERT_REPLY_LINES 128u /* lines in one multi-line reply (SMTP EHLO, FTP greeting) */
#define PCERT_XMPP_TAGS 256u   /* tags read while waiting for features or the answer */

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
/* The name the passive path uses in mitmwatch.tls.starttls (stls_proto_name: "postgres" for
 * PostgreSQL, which network.protocol spells "postgresql"); NULL for NONE. */
const char *pcert_starttls_name(pcert_starttls p);
/* The protocol's usual port: 443 direct, 5222 xmpp, 25 smtp, ... */
uint16_t pcert_default_port(pcert_starttls p);

/* Why a certificate probe failed; the dialogue reports its own failures in these terms. */
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

/* ---- the dialogue */

/* The connected socket a dialogue runs on, and what the dialogue needs to know of it. */
typedef struct {
    int fd;               /* connected, non-blocking */
    int64_t deadline;     /* pcert_now_ms() at which the whole probe gives up */
    int timeout_ms;       /* the probe's timeout, for messages */
    const char *name;     /* the XMPP stream's to=: the SNI, else the host */
    int family;           /* of the local address (AF_INET6: SMTP's "[IPv6:...]" EHLO literal) */
    const char *local_ip; /* numeric local address for EHLO; "" when unknown */
} pcert_starttls_conn;

/* Runs p's client dialogue until the server has agreed to start TLS, so that the next bytes
 * on c->fd are the TLS handshake. PCERT_OK then, and at once for PCERT_STARTTLS_NONE;
 * otherwise why it failed, with one line in error (cap bytes) saying what happened. */
MW_WUR pcert_err pcert_starttls_run(pcert_starttls p, const pcert_starttls_conn *c, char *error,
                                    size_t cap);

/* The probe's clock (CLOCK_MONOTONIC, ms) in which deadlines are given, and a wait on it:
 * pcert_wait_fd waits for ev (POLLIN, POLLOUT) on fd until deadline and returns 1 when
 * ready, 0 when the deadline passed, -1 on error (errno set). */
int64_t pcert_now_ms(void);
int pcert_wait_fd(int fd, short ev, int64_t deadline);

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
