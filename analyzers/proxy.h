/* The dialogue a client has with a forward proxy before its tunnel carries TLS.
 *
 * HTTP CONNECT (RFC 9110 9.3.6: "CONNECT host:port HTTP/1.1", headers, then a 2xx response;
 * a 407 may be followed by another CONNECT on the same connection), SOCKS4 and its 4a
 * extension (a request naming 0.0.0.x and a host name; reply 90 = granted), and SOCKS5
 * (RFC 1928: method negotiation, optional username/password sub-negotiation RFC 1929, CONNECT
 * with an IPv4, IPv6 or domain address, reply 0 = succeeded). Each role is parsed on its own as
 * a sequence of messages, so the client's request may arrive before the server's method
 * selection (clients may send it optimistically) and the order the engine feeds the sides in
 * does not matter. Bounded: a line over PRX_LINE_MAX or a dialogue over PRX_DIALOGUE_MAX bytes
 * ends the analysis. */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRX_LINE_MAX 4096u
#define PRX_DIALOGUE_MAX (64u * 1024)
#define PRX_HOST_MAX 256u /* SOCKS5 domains are at most 255 bytes; longer names are refused */

typedef enum {
    PRX_NONE,
    PRX_HTTP_CONNECT,
    PRX_SOCKS4,
    PRX_SOCKS4A,
    PRX_SOCKS5,
} prx_type;

typedef enum {
    PRX_PENDING, /* keep feeding */
    PRX_TUNNEL,  /* the tunnel starts right after the consumed bytes, on both sides */
    PRX_REFUSED, /* the proxy refused (or authentication failed): no tunnel will follow */
    PRX_NOT,     /* not (or no longer) a proxy dialogue that can be followed */
} prx_rc;

typedef struct {
    prx_type type;
    uint8_t cstep, sstep; /* messages parsed per role */
    uint8_t method;       /* SOCKS5: the method the server selected (0 none, 2 user/pass) */
    bool auth;            /* the client authenticated (SOCKS5 user/pass, Proxy-Authorization) */
    uint32_t requests, responses; /* HTTP: CONNECT requests and final responses parsed */
    uint16_t status;              /* the last reply code (HTTP status, SOCKS REP/CD) */
    uint32_t bytes[2];            /* dialogue bytes parsed per role */
    uint16_t http_skip;           /* HTTP: remaining body bytes of a refusal to skip */
    uint8_t http_in_headers[2];   /* HTTP: inside a message's header block, by role */
    char host[PRX_HOST_MAX];      /* the target the client asked for */
    uint16_t port;
    bool host_is_name; /* a DNS name, not an address literal */
} prx_state;

void prx_init(prx_state *s);
/* Which proxy protocol the client's first bytes open, PRX_NONE when none. */
prx_type prx_detect(const uint8_t *data, size_t len);
/* Feeds the bytes of one role (0 client, 1 server); *consumed is how many were parsed. On
 * PRX_TUNNEL the unconsumed bytes of both roles belong to the tunnel. */
prx_rc prx_feed(prx_state *s, int role, const uint8_t *data, size_t len, size_t *consumed);
/* "http-connect", "socks4", "socks4a", "socks5" */
const char *prx_type_name(prx_type t);

#endif
