#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mw_cursor.h"

enum { CLIENT = 0, SERVER = 1 };

void prx_init(prx_state *s) {
    memset(s, 0, sizeof *s);
}

const char *prx_type_name(prx_type t) {
    static const char *const names[] = {"none", "http-connect", "socks4", "socks4a", "socks5"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "none";
}

static bool starts(mw_cur c, const char *word) {
    size_t n = strlen(word);
    return c.len >= n && memcmp(c.data, word, n) == 0;
}

static bool starts_nocase(mw_cur c, const char *word) {
    size_t n = strlen(word);
    if (c.len < n) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = (uint8_t)mw_cur_at(&c, i), b = (uint8_t)word[i];
        if (a >= 'A' && a <= 'Z') a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
        if (a != b) return false;
    }
    return true;
}

/* SOCKS5 method codes a client may offer: 0 none, 1 GSSAPI, 2 user/pass, 3..9 IANA-assigned,
 * 0x80..0xfe private. */
static bool socks5_greeting(mw_cur c) {
    uint8_t ver, n, m;
    if (!mw_cur_get_u8(&c, &ver) || ver != 5 || !mw_cur_get_u8(&c, &n) || n == 0 || n > 16)
        return false;
    for (uint8_t i = 0; i < n; i++) {
        if (!mw_cur_get_u8(&c, &m)) return false;
        if ((m > 9 && m < 0x80) || m == 0xff) return false;
    }
    uint8_t next;
    /* what may follow at once: a user/pass sub-negotiation (RFC 1929) or the request */
    return !mw_cur_get_u8(&c, &next) || next == 1 || next == 5;
}

prx_type prx_detect(const uint8_t *data, size_t len) {
    mw_cur c = mw_cur_make(data, len);
    if (starts(c, "CONNECT ")) return PRX_HTTP_CONNECT;
    uint8_t vn, cd, ip[4];
    uint16_t port;
    /* SOCKS4: VN=4 CD=1 (CONNECT) DSTPORT DSTIP USERID NUL [HOST NUL]; 4a when DSTIP is
     * 0.0.0.x, x != 0 */
    if (len >= 9 && mw_cur_get_u8(&c, &vn) && vn == 4 && mw_cur_get_u8(&c, &cd) && cd == 1 &&
        mw_cur_get_u16(&c, &port) && port != 0 && mw_cur_copy(&c, ip, 4))
        return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0 ? PRX_SOCKS4A : PRX_SOCKS4;
    if (socks5_greeting(mw_cur_make(data, len))) return PRX_SOCKS5;
    return PRX_NONE;
}

/* ---- HTTP CONNECT ------------------------------------------------------------------------ */

/* The next line (through '\n') of c, or false when none is complete yet. */
static bool next_line(mw_cur *c, mw_cur *line, bool *too_long) {
    size_t max = c->len < PRX_LINE_MAX ? c->len : PRX_LINE_MAX;
    const uint8_t *nl = max ? memchr(c->data, '\n', max) : NULL; /* memchr(NULL, 0): UB */
    if (!nl) {
        *too_long = c->len >= PRX_LINE_MAX;
        return false;
    }
    return mw_cur_get_bytes(c, (size_t)(nl - c->data) + 1, line);
}

static bool blank(mw_cur line) {
    return (line.len == 1 && mw_cur_at(&line, 0) == '\n') ||
           (line.len == 2 && mw_cur_at(&line, 0) == '\r' && mw_cur_at(&line, 1) == '\n');
}

