/* JARM, as Salesforce's jarm.py v1.0 computes it (see jarm.h): reading the answers, the hash,
 * and the probe run; the ten ClientHellos are built in jarm_hello.c. Written from the
 * reference's behaviour, not its code; every place where the reference is lenient or odd is
 * marked "reference:" so nobody "fixes" it and breaks fingerprint compatibility. */
#include "jarm.h"

#include "mw_hostport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include "mw_cursor.h"

/* ---------------------------------------------------------------- answer parsing */

/* A capped string builder for the probe and raw strings. */
typedef struct {
    char *p;
    size_t len, cap; /* cap includes the NUL */
    bool full;
} jarm_sbuf;

static void sb_mem(jarm_sbuf *b, const void *d, size_t n) {
    if (n == 0) return; /* d may be NULL then (an empty field): memcpy wants a valid pointer */
    if (b->full || b->cap - 1 - b->len < n) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_str(jarm_sbuf *b, const char *s) {
    sb_mem(b, s, strlen(s));
}
static void sb_hex(jarm_sbuf *b, mw_cur c) {
    static const char d[] = "0123456789abcdef";
    uint8_t v;
    while (mw_cur_get_u8(&c, &v)) {
        char h[2] = {d[v >> 4], d[v & 15]};
        sb_mem(b, h, 2);
    }
}

/* Python's data[off:off+n]: a view truncated at the end of data, possibly empty. */
static mw_cur jarm_slice(mw_cur all, size_t off, size_t n) {
    mw_cur out = {NULL, 0};
    if (!mw_cur_skip(&all, off)) return out;
    if (all.len < n) n = all.len;
    if (!mw_cur_get_bytes(&all, n, &out)) out.len = 0;
    return out;
}

/* Python's int(hex(slice), 16) for a slice of one or two bytes; false for an empty slice,
 * where the reference raises ValueError. */
static bool jarm_slice_int(mw_cur s, size_t *v) {
    uint32_t x;
    if (s.len == 0 || !mw_cur_get_uN(&s, s.len, &x)) return false;
    *v = x;
    return true;
}

static bool jarm_slice_eq(mw_cur s, const uint8_t *want, size_t n) {
    return s.len == n && memcmp(s.data, want, n) == 0;
}

/* Python's strict UTF-8 decoder: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool jarm_utf8_valid(mw_cur c) {
    uint8_t b0, b;
    while (mw_cur_get_u8(&c, &b0)) {
        size_t more;
        uint8_t lo = 0x80, hi = 0xbf;
        if (b0 < 0x80) continue;
        if (b0 >= 0xc2 && b0 <= 0xdf)
            more = 1;
        else if (b0 >= 0xe0 && b0 <= 0xef) {
            more = 2;
            if (b0 == 0xe0) lo = 0xa0;
            if (b0 == 0xed) hi = 0x9f;
        } else if (b0 >= 0xf0 && b0 <= 0xf4) {
            more = 3;
            if (b0 == 0xf0) lo = 0x90;
            if (b0 == 0xf4) hi = 0x8f;
        } else
            return false;
        for (size_t i = 0; i < more; i++) {
            if (!mw_cur_get_u8(&c, &b) || b < lo || b > hi) return false;
            lo = 0x80;
            hi = 0xbf;
        }
    }
    return true;
}

enum { EXT_OK, EXT_EMPTY, EXT_RAISE };

/* The extension part, "alpn|type-type-...". Returns EXT_EMPTY where the reference gives "|"
 * (its IndexError path and its three early exits) and EXT_RAISE where it raises something
 * else, which turns the whole probe into "|||". */
static int jarm_extensions(mw_cur all, size_t counter, size_t record_len, jarm_sbuf *out) {
    static const uint8_t err1[] = {0x0e, 0xac, 0x0b}, err2[] = {0x0f, 0xf0, 0x0b};
    uint8_t b;
    /* reference: offsets count from the record start, "counter" being the session id length,
     * so counter+47 is where a ServerHello's extensions length starts. An 11 there, either of
     * two fixed byte patterns, or a record length too small for extensions all mean "no
     * extensions" ("|"), whatever the bytes really are. */
    if (!mw_cur_peek_u8(&all, counter + 47, &b) || b == 11) return EXT_EMPTY;
    if (jarm_slice_eq(jarm_slice(all, counter + 50, 3), err1, 3) ||
        jarm_slice_eq(jarm_slice(all, 82, 3), err2, 3))
        return EXT_EMPTY;
    if (counter + 42 >= record_len) return EXT_EMPTY;

    size_t count = counter + 49, length;
    if (!jarm_slice_int(jarm_slice(all, counter + 47, 2), &length)) return EXT_RAISE;
    size_t maximum = length + count - 1; /* reference: one short of the block's end */
    bool have_alpn = false, alpn_str = false;
    mw_cur alpn = {NULL, 0};
    /* First pass: find the first ALPN extension and check that the walk completes. */
    size_t n_types = 0;
    for (size_t c = count; c < maximum;) {
        mw_cur type = jarm_slice(all, c, 2);
        size_t el;
        if (!jarm_slice_int(jarm_slice(all, c + 2, 2), &el)) return EXT_RAISE;
        mw_cur value = jarm_slice(all, c + 4, el);
        if (!have_alpn && jarm_slice_eq(type, (const uint8_t *)"\x00\x10", 2)) {
            have_alpn = true;
            alpn_str = el == 0; /* reference: stored as "" (a str), and ""[3:].decode() raises */
            alpn = jarm_slice(value, 3, value.len);
        }
        n_types++;
        c += el + 4;
    }
    if (have_alpn) {
        if (alpn_str || !jarm_utf8_valid(alpn)) return EXT_RAISE;
        sb_mem(out, alpn.data, alpn.len);
    }
    sb_str(out, "|");
    size_t i = 0;
    for (size_t c = count; c < maximum; i++) {
        size_t el = 0;
        if (!jarm_slice_int(jarm_slice(all, c + 2, 2), &el))
            return EXT_RAISE; /* not reached: the first pass walked the same bytes */
        sb_hex(out, jarm_slice(all, c, 2));
        if (i + 1 < n_types) sb_str(out, "-");
        c += el + 4;
    }
    return EXT_OK;
}

mw_rc jarm_parse_answer(const uint8_t *data, size_t len, char *out, size_t cap, size_t *out_len) {
    MW_ENSURE(cap >= 4, MW_ERR);
    jarm_sbuf sb = {out, 0, cap, false};
    out[0] = '\0';
    mw_cur all = mw_cur_make(data, data ? len : 0);
    uint8_t type, hs_type, counter;

    /* reference: an alert (21), anything but a handshake record whose sixth byte is 2, and
     * answers too short to hold the session id length all read as "|||". */
    if (!mw_cur_peek_u8(&all, 0, &type) || type != 22 || !mw_cur_peek_u8(&all, 5, &hs_type) ||
        hs_type != 2 || !mw_cur_peek_u8(&all, 43, &counter)) {
        sb_str(&sb, "|||");
        *out_len = sb.len;
        return sb.full ? MW_ERR : MW_OK;
    }
    size_t record_len = 0;
    if (!jarm_slice_int(jarm_slice(all, 3, 2), &record_len)) record_len = 0;
    sb_hex(&sb, jarm_slice(all, (size_t)counter + 44, 2)); /* the chosen cipher */
    sb_str(&sb, "|");
    sb_hex(&sb, jarm_slice(all, 9, 2)); /* ServerHello.legacy_version, never supported_versions */
    sb_str(&sb, "|");
    int e = jarm_extensions(all, counter, record_len, &sb);
    if (e == EXT_EMPTY) sb_str(&sb, "|");
    if (e == EXT_RAISE) {
        sb.len = 0;
        out[0] = '\0';
        sb_str(&sb, "|||");
    }
    *out_len = sb.len;
    return sb.full ? MW_ERR : MW_OK;
}

/* ---------------------------------------------------------------- hash */

/* The hash's cipher alphabet: a chosen cipher becomes its 1-based position here, in two hex
 * digits; not found gives one past the end (0x46), none gives "00". */
static const uint16_t jarm_ciphers_hash[] = {
    0x0004, 0x0005, 0x0007, 0x000a, 0x0016, 0x002f, 0x0033, 0x0035, 0x0039, 0x003c, 0x003d, 0x0041,
    0x0045, 0x0067, 0x006b, 0x0084, 0x0088, 0x009a, 0x009c, 0x009d, 0x009e, 0x009f, 0x00ba, 0x00be,
    0x00c0, 0x00c4, 0xc007, 0xc008, 0xc009, 0xc00a, 0xc011, 0xc012, 0xc013, 0xc014, 0xc023, 0xc024,
    0xc027, 0xc028, 0xc02b, 0xc02c, 0xc02f, 0xc030, 0xc060, 0xc061, 0xc072, 0xc073, 0xc076, 0xc077,
    0xc09c, 0xc09d, 0xc09e, 0xc09f, 0xc0a0, 0xc0a1, 0xc0a2, 0xc0a3, 0xc0ac, 0xc0ad, 0xc0ae, 0xc0af,
    0xcc13, 0xcc14, 0xcca8, 0xcca9, 0x1301, 0x1302, 0x1303, 0x1304, 0x1305,
};

static bool jarm_cipher_field(const char *s, size_t n, char out[2]) {
    static const char d[] = "0123456789abcdef";
    unsigned pos = MW_ARRAY_LEN(jarm_ciphers_hash) + 1;
    if (n == 0) {
        out[0] = out[1] = '0';
        return true;
    }
    for (unsigned i = 0; i < MW_ARRAY_LEN(jarm_ciphers_hash); i++) {
        char h[5];
        uint16_t c = jarm_ciphers_hash[i];
        h[0] = d[c >> 12];
        h[1] = d[(c >> 8) & 15];
        h[2] = d[(c >> 4) & 15];
        h[3] = d[c & 15];
        if (n == 4 && memcmp(s, h, 4) == 0) {
            pos = i + 1;
            break;
        }
    }
    out[0] = d[pos >> 4];
    out[1] = d[pos & 15];
    return true;
}

/* Reference: the version's fourth character (a code point) as a digit picks a letter from
 * "abcdef"; anything else makes it raise. Non-ASCII decimal digits, which Python's int()
 * would take, are refused here: they cannot come from a hex-encoded version. */
static bool jarm_version_field(const char *s, size_t n, char *out) {
    if (n == 0) {
        *out = '0';
        return true;
    }
    size_t i = 0;
    for (int cp = 0; cp < 3; cp++) { /* skip three code points of valid UTF-8 */
        if (i >= n) return false;
        i++;
        while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
            i++;
    }
    if (i >= n || s[i] < '0' || s[i] > '5') return false;
    *out = "abcdef"[s[i] - '0'];
    return true;
}

static mw_rc jarm_hash_fields(const char *raw, size_t len, EVP_MD_CTX *sha,
                              char out[JARM_HASH_LEN + 1]);

mw_rc jarm_hash(const char *raw, size_t len, char out[JARM_HASH_LEN + 1]) {
    out[0] = '\0';
    if (len == strlen(JARM_RAW_EMPTY) && memcmp(raw, JARM_RAW_EMPTY, len) == 0) {
        memset(out, '0', JARM_HASH_LEN);
        out[JARM_HASH_LEN] = '\0';
        return MW_OK;
    }
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(sha);
        return MW_ERR;
    }
    mw_rc rc = jarm_hash_fields(raw, len, sha, out);
    EVP_MD_CTX_free(sha);
    return rc;
}

