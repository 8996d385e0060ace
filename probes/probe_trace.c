/* TCP traceroute per service port; see probe_trace.h for the design and its reasons. */
#define _GNU_SOURCE /* struct in6_pktinfo, setresuid */
#include "probe_trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mw_cursor.h"
#include "mw_ecs.h"
#include "mw_encode.h"

/* linux/icmp.h's ICMP_FILTER (a SOL_RAW option on IPPROTO_ICMP raw sockets: a bit set per
 * type means "drop"); that header clashes with netinet's, so the two values are repeated. */
#define TRACE_ICMP_FILTER 1
#define TRACE_SOL_RAW 255

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define TRACE_MAX_ATTEMPTS 4

/* ------------------------------------------------------------------------------------------
 * Reply parsing. Everything here reads through mw_cur; nothing indexes packet bytes. */

/* IPv4 header (RFC 791 3.1), enough of it to find the payload:
 *   version/IHL(1) TOS(1) total length(2) ID(2) flags/fragment offset(2) TTL(1) protocol(1)
 *   checksum(2) source(4) destination(4) options(IHL*4-20)
 * Leaves *payload bounded by the total length (the buffer may hold less: then by the buffer,
 * since only headers are read). Fragments other than the first are not parsed (*frag set). */
static MW_WUR mw_rc parse_ip4(mw_cur *c, uint8_t *proto, uint8_t src[4], uint8_t dst[4], bool *frag,
                              mw_cur *payload) {
    uint8_t vihl, b;
    uint16_t total, fo;
    mw_cur hdr = *c, opts;
    MW_GUARD_B(mw_cur_get_u8(&hdr, &vihl), MW_MALFORMED);
    MW_ENSURE((vihl >> 4) == 4, MW_MALFORMED);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    MW_ENSURE(ihl >= 20, MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&hdr, &b), MW_MALFORMED); /* TOS */
    MW_GUARD_B(mw_cur_get_u16(&hdr, &total), MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(&hdr, 2), MW_MALFORMED); /* ID */
    MW_GUARD_B(mw_cur_get_u16(&hdr, &fo), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&hdr, &b), MW_MALFORMED); /* TTL */
    MW_GUARD_B(mw_cur_get_u8(&hdr, proto), MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(&hdr, 2), MW_MALFORMED); /* checksum */
    MW_GUARD_B(mw_cur_copy(&hdr, src, 4), MW_MALFORMED);
    MW_GUARD_B(mw_cur_copy(&hdr, dst, 4), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_bytes(&hdr, ihl - 20, &opts), MW_MALFORMED);
    MW_ENSURE(total >= ihl, MW_MALFORMED);
    *frag = (fo & 0x1fff) != 0;
    size_t body = total - ihl;
    if (body > hdr.len) /* truncated by the receive buffer or by an ICMP quote */
        body = hdr.len;
    MW_GUARD_B(mw_cur_get_bytes(&hdr, body, payload), MW_MALFORMED);
    *c = hdr;
    return MW_OK;
}

/* The 8 octets of a quoted TCP header every ICMP error carries (RFC 792): ports, sequence. */
static MW_WUR mw_rc parse_quoted_tcp(mw_cur *c, trace_reply *out) {
    MW_GUARD_B(mw_cur_get_u16(c, &out->lport), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16(c, &out->rport), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u32(c, &out->seq), MW_MALFORMED);
    return MW_OK;
}

/* TCP header (RFC 9293 3.1): src port(2) dst port(2) seq(4) ack(4) offset/flags(2) window(2)
 * checksum(2) urgent(2) options. A SYN-ACK or a RST+ACK acknowledges our seq + 1. */
