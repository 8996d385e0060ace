/* Socket helpers for the network sinks: every fd is non-blocking and every wait is a poll with
 * a bound, in slices of at most OUT_SLICE_MS that look at the sink's shutdown deadline again,
 * so a collector that stops reading costs a sink thread its timeout, and never more than
 * what is left of the flush budget. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "out_sink.h"

static int resolve(const char *host, unsigned port, int socktype, struct addrinfo **res, char *err,
                   size_t errlen) {
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;
    int e = getaddrinfo(host, ps, &hints, res);
    if (e != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(e));
        return -1;
    }
    return 0;
}

/* poll of one fd for events until until_ms or the deadline; 1 ready, 0 timed out, -1 error. */
static int poll_until(out_sink *s, int fd, short events, int64_t until_ms) {
    for (;;) {
        int64_t left = out_left_ms(s, until_ms);
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)(left < OUT_SLICE_MS ? left : OUT_SLICE_MS));
        if (r < 0 && errno == EINTR) continue;
        if (r != 0) return r < 0 ? -1 : 1;
    }
}

bool out_wait_readable(out_sink *s, int fd, int timeout_ms) {
    return poll_until(s, fd, POLLIN, out_now_ms() + timeout_ms) == 1;
}

int out_tcp_connect(out_sink *s, const char *host, unsigned port, int timeout_ms, char *err,
                    size_t errlen) {
    struct addrinfo *res;
    if (resolve(host, port, SOCK_STREAM, &res, err, errlen) != 0) {
        if (s) out_set_err(s, "%s", err);
        return -1;
    }
    int fd = -1;
    snprintf(err, errlen, "connect %s:%u: no address", host, port);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            int r = poll_until(s, fd, POLLOUT, out_now_ms() + timeout_ms);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            snprintf(err, errlen, "connect %s:%u: %s", host, port,
                     r == 0 ? "timed out" : strerror(soerr ? soerr : errno));
        } else {
            snprintf(err, errlen, "connect %s:%u: %s", host, port, strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && s) out_set_err(s, "%s", err);
    return fd;
}

int out_udp_connect(const char *host, unsigned port, char *err, size_t errlen) {
    struct addrinfo *res;
    if (resolve(host, port, SOCK_DGRAM, &res, err, errlen) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        /* Connected, so that the kernel reports ICMP port unreachable back to us. */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        snprintf(err, errlen, "udp %s:%u: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int out_unix_dgram_connect(const char *path, char *err, size_t errlen) {
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

bool out_write_all(out_sink *s, int fd, const void *p, size_t n, int timeout_ms, size_t *written) {
    const char *c = p;
    size_t done = 0;
    int64_t until = out_now_ms() + timeout_ms;
    while (done < n) {
        ssize_t w = send(fd, c + done, n - done, MSG_NOSIGNAL);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (poll_until(s, fd, POLLOUT, until) != 1) {
                out_set_err(s, "write: the collector stopped reading (timed out)");
                break;
            }
            continue;
        }
        out_set_err(s, "write: %s", w < 0 ? strerror(errno) : "nothing written");
        break;
    }
    if (written) *written = done;
    return done == n;
}
