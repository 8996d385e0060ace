#include "cap_decode.h"

#include <pcap/dlt.h>
#include <string.h>

#include "mw_cursor.h"

const char *const cap_anomaly_names[CAP_AN_COUNT] = {
#define X(n) #n,
    CAP_ANOMALIES(X)
#undef X
};

/* Link types libpcap may hand us without a DLT_ macro on every platform. */
#define LT_LINUX_SLL2 276
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_RAW 101

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

bool cap_linktype_supported(int dlt) {
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case LT_LINUX_SLL2:
    case DLT_RAW:
    case LT_RAW:
    case LT_IPV4:
    case LT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    default:
        return false;
    }
}

static mw_rc bad(cap_stats *st, int kind) {
    if (st) st->an[kind]++;
    return MW_MALFORMED;
}

static void pkt_reset(cap_pkt *pkt) {
    pkt->nvlan = 0;
    pkt->vlan[0] = pkt->vlan[1] = 0;
    pkt->l4proto = 0;
    pkt->payload = NULL;
    pkt->payload_len = 0;
    pkt->l4 = NULL;
    pkt->l4_len = 0;
    pkt->ip_hdr_len = 0;
    pkt->l4_partial = 0;
    pkt->frag = CAP_FRAG_NONE;
}

/* RFC 9293 section 3.1: data offset in 32-bit words, at least 5. */
static mw_rc decode_tcp(mw_cur c, cap_pkt *pkt, cap_stats *st) {
    uint8_t off_byte, flags;
    uint32_t hdr_len;
    mw_cur h = c;
    if (!mw_cur_get_u16(&h, &pkt->sport) || !mw_cur_get_u16(&h, &pkt->dport) ||
        !mw_cur_get_u32(&h, &pkt->seq) || !mw_cur_get_u32(&h, &pkt->ack) ||
        !mw_cur_get_u8(&h, &off_byte) || !mw_cur_get_u8(&h, &flags) ||
        !mw_cur_get_u16(&h, &pkt->win))
        return bad(st, CAP_AN_tcp_truncated);
    hdr_len = (uint32_t)(off_byte >> 4) * 4;
    if (hdr_len < 20)
        return bad(st, CAP_AN_tcp_bad_header);
    if (!mw_cur_skip(&c, hdr_len))
        return bad(st, CAP_AN_tcp_truncated);
    pkt->tcp_flags = flags;
    pkt->payload = c.data;
    pkt->payload_len = (uint32_t)c.len;
    return MW_OK;
}

/* The transport bytes: c is bounded by the IP length, want is that length (0: unknown). */
static void set_l4(mw_cur c, size_t want, cap_pkt *pkt) {
    pkt->l4 = c.data;
    pkt->l4_len = (uint32_t)c.len;
    if (want == 0 || c.len < want)
        pkt->l4_partial = 1;
}

/* RFC 768: an 8-byte header; nothing reads UDP, only its checksum is checked. */
static mw_rc decode_udp(mw_cur c, cap_pkt *pkt) {
    mw_cur h = c;
    if (!mw_cur_get_u16(&h, &pkt->sport) || !mw_cur_get_u16(&h, &pkt->dport))
        pkt->l4_partial = 1;
    return MW_NEED_MORE;
}

/* The transport of a datagram whose IP layer is decoded (t: after the IP headers, bounded by
 * the IP length; want: that length, 0 unknown): TCP decoded, UDP's ports for its checksum,
 * anything else MW_NEED_MORE. Fragments: TLS over fragmented TCP is rare; count and skip
 * rather than reassemble (and no l4: a fragment's checksum cannot be checked). */
static mw_rc decode_l4(mw_cur t, size_t want, cap_pkt *pkt, cap_stats *st) {
    if (pkt->frag != CAP_FRAG_NONE) {
        pkt->l4 = NULL;
        pkt->l4_len = 0;
        st->an[CAP_AN_ip_fragment]++;
        return MW_NEED_MORE;
    }
    set_l4(t, want, pkt);
    if (pkt->l4proto == 17)
        return decode_udp(t, pkt);
    if (pkt->l4proto != 6)
        return MW_NEED_MORE;
    return decode_tcp(t, pkt, st);
}

/* RFC 791. The IP total length bounds the payload: Ethernet padding is not TCP data. Sets the
 * l4 view; *want is what the total length says it should hold (0: unknown). */
