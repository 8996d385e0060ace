#include "cap_csum.h"

#include <string.h>

#include "mw_cursor.h"

#define OFFLOAD_MIN 8u     /* pattern packets before the offload state */
#define MOSTLY_BAD_MIN 32u /* other failures before giving up early */
#define CLEAN_MIN 64u      /* clean packets before validating early */

enum verdict { V_GOOD, V_OFFLOAD, V_BAD_IP, V_BAD_L4, V_UNKNOWN };

bool cap_csum_mode_parse(const char *s, cap_csum_mode *out) {
    static const char *const names[] = {"auto", "on", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (cap_csum_mode)i;
            return true;
        }
    }
    return false;
}

const char *cap_csum_mode_name(cap_csum_mode m) {
    return m == CAP_CSUM_ON ? "on" : m == CAP_CSUM_OFF ? "off" : "auto";
}

const char *cap_csum_state_name(cap_csum_state s) {
    switch (s) {
    case CAP_CSUM_SAMPLING:
        return "sampling";
    case CAP_CSUM_VALIDATING:
        return "validating";
    case CAP_CSUM_OFFLOAD:
        return "offload";
    default:
        return "off";
    }
}

void cap_csum_init(cap_stats *st, cap_csum_mode m) {
    memset(&st->csum, 0, sizeof st->csum);
    st->csum.mode = (uint8_t)m;
    st->csum.state = m == CAP_CSUM_AUTO ? CAP_CSUM_SAMPLING
                     : m == CAP_CSUM_ON ? CAP_CSUM_VALIDATING
                                        : CAP_CSUM_DISABLED;
}

/* RFC 1071 one's-complement sum, accumulated in host order (the sum is byte-order independent
 * up to a final swap): 8 bytes a step, each as two 32-bit halves so that a packet's 64 KiB
 * cannot overflow the 64-bit accumulator; the tail of fewer than 8 bytes zero-padded. Every
 * read is inside the cursor's bytes (c.len bounds the loop). */
static uint64_t sum_native(mw_cur c) {
    uint64_t acc = 0;
    const uint8_t *p = c.data;
    size_t n = c.len;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        acc += (v & 0xffffffffu) + (v >> 32);
    }
    if (n) {
        uint8_t last[8] = {0};
        memcpy(last, p, n);
        uint64_t v;
        memcpy(&v, last, 8);
        acc += (v & 0xffffffffu) + (v >> 32);
    }
    return acc;
}

/* Folds a host-order sum to 16 bits and returns it as a network-order value. */
static uint16_t fold(uint64_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    uint16_t h = (uint16_t)acc;
    uint8_t b[2];
    memcpy(b, &h, 2);
    return (uint16_t)((b[0] << 8) | b[1]);
}

/* The pseudo-header of RFC 9293 3.1 (IPv4) or RFC 8200 8.1 (IPv6). */
static uint64_t pseudo_sum(const cap_pkt *p) {
    uint8_t ph[40];
    size_t n;
    uint32_t len = p->l4_len;
    if (p->ip_ver == 4) {
        memcpy(ph, p->src, 4);
        memcpy(ph + 4, p->dst, 4);
        ph[8] = 0;
        ph[9] = p->l4proto;
        ph[10] = (uint8_t)(len >> 8);
        ph[11] = (uint8_t)len;
        n = 12;
    } else {
        memcpy(ph, p->src, 16);
        memcpy(ph + 16, p->dst, 16);
        ph[32] = (uint8_t)(len >> 24);
        ph[33] = (uint8_t)(len >> 16);
        ph[34] = (uint8_t)(len >> 8);
        ph[35] = (uint8_t)len;
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = p->l4proto;
        n = 40;
    }
    return sum_native(mw_cur_make(ph, n));
}

static enum verdict classify(const cap_pkt *p) {
    if (p->ip_ver == 4 && p->ip_hdr_len >= 20 && p->l3_len >= p->ip_hdr_len &&
        fold(sum_native(mw_cur_make(p->l3, p->ip_hdr_len))) != 0xffff)
        return V_BAD_IP;
    if (p->l4_partial) return V_UNKNOWN;
    mw_cur c = mw_cur_make(p->l4, p->l4_len);
    uint16_t field;
    bool tcp = p->l4proto == 6;
    if (!mw_cur_skip(&c, tcp ? 16 : 6) || !mw_cur_get_u16(&c, &field)) return V_UNKNOWN;
    if (!tcp && field == 0)
        return p->ip_ver == 4 ? V_GOOD : V_BAD_L4; /* RFC 768: none; RFC 8200 8.1: required */
    uint64_t ps = pseudo_sum(p);
    if (fold(ps + sum_native(mw_cur_make(p->l4, p->l4_len))) == 0xffff) return V_GOOD;
    return field == fold(ps) ? V_OFFLOAD : V_BAD_L4;
}

static void decide(cap_csum_stats *cs) {
    uint32_t n = cs->sampled, off = cs->sample_offload, bad = cs->sample_bad;
    if (off >= OFFLOAD_MIN && off * 10u > n)
        cs->state = CAP_CSUM_OFFLOAD;
    else if ((bad >= MOSTLY_BAD_MIN && bad * 2u > n) ||
             (n >= CAP_CSUM_SAMPLE && (bad + off) * 10u > n))
        cs->state = CAP_CSUM_DISABLED;
    else if ((n >= CLEAN_MIN && off == 0 && bad * 10u < n) || n >= CAP_CSUM_SAMPLE)
        cs->state = CAP_CSUM_VALIDATING;
}

static bool drop(const cap_pkt *p, enum verdict v, cap_stats *st) {
    if (v == V_BAD_IP)
        st->an[CAP_AN_ip_bad_checksum]++;
    else if (p->l4proto == 6)
        st->an[CAP_AN_tcp_bad_checksum]++;
    else
        st->an[CAP_AN_udp_bad_checksum]++;
    return false;
}

bool cap_csum_accept(const cap_pkt *p, cap_stats *st) {
    cap_csum_stats *cs = &st->csum;
    if (cs->state == CAP_CSUM_DISABLED || (p->l4proto != 6 && p->l4proto != 17) || !p->l4)
        return true;
    enum verdict v = classify(p);
    if (v == V_UNKNOWN) {
        cs->unverified++;
        return true;
    }
    switch (cs->state) {
    case CAP_CSUM_SAMPLING:
        cs->sampled++;
        if (v == V_OFFLOAD)
            cs->sample_offload++;
        else if (v != V_GOOD)
            cs->sample_bad++;
        decide(cs);
        if (v == V_GOOD || v == V_OFFLOAD || cs->state == CAP_CSUM_DISABLED)
            return true; /* the packet that turned checking off is not held against it */
        return drop(p, v, st);
    case CAP_CSUM_OFFLOAD:
        return v == V_GOOD || v == V_OFFLOAD ? true : drop(p, v, st);
    default: /* validating */
        return v == V_GOOD ? true : drop(p, v, st);
    }
}
