/* JARM active TLS server fingerprint, identical to Salesforce's reference jarm.py (v1.0).
 *
 * Ten crafted ClientHellos go to the server, one TCP connection each; the first read of each
 * answer (at most JARM_RECV_MAX bytes, one recv() as the reference does) is reduced to
 * "cipher|version|alpn|extension-types", the ten strings are joined with ',' (the "raw" JARM)
 * and hashed: 3 characters per probe from the chosen cipher and version, then the first 32 hex
 * digits of SHA-256 over the ALPN and extension fields. The reference's quirks are kept on
 * purpose (offsets counted from the record start, the lenient extension walk, ALPN decoded as
 * text, a timeout blanking all ten answers): a fingerprint only matches others if it is
 * computed the same way. Where the reference itself would raise and print nothing, these
 * functions return MW_MALFORMED instead of inventing a value.
 *
 * The pieces are separate so that each can be tested alone: jarm_build_hello (pure; the
 * randomness is injected; jarm_hello.c), jarm_parse_answer (pure, through mw_cursor),
 * jarm_hash (pure), and jarm_probe, which does the networking (getaddrinfo, non-blocking
 * connect and poll with a deadline per probe, optional SOCKS5 without authentication,
 * RFC 1928); the last three are in jarm.c.
 *
 * Deliberate differences from the reference, none of which changes what a server is sent or
 * how its answer is read: a name is resolved once, to getaddrinfo's first address of either
 * family (the reference resolves IPv4 only, again for each probe), so all ten probes reach the
 * same host; the timeout is one deadline per probe rather than 20 s for each socket call; and
 * where the reference raises in its hash (a server's ALPN text holding ',' or '|' in some
 * places, or a version whose fourth hex digit is 6-f), there is no JARM (MW_MALFORMED). */
#ifndef JARM_H
#define JARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_result.h"

#define JARM_PROBES 10
#define JARM_HASH_LEN 62
#define JARM_RECV_MAX 1484 /* the reference's sock.recv(1484) */
#define JARM_SNI_MAX 255
#define JARM_HELLO_MAX 1024
/* One probe's string: 4+1+4+1 for cipher/version, the ALPN text (< JARM_RECV_MAX bytes) and
 * at most one "xxxx-" per 4 answer bytes for extension types. */
#define JARM_ANSWER_STR_MAX (JARM_RECV_MAX + JARM_RECV_MAX / 4 * 5 + 32)
#define JARM_RAW_MAX (JARM_PROBES * (JARM_ANSWER_STR_MAX + 1))
#define JARM_DEFAULT_TIMEOUT_MS 20000 /* the reference's sock.settimeout(20) */
#define JARM_DEFAULT_PORT 443

/* The raw JARM when no probe got an answer; it hashes to 62 zeros. */
#define JARM_RAW_EMPTY "|||,|||,|||,|||,|||,|||,|||,|||,|||,|||"

/* Source of the random bytes a ClientHello carries (client random, session id, key share) and
 * of the GREASE choices (one byte each, low nibble picks one of the 16 GREASE values). The
 * calls come in the reference's order, so a scripted source reproduces its bytes exactly. */
typedef struct {
    void (*fill)(void *ctx, uint8_t *out, size_t n);
    void *ctx;
} jarm_rand;

/* Builds probe number idx (0..9, the reference's queue order) for server name sni.
 * rand NULL uses OpenSSL's RAND_bytes. */
MW_WUR mw_rc jarm_build_hello(unsigned idx, const char *sni, size_t sni_len, const jarm_rand *rand,
                              uint8_t *out, size_t cap, size_t *out_len);

/* Reduces the first bytes a server sent back (len 0: nothing or an error) to the reference's
 * "cipher|version|alpn|exts" string, NUL-terminated in out (cap >= JARM_ANSWER_STR_MAX).
 * Any octets are accepted; answers the reference cannot read become "|||". */
MW_WUR mw_rc jarm_parse_answer(const uint8_t *data, size_t len, char *out, size_t cap,
                               size_t *out_len);

/* The reference's fuzzy hash of a raw JARM of len bytes (no NUL needed; it may contain NULs).
 * MW_MALFORMED when the reference would raise or give other than 62 characters (only
 * possible when a server's ALPN text contains ',' '|' or odd version digits). */
MW_WUR mw_rc jarm_hash(const char *raw, size_t len, char out[JARM_HASH_LEN + 1]);

typedef struct {
    const char *host;        /* name, IPv4 or IPv6 literal (no brackets) */
    uint16_t port;           /* 0: 443 */
    const char *sni;         /* NULL: host, as the reference sends even for IP literals */
    int timeout_ms;          /* deadline for each probe (connect+send+first read); <=0: 20 s */
    int family;              /* AF_UNSPEC (0), AF_INET or AF_INET6 for names */
    const char *socks5_host; /* NULL: connect directly */
    uint16_t socks5_port;
    const jarm_rand *rand; /* NULL: OpenSSL RAND_bytes */
} jarm_opts;

typedef struct {
    char hash[JARM_HASH_LEN + 1]; /* "" when the result is MW_MALFORMED */
    char raw[JARM_RAW_MAX];
    size_t raw_len;
    char peer[64];       /* numeric address connected to (or the proxy's target), "" if none */
    unsigned answered;   /* probes that received at least one byte */
    unsigned connected;  /* probes that reached the server (through SOCKS5: the proxy's CONNECT
                          * succeeded); 0 with !timed_out: a closed port, no route, a bad proxy */
    int connect_errno;   /* errno of the last connect that failed (ECONNREFUSED...), or 0 */
    bool timed_out;      /* a probe hit the deadline; the reference then blanks all ten */
    bool resolve_failed; /* the name did not resolve: every probe is "|||" */
} jarm_result;

/* Runs the ten probes. MW_OK with r->hash set (62 zeros when nothing answered, including a
 * closed port or a timeout), MW_MALFORMED if the reference would fail on these answers, MW_ERR
 * for bad options (empty host, SNI longer than JARM_SNI_MAX, no memory). */
MW_WUR mw_rc jarm_probe(const jarm_opts *o, jarm_result *r);

/* Splits "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 literal (two or more ':') into host
 * and port (port left unchanged when absent). */
MW_WUR mw_rc jarm_parse_target(const char *s, char *host, size_t host_cap, uint16_t *port);

#endif
