/* Reply parsing for the TCP traceroute; see trace_reply.h. The IPv4, IPv6, TCP and ICMP headers
 * are decoded by capture/cap_decode.c, the decoder the passive side uses; what is left here is
 * which replies answer a SYN, and what they say about it. */
#include "trace_reply.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cap_decode.h"

/* Only headers are read, all within the first few hundred bytes of a packet, so bounding a
 * length to the decoder's 32 bits changes no result. */
static uint32_t len32(size_t len) {
    return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
}

/* A decoded TCP header (RFC 9293 3.1) as an answer to our SYN: a SYN-ACK or a RST+ACK
 * acknowledges our seq + 1. */
static void tcp_answer(const cap_pkt *t, trace_reply *out) {
    uint8_t fl = t->tcp_flags;
    out->lport = t->dport;
    out->rport = t->sport;
    out->seq = t->ack - 1;
    if ((fl & (CAP_TH_SYN | CAP_TH_ACK | CAP_TH_RST | CAP_TH_FIN)) == (CAP_TH_SYN | CAP_TH_ACK)) {
        out->kind = TRACE_R_SYNACK;
        out->rst_seq = t->ack;
    } else if ((fl & (CAP_TH_RST | CAP_TH_ACK | CAP_TH_SYN)) == (CAP_TH_RST | CAP_TH_ACK)) {
        out->kind = TRACE_R_RST; /* RFC 9293 3.10.7.1: a closed port answers RST, ack = seq+1 */
    } else {
        out->kind = TRACE_R_IGNORE;
    }
}

/* The IPv4 datagram a raw IPv4 socket returns: its IP layer, which must be version 4. Later
 * fragments carry no transport header and are not parsed (MW_NEED_MORE: ignored). */
static MW_WUR mw_rc outer_ip4(const uint8_t *pkt, size_t len, uint8_t proto, cap_pkt *ip) {
    MW_GUARD(cap_decode_ip(pkt, len32(len), ip, NULL));
    MW_ENSURE(ip->ip_ver == 4, MW_MALFORMED);
    if (ip->l4proto != proto || ip->frag == CAP_FRAG_LATER) return MW_NEED_MORE;
    return MW_OK;
}

mw_rc trace_parse_icmp4(const uint8_t *pkt, size_t len, trace_reply *out) {
    cap_pkt ip, q;
    cap_icmp icmp;
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    mw_rc rc = outer_ip4(pkt, len, IPPROTO_ICMP, &ip);
    if (rc != MW_OK) return rc == MW_NEED_MORE ? MW_OK : rc;
    MW_GUARD(cap_decode_icmp(ip.l4, ip.l4_len, &icmp));
    if (icmp.type == 11 && icmp.code == 0) /* code 1 is reassembly time exceeded: not about TTL */
        out->kind = TRACE_R_TIME_EXCEEDED;
    else if (icmp.type == 3)
        out->kind = TRACE_R_UNREACH;
    else
        return MW_OK;
    out->icmp_code = icmp.code;
    MW_ENSURE(icmp.whole, MW_MALFORMED);
    rc = cap_decode_quote(4, icmp.quote, icmp.quote_len, &q, NULL);
    if (rc == MW_NEED_MORE) { /* not a TCP segment, or not its first fragment: not ours */
        out->kind = TRACE_R_IGNORE;
        return MW_OK;
    }
    MW_GUARD(rc);
    out->lport = q.sport;
    out->rport = q.dport;
    out->seq = q.seq;
    memcpy(out->from, ip.src, 4);
    memcpy(out->peer, q.dst, 4);
    return MW_OK;
}

mw_rc trace_parse_icmp6(const uint8_t *msg, size_t len, const uint8_t from[16], trace_reply *out) {
    cap_pkt q;
    cap_icmp icmp;
    memset(out, 0, sizeof *out);
    out->family = AF_INET6;
    MW_GUARD(cap_decode_icmp(msg, len32(len), &icmp));
    /* RFC 4443 3.3 time exceeded (code 0: hop limit), 3.1 destination unreachable */
    if (icmp.type == 3 && icmp.code == 0)
        out->kind = TRACE_R_TIME_EXCEEDED;
    else if (icmp.type == 1)
        out->kind = TRACE_R_UNREACH;
    else
        return MW_OK;
    out->icmp_code = icmp.code;
    MW_ENSURE(icmp.whole, MW_MALFORMED);
    /* Our SYNs carry no extension headers, so a quote whose next header is not TCP is not
     * ours (cap_decode_quote does not walk them). */
    mw_rc rc = cap_decode_quote(6, icmp.quote, icmp.quote_len, &q, NULL);
    if (rc == MW_MALFORMED) return rc;
    memcpy(out->peer, q.dst, 16);
    if (rc == MW_NEED_MORE) {
        out->kind = TRACE_R_IGNORE;
        return MW_OK;
    }
    MW_GUARD(rc);
    out->lport = q.sport;
    out->rport = q.dport;
    out->seq = q.seq;
    memcpy(out->from, from, 16);
    return MW_OK;
}

mw_rc trace_parse_tcp4(const uint8_t *pkt, size_t len, trace_reply *out) {
    cap_pkt ip;
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    mw_rc rc = outer_ip4(pkt, len, IPPROTO_TCP, &ip);
    if (rc != MW_OK) return rc == MW_NEED_MORE ? MW_OK : rc;
    MW_GUARD(cap_decode_tcp(ip.l4, ip.l4_len, &ip, NULL));
    tcp_answer(&ip, out);
    memcpy(out->from, ip.src, 4);
    memcpy(out->peer, ip.src, 4);
    return MW_OK;
}

mw_rc trace_parse_tcp6(const uint8_t *seg, size_t len, const uint8_t from[16], trace_reply *out) {
    cap_pkt t;
    memset(out, 0, sizeof *out);
    out->family = AF_INET6;
    MW_GUARD(cap_decode_tcp(seg, len32(len), &t, NULL));
    tcp_answer(&t, out);
    memcpy(out->from, from, 16);
    memcpy(out->peer, from, 16);
    return MW_OK;
}