static mw_rc ipv4_header(mw_cur c, cap_pkt *pkt, cap_stats *st, size_t *want) {
    uint8_t vihl, ttl, proto;
    uint16_t total, frag;
    mw_cur h = c;
    if (!mw_cur_get_u8(&h, &vihl) || !mw_cur_skip(&h, 1) || !mw_cur_get_u16(&h, &total) ||
        !mw_cur_skip(&h, 2) || !mw_cur_get_u16(&h, &frag) || !mw_cur_get_u8(&h, &ttl) ||
        !mw_cur_get_u8(&h, &proto) || !mw_cur_skip(&h, 2) || !mw_cur_copy(&h, pkt->src, 4) ||
        !mw_cur_copy(&h, pkt->dst, 4))
        return bad(st, CAP_AN_ip_truncated);
    size_t ihl = (size_t)(vihl & 15) * 4;
    if ((vihl >> 4) != 4 || ihl < 20 || total < ihl)
        return bad(st, CAP_AN_ip_bad_header);
    /* A capture with TSO/GRO can record total=0 for large frames: trust the caplen then. */
    if (total != 0 && total < c.len)
        c.len = total;
    pkt->l3 = c.data;
    pkt->l3_len = (uint32_t)c.len;
    if (!mw_cur_skip(&c, ihl))
        return bad(st, CAP_AN_ip_truncated);
    pkt->ip_hdr_len = (uint8_t)ihl;
    memset(pkt->src + 4, 0, 12);
    memset(pkt->dst + 4, 0, 12);
    pkt->ip_ver = 4;
    pkt->ttl = ttl;
    pkt->l4proto = proto;
    /* fragment offset (13 bits), then the more-fragments flag */
    pkt->frag = (frag & 0x1fff) != 0   ? CAP_FRAG_LATER
                : (frag & 0x2000) != 0 ? CAP_FRAG_FIRST
                                       : CAP_FRAG_NONE;
    pkt->l4 = c.data;
    pkt->l4_len = (uint32_t)c.len;
    *want = total != 0 ? (size_t)total - ihl : 0;
    return MW_OK;
}

static mw_rc decode_ipv4(mw_cur c, cap_pkt *pkt, cap_stats *st) {
    size_t want;
    MW_GUARD(ipv4_header(c, pkt, st, &want));
    return decode_l4(mw_cur_make(pkt->l4, pkt->l4_len), want, pkt, st);
}

/* RFC 8200 section 3: the fixed header, leaving c after it. */
static mw_rc ipv6_fixed(mw_cur *c, cap_pkt *pkt, uint16_t *plen, uint8_t *next, cap_stats *st) {
    uint32_t vtc;
    uint8_t hlim;
    if (!mw_cur_get_u32(c, &vtc) || !mw_cur_get_u16(c, plen) || !mw_cur_get_u8(c, next) ||
        !mw_cur_get_u8(c, &hlim) || !mw_cur_copy(c, pkt->src, 16) || !mw_cur_copy(c, pkt->dst, 16))
        return bad(st, CAP_AN_ip_truncated);
    if ((vtc >> 28) != 6)
        return bad(st, CAP_AN_ip_bad_header);
    pkt->ip_ver = 6;
    pkt->ttl = hlim;
    return MW_OK;
}

/* RFC 8200 section 4: walk the extension header chain to the upper-layer header. Sets the l4
 * view; *want is what the payload length says it should hold (0: unknown). */
