#include "cap_decode.h"

#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#include "cap_csum.h"
#include "cap_defrag.h"
#include "mw_cursor.h"

const char *const cap_anomaly_names[CAP_AN_COUNT] = {
#define X(n) #n,
    CAP_ANOMALIES(X)
#undef X
};

const char *const cap_undecoded_names[CAP_UNDEC_COUNT] = {
#define X(n) #n,
    CAP_UNDECODED(X)
#undef X
};

uint64_t cap_stats_undecoded(const cap_stats *st, uint64_t by[CAP_UNDEC_COUNT]) {
    const uint64_t *a = st->an;
    uint64_t v[CAP_UNDEC_COUNT] = {
        [CAP_UNDEC_link_type] = a[CAP_AN_link_unsupported],
        [CAP_UNDEC_ethertype] = a[CAP_AN_ethertype_unsupported],
        [CAP_UNDEC_tunnel] = a[CAP_AN_encap_unsupported] + a[CAP_AN_encap_too_deep],
        [CAP_UNDEC_fragment] = a[CAP_AN_ip_fragment] + a[CAP_AN_ip_frag_dropped],
        [CAP_UNDEC_truncated] = a[CAP_AN_link_truncated] + a[CAP_AN_ip_truncated] +
                                a[CAP_AN_tcp_truncated] + a[CAP_AN_encap_truncated],
        [CAP_UNDEC_malformed] = a[CAP_AN_ip_bad_header] + a[CAP_AN_tcp_bad_header],
    };
    uint64_t total = 0;
    for (int i = 0; i < CAP_UNDEC_COUNT; i++) {
        total += v[i];
        if (by) by[i] = v[i];
    }
    return total;
}

size_t cap_encap_name(const cap_encap *e, char *out, size_t n) {
    static const char *const names[] = {
        [CAP_ENC_VLAN] = "vlan",
        [CAP_ENC_PPPOE] = "pppoe:session=",
        [CAP_ENC_MPLS] = "mpls:label=",
        [CAP_ENC_GRE] = "gre",
        [CAP_ENC_ERSPAN1] = "erspan1",
        [CAP_ENC_ERSPAN2] = "erspan2:session=",
        [CAP_ENC_ERSPAN3] = "erspan3:session=",
        [CAP_ENC_VXLAN] = "vxlan:vni=",
        [CAP_ENC_GENEVE] = "geneve:vni=",
        [CAP_ENC_IP4IN4] = "ipip:4in4",
        [CAP_ENC_IP6IN4] = "ipip:6in4",
        [CAP_ENC_IP4IN6] = "ipip:4in6",
        [CAP_ENC_IP6IN6] = "ipip:6in6",
    };
    const char *name =
        e->kind < sizeof names / sizeof names[0] && names[e->kind] ? names[e->kind] : "unknown";
    int w;
    if (e->kind == CAP_ENC_VLAN)
        w = snprintf(out, n, "vlan:%u", (unsigned)e->id);
    else if (e->kind == CAP_ENC_GRE && e->has_id)
        w = snprintf(out, n, "gre:key=%u", (unsigned)e->id);
    else if (e->has_id)
        w = snprintf(out, n, "%s%u", name, (unsigned)e->id);
    else
        w = snprintf(out, n, "%s", name);
    if (w < 0 || n == 0) return 0;
    return (size_t)w < n ? (size_t)w : n - 1;
}

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
#define ETH_PPPOE_SESSION 0x8864
#define ETH_MPLS 0x8847
#define ETH_MPLS_MC 0x8848
#define ETH_TEB 0x6558 /* transparent Ethernet bridging (GRE, Geneve) */
#define ETH_ERSPAN2 0x88be
#define ETH_ERSPAN3 0x22eb
#define PORT_VXLAN 4789  /* RFC 7348 5 */
#define PORT_GENEVE 6081 /* RFC 8926 3.3 */

/* One full decode: the packet, where to count, the reassembler (or NULL), and the running hash
 * of the encapsulation layers that becomes cap_pkt.ctx. */
