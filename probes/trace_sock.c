/* The tracer's raw sockets, privileges, and what is sent on them; see trace_sock.h. */
#define _GNU_SOURCE /* struct in6_pktinfo, setresuid */
#include "trace_sock.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/icmp.h's ICMP_FILTER (a SOL_RAW option on IPPROTO_ICMP raw sockets: a bit set per
 * type means "drop"); that header clashes with netinet's, so the two values are repeated. */
#define TRACE_ICMP_FILTER 1
#define TRACE_SOL_RAW 255

#define TCP_SYN 0x02

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) acc += (uint32_t)(p[n - 1] << 8);
    return acc;
}

void trace_build_tcp(uint8_t out[20], int family, const uint8_t *src, const uint8_t *dst,
                     uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags) {
    memset(out, 0, 20);
    put16(out, sport);
    put16(out + 2, dport);
    put32(out + 4, seq);
    out[12] = 5 << 4;
    out[13] = flags;
    put16(out + 14, (flags & TCP_SYN) ? 65535 : 0);
    if (family == AF_INET && src && dst) {
        /* RFC 9293 3.1: the checksum covers a pseudo header src, dst, 0, protocol, length */
        uint8_t ph[12];
        memcpy(ph, src, 4);
        memcpy(ph + 4, dst, 4);
        ph[8] = 0;
        ph[9] = IPPROTO_TCP;
        put16(ph + 10, 20);
        uint32_t acc = sum16(sum16(0, ph, sizeof ph), out, 20);
        while (acc >> 16)
            acc = (acc & 0xffff) + (acc >> 16);
        put16(out + 16, (uint16_t)~acc);
    }
}

/* ------------------------------------------------------------------------------------------
 * Sockets and privileges. */

static int open_raw(int family, int proto, int *err) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    *err = fd < 0 ? errno : 0;
    return fd;
}

/* Classic BPF: accept a TCP segment when RST is set or SYN and ACK both are. An IPv4 raw
 * socket's data starts at the IP header (so the TCP flags are at 4*IHL + 13), an IPv6 one's at
 * the TCP header. Best effort: without it the parsers still see and skip everything else. */
static int attach_tcp_filter(int fd, bool ipv4) {
    struct sock_filter f4[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),           /* X = 4 * IHL */
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),           /* A = TCP flags */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x04, 2, 0), /* RST: accept */
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x12, 0, 1), /* SYN+ACK: accept */
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_filter f6[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x04, 2, 0),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x12, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),         BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {ipv4 ? MW_ARRAY_LEN(f4) : MW_ARRAY_LEN(f6), ipv4 ? f4 : f6};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

mw_rc trace_sockets_open(trace_sockets *s) {
    int e1 = 0, e2 = 0;
    s->tcp4 = s->icmp4 = s->tcp6 = s->icmp6 = -1;
    s->tcp4 = open_raw(AF_INET, IPPROTO_TCP, &e1);
    s->icmp4 = open_raw(AF_INET, IPPROTO_ICMP, &e2);
    s->err4 = e1 ? e1 : e2;
    if (s->err4) {
        trace_sockets_close(s);
        s->err4 = e1 ? e1 : e2;
    } else {
        uint32_t block = ~((1u << 3) | (1u << 11)); /* pass unreachable, time exceeded */
        (void)setsockopt(s->icmp4, TRACE_SOL_RAW, TRACE_ICMP_FILTER, &block, sizeof block);
    }
    s->tcp6 = open_raw(AF_INET6, IPPROTO_TCP, &e1);
    s->icmp6 = open_raw(AF_INET6, IPPROTO_ICMPV6, &e2);
    s->err6 = e1 ? e1 : e2;
    if (s->err6) {
        if (s->tcp6 >= 0) close(s->tcp6);
        if (s->icmp6 >= 0) close(s->icmp6);
        s->tcp6 = s->icmp6 = -1;
    } else {
        int off = 16; /* TCP checksum offset: the kernel computes it with the real source */
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
        ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
        if (setsockopt(s->tcp6, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof off) != 0 ||
            setsockopt(s->icmp6, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) != 0) {
            s->err6 = errno;
            close(s->tcp6);
            close(s->icmp6);
            s->tcp6 = s->icmp6 = -1;
        }
    }
    /* These sockets would see every TCP segment the host receives (a sensor's host is busy):
     * the kernel keeps only SYN-ACKs and RSTs for us, and there is room for bursts. */
    int rcv = 1 << 20;
    if (s->tcp4 >= 0) {
        (void)setsockopt(s->tcp4, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        (void)attach_tcp_filter(s->tcp4, true);
    }
    if (s->tcp6 >= 0) {
        (void)setsockopt(s->tcp6, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        (void)attach_tcp_filter(s->tcp6, false);
    }
    return (s->tcp4 >= 0 || s->tcp6 >= 0) ? MW_OK : MW_ERR;
}

void trace_sockets_close(trace_sockets *s) {
    int *fds[] = {&s->tcp4, &s->icmp4, &s->tcp6, &s->icmp6};
    for (size_t i = 0; i < MW_ARRAY_LEN(fds); i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}

bool trace_sockets_denied(const trace_sockets *s) {
    return s->err4 == EPERM || s->err4 == EACCES;
}

mw_rc trace_drop_privileges(const char *user, char *err, size_t errlen) {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) {
        snprintf(err, errlen, "getresuid: %s", strerror(errno));
        return MW_ERR;
    }
    bool was_root = ruid == 0 || euid == 0 || suid == 0;
    if (was_root) {
        uid_t uid = 65534;
        gid_t gid = 65534;
        /* set-user-ID root: back to the user who ran it; otherwise nobody */
        const struct passwd *pw = user || ruid == 0 ? getpwnam(user ? user : "nobody") : NULL;
        if (!user && ruid != 0) {
            uid = ruid;
            gid = rgid;
        } else if (pw) {
            uid = pw->pw_uid;
            gid = pw->pw_gid;
        } else if (user) {
            snprintf(err, errlen, "unknown user %s", user);
            return MW_ERR;
        }
        if (uid == 0) {
            snprintf(err, errlen, "refusing to drop privileges to uid 0");
            return MW_ERR;
        }
        /* groups first: once the uid is not 0 they can no longer be changed */
        if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
            snprintf(err, errlen, "cannot change to uid %u: %s", (unsigned)uid, strerror(errno));
            return MW_ERR;
        }
    }
    /* A file capability (setcap cap_net_raw+ep) leaves the uid alone: clear the sets by hand.
     * After a root -> user switch they are already empty; clearing again is harmless. */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return MW_ERR;
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3 */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
        return MW_ERR;
    }
    /* Check rather than trust: continuing privileged would be worse than stopping. */
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) != 0 || d[0].effective || d[0].permitted || d[1].effective ||
        d[1].permitted) {
        snprintf(err, errlen, "capabilities still held after dropping them");
        return MW_ERR;
    }
    if (was_root && (getresuid(&ruid, &euid, &suid) != 0 || ruid == 0 || euid == 0 || suid == 0)) {
        snprintf(err, errlen, "still uid 0 after dropping privileges");
        return MW_ERR;
    }
    if (was_root && setuid(0) == 0) { /* no way back either */
        snprintf(err, errlen, "could regain root after dropping privileges");
        return MW_ERR;
    }
    return MW_OK;
}