static mw_rc ipv6_header(mw_cur c, cap_pkt *pkt, cap_stats *st, size_t *want) {
    mw_cur whole = c;
    uint16_t plen;
    uint8_t next;
    MW_GUARD(ipv6_fixed(&c, pkt, &plen, &next, st));
    if (plen != 0 && plen < c.len) /* plen 0: jumbogram or TSO capture */
        c.len = plen;
    pkt->l3 = whole.data;
    pkt->l3_len = (uint32_t)(c.len + 40);
    size_t after_fixed = c.len;
    pkt->frag = CAP_FRAG_NONE;
    for (int i = 0; i < 16 && pkt->frag == CAP_FRAG_NONE; i++) { /* a chain cannot loop */
        uint8_t nh, hl;
        switch (next) {
        case 0:  /* hop-by-hop */
        case 43: /* routing */
        case 60: /* destination options */ {
            uint8_t left;
            if (!mw_cur_get_u8(&c, &nh) || !mw_cur_get_u8(&c, &hl) ||
                !mw_cur_peek_u8(&c, 1, &left) || !mw_cur_skip(&c, (size_t)hl * 8 + 6))
                return bad(st, CAP_AN_ip_truncated);
            /* RFC 8200 8.1: with segments left, the pseudo-header's destination is the final
             * one, inside the routing header; such a packet is not yet at its receiver. */
            if (next == 43 && left != 0)
                pkt->l4_partial = 1;
            next = nh;
            continue;
        }
        case 51: /* AH: length in 4-octet units, minus 2 */
            if (!mw_cur_get_u8(&c, &nh) || !mw_cur_get_u8(&c, &hl) ||
                !mw_cur_skip(&c, ((size_t)hl + 2) * 4 - 2))
                return bad(st, CAP_AN_ip_truncated);
            next = nh;
            continue;
        case 44: { /* fragment */
            uint16_t off;
            if (!mw_cur_get_u8(&c, &nh) || !mw_cur_skip(&c, 1) || !mw_cur_get_u16(&c, &off) ||
                !mw_cur_skip(&c, 4))
                return bad(st, CAP_AN_ip_truncated);
            if ((off & 0xfff8) != 0) /* offset */
                pkt->frag = CAP_FRAG_LATER;
            else if ((off & 1) != 0) /* more fragments */
                pkt->frag = CAP_FRAG_FIRST;
            next = nh;
            continue;
        }
        default:
            break;
        }
        break;
    }
    pkt->l4proto = next;
    pkt->l4 = c.data;
    pkt->l4_len = (uint32_t)c.len;
    size_t ext = after_fixed - c.len; /* extension headers walked */
    *want = plen > ext ? (size_t)plen - ext : 0;
    return MW_OK;
}

static mw_rc decode_ipv6(mw_cur c, cap_pkt *pkt, cap_stats *st) {
    size_t want;
    MW_GUARD(ipv6_header(c, pkt, st, &want));
    return decode_l4(mw_cur_make(pkt->l4, pkt->l4_len), want, pkt, st);
}

static mw_rc decode_l3(uint16_t ethertype, mw_cur c, cap_pkt *pkt, cap_stats *st) {
    switch (ethertype) {
    case ETH_IPV4:
        return decode_ipv4(c, pkt, st);
    case ETH_IPV6:
        return decode_ipv6(c, pkt, st);
    default:
        return MW_NEED_MORE;
    }
}

/* Raw IP: the version nibble says which. */
static mw_rc decode_raw(mw_cur c, cap_pkt *pkt, cap_stats *st) {
    uint8_t v;
    if (!mw_cur_peek_u8(&c, 0, &v))
        return bad(st, CAP_AN_ip_truncated);
    if ((v >> 4) == 4)
        return decode_ipv4(c, pkt, st);
    if ((v >> 4) == 6)
        return decode_ipv6(c, pkt, st);
    return bad(st, CAP_AN_ip_bad_header);
}

static mw_rc decode_ether(mw_cur c, cap_pkt *pkt, cap_stats *st) {
    uint16_t et;
    if (!mw_cur_skip(&c, 12) || !mw_cur_get_u16(&c, &et))
        return bad(st, CAP_AN_link_truncated);
    /* 802.1Q / 802.1ad tags, QinQ and deeper stacks; the first two are recorded. */
    for (int i = 0; i < 8 && (et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD); i++) {
        uint16_t tci;
        if (!mw_cur_get_u16(&c, &tci) || !mw_cur_get_u16(&c, &et))
            return bad(st, CAP_AN_link_truncated);
        if (pkt->nvlan < 2)
            pkt->vlan[pkt->nvlan++] = tci & 0x0fff;
    }
    return decode_l3(et, c, pkt, st);
}