typedef struct {
    cap_pkt *pkt;
    cap_stats *st;
    cap_defrag *df;
    uint64_t now_us;
    uint64_t ctx;
} dec;

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
    pkt->nencap = 0;
    pkt->tunneled = 0;
    pkt->nreasm = 0;
    pkt->ctx = 0;
    pkt->frag_mf = 0;
    pkt->frag_id = 0;
    pkt->frag_off = 0;
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
    if (hdr_len < 20) return bad(st, CAP_AN_tcp_bad_header);
    if (!mw_cur_skip(&c, hdr_len)) return bad(st, CAP_AN_tcp_truncated);
    pkt->tcp_flags = flags;
    pkt->payload = c.data;
    pkt->payload_len = (uint32_t)c.len;
    return MW_OK;
}

/* The transport bytes: c is bounded by the IP length, want is that length (0: unknown). */
static void set_l4(mw_cur c, size_t want, cap_pkt *pkt) {
    pkt->l4 = c.data;
    pkt->l4_len = (uint32_t)c.len;
    if (want == 0 || c.len < want) pkt->l4_partial = 1;
}

/* RFC 791. The IP total length bounds the payload: Ethernet padding is not TCP data. Sets the
 * l4 view; *want is what the total length says it should hold (0: unknown). */
static mw_rc ipv4_header(mw_cur c, cap_pkt *pkt, cap_stats *st, size_t *want) {
    uint8_t vihl, ttl, proto;
    uint16_t total, id, frag;
    mw_cur h = c;
    if (!mw_cur_get_u8(&h, &vihl) || !mw_cur_skip(&h, 1) || !mw_cur_get_u16(&h, &total) ||
        !mw_cur_get_u16(&h, &id) || !mw_cur_get_u16(&h, &frag) || !mw_cur_get_u8(&h, &ttl) ||
        !mw_cur_get_u8(&h, &proto) || !mw_cur_skip(&h, 2) || !mw_cur_copy(&h, pkt->src, 4) ||
        !mw_cur_copy(&h, pkt->dst, 4))
        return bad(st, CAP_AN_ip_truncated);
    size_t ihl = (size_t)(vihl & 15) * 4;
    if ((vihl >> 4) != 4 || ihl < 20 || (total != 0 && total < ihl)) return bad(st, CAP_AN_ip_bad_header);
    /* A capture with TSO/GRO can record total=0 for large frames: trust the caplen then. */
    if (total != 0 && total < c.len) c.len = total;
    pkt->l3 = c.data;
    pkt->l3_len = (uint32_t)c.len;
    if (!mw_cur_skip(&c, ihl)) return bad(st, CAP_AN_ip_truncated);
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
    pkt->frag_id = id;
    pkt->frag_off = (uint32_t)(frag & 0x1fff) * 8;
    pkt->frag_mf = (frag & 0x2000) != 0;
    pkt->l4 = c.data;
    pkt->l4_len = (uint32_t)c.len;
    *want = total != 0 ? (size_t)total - ihl : 0;
    return MW_OK;
}

