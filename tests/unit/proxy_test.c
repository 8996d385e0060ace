/* proxy.c: the HTTP CONNECT and SOCKS4/4a/5 dialogues, fed whole and a byte at a time, with
 * refusals, a 407 retry, optimistic SOCKS5 clients and the bounds. */
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"
#include "proxy.h"

typedef struct {
    int role;
    const char *data;
    size_t len;
} step;

#define S(r, lit)                                                                                  \
    { (r), (lit), sizeof(lit) - 1 }

/* Feeds the steps (each appended to its role's buffer), in pieces of `piece` bytes (0: whole);
 * returns the last result. *tunnel_at[role] = bytes left unconsumed on that role at the end. */
static prx_rc run(prx_type t, const step *steps, size_t n, size_t piece, prx_state *s,
                  size_t left[2]) {
    static uint8_t buf[2][1 << 17];
    size_t len[2] = {0, 0};
    prx_rc rc = PRX_PENDING;
    prx_init(s);
    s->type = t;
    for (size_t i = 0; i < n && rc == PRX_PENDING; i++) {
        size_t off = 0;
        while (off < steps[i].len && rc == PRX_PENDING) {
            size_t k = piece && steps[i].len - off > piece ? piece : steps[i].len - off;
            int r = steps[i].role;
            memcpy(buf[r] + len[r], steps[i].data + off, k);
            len[r] += k;
            off += k;
            size_t used = 0;
            rc = prx_feed(s, r, buf[r], len[r], &used);
            CHECK(used <= len[r]);
            memmove(buf[r], buf[r] + used, len[r] - used);
            len[r] -= used;
            if (rc == PRX_PENDING) { /* the other role may now proceed with what it holds */
                rc = prx_feed(s, !r, buf[!r], len[!r], &used);
                memmove(buf[!r], buf[!r] + used, len[!r] - used);
                len[!r] -= used;
            }
        }
    }
    left[0] = len[0];
    left[1] = len[1];
    return rc;
}

static void both(prx_type t, const step *steps, size_t n, prx_rc want, const char *host,
                 unsigned port, size_t left_client) {
    for (size_t piece = 0; piece <= 1; piece++) {
        prx_state s;
        size_t left[2];
        CHECK_EQ_U(run(t, steps, n, piece, &s, left), want);
        if (host) {
            CHECK_STR(s.host, host);
            CHECK_EQ_U(s.port, port);
        }
        if (want == PRX_TUNNEL) CHECK_EQ_U(left[0], left_client);
    }
}