mw_rc cap_decode(int dlt, const uint8_t *frame, uint32_t caplen, cap_pkt *pkt, cap_stats *st) {
    mw_cur c = mw_cur_make(frame, caplen);
    pkt_reset(pkt);
    switch (dlt) {
    case DLT_EN10MB:
        return decode_ether(c, pkt, st);
    case DLT_LINUX_SLL: { /* 16-byte header, protocol type last */
        uint16_t et;
        if (!mw_cur_skip(&c, 14) || !mw_cur_get_u16(&c, &et))
            return bad(st, CAP_AN_link_truncated);
        return decode_l3(et, c, pkt, st);
    }
    case LT_LINUX_SLL2: { /* 20-byte header, protocol type first */
        uint16_t et;
        if (!mw_cur_get_u16(&c, &et) || !mw_cur_skip(&c, 18))
            return bad(st, CAP_AN_link_truncated);
        return decode_l3(et, c, pkt, st);
    }
    case DLT_RAW:
    case LT_RAW:
        return decode_raw(c, pkt, st);
    case LT_IPV4:
        return decode_ipv4(c, pkt, st);
    case LT_IPV6:
        return decode_ipv6(c, pkt, st);
    case DLT_NULL:
    case DLT_LOOP: {
        /* 4-byte address family, host byte order for NULL, network order for LOOP; the
         * values differ per BSD for IPv6 (24, 28, 30), so the IP version nibble decides. */
        if (!mw_cur_skip(&c, 4))
            return bad(st, CAP_AN_link_truncated);
        return decode_raw(c, pkt, st);
    }
    default:
        return bad(st, CAP_AN_link_unsupported);
    }
}

mw_rc cap_decode_ip(const uint8_t *l3, uint32_t len, cap_pkt *pkt, cap_stats *st) {
    mw_cur c = mw_cur_make(l3, len);
    uint8_t v;
    pkt_reset(pkt);
    if (!mw_cur_peek_u8(&c, 0, &v)) return bad(st, CAP_AN_ip_truncated);
    size_t want;
    mw_rc rc = (v >> 4) == 4   ? ipv4_header(c, pkt, st, &want)
               : (v >> 4) == 6 ? ipv6_header(c, pkt, st, &want)
                               : bad(st, CAP_AN_ip_bad_header);
    if (rc == MW_OK) /* l4_partial, as for cap_decode */
        set_l4(mw_cur_make(pkt->l4, pkt->l4_len), want, pkt);
    return rc;
}

mw_rc cap_decode_tcp(const uint8_t *seg, uint32_t len, cap_pkt *pkt, cap_stats *st) {
    return decode_tcp(mw_cur_make(seg, len), pkt, st);
}

mw_rc cap_decode_icmp(const uint8_t *msg, uint32_t len, cap_icmp *icmp) {
    mw_cur c = mw_cur_make(msg, len);
    icmp->whole = false;
    icmp->quote = NULL;
    icmp->quote_len = 0;
    if (!mw_cur_get_u8(&c, &icmp->type) || !mw_cur_get_u8(&c, &icmp->code)) return MW_MALFORMED;
    if (mw_cur_skip(&c, 6)) { /* checksum, and the 4 octets that depend on the type */
        icmp->whole = true;
        icmp->quote = c.data;
        icmp->quote_len = (uint32_t)c.len;
    }
    return MW_OK;
}

mw_rc cap_decode_quote(int ip_ver, const uint8_t *q, uint32_t len, cap_pkt *pkt, cap_stats *st) {
    mw_cur c = mw_cur_make(q, len);
    pkt_reset(pkt);
    if (ip_ver == 4) {
        size_t want;
        MW_GUARD(ipv4_header(c, pkt, st, &want));
    } else if (ip_ver == 6) {
        uint16_t plen;
        uint8_t next;
        MW_GUARD(ipv6_fixed(&c, pkt, &plen, &next, st));
        pkt->l3 = q;
        pkt->l3_len = len;
        pkt->l4proto = next;
        pkt->l4 = c.data;
        pkt->l4_len = (uint32_t)c.len;
    } else {
        return MW_ERR;
    }
    if (pkt->frag == CAP_FRAG_LATER || pkt->l4proto != 6) return MW_NEED_MORE;
    /* RFC 792: the first 8 octets of the original datagram's data, here the TCP ports and
     * sequence number */
    mw_cur t = mw_cur_make(pkt->l4, pkt->l4_len);
    if (!mw_cur_get_u16(&t, &pkt->sport) || !mw_cur_get_u16(&t, &pkt->dport) ||
        !mw_cur_get_u32(&t, &pkt->seq))
        return bad(st, CAP_AN_tcp_truncated);
    return MW_OK;
}