static MW_WUR mw_rc parse_tcp_reply(mw_cur *c, trace_reply *out) {
    uint16_t sport, dport, offfl;
    uint32_t seq, ack;
    MW_GUARD_B(mw_cur_get_u16(c, &sport), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16(c, &dport), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u32(c, &seq), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u32(c, &ack), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16(c, &offfl), MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(c, 6), MW_MALFORMED);
    size_t off = (size_t)(offfl >> 12) * 4;
    MW_ENSURE(off >= 20, MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(c, off - 20), MW_MALFORMED); /* options present in full */
    uint8_t fl = (uint8_t)(offfl & 0xff);
    out->lport = dport;
    out->rport = sport;
    out->seq = ack - 1;
    if ((fl & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == (TCP_SYN | TCP_ACK)) {
        out->kind = TRACE_R_SYNACK;
        out->rst_seq = ack;
    } else if ((fl & (TCP_RST | TCP_ACK | TCP_SYN)) == (TCP_RST | TCP_ACK)) {
        out->kind = TRACE_R_RST; /* RFC 9293 3.10.7.1: a closed port answers RST, ack = seq+1 */
    } else {
        out->kind = TRACE_R_IGNORE;
    }
    (void)seq;
    return MW_OK;
}

mw_rc trace_parse_icmp4(const uint8_t *pkt, size_t len, trace_reply *out) {
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    mw_cur c = mw_cur_make(pkt, len), icmp, quoted, qtcp;
    uint8_t proto, src[4], dst[4], type, code, qproto, qsrc[4], qdst[4];
    bool frag, qfrag;
    MW_GUARD(parse_ip4(&c, &proto, src, dst, &frag, &icmp));
    if (proto != IPPROTO_ICMP || frag) return MW_OK;
    /* ICMP (RFC 792): type(1) code(1) checksum(2) unused(4), then the quoted datagram */
    MW_GUARD_B(mw_cur_get_u8(&icmp, &type), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&icmp, &code), MW_MALFORMED);
    if (type == 11 && code == 0) /* code 1 is reassembly time exceeded: not about TTL */
        out->kind = TRACE_R_TIME_EXCEEDED;
    else if (type == 3)
        out->kind = TRACE_R_UNREACH;
    else
        return MW_OK;
    out->icmp_code = code;
    MW_GUARD_B(mw_cur_skip(&icmp, 6), MW_MALFORMED);
    quoted = icmp;
    MW_GUARD(parse_ip4(&quoted, &qproto, qsrc, qdst, &qfrag, &qtcp));
    if (qproto != IPPROTO_TCP || qfrag) {
        out->kind = TRACE_R_IGNORE;
        return MW_OK;
    }
    MW_GUARD(parse_quoted_tcp(&qtcp, out));
    memcpy(out->from, src, 4);
    memcpy(out->peer, qdst, 4);
    return MW_OK;
}

mw_rc trace_parse_icmp6(const uint8_t *msg, size_t len, const uint8_t from[16], trace_reply *out) {
    memset(out, 0, sizeof *out);
    out->family = AF_INET6;
    mw_cur c = mw_cur_make(msg, len), q;
    uint8_t type, code, ver, nxt;
    MW_GUARD_B(mw_cur_get_u8(&c, &type), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&c, &code), MW_MALFORMED);
    /* RFC 4443 3.3 time exceeded (code 0: hop limit), 3.1 destination unreachable */
    if (type == 3 && code == 0)
        out->kind = TRACE_R_TIME_EXCEEDED;
    else if (type == 1)
        out->kind = TRACE_R_UNREACH;
    else
        return MW_OK;
    out->icmp_code = code;
    MW_GUARD_B(mw_cur_skip(&c, 6), MW_MALFORMED); /* checksum, unused */
    /* quoted IPv6 header (RFC 8200 3): version/class/flow(4) payload length(2) next header(1)
     * hop limit(1) source(16) destination(16). Our SYNs carry no extension headers, so a
     * quote whose next header is not TCP is not ours. */
    MW_GUARD_B(mw_cur_peek_u8(&c, 0, &ver), MW_MALFORMED);
    MW_ENSURE((ver >> 4) == 6, MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(&c, 6), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&c, &nxt), MW_MALFORMED);
    MW_GUARD_B(mw_cur_skip(&c, 1 + 16), MW_MALFORMED);
    MW_GUARD_B(mw_cur_copy(&c, out->peer, 16), MW_MALFORMED);
    if (nxt != IPPROTO_TCP) {
        out->kind = TRACE_R_IGNORE;
        return MW_OK;
    }
    q = c;
    MW_GUARD(parse_quoted_tcp(&q, out));
    memcpy(out->from, from, 16);
    return MW_OK;
}

mw_rc trace_parse_tcp4(const uint8_t *pkt, size_t len, trace_reply *out) {
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    mw_cur c = mw_cur_make(pkt, len), tcp;
    uint8_t proto, src[4], dst[4];
    bool frag;
    MW_GUARD(parse_ip4(&c, &proto, src, dst, &frag, &tcp));
    if (proto != IPPROTO_TCP || frag) return MW_OK;
    MW_GUARD(parse_tcp_reply(&tcp, out));
    memcpy(out->from, src, 4);
    memcpy(out->peer, src, 4);
    return MW_OK;
}

mw_rc trace_parse_tcp6(const uint8_t *seg, size_t len, const uint8_t from[16], trace_reply *out) {
    memset(out, 0, sizeof *out);
    out->family = AF_INET6;
    mw_cur c = mw_cur_make(seg, len);
    MW_GUARD(parse_tcp_reply(&c, out));
    memcpy(out->from, from, 16);
    memcpy(out->peer, from, 16);
    return MW_OK;
}

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
    return MW_OK;
}

/* ------------------------------------------------------------------------------------------
 * The tracer. */

enum { SLOT_FREE = 0, SLOT_OUT, SLOT_DONE };

typedef struct {
    uint8_t ttl;
    uint8_t state;
    uint64_t sent_us;
} slot;

typedef struct {
    int resv; /* the bound TCP socket reserving lport */
    uint32_t seq0;
    unsigned nslots;
    slot slots[TRACE_MAX_TTL * TRACE_MAX_ATTEMPTS];
    uint8_t tries[TRACE_MAX_TTL + 1];
    bool answered[TRACE_MAX_TTL + 1];
    bool final[TRACE_MAX_TTL + 1];
    bool retry[TRACE_MAX_TTL + 1];
    unsigned next_ttl, dist, unreach, stop;
    bool done;
} port_state;

