#include "cap_pcapng.h"

#include <stdlib.h>
#include <string.h>

#include "mw_cursor.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u /* obsolete Packet Block */
#define BT_SPB 3u
#define BT_EPB 6u
#define OPT_TSRESOL 9
#define OPT_TSOFFSET 14

typedef struct {
    int dlt;
    uint32_t snaplen;
    uint64_t units; /* timestamp units per second */
    int64_t offset_s;
} iface;

struct cap_pcapng {
    FILE *f;
    bool be, section;
    uint32_t nif;
    iface ifs[CAP_PCAPNG_MAX_IFACES];
    uint8_t *buf; /* the current block: grown to the largest block read, at most MAX_BLOCK */
    size_t cap;
};

#define BUF_FIRST (64u << 10)

/* Room for a block body of n bytes (n <= CAP_PCAPNG_MAX_BLOCK). The buffer grows by doubling
 * and is capped: a file of small blocks never holds the 16 MiB a block may declare. */
static bool room(cap_pcapng *r, size_t n) {
    if (n <= r->cap) return true;
    size_t nc = r->cap ? r->cap : BUF_FIRST;
    while (nc < n)
        nc *= 2;
    if (nc > CAP_PCAPNG_MAX_BLOCK) nc = CAP_PCAPNG_MAX_BLOCK;
    uint8_t *nb = realloc(r->buf, nc);
    if (!nb) return false;
    r->buf = nb;
    r->cap = nc;
    return true;
}

/* The section's byte order on top of the big-endian cursor. */
static bool get32(mw_cur *c, bool be, uint32_t *v) {
    if (!mw_cur_get_u32(c, v)) return false;
    if (!be) *v = (*v >> 24) | ((*v >> 8) & 0xff00u) | ((*v << 8) & 0xff0000u) | (*v << 24);
    return true;
}

static bool get16(mw_cur *c, bool be, uint16_t *v) {
    if (!mw_cur_get_u16(c, v)) return false;
    if (!be) *v = (uint16_t)((*v >> 8) | (*v << 8));
    return true;
}

static uint32_t raw32(const uint8_t b[4], bool be) {
    uint32_t v;
    mw_cur c = mw_cur_make(b, 4);
    return get32(&c, be, &v) ? v : 0;
}

/* Byte-order magic 0x1A2B3C4D as written: which order the section uses. */
static bool section_order(const uint8_t bom[4], bool *be) {
    if (raw32(bom, true) == 0x1A2B3C4Du) {
        *be = true;
        return true;
    }
    if (raw32(bom, false) == 0x1A2B3C4Du) {
        *be = false;
        return true;
    }
    return false;
}

bool cap_pcapng_mixed(FILE *f, int *first_dlt) {
    uint8_t h[12];
    bool be = true, seen = false, mixed = false;
    long pos = 0;
    *first_dlt = -1;
    while (!mixed && fseek(f, pos, SEEK_SET) == 0 && fread(h, 1, 12, f) == 12) {
        uint32_t type = raw32(h, be);
        if (type == BT_SHB && !section_order(h + 8, &be)) break;
        if (type != BT_SHB && pos == 0) break; /* not pcapng */
        uint32_t len = raw32(h + 4, be);
        if (len < 12 || len % 4 != 0 || len > CAP_PCAPNG_MAX_BLOCK) break;
        if (type == BT_IDB) {
            uint16_t lt = (uint16_t)(be ? (h[8] << 8 | h[9]) : (h[9] << 8 | h[8]));
            if (!seen)
                *first_dlt = lt;
            else if (lt != *first_dlt)
                mixed = true;
            seen = true;
        }
        pos += (long)len;
    }
    rewind(f);
    return mixed;
}

cap_pcapng *cap_pcapng_open(FILE *f) {
    cap_pcapng *r = calloc(1, sizeof *r);
    if (!r || !room(r, BUF_FIRST)) {
        free(r);
        fclose(f);
        return NULL;
    }
    r->f = f;
    return r;
}

void cap_pcapng_close(cap_pcapng *r) {
    if (!r) return;
    fclose(r->f);
    free(r->buf);
    free(r);
}