/* The part of jarm_hash after the all-empty check; sha is ready for updates. */
static mw_rc jarm_hash_fields(const char *raw, size_t len, EVP_MD_CTX *sha,
                              char out[JARM_HASH_LEN + 1]) {
    char fuzzy[3 * JARM_PROBES];
    size_t nf = 0, start = 0;
    for (;;) { /* each ','-separated handshake */
        size_t end = start;
        while (end < len && raw[end] != ',')
            end++;
        size_t comp[5], ncomp = 0, c = start; /* first four '|' fields: start offsets */
        comp[ncomp++] = start;
        for (; c < end && ncomp < 5; c++)
            if (raw[c] == '|') comp[ncomp++] = c + 1;
        if (ncomp < 4) return MW_MALFORMED; /* reference: IndexError */
        size_t fend[4];
        for (int k = 0; k < 4; k++)
            fend[k] = (k + 1 < (int)ncomp) ? comp[k + 1] - 1 : end;
        if (nf + 3 > sizeof fuzzy)
            return MW_MALFORMED; /* reference: a hash longer than 62 characters */
        if (!jarm_cipher_field(raw + comp[0], fend[0] - comp[0], fuzzy + nf) ||
            !jarm_version_field(raw + comp[1], fend[1] - comp[1], fuzzy + nf + 2))
            return MW_MALFORMED;
        nf += 3;
        if (EVP_DigestUpdate(sha, raw + comp[2], fend[2] - comp[2]) != 1 ||
            EVP_DigestUpdate(sha, raw + comp[3], fend[3] - comp[3]) != 1)
            return MW_ERR;
        if (end >= len) break;
        start = end + 1;
    }
    if (nf != sizeof fuzzy) return MW_MALFORMED;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_DigestFinal_ex(sha, md, &mdlen) != 1 || mdlen < 16) return MW_ERR;
    static const char d[] = "0123456789abcdef";
    memcpy(out, fuzzy, nf);
    for (size_t i = 0; i < 16; i++) {
        out[nf + 2 * i] = d[md[i] >> 4];
        out[nf + 2 * i + 1] = d[md[i] & 15];
    }
    out[JARM_HASH_LEN] = '\0';
    return MW_OK;
}