typedef struct {
    const trace_sockets *s;
    trace_opts o;
    trace_result *r;
    port_state ps[TRACE_MAX_PORTS];
    uint64_t max_rtt_us;
    char *err;
    size_t errlen;
} tracer;

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t alen(int family) {
    return family == AF_INET ? 4 : 16;
}

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

/* The source address the kernel would use towards the target (a connected UDP socket sends
 * nothing), so the IPv4 checksum can be computed and every probe leaves from it. */
static mw_rc find_source(tracer *t) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = socket(t->o.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(t->err, t->errlen, "socket: %s", strerror(errno));
        return MW_ERR;
    }
    to_sockaddr(t->o.family, t->o.addr, t->o.ports[0], &ss, &sl);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(t->err, t->errlen, "no route to the target: %s", strerror(errno));
        close(fd);
        return MW_ERR;
    }
    close(fd);
    if (t->o.family == AF_INET)
        memcpy(t->r->source, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else
        memcpy(t->r->source, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    return MW_OK;
}

/* Reserves a local port: bound, never connected or listening, so the kernel resets any
 * SYN-ACK to it and hands it to nobody else while the trace runs. */
static mw_rc reserve_port(tracer *t, unsigned i) {
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = socket(t->o.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(t->err, t->errlen, "socket: %s", strerror(errno));
        return MW_ERR;
    }
    to_sockaddr(t->o.family, t->r->source, 0, &ss, &sl);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(t->err, t->errlen, "cannot reserve a local port: %s", strerror(errno));
        close(fd);
        return MW_ERR;
    }
    t->ps[i].resv = fd;
    t->r->ports[i].lport = ntohs(t->o.family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return MW_OK;
}

/* Sends one TCP header from the raw socket with the given TTL / hop limit, source pinned. */
static mw_rc send_tcp(tracer *t, uint16_t lport, uint16_t rport, uint32_t seq, uint8_t flags,
                      int ttl) {
    int fam = t->o.family;
    int fd = fam == AF_INET ? t->s->tcp4 : t->s->tcp6;
    uint8_t seg[20];
    trace_build_tcp(seg, fam, t->r->source, t->o.addr, lport, rport, seq, flags);
    if (fam == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl)
                       : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)) {
        snprintf(t->err, t->errlen, "cannot set the TTL: %s", strerror(errno));
        return MW_ERR;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    to_sockaddr(fam, t->o.addr, 0, &ss, &sl); /* raw sockets: port 0 */
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
    if (fam == AF_INET) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, t->r->source, 4);
        ch->cmsg_level = IPPROTO_IP;
        ch->cmsg_type = IP_PKTINFO;
        ch->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(ch), &pi, sizeof pi);
        m.msg_controllen = CMSG_SPACE(sizeof pi);
    } else {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi6_addr, t->r->source, 16);
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
    snprintf(t->err, t->errlen, "sending a probe: %s", strerror(errno));
    return MW_ERR;
}

static unsigned port_limit(const tracer *t, const port_state *p) {
    unsigned lim = t->o.max_ttl;
    if (p->dist && p->dist < lim) lim = p->dist;
    if (p->unreach && p->unreach < lim) lim = p->unreach;
    if (p->stop && p->stop < lim) lim = p->stop;
    return lim;
}

static void on_reply(tracer *t, const trace_reply *rep, uint64_t now) {
    if (rep->kind == TRACE_R_IGNORE || rep->family != t->o.family) return;
    size_t al = alen(t->o.family);
    bool from_target = rep->kind == TRACE_R_SYNACK || rep->kind == TRACE_R_RST;
    if (memcmp(from_target ? rep->from : rep->peer, t->o.addr, al) != 0) return;
    for (unsigned i = 0; i < t->o.nports; i++) {
        trace_port *rp = &t->r->ports[i];
        port_state *p = &t->ps[i];
        if (rp->lport != rep->lport || rp->port != rep->rport) continue;
        uint32_t idx = rep->seq - p->seq0;
        if (idx >= p->nslots) return;
        slot *sl = &p->slots[idx];
        if (rep->kind == TRACE_R_SYNACK) {
            /* every SYN-ACK, also late or repeated ones: no half-open connection stays */
            if (send_tcp(t, rp->lport, rp->port, rep->rst_seq, TCP_RST, TRACE_RST_TTL) == MW_OK)
                rp->resets++;
        }
        unsigned ttl = sl->ttl;
        if (sl->state == SLOT_OUT) sl->state = SLOT_DONE;
        if (p->done || p->answered[ttl]) return;
        trace_hop *h = &rp->hops[ttl - 1];
        h->kind = rep->kind == TRACE_R_TIME_EXCEEDED ? TRACE_HOP_TIME_EXCEEDED
                  : rep->kind == TRACE_R_UNREACH     ? TRACE_HOP_UNREACH
                  : rep->kind == TRACE_R_SYNACK      ? TRACE_HOP_SYNACK
                                                     : TRACE_HOP_RST;
        h->icmp_code = rep->icmp_code;
        memcpy(h->addr, rep->from, al);
        uint64_t rtt = now - sl->sent_us;
        h->rtt_us = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
        if (rtt > t->max_rtt_us) t->max_rtt_us = rtt;
        p->answered[ttl] = p->final[ttl] = true;
        p->retry[ttl] = false;
        if (from_target && (!p->dist || ttl < p->dist)) p->dist = ttl;
        if (rep->kind == TRACE_R_UNREACH && (!p->unreach || ttl < p->unreach)) p->unreach = ttl;
        return;
    }
}