int main(void) {
    CHECK_EQ_U(prx_detect((const uint8_t *)"CONNECT a:1 HTTP/1.1\r\n", 22), PRX_HTTP_CONNECT);
    CHECK_EQ_U(prx_detect((const uint8_t *)"GET / HTTP/1.1\r\n", 16), PRX_NONE);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x05\x01\x00", 3), PRX_SOCKS5);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x05\x01\x00\x05\x01\x00", 6), PRX_SOCKS5);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x05\x01\xff", 3), PRX_NONE);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x05\x00", 2), PRX_NONE);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x04\x01\x01\xbb\xc0\x00\x02\x01\x00", 9), PRX_SOCKS4);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x04\x01\x01\xbb\x00\x00\x00\x07\x00", 9), PRX_SOCKS4A);
    CHECK_EQ_U(prx_detect((const uint8_t *)"\x16\x03\x01\x00\x05", 5), PRX_NONE);

    /* HTTP CONNECT; the ClientHello's first bytes wait in the client's buffer */
    step connect[] = {S(0, "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"
                           "\x16\x03\x01"),
                      S(1, "HTTP/1.1 200 Connection established\r\n\r\n")};
    both(PRX_HTTP_CONNECT, connect, 2, PRX_TUNNEL, "example.test", 443, 3);
    step v6[] = {S(0, "CONNECT [2001:db8::1]:8443 HTTP/1.0\n\n"), S(1, "HTTP/1.0 200 OK\n\n")};
    both(PRX_HTTP_CONNECT, v6, 2, PRX_TUNNEL, "2001:db8::1", 8443, 0);
    step retry[] = {S(0, "CONNECT h.test:443 HTTP/1.1\r\n\r\n"),
                    S(1, "HTTP/1.1 407 Auth\r\nContent-Length: 4\r\n\r\nnope"),
                    S(0, "CONNECT h.test:443 HTTP/1.1\r\nProxy-Authorization: Basic x\r\n\r\n"),
                    S(1, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")};
    both(PRX_HTTP_CONNECT, retry, 4, PRX_TUNNEL, "h.test", 443, 0);
    {
        prx_state s;
        size_t left[2];
        CHECK_EQ_U(run(PRX_HTTP_CONNECT, retry, 4, 0, &s, left), PRX_TUNNEL);
        CHECK(s.auth);
        CHECK_EQ_U(s.requests, 2);
        CHECK(s.host_is_name);
    }
    step forbidden[] = {S(0, "CONNECT h.test:25 HTTP/1.1\r\n\r\n"),
                        S(1, "HTTP/1.1 403 Forbidden\r\n\r\n")};
    both(PRX_HTTP_CONNECT, forbidden, 2, PRX_REFUSED, "h.test", 25, 0);
    step badport[] = {S(0, "CONNECT h.test:99999 HTTP/1.1\r\n\r\n")};
    both(PRX_HTTP_CONNECT, badport, 1, PRX_NOT, NULL, 0, 0);
    step noport[] = {S(0, "CONNECT h.test HTTP/1.1\r\n\r\n")};
    both(PRX_HTTP_CONNECT, noport, 1, PRX_NOT, NULL, 0, 0);
    step ctl[] = {S(0, "CONNECT h\x01.test:1 HTTP/1.1\r\n\r\n")};
    both(PRX_HTTP_CONNECT, ctl, 1, PRX_NOT, NULL, 0, 0);
    {
        /* a request line without its end, past the line cap */
        static char big[PRX_LINE_MAX + 64];
        memcpy(big, "CONNECT ", 8);
        memset(big + 8, 'a', sizeof big - 8);
        prx_state s;
        prx_init(&s);
        s.type = PRX_HTTP_CONNECT;
        size_t used = 0;
        CHECK_EQ_U(prx_feed(&s, 0, (const uint8_t *)big, sizeof big, &used), PRX_NOT);
    }

    /* SOCKS4 and 4a */
    step s4[] = {S(0, "\x04\x01\x20\xfb\xc0\x00\x02\x07\x00"),
                 S(1, "\x00\x5a\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS4, s4, 2, PRX_TUNNEL, "192.0.2.7", 8443, 0);
    step s4a[] = {S(0, "\x04\x01\x01\xbb\x00\x00\x00\x01user\x00"
                       "example.test\x00"),
                  S(1, "\x00\x5a\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS4A, s4a, 2, PRX_TUNNEL, "example.test", 443, 0);
    step s4no[] = {S(0, "\x04\x01\x01\xbb\xc0\x00\x02\x07\x00"),
                   S(1, "\x00\x5b\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS4, s4no, 2, PRX_REFUSED, NULL, 0, 0);

    /* SOCKS5: no auth; user/pass; an optimistic client (request before the method reply) */
    step s5[] = {S(0, "\x05\x01\x00"), S(1, "\x05\x00"),
                 S(0, "\x05\x01\x00\x03\x0c"
                      "example.test\x01\xbb\x16\x03"),
                 S(1, "\x05\x00\x00\x01\x0a\x00\x00\x02\xc3\x50")};
    both(PRX_SOCKS5, s5, 4, PRX_TUNNEL, "example.test", 443, 2);
    step s5up[] = {S(0, "\x05\x02\x00\x02"),
                   S(1, "\x05\x02"),
                   S(0, "\x01\x05"
                        "alice\x06secret"),
                   S(1, "\x01\x00"),
                   S(0, "\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                        "\x00\x01\x01\xbb"),
                   S(1, "\x05\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                        "\x00\x00\x00\x00")};
    both(PRX_SOCKS5, s5up, 6, PRX_TUNNEL, "2001:db8::1", 443, 0);
    step s5opt[] = {S(0, "\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x09\x01\xbb"),
                    S(1, "\x05\x00\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS5, s5opt, 2, PRX_TUNNEL, "192.0.2.9", 443, 0);
    step s5authfail[] = {S(0, "\x05\x01\x02"), S(1, "\x05\x02"), S(0, "\x01\x01u\x01p"),
                         S(1, "\x01\x01")};
    both(PRX_SOCKS5, s5authfail, 4, PRX_REFUSED, NULL, 0, 0);
    step s5nomethod[] = {S(0, "\x05\x01\x00"), S(1, "\x05\xff")};
    both(PRX_SOCKS5, s5nomethod, 2, PRX_REFUSED, NULL, 0, 0);
    step s5rep[] = {S(0, "\x05\x01\x00\x05\x01\x00\x03\x01x\x01\xbb"),
                    S(1, "\x05\x00\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS5, s5rep, 2, PRX_REFUSED, "x", 443, 0);
    step s5bind[] = {S(0, "\x05\x01\x00\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")};
    both(PRX_SOCKS5, s5bind, 1, PRX_NOT, NULL, 0, 0);
    step s5gss[] = {S(0, "\x05\x01\x01"), S(1, "\x05\x01")};
    both(PRX_SOCKS5, s5gss, 2, PRX_NOT, NULL, 0, 0);

    CHECK_STR(prx_type_name(PRX_SOCKS4A), "socks4a");
    CHECK_STR(prx_type_name(PRX_HTTP_CONNECT), "http-connect");
    MW_TEST_END();
}