/* ---------------------------------------------------------------- networking */

enum jarm_io { IO_OK, IO_FAILED, IO_TIMEOUT };

static int64_t jarm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int jarm_wait(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - jarm_now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, ev, 0};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

static enum jarm_io jarm_connect(const struct sockaddr *sa, socklen_t salen, int64_t deadline,
                                 int *fdp) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return IO_FAILED;
    *fdp = fd;
    if (connect(fd, sa, salen) == 0) return IO_OK;
    if (errno != EINPROGRESS) return IO_FAILED;
    int w = jarm_wait(fd, POLLOUT, deadline);
    if (w == 0) return IO_TIMEOUT;
    int err = 0;
    socklen_t el = sizeof err;
    if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) return IO_FAILED;
    if (err != 0) {
        errno = err; /* ECONNREFUSED and the like, for jarm_result.connect_errno */
        return IO_FAILED;
    }
    return IO_OK;
}

static enum jarm_io jarm_send_all(int fd, const uint8_t *p, size_t n, int64_t deadline) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return IO_FAILED;
        int w = jarm_wait(fd, POLLOUT, deadline);
        if (w <= 0) return w == 0 ? IO_TIMEOUT : IO_FAILED;
    }
    return IO_OK;
}

/* Reads exactly n bytes (for the SOCKS5 exchange, where a short read is not an answer). */
static enum jarm_io jarm_recv_exact(int fd, uint8_t *p, size_t n, int64_t deadline) {
    while (n > 0) {
        int w = jarm_wait(fd, POLLIN, deadline);
        if (w <= 0) return w == 0 ? IO_TIMEOUT : IO_FAILED;
        ssize_t k = recv(fd, p, n, 0);
        if (k == 0) return IO_FAILED;
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            return IO_FAILED;
        }
        p += k;
        n -= (size_t)k;
    }
    return IO_OK;
}

