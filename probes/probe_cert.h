/* Active certificate fetch (docs/ARCHITECTURE.md): connect, speak the plaintext STARTTLS dialogue where
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
 * The plaintext STARTTLS dialogues, their reply parsers, the protocol names and the error
 * classes are in probe_starttls.h, which this header includes. */
#ifndef PROBE_CERT_H
#define PROBE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an_stats.h"
#include "mw_result.h"
#include "probe_starttls.h"
#include "tls_session.h"
#include "x509_info.h"

#define PCERT_DEFAULT_TIMEOUT_MS 10000
#define PCERT_ERR_MAX 512
#define PCERT_SNI_MAX 255

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

#endif