/* ------------------------------------------------------------------------------------------
 * Sending, and the ordinary sockets a trace needs. */

static void to_sockaddr(int family, const uint8_t *a, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *sl) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a, 4);
        *sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a, 16);
        *sl = sizeof *s6;
    }
}

mw_rc trace_sock_source(int family, const uint8_t *dst, uint16_t port, uint8_t *src, char *err,
                        size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MW_ERR;
    }
    to_sockaddr(family, dst, port, &ss, &sl);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "no route to the target: %s", strerror(errno));
        close(fd);
        return MW_ERR;
    }
    close(fd);
    if (family == AF_INET)
        memcpy(src, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else
        memcpy(src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    return MW_OK;
}

mw_rc trace_sock_reserve(int family, const uint8_t *src, int *fd_out, uint16_t *lport, char *err,
                         size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MW_ERR;
    }
    to_sockaddr(family, src, 0, &ss, &sl);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "cannot reserve a local port: %s", strerror(errno));
        close(fd);
        return MW_ERR;
    }
    *fd_out = fd;
    *lport = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return MW_OK;
}

mw_rc trace_sock_send(const trace_sockets *s, int family, const uint8_t *src, const uint8_t *dst,
                      uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, int ttl,
                      char *err, size_t errlen) {
    int fd = family == AF_INET ? s->tcp4 : s->tcp6;
    uint8_t seg[20];
    trace_build_tcp(seg, family, src, dst, sport, dport, seq, flags);
    if (family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl)
                          : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)) {
        snprintf(err, errlen, "cannot set the TTL: %s", strerror(errno));
        return MW_ERR;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    to_sockaddr(family, dst, 0, &ss, &sl); /* raw sockets: port 0 */
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {seg, sizeof seg};
    struct msghdr m = {.msg_name = &ss,
                       .msg_namelen = sl,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = cm.buf};
    struct cmsghdr *ch = (struct cmsghdr *)cm.buf;
    if (family == AF_INET) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, src, 4);
        ch->cmsg_level = IPPROTO_IP;
        ch->cmsg_type = IP_PKTINFO;
        ch->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(ch), &pi, sizeof pi);
        m.msg_controllen = CMSG_SPACE(sizeof pi);
    } else {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi6_addr, src, 16);
        ch->cmsg_level = IPPROTO_IPV6;
        ch->cmsg_type = IPV6_PKTINFO;
        ch->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(ch), &pi, sizeof pi);
        m.msg_controllen = CMSG_SPACE(sizeof pi);
    }
    for (int tries = 0; tries < 3; tries++) {
        if (sendmsg(fd, &m, 0) == (ssize_t)sizeof seg) return MW_OK;
        if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS) break;
    }
    snprintf(err, errlen, "sending a probe: %s", strerror(errno));
    return MW_ERR;
}