/* SOCKS5 CONNECT without authentication (RFC 1928 sections 3, 4 and 6). IP literals go as
 * addresses, names as ATYP 3 so the proxy resolves them, as PySocks does for the reference. */
static enum jarm_io jarm_socks5(int fd, const char *host, uint16_t port, int64_t deadline) {
    uint8_t req[4 + 1 + 255 + 2];
    static const uint8_t greet[] = {0x05, 0x01, 0x00};
    uint8_t ans[4];
    size_t n = 0;
    struct in_addr a4;
    struct in6_addr a6;

    if (jarm_send_all(fd, greet, sizeof greet, deadline) != IO_OK ||
        jarm_recv_exact(fd, ans, 2, deadline) != IO_OK || ans[0] != 0x05 || ans[1] != 0x00)
        return IO_FAILED;
    req[n++] = 0x05;
    req[n++] = 0x01; /* CONNECT */
    req[n++] = 0x00;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        req[n++] = 0x01;
        memcpy(req + n, &a4, 4);
        n += 4;
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        req[n++] = 0x04;
        memcpy(req + n, &a6, 16);
        n += 16;
    } else {
        size_t hl = strlen(host);
        if (hl == 0 || hl > 255) return IO_FAILED;
        req[n++] = 0x03;
        req[n++] = (uint8_t)hl;
        memcpy(req + n, host, hl);
        n += hl;
    }
    req[n++] = (uint8_t)(port >> 8);
    req[n++] = (uint8_t)port;
    if (jarm_send_all(fd, req, n, deadline) != IO_OK ||
        jarm_recv_exact(fd, ans, 4, deadline) != IO_OK)
        return IO_FAILED;
    /* VER REP RSV ATYP, then BND.ADDR and BND.PORT, read whole so no byte of it is taken for
     * the server's answer. */
    mw_cur c = mw_cur_make(ans, sizeof ans);
    uint8_t ver, rep, rsv, atyp, dl;
    if (!mw_cur_get_u8(&c, &ver) || !mw_cur_get_u8(&c, &rep) || !mw_cur_get_u8(&c, &rsv) ||
        !mw_cur_get_u8(&c, &atyp) || ver != 0x05 || rep != 0x00)
        return IO_FAILED;
    size_t rest;
    if (atyp == 0x01)
        rest = 4 + 2;
    else if (atyp == 0x04)
        rest = 16 + 2;
    else if (atyp == 0x03) {
        if (jarm_recv_exact(fd, &dl, 1, deadline) != IO_OK) return IO_FAILED;
        rest = (size_t)dl + 2;
    } else
        return IO_FAILED;
    uint8_t skip[255 + 2];
    return jarm_recv_exact(fd, skip, rest, deadline) == IO_OK ? IO_OK : IO_FAILED;
}