static bool parse_port(mw_cur digits, uint16_t *port) {
    uint32_t v = 0;
    if (digits.len == 0 || digits.len > 5) return false;
    for (size_t i = 0; i < digits.len; i++) {
        if (mw_cur_at(&digits, i) < '0' || mw_cur_at(&digits, i) > '9') return false;
        v = v * 10 + (uint32_t)(mw_cur_at(&digits, i) - '0');
    }
    if (v == 0 || v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

static bool set_host(prx_state *s, mw_cur h, bool is_name) {
    if (h.len == 0 || h.len >= sizeof s->host) return false;
    for (size_t i = 0; i < h.len; i++)
        if (mw_cur_at(&h, i) <= 0x20 || mw_cur_at(&h, i) >= 0x7f)
            return false; /* a name or address literal; nothing that could break a log line */
    memcpy(s->host, h.data, h.len);
    s->host[h.len] = '\0';
    s->host_is_name = is_name;
    return true;
}

/* "CONNECT authority-form HTTP/1.x": host:port, or [v6]:port (RFC 9110 9.3.6, RFC 3986 3.2.2) */
static bool connect_line(prx_state *s, mw_cur line) {
    if (!mw_cur_skip(&line, 8)) return false;
    const uint8_t *sp = memchr(line.data, ' ', line.len);
    if (!sp) return false;
    mw_cur auth = mw_cur_make(line.data, (size_t)(sp - line.data));
    mw_cur rest = mw_cur_make(sp + 1, line.len - auth.len - 1);
    if (!starts(rest, "HTTP/1.")) return false;
    const uint8_t *colon = NULL;
    for (size_t i = auth.len; i > 0; i--)
        if (mw_cur_at(&auth, i - 1) == ':') {
            colon = auth.data + i - 1;
            break;
        }
    if (!colon) return false;
    mw_cur host = mw_cur_make(auth.data, (size_t)(colon - auth.data));
    mw_cur port = mw_cur_make(colon + 1, auth.len - host.len - 1);
    bool v6 = host.len >= 2 && mw_cur_at(&host, 0) == '[' && mw_cur_at(&host, host.len - 1) == ']';
    if (v6)
        host = mw_cur_make(host.data + 1, host.len - 2);
    else if (memchr(host.data, ':', host.len) || memchr(host.data, '[', host.len))
        return false;
    if (!parse_port(port, &s->port)) return false;
    bool is_name = !v6;
    if (!v6) {
        struct in_addr a4;
        char tmp[16];
        if (host.len < sizeof tmp) {
            memcpy(tmp, host.data, host.len);
            tmp[host.len] = '\0';
            is_name = inet_pton(AF_INET, tmp, &a4) != 1;
        }
    }
    return set_host(s, host, is_name);
}

/* One whole CONNECT request (request line and headers), or PENDING without consuming. */
static prx_rc http_client(prx_state *s, mw_cur c, size_t *consumed) {
    while (s->requests == s->responses) {
        mw_cur m = c, line;
        bool too_long = false, first = true;
        uint32_t nreq = s->requests;
        bool auth = false;
        for (;;) {
            if (!next_line(&m, &line, &too_long)) return too_long ? PRX_NOT : PRX_PENDING;
            if (first) {
                if (!starts(line, "CONNECT ") || !connect_line(s, line)) return PRX_NOT;
                first = false;
            } else if (blank(line)) {
                break;
            } else if (starts_nocase(line, "Proxy-Authorization:")) {
                auth = true;
            }
        }
        s->auth = s->auth || auth;
        s->requests = nreq + 1;
        *consumed += c.len - m.len;
        c = m;
    }
    return PRX_PENDING;
}

/* "HTTP/1.x NNN reason" */
static bool status_line(mw_cur line, uint16_t *code) {
    if (!starts(line, "HTTP/1.") || line.len < 12 || mw_cur_at(&line, 8) != ' ') return false;
    uint16_t v = 0;
    for (int i = 9; i < 12; i++) {
        if (mw_cur_at(&line, i) < '0' || mw_cur_at(&line, i) > '9') return false;
        v = (uint16_t)(v * 10 + (mw_cur_at(&line, i) - '0'));
    }
    *code = v;
    return true;
}

static prx_rc http_server(prx_state *s, mw_cur c, size_t *consumed) {
    for (;;) {
        if (s->http_skip) { /* the body of a refusal */
            size_t n = c.len < s->http_skip ? c.len : s->http_skip;
            if (!mw_cur_skip(&c, n)) return PRX_NOT;
            s->http_skip = (uint16_t)(s->http_skip - n);
            *consumed += n;
            if (s->http_skip) return PRX_PENDING;
        }
        if (s->responses >= s->requests || c.len == 0)
            return PRX_PENDING; /* nothing asked (yet): the client's request decides */
        mw_cur m = c, line;
        bool too_long = false, first = true, chunked = false;
        uint16_t code = 0;
        uint32_t clen = 0;
        for (;;) {
            if (!next_line(&m, &line, &too_long)) return too_long ? PRX_NOT : PRX_PENDING;
            if (first) {
                if (!status_line(line, &code)) return PRX_NOT;
                first = false;
            } else if (blank(line)) {
                break;
            } else if (starts_nocase(line, "Content-Length:")) {
                mw_cur v = line;
                if (!mw_cur_skip(&v, 15)) return PRX_NOT;
                clen = 0;
                for (size_t i = 0; i < v.len; i++) {
                    uint8_t d = (uint8_t)mw_cur_at(&v, i);
                    if (d >= '0' && d <= '9') {
                        clen = clen * 10 + (uint32_t)(d - '0');
                        if (clen > PRX_DIALOGUE_MAX) return PRX_NOT;
                    } else if (d != ' ' && d != '\t' && d != '\r' && d != '\n') {
                        return PRX_NOT;
                    }
                }
            } else if (starts_nocase(line, "Transfer-Encoding:")) {
                chunked = true;
            }
        }
        *consumed += c.len - m.len;
        c = m;
        s->status = code;
        if (code >= 100 && code < 200) continue; /* interim response (RFC 9110 15.2) */
        s->responses++;
        if (code >= 200 && code < 300)
            return PRX_TUNNEL; /* RFC 9110 9.3.6: any 2xx; no body, the tunnel begins */
        if (code != 407 || chunked) return PRX_REFUSED;
        s->http_skip = (uint16_t)clen; /* a 407: the client may authenticate and ask again */
    }
}

/* ---- SOCKS ------------------------------------------------------------------------------- */

static prx_rc socks4_client(prx_state *s, mw_cur c, size_t *consumed) {
    if (s->cstep) return PRX_PENDING;
    uint8_t vn, cd, ip[4];
    mw_cur user, name;
    size_t total = c.len;
    if (!mw_cur_get_u8(&c, &vn) || !mw_cur_get_u8(&c, &cd) || !mw_cur_get_u16(&c, &s->port) ||
        !mw_cur_copy(&c, ip, 4))
        return PRX_PENDING;
    if (s->port == 0) return PRX_NOT; /* no service listens on port 0 */
    const uint8_t *nul = memchr(c.data, 0, c.len < 256 ? c.len : 256);
    if (!nul) return c.len >= 256 ? PRX_NOT : PRX_PENDING;
    if (!mw_cur_get_bytes(&c, (size_t)(nul - c.data), &user) || !mw_cur_skip(&c, 1)) return PRX_NOT;
    if (s->type == PRX_SOCKS4A) {
        nul = memchr(c.data, 0, c.len < PRX_HOST_MAX ? c.len : PRX_HOST_MAX);
        if (!nul) return c.len >= PRX_HOST_MAX ? PRX_NOT : PRX_PENDING;
        if (!mw_cur_get_bytes(&c, (size_t)(nul - c.data), &name) || !mw_cur_skip(&c, 1) ||
            !set_host(s, name, true))
            return PRX_NOT;
    } else {
        char a[INET_ADDRSTRLEN];
        if (!inet_ntop(AF_INET, ip, a, sizeof a) ||
            !set_host(s, mw_cur_make((const uint8_t *)a, strlen(a)), false))
            return PRX_NOT;
    }
    s->auth = user.len > 0;
    s->cstep = 1;
    *consumed = total - c.len;
    return PRX_PENDING;
}

static prx_rc socks4_server(prx_state *s, mw_cur c, size_t *consumed) {
    uint8_t vn, cd;
    if (s->sstep) return PRX_PENDING;
    /* VN (0; some servers answer 4) CD DSTPORT DSTIP */
    if (!mw_cur_get_u8(&c, &vn) || !mw_cur_get_u8(&c, &cd) || !mw_cur_skip(&c, 6))
        return PRX_PENDING;
    if (vn != 0 && vn != 4) return PRX_NOT;
    *consumed = 8;
    s->sstep = 1;
    s->status = cd;
    return cd == 90 ? PRX_TUNNEL : PRX_REFUSED;
}

/* struct { VER=5 CMD RSV ATYP DST.ADDR DST.PORT }  RFC 1928 section 4 (reply: section 6) */
static int socks5_addr(mw_cur *c, prx_state *s, bool keep) {
    uint8_t atyp, a[16];
    mw_cur name;
    uint16_t port;
    char text[INET6_ADDRSTRLEN];
    if (!mw_cur_get_u8(c, &atyp)) return 0;
    switch (atyp) {
    case 1:
        if (!mw_cur_copy(c, a, 4) || !mw_cur_get_u16(c, &port)) return 0;
        if (keep && (!inet_ntop(AF_INET, a, text, sizeof text) ||
                     !set_host(s, mw_cur_make((const uint8_t *)text, strlen(text)), false)))
            return -1;
        break;
    case 4:
        if (!mw_cur_copy(c, a, 16) || !mw_cur_get_u16(c, &port)) return 0;
        if (keep && (!inet_ntop(AF_INET6, a, text, sizeof text) ||
                     !set_host(s, mw_cur_make((const uint8_t *)text, strlen(text)), false)))
            return -1;
        break;
    case 3:
        if (!mw_cur_get_u8_prefixed(c, &name) || !mw_cur_get_u16(c, &port)) return 0;
        if (keep && !set_host(s, name, true)) return -1;
        break;
    default:
        return -1;
    }
    if (keep) {
        if (port == 0) return -1; /* no service listens on port 0: not a tunnel to follow */
        s->port = port;
    }
    return 1;
}

enum { S5_GREETING, S5_AUTH_OR_REQUEST, S5_DONE };

static prx_rc socks5_client(prx_state *s, mw_cur c, size_t *consumed) {
    size_t total = c.len;
    while (s->cstep != S5_DONE) {
        mw_cur m = c, methods, user, pass;
        uint8_t ver, cmd, rsv;
        if (!mw_cur_get_u8(&m, &ver)) break;
        if (s->cstep == S5_GREETING) {
            if (ver != 5 || !mw_cur_get_u8_prefixed(&m, &methods)) {
                if (ver != 5) return PRX_NOT;
                break;
            }
            s->cstep = S5_AUTH_OR_REQUEST;
        } else if (ver == 1) { /* VER=1 ULEN UNAME PLEN PASSWD  RFC 1929 section 2 */
            if (!mw_cur_get_u8_prefixed(&m, &user) || !mw_cur_get_u8_prefixed(&m, &pass)) break;
            s->auth = true;
        } else if (ver == 5) {
            if (!mw_cur_get_u8(&m, &cmd) || !mw_cur_get_u8(&m, &rsv)) break;
            if (cmd != 1)
                return PRX_NOT; /* BIND and UDP ASSOCIATE carry no TLS over this connection */
            int r = socks5_addr(&m, s, true);
            if (r < 0) return PRX_NOT;
            if (r == 0) break;
            s->cstep = S5_DONE;
        } else {
            return PRX_NOT;
        }
        c = m;
    }
    *consumed = total - c.len;
    return PRX_PENDING;
}

enum { S5S_METHOD, S5S_AUTH, S5S_REPLY, S5S_DONE };

static prx_rc socks5_server(prx_state *s, mw_cur c, size_t *consumed) {
    size_t total = c.len;
    prx_rc rc = PRX_PENDING;
    while (s->sstep != S5S_DONE && rc == PRX_PENDING) {
        mw_cur m = c;
        uint8_t ver, v;
        if (!mw_cur_get_u8(&m, &ver) || !mw_cur_get_u8(&m, &v)) break;
        if (s->sstep == S5S_METHOD) {
            if (ver != 5) return PRX_NOT;
            s->method = v;
            if (v == 0xff)
                rc = PRX_REFUSED; /* no acceptable method */
            else if (v == 2)
                s->sstep = S5S_AUTH;
            else if (v == 0)
                s->sstep = S5S_REPLY;
            else
                return PRX_NOT; /* GSSAPI and the rest may encapsulate what follows */
        } else if (s->sstep == S5S_AUTH) {
            if (ver != 1) return PRX_NOT;
            s->status = v;
            if (v != 0) rc = PRX_REFUSED;
            s->sstep = S5S_REPLY;
        } else {
            uint8_t rsv;
            if (ver != 5) return PRX_NOT;
            if (!mw_cur_get_u8(&m, &rsv)) break;
            int r = socks5_addr(&m, s, false);
            if (r < 0) return PRX_NOT;
            if (r == 0) break;
            s->status = v;
            s->sstep = S5S_DONE;
            rc = v == 0 ? PRX_TUNNEL : PRX_REFUSED;
        }
        c = m;
    }
    *consumed = total - c.len;
    return rc;
}

prx_rc prx_feed(prx_state *s, int role, const uint8_t *data, size_t len, size_t *consumed) {
    mw_cur c = mw_cur_make(data, len);
    prx_rc rc = PRX_NOT;
    *consumed = 0;
    if (role != CLIENT && role != SERVER) return PRX_NOT;
    switch (s->type) {
    case PRX_HTTP_CONNECT:
        rc = role == CLIENT ? http_client(s, c, consumed) : http_server(s, c, consumed);
        break;
    case PRX_SOCKS4:
    case PRX_SOCKS4A:
        rc = role == CLIENT ? socks4_client(s, c, consumed) : socks4_server(s, c, consumed);
        break;
    case PRX_SOCKS5:
        rc = role == CLIENT ? socks5_client(s, c, consumed) : socks5_server(s, c, consumed);
        break;
    default:
        return PRX_NOT;
    }
    s->bytes[role] += (uint32_t)*consumed;
    if (rc == PRX_PENDING &&
        (s->bytes[role] > PRX_DIALOGUE_MAX || len - *consumed > PRX_DIALOGUE_MAX))
        return PRX_NOT;
    /* The tunnel starts once both roles are through the dialogue. */
    bool client_done = s->type == PRX_HTTP_CONNECT ? s->requests > 0
                       : s->type == PRX_SOCKS5     ? s->cstep == S5_DONE
                                                   : s->cstep == 1;
    if (rc == PRX_TUNNEL && !client_done)
        return PRX_PENDING; /* the request is still partial in the client's bytes */
    if (rc == PRX_PENDING && role == CLIENT && client_done && s->type != PRX_HTTP_CONNECT &&
        ((s->type == PRX_SOCKS5 && s->sstep == S5S_DONE && s->status == 0) ||
         (s->type != PRX_SOCKS5 && s->sstep == 1 && s->status == 90)))
        return PRX_TUNNEL; /* the reply was parsed first */
    return rc;
}