/* RFC-style option list: code(2) length(2) value padded to 4; opt_endofopt (0) ends it. */
static bool parse_idb(cap_pcapng *r, mw_cur c, char *err, size_t errlen) {
    uint16_t lt, resv, code, olen;
    uint32_t snap;
    if (!get16(&c, r->be, &lt) || !get16(&c, r->be, &resv) || !get32(&c, r->be, &snap)) {
        snprintf(err, errlen, "pcapng interface block too short");
        return false;
    }
    if (r->nif >= CAP_PCAPNG_MAX_IFACES) {
        snprintf(err, errlen, "more than %d pcapng interfaces", CAP_PCAPNG_MAX_IFACES);
        return false;
    }
    iface *i = &r->ifs[r->nif];
    i->dlt = lt;
    i->snaplen = snap;
    i->units = 1000000;
    i->offset_s = 0;
    while (get16(&c, r->be, &code) && get16(&c, r->be, &olen) && code != 0) {
        mw_cur v;
        if (!mw_cur_get_bytes(&c, olen, &v) || !mw_cur_skip(&c, (4 - olen % 4) % 4)) break;
        uint8_t res;
        if (code == OPT_TSRESOL && olen == 1 && mw_cur_get_u8(&v, &res)) {
            unsigned e = res & 0x7f;
            if ((res & 0x80) ? e > 63 : e > 19) {
                snprintf(err, errlen, "pcapng if_tsresol %u out of range", (unsigned)res);
                return false;
            }
            uint64_t u = 1;
            for (unsigned k = 0; k < e; k++)
                u *= (res & 0x80) ? 2 : 10;
            i->units = u;
        } else if (code == OPT_TSOFFSET && olen == 8) {
            uint32_t a, b;
            if (get32(&v, r->be, &a) && get32(&v, r->be, &b))
                i->offset_s = (int64_t)(r->be ? ((uint64_t)a << 32 | b) : ((uint64_t)b << 32 | a));
        }
    }
    r->nif++;
    return true;
}

/* libpcap's conversion: whole seconds, then the fraction scaled to microseconds, truncated. */
static uint64_t to_us(const iface *i, uint32_t hi, uint32_t lo) {
    uint64_t t = (uint64_t)hi << 32 | lo;
    uint64_t sec = t / i->units, frac = t % i->units;
    uint64_t us = (uint64_t)((unsigned __int128)frac * 1000000u / i->units);
    return (uint64_t)((int64_t)sec + i->offset_s) * 1000000u + us;
}

int cap_pcapng_next(cap_pcapng *r, int *dlt, uint64_t *ts_us, const uint8_t **data,
                    uint32_t *caplen, uint32_t *wire_len, char *err, size_t errlen) {
    for (;;) {
        uint8_t h[12];
        size_t got = fread(h, 1, 8, r->f);
        if (got == 0) return 0;
        if (got < 8) goto truncated;
        bool shb = raw32(h, true) == BT_SHB;
        if (shb) {
            if (fread(h + 8, 1, 4, r->f) != 4) goto truncated;
            if (!section_order(h + 8, &r->be)) {
                snprintf(err, errlen, "pcapng section with a bad byte-order magic");
                return -1;
            }
            r->section = true;
            r->nif = 0;
        } else if (!r->section) {
            snprintf(err, errlen, "not a pcapng file");
            return -1;
        }
        uint32_t type = raw32(h, r->be), len = raw32(h + 4, r->be);
        size_t head = shb ? 12 : 8;
        if (len < 12 + (shb ? 4u : 0u) || len % 4 != 0 || len > CAP_PCAPNG_MAX_BLOCK) {
            snprintf(err, errlen, "pcapng block of bad length %u", (unsigned)len);
            return -1;
        }
        size_t rest = len - head;
        if (!room(r, rest)) {
            snprintf(err, errlen, "out of memory for a pcapng block of %u bytes", (unsigned)len);
            return -1;
        }
        if (fread(r->buf, 1, rest, r->f) != rest) goto truncated;
        if (raw32(r->buf + rest - 4, r->be) != len) {
            snprintf(err, errlen, "pcapng block lengths differ");
            return -1;
        }
        mw_cur c = mw_cur_make(r->buf, rest - 4);
        uint32_t ifid = 0, hi = 0, lo = 0, cl = 0, ol = 0;
        switch (type) {
        case BT_SHB:
            continue;
        case BT_IDB:
            if (!parse_idb(r, c, err, errlen)) return -1;
            continue;
        case BT_EPB:
            if (!get32(&c, r->be, &ifid) || !get32(&c, r->be, &hi) || !get32(&c, r->be, &lo) ||
                !get32(&c, r->be, &cl) || !get32(&c, r->be, &ol))
                goto bad;
            break;
        case BT_PB: {
            uint16_t id16, drops;
            if (!get16(&c, r->be, &id16) || !get16(&c, r->be, &drops) || !get32(&c, r->be, &hi) ||
                !get32(&c, r->be, &lo) || !get32(&c, r->be, &cl) || !get32(&c, r->be, &ol))
                goto bad;
            ifid = id16;
            break;
        }
        case BT_SPB:
            /* no interface id (the first) and no timestamp; captured length is what fits */
            if (!get32(&c, r->be, &ol) || r->nif == 0) goto bad;
            cl = ol;
            if (r->ifs[0].snaplen && cl > r->ifs[0].snaplen) cl = r->ifs[0].snaplen;
            if (cl > c.len) cl = (uint32_t)c.len;
            break;
        default:
            continue;
        }
        if (ifid >= r->nif || cl > c.len) goto bad;
        *dlt = r->ifs[ifid].dlt;
        *ts_us = type == BT_SPB ? 0 : to_us(&r->ifs[ifid], hi, lo);
        *data = c.data;
        *caplen = cl;
        *wire_len = ol < cl ? cl : ol;
        return 1;
    bad:
        snprintf(err, errlen, "malformed pcapng packet block");
        return -1;
    }
truncated:
    snprintf(err, errlen, "the file ends inside a pcapng block");
    return -1;
}