typedef struct {
    const jarm_opts *o;
    const struct sockaddr *sa; /* the target, or the proxy in SOCKS5 mode */
    socklen_t salen;
    const char *sni;
    size_t sni_len;
} jarm_ctx;

/* One probe: connect, send the hello, one recv of at most JARM_RECV_MAX bytes, shut down.
 * Reference: a timeout anywhere is IO_TIMEOUT; any other error, including one from the
 * final shutdown(SHUT_RDWR) after data arrived, is IO_FAILED ("|||"). Through SOCKS5 the
 * reference's proxy library reports connect-phase timeouts as proxy errors, so they count as
 * IO_FAILED too. */
static enum jarm_io jarm_one(const jarm_ctx *x, unsigned idx, uint8_t *ans, size_t *ans_len,
                             jarm_result *r) {
    uint8_t hello[JARM_HELLO_MAX];
    size_t hl;
    int fd = -1;
    enum jarm_io io;
    int64_t deadline = jarm_now_ms() + x->o->timeout_ms;

    *ans_len = 0;
    if (jarm_build_hello(idx, x->sni, x->sni_len, x->o->rand, hello, sizeof hello, &hl) != MW_OK)
        return IO_FAILED;
    io = jarm_connect(x->sa, x->salen, deadline, &fd);
    if (io == IO_FAILED) r->connect_errno = errno;
    if (io == IO_OK && x->o->socks5_host)
        io = jarm_socks5(fd, x->o->host, x->o->port ? x->o->port : JARM_DEFAULT_PORT, deadline);
    if (io == IO_TIMEOUT && x->o->socks5_host) io = IO_FAILED;
    if (io == IO_OK) r->connected++;
    if (io == IO_OK) io = jarm_send_all(fd, hello, hl, deadline);
    if (io == IO_OK) {
        int w = jarm_wait(fd, POLLIN, deadline);
        if (w <= 0) io = w == 0 ? IO_TIMEOUT : IO_FAILED;
    }
    if (io == IO_OK) {
        ssize_t k;
        do
            k = recv(fd, ans, JARM_RECV_MAX, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            io = IO_FAILED;
        else
            *ans_len = (size_t)k;
        if (io == IO_OK && shutdown(fd, SHUT_RDWR) != 0) io = IO_FAILED;
    }
    if (fd >= 0) close(fd);
    return io;
}

static void jarm_numeric(const struct sockaddr *sa, socklen_t salen, char *out, size_t cap) {
    if (getnameinfo(sa, salen, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0) out[0] = '\0';
}

mw_rc jarm_probe(const jarm_opts *opts, jarm_result *r) {
    jarm_opts o = *opts;
    jarm_ctx x = {&o, NULL, 0, NULL, 0};
    struct addrinfo hints, *ai = NULL;
    char portstr[8];
    uint8_t ans[JARM_RECV_MAX];
    jarm_sbuf raw;

    memset(r, 0, sizeof *r);
    MW_ENSURE(o.host && o.host[0], MW_ERR);
    if (o.port == 0) o.port = JARM_DEFAULT_PORT;
    if (o.timeout_ms <= 0) o.timeout_ms = JARM_DEFAULT_TIMEOUT_MS;
    x.sni = o.sni ? o.sni : o.host;
    x.sni_len = strlen(x.sni);
    MW_ENSURE(x.sni_len <= JARM_SNI_MAX, MW_ERR);

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = o.socks5_host ? AF_UNSPEC : o.family;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)(o.socks5_host ? o.socks5_port : o.port));
    /* Resolved once so that all ten probes reach the same address. */
    if (getaddrinfo(o.socks5_host ? o.socks5_host : o.host, portstr, &hints, &ai) != 0 || !ai) {
        ai = NULL;
        r->resolve_failed = true;
    } else {
        x.sa = ai->ai_addr;
        x.salen = ai->ai_addrlen;
        if (o.socks5_host) {
            size_t hl = strlen(o.host);
            if (hl >= sizeof r->peer) hl = sizeof r->peer - 1;
            memcpy(r->peer, o.host, hl);
            r->peer[hl] = '\0';
        } else
            jarm_numeric(x.sa, x.salen, r->peer, sizeof r->peer);
    }

    raw.p = r->raw;
    raw.len = 0;
    raw.cap = sizeof r->raw;
    raw.full = false;
    r->raw[0] = '\0';
    for (unsigned i = 0; i < JARM_PROBES; i++) {
        char one[JARM_ANSWER_STR_MAX];
        size_t one_len = 0, ans_len = 0;
        enum jarm_io io = x.sa ? jarm_one(&x, i, ans, &ans_len, r) : IO_FAILED;
        if (io == IO_TIMEOUT) {
            /* reference: one timeout and the whole JARM is the empty one */
            r->timed_out = true;
            raw.len = 0;
            raw.full = false;
            sb_str(&raw, JARM_RAW_EMPTY);
            break;
        }
        if (io == IO_OK && ans_len > 0) r->answered++;
        if (jarm_parse_answer(ans, io == IO_OK ? ans_len : 0, one, sizeof one, &one_len) != MW_OK) {
            freeaddrinfo(ai);
            return MW_ERR;
        }
        if (i > 0) sb_str(&raw, ",");
        sb_mem(&raw, one, one_len);
    }
    if (ai) freeaddrinfo(ai);
    r->raw_len = raw.len;
    MW_ENSURE(!raw.full, MW_ERR);
    return jarm_hash(r->raw, r->raw_len, r->hash);
}

mw_rc jarm_parse_target(const char *s, char *host, size_t host_cap, uint16_t *port) {
    return mw_parse_hostport(s, host, host_cap, port);
}