static void drain(tracer *t, int fd, bool icmp, uint64_t *malformed) {
    uint8_t buf[4096];
    for (int n = 0; n < 256; n++) { /* bounded: a busy host cannot keep us here */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t len = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
        if (len < 0) return;
        uint64_t now = mono_us();
        trace_reply rep;
        mw_rc rc;
        if (t->o.family == AF_INET) {
            rc = icmp ? trace_parse_icmp4(buf, (size_t)len, &rep)
                      : trace_parse_tcp4(buf, (size_t)len, &rep);
        } else {
            uint8_t from[16];
            if (ss.ss_family != AF_INET6) continue;
            memcpy(from, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            rc = icmp ? trace_parse_icmp6(buf, (size_t)len, from, &rep)
                      : trace_parse_tcp6(buf, (size_t)len, from, &rep);
        }
        if (rc != MW_OK) {
            (*malformed)++;
            continue;
        }
        on_reply(t, &rep, now);
    }
}

/* Expires probes, schedules resends, turns silence into stars, applies the gap rule and marks
 * ports done. Returns the earliest pending deadline (UINT64_MAX: none). */
static uint64_t expire(tracer *t, uint64_t now) {
    uint64_t tmo = (uint64_t)t->o.timeout_ms * 1000u, next = UINT64_MAX;
    for (unsigned i = 0; i < t->o.nports; i++) {
        port_state *p = &t->ps[i];
        if (p->done) continue;
        for (unsigned k = 0; k < p->nslots; k++) {
            slot *sl = &p->slots[k];
            if (sl->state != SLOT_OUT) continue;
            if (now >= sl->sent_us + tmo) {
                sl->state = SLOT_DONE;
                if (!p->answered[sl->ttl]) {
                    if (p->tries[sl->ttl] < t->o.attempts)
                        p->retry[sl->ttl] = true;
                    else
                        p->final[sl->ttl] = true; /* a star */
                }
            } else if (sl->sent_us + tmo < next) {
                next = sl->sent_us + tmo;
            }
        }
        if (!p->dist && !p->unreach && !p->stop) {
            unsigned high = 0;
            for (unsigned ttl = 1; ttl < p->next_ttl; ttl++)
                if (p->answered[ttl]) high = ttl;
            unsigned silent = 0;
            for (unsigned ttl = high + 1; ttl < p->next_ttl && p->final[ttl]; ttl++)
                silent++;
            if (silent >= t->o.gap) p->stop = high + t->o.gap;
        }
        unsigned lim = port_limit(t, p);
        bool all = p->next_ttl > lim || p->dist || p->unreach;
        for (unsigned ttl = 1; ttl <= lim && all; ttl++)
            if (!p->final[ttl]) all = false;
        if (all) p->done = true;
    }
    return next;
}

/* The next TTL port i should send, or 0. */
static unsigned want_send(const tracer *t, unsigned i) {
    const port_state *p = &t->ps[i];
    if (p->done) return 0;
    unsigned lim = port_limit(t, p);
    for (unsigned ttl = 1; ttl <= lim && ttl < p->next_ttl; ttl++)
        if (p->retry[ttl]) return ttl;
    if (p->next_ttl > lim || p->nslots >= MW_ARRAY_LEN(p->slots)) return 0;
    unsigned out = 0;
    for (unsigned k = 0; k < p->nslots; k++)
        if (p->slots[k].state == SLOT_OUT && p->slots[k].ttl <= lim) out++;
    return out < t->o.window ? p->next_ttl : 0;
}

static void fill_result(tracer *t) {
    for (unsigned i = 0; i < t->o.nports; i++) {
        port_state *p = &t->ps[i];
        trace_port *rp = &t->r->ports[i];
        unsigned lim = port_limit(t, p);
        if (lim >= p->next_ttl) lim = p->next_ttl - 1;
        rp->nhops = lim;
        for (unsigned ttl = 1; ttl <= lim; ttl++)
            if (!p->answered[ttl]) memset(&rp->hops[ttl - 1], 0, sizeof rp->hops[ttl - 1]);
        rp->reached = p->dist != 0 && lim == p->dist;
        rp->final_kind = lim ? rp->hops[lim - 1].kind : TRACE_HOP_STAR;
    }
}

mw_rc trace_run(const trace_sockets *s, const trace_opts *o, trace_result *r, char *err,
                size_t errlen) {
    static tracer t; /* large; one trace at a time per process */
    memset(&t, 0, sizeof t);
    memset(r, 0, sizeof *r);
    t.s = s;
    t.o = *o;
    t.r = r;
    t.err = err;
    t.errlen = errlen;
    if (err && errlen) err[0] = '\0';
    if (!t.o.max_ttl) t.o.max_ttl = TRACE_DEFAULT_MAX_TTL;
    if (t.o.max_ttl > TRACE_MAX_TTL) t.o.max_ttl = TRACE_MAX_TTL;
    if (t.o.timeout_ms <= 0) t.o.timeout_ms = TRACE_DEFAULT_TIMEOUT_MS;
    if (!t.o.rate) t.o.rate = TRACE_DEFAULT_RATE;
    if (!t.o.attempts) t.o.attempts = TRACE_DEFAULT_ATTEMPTS;
    if (t.o.attempts > TRACE_MAX_ATTEMPTS) t.o.attempts = TRACE_MAX_ATTEMPTS;
    if (!t.o.window) t.o.window = TRACE_DEFAULT_WINDOW;
    if (!t.o.gap) t.o.gap = TRACE_DEFAULT_GAP;
    if (t.o.nports == 0 || t.o.nports > TRACE_MAX_PORTS) {
        snprintf(err, errlen, "between 1 and %d ports", TRACE_MAX_PORTS);
        return MW_ERR;
    }
    int fam = t.o.family;
    int tcpfd = fam == AF_INET ? s->tcp4 : fam == AF_INET6 ? s->tcp6 : -1;
    int icmpfd = fam == AF_INET ? s->icmp4 : s->icmp6;
    if (tcpfd < 0 || icmpfd < 0) {
        int e = fam == AF_INET ? s->err4 : s->err6;
        snprintf(err, errlen, "no raw %s sockets: %s", fam == AF_INET6 ? "IPv6" : "IPv4",
                 strerror(e ? e : EAFNOSUPPORT));
        return MW_ERR;
    }
    r->family = fam;
    memcpy(r->target, t.o.addr, alen(fam));
    r->max_ttl = t.o.max_ttl;
    r->nports = t.o.nports;
    if (!t.o.seq_base && getrandom(&t.o.seq_base, sizeof t.o.seq_base, 0) != sizeof t.o.seq_base)
        t.o.seq_base = (uint32_t)mono_us();
    for (unsigned i = 0; i < t.o.nports; i++)
        t.ps[i].resv = -1;
    mw_rc rc = find_source(&t);
    for (unsigned i = 0; rc == MW_OK && i < t.o.nports; i++) {
        r->ports[i].port = t.o.ports[i];
        t.ps[i].next_ttl = 1;
        t.ps[i].seq0 = t.o.seq_base + i * 0x10000u;
        rc = reserve_port(&t, i);
    }

    uint64_t start = mono_us(), next_send = start, interval = 1000000u / t.o.rate;
    unsigned rr = 0;
    uint64_t malformed = 0;
    /* Defensive bound: every TTL of every attempt timing out in turn, plus one timeout. */
    uint64_t hard_end =
        start + ((uint64_t)t.o.max_ttl * t.o.attempts + 1) * (uint64_t)t.o.timeout_ms * 1000u;
    while (rc == MW_OK) {
        uint64_t now = mono_us();
        if (now >= hard_end) break; /* what is unanswered by now is a star */
        uint64_t deadline = expire(&t, now);
        bool all_done = true;
        for (unsigned i = 0; i < t.o.nports; i++)
            all_done = all_done && t.ps[i].done;
        if (all_done) break;
        /* send at most one probe per turn, round robin over ports, within the rate */
        bool pending = false;
        for (unsigned k = 0; k < t.o.nports; k++) {
            unsigned i = (rr + k) % t.o.nports;
            unsigned ttl = want_send(&t, i);
            if (!ttl) continue;
            pending = true;
            if (now < next_send) break;
            port_state *p = &t.ps[i];
            slot *sl = &p->slots[p->nslots];
            sl->ttl = (uint8_t)ttl;
            sl->state = SLOT_OUT;
            sl->sent_us = mono_us();
            rc = send_tcp(&t, r->ports[i].lport, r->ports[i].port, p->seq0 + p->nslots, TCP_SYN,
                          (int)ttl);
            if (rc != MW_OK) break;
            p->nslots++;
            p->tries[ttl]++;
            p->retry[ttl] = false;
            if (ttl == p->next_ttl) p->next_ttl++;
            r->ports[i].probes++;
            next_send = now + interval;
            rr = i + 1;
            break;
        }
        if (rc != MW_OK) break;
        if (pending && next_send < deadline) deadline = next_send;
        now = mono_us();
        struct pollfd pf[2] = {{tcpfd, POLLIN, 0}, {icmpfd, POLLIN, 0}};
        uint64_t wait = deadline == UINT64_MAX ? 100000u : deadline > now ? deadline - now : 0;
        if (pending && now >= next_send) wait = 0;
        struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
        int n = ppoll(pf, 2, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = MW_ERR;
            break;
        }
        if (n > 0) {
            if (pf[0].revents & POLLIN) drain(&t, tcpfd, false, &malformed);
            if (pf[1].revents & POLLIN) drain(&t, icmpfd, true, &malformed);
        }
    }
    if (rc == MW_OK) {
        /* Probes sent past the target's distance may still bring SYN-ACKs: wait a little so
         * that each gets our RST (the kernel resets the rest once we stop listening). */
        uint64_t linger = 3 * t.max_rtt_us + 5000, end = mono_us() + linger;
        if (linger > (uint64_t)t.o.timeout_ms * 1000u)
            end = mono_us() + (uint64_t)t.o.timeout_ms * 1000u;
        for (uint64_t now = mono_us(); now < end; now = mono_us()) {
            struct pollfd pf = {tcpfd, POLLIN, 0};
            uint64_t wait = end - now;
            struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
            if (ppoll(&pf, 1, &ts, NULL) > 0) drain(&t, tcpfd, false, &malformed);
        }
        fill_result(&t);
    }
    r->malformed = malformed;
    for (unsigned i = 0; i < t.o.nports; i++)
        if (t.ps[i].resv >= 0) close(t.ps[i].resv);
    r->elapsed_us = mono_us() - start;
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Paths. */

static void addr_str(int family, const uint8_t *a, char out[TRACE_ADDR_STR]) {
    if (!inet_ntop(family, a, out, TRACE_ADDR_STR)) snprintf(out, TRACE_ADDR_STR, "?");
}

void trace_path_of(const trace_result *r, unsigned pi, trace_path *out) {
    memset(out, 0, sizeof *out);
    if (pi >= r->nports) return;
    const trace_port *p = &r->ports[pi];
    out->n = p->nhops;
    for (unsigned i = 0; i < p->nhops; i++) {
        if (p->hops[i].kind == TRACE_HOP_STAR)
            snprintf(out->hop[i], TRACE_ADDR_STR, "*");
        else
            addr_str(r->family, p->hops[i].addr, out->hop[i]);
    }
}

mw_rc trace_hop_parse(const char *s, size_t n, char out[TRACE_ADDR_STR]) {
    char tok[TRACE_ADDR_STR + 1];
    MW_ENSURE(n > 0 && n < sizeof tok, MW_MALFORMED);
    memcpy(tok, s, n);
    tok[n] = '\0';
    uint8_t a[16];
    if (strcmp(tok, "*") == 0)
        snprintf(out, TRACE_ADDR_STR, "*");
    else if (inet_pton(AF_INET, tok, a) == 1)
        addr_str(AF_INET, a, out);
    else if (inet_pton(AF_INET6, tok, a) == 1)
        addr_str(AF_INET6, a, out);
    else
        return MW_MALFORMED;
    return MW_OK;
}

mw_rc trace_path_parse(const char *s, trace_path *out) {
    memset(out, 0, sizeof *out);
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ')) {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        MW_ENSURE(out->n < TRACE_PATH_MAX, MW_MALFORMED);
        MW_GUARD(trace_hop_parse(p, n, out->hop[out->n]));
        out->n++;
        if (!e) break;
        p = e + 1;
    }
    return MW_OK;
}

static bool path_eq(const trace_path *a, const trace_path *b) {
    if (a->n != b->n) return false;
    for (unsigned i = 0; i < a->n; i++)
        if (strcmp(a->hop[i], b->hop[i]) != 0) return false;
    return true;
}

mw_rc trace_pathset_add(trace_pathset *set, const trace_path *p) {
    for (unsigned i = 0; i < set->n; i++)
        if (path_eq(&set->paths[i], p)) return MW_OK;
    MW_ENSURE(set->n < TRACE_SET_MAX, MW_ERR);
    set->paths[set->n++] = *p;
    return MW_OK;
}

/* Last n hops of e against o; wild: '*' in e matches anything. */
static bool last_n_match(const trace_path *e, const trace_path *o, unsigned n, bool wild) {
    if (n == 0 || e->n < n || o->n < n) {
        if (e->n != o->n) return false;
        n = e->n;
    }
    for (unsigned k = 0; k < n; k++) {
        const char *x = e->hop[e->n - n + k], *y = o->hop[o->n - n + k];
        if (wild && strcmp(x, "*") == 0) continue;
        if (strcmp(x, y) != 0) return false;
    }
    return true;
}

bool trace_compare(const trace_pathset *set, const trace_path *observed, unsigned n) {
    if (set->n == 0) return true;
    for (unsigned i = 0; i < set->n; i++)
        if (last_n_match(&set->paths[i], observed, n, true)) return true;
    return false;
}

unsigned trace_port_differences(const trace_result *r, unsigned n, unsigned (*pairs)[2],
                                unsigned cap) {
    static trace_path a, b; /* ~3 KB each */
    unsigned k = 0;
    for (unsigned i = 0; i < r->nports; i++) {
        for (unsigned j = i + 1; j < r->nports; j++) {
            trace_path_of(r, i, &a);
            trace_path_of(r, j, &b);
            if (last_n_match(&a, &b, n, false)) continue;
            if (k < cap) {
                pairs[k][0] = i;
                pairs[k][1] = j;
            }
            k++;
        }
    }
    return k < cap ? k : cap;
}

uint64_t trace_schedule_next(uint64_t now_us, uint64_t interval_us, unsigned jitter_pct,
                             uint32_t rnd) {
    if (jitter_pct > 100) jitter_pct = 100;
    uint64_t span = interval_us / 100u * jitter_pct; /* jitter either way */
    uint64_t next = now_us + interval_us;
    if (span) {
        /* offset in [-span, +span], uniform enough for scheduling */
        uint64_t off = (uint64_t)(((unsigned __int128)rnd * (2 * span + 1)) >> 32);
        next = next + off - span;
    }
    return next < now_us + 1000000u ? now_us + 1000000u : next;
}

/* ------------------------------------------------------------------------------------------
 * Output. */

const char *trace_hop_kind_name(unsigned kind) {
    static const char *const names[] = {"star", "time-exceeded", "unreachable", "syn-ack", "rst"};
    return kind < MW_ARRAY_LEN(names) ? names[kind] : "?";
}

static void endpoints(mw_json *j, const char *host, const trace_result *r, int port) {
    char a[TRACE_ADDR_STR];
    mw_json_kobj(j, "source");
    addr_str(r->family, r->source, a);
    mw_json_kstr(j, "ip", a);
    mw_json_obj_end(j);
    mw_json_kobj(j, "destination");
    addr_str(r->family, r->target, a);
    if (host) mw_json_kstr(j, "address", host);
    mw_json_kstr(j, "ip", a);
    if (port >= 0) mw_json_kuint(j, "port", (unsigned)port);
    mw_json_obj_end(j);
    mw_json_kobj(j, "network");
    mw_json_kstr(j, "transport", "tcp");
    mw_json_kstr(j, "type", r->family == AF_INET6 ? "ipv6" : "ipv4");
    mw_json_obj_end(j);
}

static void path_arr(mw_json *j, const trace_path *p) {
    mw_json_arr_begin(j);
    for (unsigned i = 0; i < p->n; i++)
        mw_json_str(j, p->hop[i]);
    mw_json_arr_end(j);
}

bool trace_event_path(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                      const trace_result *r, unsigned last_n) {
    static trace_path p, q;
    mw_json j;
    mw_json_init(&j, out);
    mw_ecs_head(&j, observer, ts_us, "event", "mitmwatch.path", 0);
    endpoints(&j, host, r, -1);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_kobj(&j, "path");
    mw_json_kuint(&j, "max_ttl", r->max_ttl);
    mw_json_kuint(&j, "last_n", last_n);
    mw_json_kuint(&j, "elapsed_ms", r->elapsed_us / 1000u);
    mw_json_karr(&j, "ports");
    for (unsigned i = 0; i < r->nports; i++) {
        const trace_port *tp = &r->ports[i];
        mw_json_obj_begin(&j);
        mw_json_kuint(&j, "port", tp->port);
        mw_json_kuint(&j, "source_port", tp->lport);
        mw_json_kbool(&j, "reached", tp->reached);
        mw_json_kstr(&j, "final", trace_hop_kind_name(tp->final_kind));
        mw_json_kuint(&j, "hop_count", tp->nhops);
        mw_json_kuint(&j, "probes", tp->probes);
        mw_json_kuint(&j, "resets", tp->resets);
        mw_json_karr(&j, "hops");
        for (unsigned h = 0; h < tp->nhops; h++) {
            const trace_hop *hp = &tp->hops[h];
            mw_json_obj_begin(&j);
            mw_json_kuint(&j, "ttl", h + 1);
            mw_json_kstr(&j, "kind", trace_hop_kind_name(hp->kind));
            if (hp->kind != TRACE_HOP_STAR) {
                char a[TRACE_ADDR_STR];
                addr_str(r->family, hp->addr, a);
                mw_json_kstr(&j, "ip", a);
                mw_json_kuint(&j, "rtt_us", hp->rtt_us);
            }
            if (hp->kind == TRACE_HOP_UNREACH) mw_json_kuint(&j, "icmp_code", hp->icmp_code);
            mw_json_obj_end(&j);
        }
        mw_json_arr_end(&j);
        trace_path_of(r, i, &p);
        mw_json_key(&j, "path");
        path_arr(&j, &p);
        mw_json_obj_end(&j);
    }
    mw_json_arr_end(&j);
    unsigned pairs[TRACE_MAX_PORTS * TRACE_MAX_PORTS / 2][2];
    unsigned nd = trace_port_differences(r, last_n, pairs, MW_ARRAY_LEN(pairs));
    mw_json_kbool(&j, "ports_differ", nd > 0);
    mw_json_karr(&j, "differences");
    for (unsigned d = 0; d < nd; d++) {
        mw_json_obj_begin(&j);
        mw_json_karr(&j, "ports");
        mw_json_uint(&j, r->ports[pairs[d][0]].port);
        mw_json_uint(&j, r->ports[pairs[d][1]].port);
        mw_json_arr_end(&j);
        trace_path_of(r, pairs[d][0], &p);
        trace_path_of(r, pairs[d][1], &q);
        mw_json_key(&j, "a");
        path_arr(&j, &p);
        mw_json_key(&j, "b");
        path_arr(&j, &q);
        mw_json_obj_end(&j);
    }
    mw_json_arr_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

bool trace_event_hops_changed(mw_buf *out, const char *observer, uint64_t ts_us, const char *host,
                              const trace_result *r, unsigned pi, const trace_pathset *set,
                              unsigned last_n, const char *source) {
    static trace_path p;
    char msg[256], a[TRACE_ADDR_STR], which[48];
    mw_json j;
    if (pi >= r->nports) return false;
    trace_path_of(r, pi, &p);
    addr_str(r->family, r->target, a);
    mw_json_init(&j, out);
    mw_ecs_head(&j, observer, ts_us, "alert", "mitmwatch.alert", 3);
    mw_json_kobj(&j, "rule");
    mw_json_kstr(&j, "id", "path.hops_changed");
    mw_json_kstr(&j, "name", "Network path to a service changed");
    mw_json_obj_end(&j);
    if (source && set->n == 1)
        snprintf(which, sizeof which, "do not match the %s path", source);
    else if (source)
        snprintf(which, sizeof which, "match none of the %u %s paths", set->n, source);
    if (source && last_n)
        snprintf(msg, sizeof msg, "The last %u hops to %s port %u (%u hops in all) %s.", last_n, a,
                 r->ports[pi].port, p.n, which);
    else if (source)
        snprintf(msg, sizeof msg, "The path to %s port %u (%u hops) %s.", a, r->ports[pi].port, p.n,
                 which);
    else if (last_n)
        snprintf(msg, sizeof msg,
                 "The last %u hops to %s port %u (%u hops in all) match none of the %u "
                 "expected paths.",
                 last_n, a, r->ports[pi].port, p.n, set->n);
    else
        snprintf(msg, sizeof msg,
                 "The path to %s port %u (%u hops) matches none of the %u expected paths.", a,
                 r->ports[pi].port, p.n, set->n);
    mw_json_kstr(&j, "message", msg);
    endpoints(&j, host, r, r->ports[pi].port);
    mw_json_kobj(&j, "mitmwatch");
    mw_json_karr(&j, "expected");
    for (unsigned i = 0; i < set->n; i++)
        path_arr(&j, &set->paths[i]);
    mw_json_arr_end(&j);
    mw_json_key(&j, "observed");
    path_arr(&j, &p);
    mw_json_kobj(&j, "path");
    mw_json_kuint(&j, "last_n", last_n);
    mw_json_kbool(&j, "reached", r->ports[pi].reached);
    if (source) mw_json_kstr(&j, "source", source);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}

static bool outf(mw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool outf(mw_buf *b, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    return mw_buf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

bool trace_text(mw_buf *out, const char *host, const trace_result *r, unsigned last_n) {
    char tgt[TRACE_ADDR_STR], a[TRACE_ADDR_STR];
    bool ok = true;
    addr_str(r->family, r->target, tgt);
    for (unsigned i = 0; i < r->nports; i++) {
        const trace_port *p = &r->ports[i];
        ok &= outf(out, "%s (%s) port %u: %u hops, %s, %u probes, %u resets\n", host ? host : tgt,
                   tgt, p->port, p->nhops,
                   p->reached ? (p->final_kind == TRACE_HOP_RST ? "reached (closed: rst)"
                                                                : "reached (open: syn-ack)")
                              : "not reached",
                   p->probes, p->resets);
        for (unsigned h = 0; h < p->nhops; h++) {
            const trace_hop *hp = &p->hops[h];
            if (hp->kind == TRACE_HOP_STAR) {
                ok &= outf(out, "%3u  *\n", h + 1);
                continue;
            }
            addr_str(r->family, hp->addr, a);
            ok &= outf(out, "%3u  %s  %u.%03u ms%s%s\n", h + 1, a, hp->rtt_us / 1000,
                       hp->rtt_us % 1000, hp->kind == TRACE_HOP_TIME_EXCEEDED ? "" : "  ",
                       hp->kind == TRACE_HOP_TIME_EXCEEDED ? "" : trace_hop_kind_name(hp->kind));
        }
    }
    unsigned pairs[TRACE_MAX_PORTS * TRACE_MAX_PORTS / 2][2];
    unsigned nd = trace_port_differences(r, last_n, pairs, MW_ARRAY_LEN(pairs));
    for (unsigned d = 0; d < nd; d++)
        ok &= outf(out, "ports %u and %u take different paths (last %u hops compared)\n",
                   r->ports[pairs[d][0]].port, r->ports[pairs[d][1]].port, last_n);
    return ok;
}