/* RFC 8200 section 3: the fixed header, leaving c after it. */
static mw_rc ipv6_fixed(mw_cur *c, cap_pkt *pkt, uint16_t *plen, uint8_t *next, cap_stats *st) {
    uint32_t vtc;
    uint8_t hlim;
    if (!mw_cur_get_u32(c, &vtc) || !mw_cur_get_u16(c, plen) || !mw_cur_get_u8(c, next) ||
        !mw_cur_get_u8(c, &hlim) || !mw_cur_copy(c, pkt->src, 16) || !mw_cur_copy(c, pkt->dst, 16))
        return bad(st, CAP_AN_ip_truncated);
    if ((vtc >> 28) != 6) return bad(st, CAP_AN_ip_bad_header);
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
            if (next == 43 && left != 0) pkt->l4_partial = 1;
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
            uint32_t id;
            if (!mw_cur_get_u8(&c, &nh) || !mw_cur_skip(&c, 1) || !mw_cur_get_u16(&c, &off) ||
                !mw_cur_get_u32(&c, &id))
                return bad(st, CAP_AN_ip_truncated);
            pkt->frag_id = id;
            pkt->frag_off = off & 0xfff8u; /* 8-octet units in the upper 13 bits */
            pkt->frag_mf = off & 1;
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

/* A packet the decoder cannot see into: counted by why, not an error of the frame. */
static mw_rc undecoded(dec *d, int kind) {
    d->st->an[kind]++;
    return MW_NEED_MORE;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

/* The outer addresses of an IP tunnel, the same whichever way the packet goes. */
static uint64_t outer_addrs(const cap_pkt *p) {
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 16; i += 8) {
        uint64_t w;
        memcpy(&w, p->src + i, 8);
        a = mix(a, w);
        memcpy(&w, p->dst + i, 8);
        b = mix(b, w);
    }
    return a + b;
}

/* Records one layer. The context hash takes its kind, its id when that is the same in both
 * directions (not an MPLS label: each direction has its own path), and where given the outer
 * addresses. False (counted) when the stack is full. */
static bool push(dec *d, uint8_t kind, bool has_id, uint32_t id, uint64_t where) {
    cap_pkt *p = d->pkt;
    if (p->nencap >= CAP_ENCAP_MAX) {
        d->st->an[CAP_AN_encap_too_deep]++;
        return false;
    }
    cap_encap *e = &p->encap[p->nencap++];
    e->kind = kind;
    e->has_id = has_id;
    e->id = has_id ? id : 0;
    if (kind != CAP_ENC_VLAN) p->tunneled = 1;
    d->ctx = mix(d->ctx, (uint64_t)kind << 32 | (kind == CAP_ENC_MPLS ? 0 : e->id));
    if (where) d->ctx = mix(d->ctx, where);
    return true;
}

/* Before the packet a tunnel carries is decoded over the outer one's fields. */
static void inner_reset(cap_pkt *p) {
    p->l4proto = 0;
    p->payload = NULL;
    p->payload_len = 0;
    p->l4 = NULL;
    p->l4_len = 0;
    p->ip_hdr_len = 0;
    p->l4_partial = 0;
    p->frag = CAP_FRAG_NONE;
}

/* A tunnel endpoint, or a host reassembling fragments, drops an IPv4 datagram whose header
 * checksum (RFC 791) is wrong; the sensor must not look inside one either (cap_csum.h: an
 * insertion), unless checksums are not checked (--checksum off, or the automatic mode found
 * them unreliable). Counted as ip_bad_checksum. */
static bool outer_ok(dec *d) {
    const cap_pkt *p = d->pkt;
    if (p->ip_ver != 4 || d->st->csum.mode == CAP_CSUM_OFF ||
        d->st->csum.state == CAP_CSUM_DISABLED)
        return true;
    mw_cur h = mw_cur_make(p->l3, p->ip_hdr_len);
    uint32_t sum = 0;
    uint16_t w;
    while (mw_cur_get_u16(&h, &w))
        sum += w;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    if (sum == 0xffff) return true;
    d->st->an[CAP_AN_ip_bad_checksum]++;
    return false;
}

static mw_rc decode_ipv4(dec *d, mw_cur c);
static mw_rc decode_ipv6(dec *d, mw_cur c);
static mw_rc decode_ether(dec *d, mw_cur c, int trunc);
static mw_rc decode_ethertype(dec *d, uint16_t et, mw_cur c, int trunc);

/* An IP packet whose version the enclosing header does not give (MPLS, Geneve, raw links). */
static mw_rc decode_ip_any(dec *d, mw_cur c, int trunc) {
    uint8_t v;
    if (!mw_cur_peek_u8(&c, 0, &v)) return bad(d->st, trunc);
    if ((v >> 4) == 4) return decode_ipv4(d, c);
    if ((v >> 4) == 6) return decode_ipv6(d, c);
    return bad(d->st, CAP_AN_ip_bad_header);
}

/* IP in IP (RFC 2003, RFC 4213 3.5 "6in4", RFC 2473): the inner version is the protocol. */
static mw_rc decode_ip_in_ip(dec *d, mw_cur c, int inner) {
    cap_pkt *p = d->pkt;
    uint8_t kind = p->ip_ver == 4 ? (inner == 4 ? CAP_ENC_IP4IN4 : CAP_ENC_IP6IN4)
                                  : (inner == 4 ? CAP_ENC_IP4IN6 : CAP_ENC_IP6IN6);
    uint8_t v;
    if (!mw_cur_peek_u8(&c, 0, &v)) return bad(d->st, CAP_AN_encap_truncated);
    if ((v >> 4) != inner) return undecoded(d, CAP_AN_encap_unsupported);
    if (!push(d, kind, false, 0, outer_addrs(p))) return MW_NEED_MORE;
    inner_reset(p);
    return inner == 4 ? decode_ipv4(d, c) : decode_ipv6(d, c);
}

/* ERSPAN (draft-foschiano-erspan-03) inside GRE. Type II (GRE 0x88be with a sequence number),
 * 8 octets: Ver(4)=1 VLAN(12) COS(3) En(2) T(1) Session ID(10), Reserved(12) Index(20).
 * Type III (0x22eb), 12 octets: Ver(4)=2 VLAN(12) COS(3) BSO(2) T(1) Session ID(10),
 * Timestamp(32), SGT(16) P(1) FT(5) Hw ID(6) D(1) Gra(2) O(1), then 8 octets of
 * platform-specific subheader when O is set. FT 0 is an Ethernet frame, 2 an IP packet.
 * Type I (0x88be without sequence number) has no header at all. */
static mw_rc decode_erspan(dec *d, mw_cur c, uint16_t proto, bool seq, uint64_t where) {
    uint32_t a, b, x;
    if (proto == ETH_ERSPAN2 && !seq) {
        if (!push(d, CAP_ENC_ERSPAN1, false, 0, where)) return MW_NEED_MORE;
        inner_reset(d->pkt);
        return decode_ether(d, c, CAP_AN_encap_truncated);
    }
    if (!mw_cur_get_u32(&c, &a) || !mw_cur_get_u32(&c, &b))
        return bad(d->st, CAP_AN_encap_truncated);
    uint32_t ver = a >> 28, session = a & 0x3ff;
    if (proto == ETH_ERSPAN2) {
        if (ver != 1) return undecoded(d, CAP_AN_encap_unsupported);
        if (!push(d, CAP_ENC_ERSPAN2, true, session, where)) return MW_NEED_MORE;
        inner_reset(d->pkt);
        return decode_ether(d, c, CAP_AN_encap_truncated);
    }
    if (!mw_cur_get_u32(&c, &x)) return bad(d->st, CAP_AN_encap_truncated);
    if ((x & 1) && !mw_cur_skip(&c, 8)) return bad(d->st, CAP_AN_encap_truncated);
    uint32_t ft = (x >> 10) & 0x1f;
    if (ver != 2 || (ft != 0 && ft != 2)) return undecoded(d, CAP_AN_encap_unsupported);
    if (!push(d, CAP_ENC_ERSPAN3, true, session, where)) return MW_NEED_MORE;
    inner_reset(d->pkt);
    return ft == 0 ? decode_ether(d, c, CAP_AN_encap_truncated)
                   : decode_ip_any(d, c, CAP_AN_encap_truncated);
}

/* GRE, RFC 2784 with RFC 2890's key and sequence number: C(1) R(1) K(1) S(1) s(1) Recur(3)
 * Flags(5) Ver(3), Protocol Type(16), then Checksum + Reserved (C or R), Key (K), Sequence
 * Number (S). Version 1 (PPTP) and source routing (R, RFC 1701) are not decoded. */
static mw_rc decode_gre(dec *d, mw_cur c) {
    uint16_t fl, proto;
    uint32_t key = 0;
    if (!mw_cur_get_u16(&c, &fl) || !mw_cur_get_u16(&c, &proto))
        return bad(d->st, CAP_AN_encap_truncated);
    if ((fl & 7) != 0 || (fl & 0x4000)) return undecoded(d, CAP_AN_encap_unsupported);
    bool has_key = (fl & 0x2000) != 0, seq = (fl & 0x1000) != 0;
    if (((fl & 0x8000) && !mw_cur_skip(&c, 4)) || (has_key && !mw_cur_get_u32(&c, &key)) ||
        (seq && !mw_cur_skip(&c, 4)))
        return bad(d->st, CAP_AN_encap_truncated);
    uint64_t where = outer_addrs(d->pkt);
    if (proto == ETH_ERSPAN2 || proto == ETH_ERSPAN3) return decode_erspan(d, c, proto, seq, where);
    if (!push(d, CAP_ENC_GRE, has_key, key, where)) return MW_NEED_MORE;
    inner_reset(d->pkt);
    if (proto == ETH_TEB) return decode_ether(d, c, CAP_AN_encap_truncated);
    return decode_ethertype(d, proto, c, CAP_AN_encap_truncated);
}

/* VXLAN, RFC 7348 5: Flags(8) with I (0x08) set, Reserved(24), VNI(24), Reserved(8), then an
 * Ethernet frame. */
static mw_rc decode_vxlan(dec *d, mw_cur c) {
    uint8_t flags;
    uint32_t vni;
    if (!mw_cur_get_u8(&c, &flags) || !mw_cur_skip(&c, 3) || !mw_cur_get_u32(&c, &vni))
        return bad(d->st, CAP_AN_encap_truncated);
    if (!(flags & 0x08)) return undecoded(d, CAP_AN_encap_unsupported);
    if (!push(d, CAP_ENC_VXLAN, true, vni >> 8, outer_addrs(d->pkt))) return MW_NEED_MORE;
    inner_reset(d->pkt);
    return decode_ether(d, c, CAP_AN_encap_truncated);
}

/* Geneve, RFC 8926 3.4: Ver(2)=0 Opt Len(6) O(1) C(1) Rsvd(6) Protocol Type(16), VNI(24)
 * Reserved(8), then Opt Len 4-octet words of options, skipped. */
static mw_rc decode_geneve(dec *d, mw_cur c) {
    uint8_t vo, flags;
    uint16_t proto;
    uint32_t vni;
    if (!mw_cur_get_u8(&c, &vo) || !mw_cur_get_u8(&c, &flags) || !mw_cur_get_u16(&c, &proto) ||
        !mw_cur_get_u32(&c, &vni) || !mw_cur_skip(&c, (size_t)(vo & 0x3f) * 4))
        return bad(d->st, CAP_AN_encap_truncated);
    if ((vo >> 6) != 0) return undecoded(d, CAP_AN_encap_unsupported);
    if (!push(d, CAP_ENC_GENEVE, true, vni >> 8, outer_addrs(d->pkt))) return MW_NEED_MORE;
    inner_reset(d->pkt);
    if (proto == ETH_TEB) return decode_ether(d, c, CAP_AN_encap_truncated);
    return decode_ethertype(d, proto, c, CAP_AN_encap_truncated);
}

/* RFC 768: an 8-byte header. Nothing reads UDP itself (its checksum is checked), but the
 * tunnels on their IANA ports are decoded. */
static mw_rc decode_udp(dec *d, mw_cur c) {
    mw_cur h = c;
    cap_pkt *pkt = d->pkt;
    if (!mw_cur_get_u16(&h, &pkt->sport) || !mw_cur_get_u16(&h, &pkt->dport)) {
        pkt->l4_partial = 1;
        return MW_NEED_MORE;
    }
    if ((pkt->dport == PORT_VXLAN || pkt->dport == PORT_GENEVE) && mw_cur_skip(&h, 4)) {
        if (!outer_ok(d)) return MW_MALFORMED;
        return pkt->dport == PORT_VXLAN ? decode_vxlan(d, h) : decode_geneve(d, h);
    }
    return MW_NEED_MORE;
}

/* A fragment: to the reassembler, and the datagram it completes decoded in its place. At most
 * two reassemblies a frame (an outer and a tunnelled datagram), one per output buffer. */
static mw_rc decode_frag(dec *d, mw_cur t, size_t want) {
    cap_pkt *p = d->pkt;
    p->l4 = NULL;
    p->l4_len = 0;
    if (!d->df)
        return undecoded(d, CAP_AN_ip_fragment);       /* a fragment's checksum cannot be
                                                          checked: no l4 */
    if (p->nreasm >= 2 || (want != 0 && t.len < want)) /* nested too deep, or cut by snaplen */
        return undecoded(d, CAP_AN_ip_frag_dropped);
    if (!outer_ok(d)) return MW_MALFORMED;
    cap_frag f;
    memset(&f, 0, sizeof f);
    f.ip_ver = p->ip_ver;
    f.proto = p->l4proto;
    f.ttl = p->ttl;
    f.id = p->frag_id;
    f.ctx = (uint32_t)d->ctx;
    memcpy(f.src, p->src, 16);
    memcpy(f.dst, p->dst, 16);
    const uint8_t *out = NULL;
    uint32_t out_len = 0;
    if (cap_defrag_add(d->df, &f, p->frag_off, t.data, (uint32_t)t.len, p->frag_mf, d->now_us, &out,
                       &out_len, d->st) != MW_OK)
        return MW_NEED_MORE; /* held, or dropped and counted */
    p->nreasm++;
    inner_reset(p);
    mw_cur r = mw_cur_make(out, out_len);
    return f.ip_ver == 4 ? decode_ipv4(d, r) : decode_ipv6(d, r);
}

/* The transport of a datagram whose IP layer is decoded (t: after the IP headers, bounded by
 * the IP length; want: that length, 0 unknown): TCP decoded, UDP's ports for its checksum and
 * its tunnels, the IP tunnels, anything else MW_NEED_MORE. */
static mw_rc decode_l4(dec *d, mw_cur t, size_t want) {
    cap_pkt *pkt = d->pkt;
    if (pkt->frag != CAP_FRAG_NONE) return decode_frag(d, t, want);
    set_l4(t, want, pkt);
    switch (pkt->l4proto) {
    case 6:
        return decode_tcp(t, pkt, d->st);
    case 17:
        return decode_udp(d, t);
    case 4: /* IPv4 */
        return outer_ok(d) ? decode_ip_in_ip(d, t, 4) : MW_MALFORMED;
    case 41: /* IPv6 */
        return outer_ok(d) ? decode_ip_in_ip(d, t, 6) : MW_MALFORMED;
    case 47: /* GRE */
        return outer_ok(d) ? decode_gre(d, t) : MW_MALFORMED;
    default:
        return MW_NEED_MORE;
    }
}

static mw_rc decode_ipv4(dec *d, mw_cur c) {
    size_t want;
    uint8_t hi, lo;
    MW_GUARD(ipv4_header(c, d->pkt, d->st, &want));
    /* total length 0: TSO, the length taken from the frame as Wireshark does */
    if (mw_cur_peek_u8(&c, 2, &hi) && mw_cur_peek_u8(&c, 3, &lo) && hi == 0 && lo == 0)
        d->st->an[CAP_AN_ip_total_length_zero]++;
    return decode_l4(d, mw_cur_make(d->pkt->l4, d->pkt->l4_len), want);
}

static mw_rc decode_ipv6(dec *d, mw_cur c) {
    size_t want;
    MW_GUARD(ipv6_header(c, d->pkt, d->st, &want));
    return decode_l4(d, mw_cur_make(d->pkt->l4, d->pkt->l4_len), want);
}

/* RFC 3032 2.1: 4-octet label stack entries, Label(20) TC(3) S(1) TTL(8), until S. What
 * follows has no type field: an IP version nibble says IP; a first nibble 0 is the RFC 4385
 * pseudowire control word before an Ethernet frame; otherwise an Ethernet frame without it
 * when its EtherType is plausible (Wireshark's heuristic too). */
static bool ether_plausible(mw_cur c) {
    uint8_t hi, lo;
    if (!mw_cur_peek_u8(&c, 12, &hi) || !mw_cur_peek_u8(&c, 13, &lo)) return false;
    uint16_t et = (uint16_t)(hi << 8 | lo);
    return et == ETH_IPV4 || et == ETH_IPV6 || et == ETH_VLAN || et == ETH_QINQ || et == ETH_MPLS ||
           et == 0x0806;
}

static mw_rc decode_mpls(dec *d, mw_cur c) {
    for (;;) {
        uint32_t e;
        if (!mw_cur_get_u32(&c, &e)) return bad(d->st, CAP_AN_encap_truncated);
        if (!push(d, CAP_ENC_MPLS, true, e >> 12, 0)) return MW_NEED_MORE;
        if (e & 0x100) break; /* bottom of stack */
    }
    uint8_t v;
    if (!mw_cur_peek_u8(&c, 0, &v)) return bad(d->st, CAP_AN_encap_truncated);
    if ((v >> 4) == 4) return decode_ipv4(d, c);
    if ((v >> 4) == 6) return decode_ipv6(d, c);
    mw_cur cw = c;
    if ((v >> 4) == 0 && mw_cur_skip(&cw, 4) && ether_plausible(cw))
        return decode_ether(d, cw, CAP_AN_encap_truncated);
    if (ether_plausible(c)) return decode_ether(d, c, CAP_AN_encap_truncated);
    return undecoded(d, CAP_AN_encap_unsupported);
}

/* PPP protocol field (RFC 1661 2, compressed to one octet when odd, RFC 1661 6.5). The
 * control protocols (0x8000 and up: LCP, the NCPs, authentication) carry no user data. */
static mw_rc decode_ppp(dec *d, mw_cur c) {
    uint8_t b;
    uint16_t proto;
    if (!mw_cur_peek_u8(&c, 0, &b)) return bad(d->st, CAP_AN_encap_truncated);
    if (b & 1) {
        proto = b;
        if (!mw_cur_skip(&c, 1)) return bad(d->st, CAP_AN_encap_truncated);
    } else if (!mw_cur_get_u16(&c, &proto)) {
        return bad(d->st, CAP_AN_encap_truncated);
    }
    switch (proto) {
    case 0x0021:
        return decode_ipv4(d, c);
    case 0x0057:
        return decode_ipv6(d, c);
    case 0x0281:
        return decode_mpls(d, c);
    default:
        return proto >= 0x8000 ? MW_NEED_MORE : undecoded(d, CAP_AN_ethertype_unsupported);
    }
}

/* PPPoE session stage, RFC 2516 4: VER(4)=1 TYPE(4)=1 CODE(8)=0 SESSION_ID(16) LENGTH(16),
 * then the PPP frame; the length bounds it (Ethernet padding is not data). */
static mw_rc decode_pppoe(dec *d, mw_cur c) {
    uint8_t vt, code;
    uint16_t sid, len;
    if (!mw_cur_get_u8(&c, &vt) || !mw_cur_get_u8(&c, &code) || !mw_cur_get_u16(&c, &sid) ||
        !mw_cur_get_u16(&c, &len))
        return bad(d->st, CAP_AN_encap_truncated);
    if (vt != 0x11 || code != 0) return undecoded(d, CAP_AN_encap_unsupported);
    if (len < c.len) c.len = len;
    if (!push(d, CAP_ENC_PPPOE, true, sid, 0)) return MW_NEED_MORE;
    return decode_ppp(d, c);
}

/* EtherTypes of protocols with no user data to see: not counted as undecoded. Below 0x0600 the
 * field is an 802.3 length (LLC: STP, CDP...). */
static bool ethertype_control(uint16_t et) {
    switch (et) {
    case 0x0806: /* ARP */
    case 0x0842: /* Wake-on-LAN */
    case 0x8035: /* RARP */
    case 0x8808: /* Ethernet flow control */
    case 0x8809: /* slow protocols (LACP) */
    case 0x8863: /* PPPoE discovery */
    case 0x888e: /* EAPOL */
    case 0x88cc: /* LLDP */
    case 0x88f7: /* PTP */
    case 0x8902: /* CFM */
    case 0x9000: /* loopback */
        return true;
    default:
        return et < 0x0600;
    }
}

/* What an EtherType (or Linux cooked protocol, GRE or Geneve protocol type) announces; VLAN
 * tags (802.1Q, 802.1ad, the old 0x9100) of any depth first, the first two also in vlan[]. */
static mw_rc decode_ethertype(dec *d, uint16_t et, mw_cur c, int trunc) {
    cap_pkt *pkt = d->pkt;
    while (et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD) {
        uint16_t tci;
        if (!mw_cur_get_u16(&c, &tci) || !mw_cur_get_u16(&c, &et)) return bad(d->st, trunc);
        if (!push(d, CAP_ENC_VLAN, true, tci & 0x0fff, 0)) return MW_NEED_MORE;
        if (pkt->nvlan < 2) pkt->vlan[pkt->nvlan++] = tci & 0x0fff;
    }
    switch (et) {
    case ETH_IPV4:
        return decode_ipv4(d, c);
    case ETH_IPV6:
        return decode_ipv6(d, c);
    case ETH_PPPOE_SESSION:
        return decode_pppoe(d, c);
    case ETH_MPLS:
    case ETH_MPLS_MC:
        return decode_mpls(d, c);
    default:
        return ethertype_control(et) ? MW_NEED_MORE : undecoded(d, CAP_AN_ethertype_unsupported);
    }
}

static mw_rc decode_ether(dec *d, mw_cur c, int trunc) {
    uint16_t et;
    if (!mw_cur_skip(&c, 12) || !mw_cur_get_u16(&c, &et)) return bad(d->st, trunc);
    return decode_ethertype(d, et, c, trunc);
}

static mw_rc decode_link(dec *d, int dlt, mw_cur c) {
    switch (dlt) {
    case DLT_EN10MB:
        return decode_ether(d, c, CAP_AN_link_truncated);
    case DLT_LINUX_SLL: { /* 16-byte header, protocol type last */
        uint16_t et;
        if (!mw_cur_skip(&c, 14) || !mw_cur_get_u16(&c, &et))
            return bad(d->st, CAP_AN_link_truncated);
        return decode_ethertype(d, et, c, CAP_AN_link_truncated);
    }
    case LT_LINUX_SLL2: { /* 20-byte header, protocol type first */
        uint16_t et;
        if (!mw_cur_get_u16(&c, &et) || !mw_cur_skip(&c, 18))
            return bad(d->st, CAP_AN_link_truncated);
        return decode_ethertype(d, et, c, CAP_AN_link_truncated);
    }
    case DLT_RAW:
    case LT_RAW:
        return decode_ip_any(d, c, CAP_AN_ip_truncated);
    case LT_IPV4:
        return decode_ipv4(d, c);
    case LT_IPV6:
        return decode_ipv6(d, c);
    case DLT_NULL:
    case DLT_LOOP:
        /* 4-byte address family, host byte order for NULL, network order for LOOP; the
         * values differ per BSD for IPv6 (24, 28, 30), so the IP version nibble decides. */
        if (!mw_cur_skip(&c, 4)) return bad(d->st, CAP_AN_link_truncated);
        return decode_ip_any(d, c, CAP_AN_ip_truncated);
    default:
        return bad(d->st, CAP_AN_link_unsupported);
    }
}

mw_rc cap_decode_df(cap_defrag *df, uint64_t ts_us, int dlt, const uint8_t *frame, uint32_t caplen,
                    cap_pkt *pkt, cap_stats *st) {
    dec d = {pkt, st, df, ts_us, 0};
    pkt_reset(pkt);
    mw_rc rc = decode_link(&d, dlt, mw_cur_make(frame, caplen));
    if (pkt->tunneled) {
        uint32_t h = (uint32_t)(d.ctx ^ (d.ctx >> 32));
        pkt->ctx = h ? h : 1;
        st->tunneled++;
    }
    return rc;
}

mw_rc cap_decode(int dlt, const uint8_t *frame, uint32_t caplen, cap_pkt *pkt, cap_stats *st) {
    return cap_decode_df(NULL, 0, dlt, frame, caplen, pkt, st);
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
