#include "bl_baseline.h"
#include "bl_internal.h"
#include "mw_hostport.h"
#include "mw_msgpack.h"
#include "tls_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const dir_name[2] = {"client to server", "server to client"};

unsigned bl_hops(uint8_t ttl) {
    if (ttl <= 64) return 64u - ttl;
    if (ttl <= 128) return 128u - ttl;
    return 255u - ttl;
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

bl_state *bl_new(const bl_cfg *cfg) {
    bl_state *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = *cfg;
    if (!b->cfg.learn_flows) b->cfg.learn_flows = 10;
    if (!b->cfg.min_packets) b->cfg.min_packets = 2;
    if (!b->cfg.max_services) b->cfg.max_services = 65536;
    if (!b->cfg.accept_after) b->cfg.accept_after = 86400;
    uint32_t n = pow2_at_least(b->cfg.max_services * 2);
    b->svc = calloc(b->cfg.max_services, sizeof *b->svc);
    b->index = calloc(n, sizeof *b->index);
    b->index_mask = n - 1;
    for (int w = 0; w < 2; w++)
        b->recent[w][0] = b->recent[w][1] = BL_NIL;
    b->peers = calloc(n, sizeof *b->peers);
    b->peer_mask = n - 1;
    if (!b->svc || !b->index || !b->peers) {
        bl_free(b);
        return NULL;
    }
    return b;
}

void bl_free(bl_state *b) {
    if (!b) return;
    for (uint32_t i = 0; b->svc && i < b->nsvc; i++) {
        free(b->svc[i].pairs);
        free(b->svc[i].stack);
        free(b->svc[i].kinds);
    }
    free(b->svc);
    free(b->index);
    free(b->peers);
    free(b->traces);
    free(b);
}

static uint32_t mix(const uint8_t *p, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u; /* FNV-1a: keys are short */
    return h;
}

/* --- the service table (bl_state) ---------------------------------------------------------- */

static void recent_unlink(bl_state *b, uint32_t slot) {
    bl_svc *s = &b->svc[slot];
    uint32_t *ends = b->recent[s->watched];
    if (s->prev != BL_NIL)
        b->svc[s->prev].next = s->next;
    else
        ends[0] = s->next;
    if (s->next != BL_NIL)
        b->svc[s->next].prev = s->prev;
    else
        ends[1] = s->prev;
}

static void recent_push(bl_state *b, uint32_t slot) {
    bl_svc *s = &b->svc[slot];
    uint32_t *ends = b->recent[s->watched];
    s->prev = BL_NIL;
    s->next = ends[0];
    if (ends[0] != BL_NIL)
        b->svc[ends[0]].prev = slot;
    else
        ends[1] = slot;
    ends[0] = slot;
}

/* Removes index position i (a slot's entry) and shifts back the entries of its probe run
 * that can move closer to their home (Knuth 6.4, algorithm R): no tombstones. */
static void index_remove(bl_state *b, uint32_t i) {
    uint32_t m = b->index_mask;
    for (uint32_t j = i;;) {
        b->index[i] = 0;
        for (;;) {
            j = (j + 1) & m;
            if (!b->index[j]) return;
            uint32_t home = b->svc[b->index[j] - 1].hash & m;
            /* the entry at j may fill i unless its home lies cyclically in (i, j] */
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) break;
        }
        b->index[i] = b->index[j];
        i = j;
    }
}

/* Forgets the unwatched service seen least recently; its slot, or BL_NIL when every service is
 * watched. */
static uint32_t evict_one(bl_state *b) {
    uint32_t slot = b->recent[0][1];
    if (slot == BL_NIL) return BL_NIL;
    bl_svc *s = &b->svc[slot];
    uint32_t i = s->hash & b->index_mask;
    while (b->index[i] != slot + 1)
        i = (i + 1) & b->index_mask;
    index_remove(b, i);
    recent_unlink(b, slot);
    free(s->pairs);
    free(s->stack);
    free(s->kinds);
    memset(s, 0, sizeof *s);
    b->counts.evicted++;
    return slot;
}

bl_svc *bl_svc_get(bl_state *b, const uint8_t ip[16], uint8_t ver, uint16_t port, bool create,
                   bool watched) {
    uint32_t h = mix(ip, 16, 2166136261u);
    h = mix((const uint8_t *)&port, 2, h);
    uint32_t i = h & b->index_mask;
    for (; b->index[i]; i = (i + 1) & b->index_mask) {
        uint32_t slot = b->index[i] - 1;
        bl_svc *s = &b->svc[slot];
        if (s->hash == h && s->port == port && s->ver == ver && memcmp(s->ip, ip, 16) == 0) {
            recent_unlink(b, slot);
            if (watched) s->watched = 1;
            recent_push(b, slot);
            return s;
        }
    }
    if (!create) return NULL;
    uint32_t slot = b->nsvc;
    if (slot < b->cfg.max_services) {
        b->counts.services = ++b->nsvc;
    } else if ((slot = evict_one(b)) != BL_NIL) {
        /* the eviction may have shifted entries: find the free position again */
        for (i = h & b->index_mask; b->index[i]; i = (i + 1) & b->index_mask)
            ;
    } else {
        b->counts.full++;
        return NULL;
    }
    bl_svc *s = &b->svc[slot];
    s->used = 1;
    s->ver = ver;
    s->port = port;
    memcpy(s->ip, ip, 16);
    s->hash = h;
    s->watched = watched;
    b->index[i] = slot + 1;
    recent_push(b, slot);
    return s;
}

const bl_counts *bl_counts_get(const bl_state *b) {
    return &b->counts;
}

/* The peer table is a cache: a colliding pair replaces the old one. */
static bl_peer *peer_get(bl_state *b, const uint8_t client[16], const uint8_t server[16],
                         uint8_t ver) {
    uint32_t h = mix(server, 16, mix(client, 16, 2166136261u));
    bl_peer *p = &b->peers[h & b->peer_mask];
    if (!p->used || p->ver != ver || memcmp(p->client, client, 16) != 0 ||
        memcmp(p->server, server, 16) != 0) {
        memset(p, 0, sizeof *p);
        p->used = 1;
        p->ver = ver;
        memcpy(p->client, client, 16);
        memcpy(p->server, server, 16);
    }
    return p;
}

static bool hop_known(const bl_svc *s, int dir, unsigned hop, unsigned tol) {
    for (int i = 0; i < s->nhops[dir]; i++) {
        unsigned d = s->hops[dir][i] > hop ? s->hops[dir][i] - hop : hop - s->hops[dir][i];
        if (d <= tol) return true;
    }
    return false;
}

/* Counts one more connection showing value (len bytes) off the baseline; true when it is now
 * accepted (the caller learns it). */
static bool dev_seen(const bl_state *b, bl_dev *d, const uint8_t *value, size_t len,
                     uint64_t ts_us) {
    if (!d->on || memcmp(d->value, value, len) != 0) {
        memset(d, 0, sizeof *d);
        d->on = true;
        memcpy(d->value, value, len);
        d->since_us = ts_us;
    }
    d->flows++;
    if (d->flows >= b->cfg.learn_flows &&
        ts_us >= d->since_us + (uint64_t)b->cfg.accept_after * 1000000u) {
        memset(d, 0, sizeof *d);
        return true;
    }
    return false;
}

static void learn_hop(bl_svc *s, int dir, unsigned hop) {
    if (s->unstable[dir] || hop_known(s, dir, hop, 0)) return;
    if (s->nhops[dir] >= BL_MAX_HOPS) {
        s->unstable[dir] = true; /* too many paths to have an opinion */
        return;
    }
    s->hops[dir][s->nhops[dir]++] = (uint8_t)hop;
}

static bool hex16(const char *hex, uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return false;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static void hex_of(const uint8_t in[16], char out[33]) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[32] = '\0';
}

static void service_name(const bl_svc *s, char *out, size_t n) {
    mw_addr_port_str(s->ver, s->ip, s->port, out, n);
}

static void hops_json(const bl_svc *s, int dir, char *out, size_t n) {
    size_t len = (size_t)snprintf(out, n, "{\"direction\":\"%s\",\"hops\":[", dir_name[dir]);
    for (int i = 0; i < s->nhops[dir] && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%u", i ? "," : "", s->hops[dir][i]);
    if (len < n) snprintf(out + len, n - len, "]}");
}

static void judge_path(bl_state *b, bl_svc *s, bool learning, const unsigned hop[2],
                       const bool steady[2], uint64_t ts_us, bl_alert_fn fn, void *user) {
    char svc[80];
    service_name(s, svc, sizeof svc);
    for (int dir = 0; dir < 2; dir++) {
        if (!steady[dir]) continue;
        if (learning) {
            learn_hop(s, dir, hop[dir]);
            continue;
        }
        if (s->unstable[dir] || s->nhops[dir] == 0) continue;
        if (hop_known(s, dir, hop[dir], b->cfg.tolerance)) {
            s->dev[dir].on = false; /* the learned path came back: a change that comes and goes */
            continue;
        }
        uint8_t hv = (uint8_t)hop[dir];
        if (dev_seen(b, &s->dev[dir], &hv, 1, ts_us)) {
            learn_hop(s, dir, hop[dir]); /* accepted: the path changed for good */
            continue;
        }
        bl_alert a = {.rule_id = "path.ttl_changed", .severity = 3};
        snprintf(a.key, sizeof a.key, "%s %s %u", svc, dir_name[dir], hop[dir]);
        hops_json(s, dir, a.expected, sizeof a.expected);
        snprintf(a.observed, sizeof a.observed, "{\"direction\":\"%s\",\"hops\":%u}", dir_name[dir],
                 hop[dir]);
        snprintf(a.message, sizeof a.message,
                 "Packets %s on %s came from %u hop%s away, but this service's learned path is "
                 "%u hop%s: something on the path changed (an interception box re-originates "
                 "connections)",
                 dir_name[dir], svc, hop[dir], hop[dir] == 1 ? "" : "s", s->hops[dir][0],
                 s->hops[dir][0] == 1 ? "" : "s");
        fn(&a, user);
    }
}

/* One port of a server further away than every other port seen from the same client. */
static void judge_ports(bl_state *b, const bl_svc *s, const cap_flow *f, int client_side,
                        const unsigned hop[2], const bool steady[2], bl_alert_fn fn, void *user) {
    int server_side = !client_side;
    uint16_t port = f->key.port[server_side];
    bl_peer *p = peer_get(b, f->key.addr[client_side], f->key.addr[server_side], f->key.ip_ver);
    int me = -1;
    for (int i = 0; i < p->nports; i++)
        if (p->port[i] == port) me = i;
    if (me < 0) {
        if (p->nports >= BL_PAIR_PORTS) return;
        me = p->nports++;
        p->port[me] = port;
        p->alerted[me] = -1;
    }
    for (int dir = 0; dir < 2; dir++) {
        if (!steady[dir]) continue;
        uint8_t before = p->hop[me][dir];
        p->hop[me][dir] = (uint8_t)(hop[dir] + 1); /* 0 = unknown */
        /* A port that kept its hop count is not the odd one when another port moved away
         * (with two ports the comparison would otherwise blame both). */
        /* (a port blamed at this hop count stays blamed, and marked, while it stays there) */
        if (before == p->hop[me][dir] && p->alerted[me] != (int16_t)(hop[dir] * 2 + (unsigned)dir))
            continue;
        /* Nor is a port whose hop count its own finished baseline holds (learned in an earlier
         * run, from --state): the comparison's reference is only the order in which this run
         * saw the ports, and the port that did move is judged against its own baseline. */
        if (s && s->flows >= b->cfg.learn_flows && !s->unstable[dir] && s->nhops[dir] &&
            hop_known(s, dir, hop[dir], b->cfg.tolerance))
            continue;
        int others = 0;
        unsigned other_hop = 0;
        bool agree = true;
        char ports[128] = "";
        size_t pl = 0;
        for (int i = 0; i < p->nports; i++) {
            if (i == me || p->hop[i][dir] == 0) continue;
            unsigned h = p->hop[i][dir] - 1u;
            if (others++ == 0)
                other_hop = h;
            else if (h != other_hop)
                agree = false;
            if (pl < sizeof ports)
                pl += (size_t)snprintf(ports + pl, sizeof ports - pl, "%s%u", pl ? "," : "",
                                       p->port[i]);
        }
        unsigned d = hop[dir] > other_hop ? hop[dir] - other_hop : other_hop - hop[dir];
        if (others == 0 || !agree || d <= b->cfg.tolerance) {
            if (p->alerted[me] >= 0 && p->alerted[me] % 2 == dir)
                p->alerted[me] = -1; /* no longer the odd one in this direction */
            continue;
        }
        p->alerted[me] = (int16_t)(hop[dir] * 2 + (unsigned)dir);
        char srv[MW_ADDR_STRLEN];
        mw_addr_str(f->key.ip_ver, f->key.addr[server_side], srv);
        bl_alert a = {.rule_id = "path.ttl_changed", .severity = 3};
        snprintf(a.key, sizeof a.key, "%s:%u %s %u port", srv, port, dir_name[dir], hop[dir]);
        snprintf(a.expected, sizeof a.expected, "{\"direction\":\"%s\",\"hops\":%u,\"ports\":[%s]}",
                 dir_name[dir], other_hop, ports);
        snprintf(a.observed, sizeof a.observed, "{\"direction\":\"%s\",\"hops\":%u,\"port\":%u}",
                 dir_name[dir], hop[dir], port);
        snprintf(a.message, sizeof a.message,
                 "Port %u of %s is %u hop%s away (%s) while ports %s of the same host are %u: "
                 "a box on the path handles this port only",
                 port, srv, hop[dir], hop[dir] == 1 ? "" : "s", dir_name[dir], ports, other_hop);
        fn(&a, user);
    }
}

/* --- the server stack's choices ----------------------------------------------------------- */

/* Handshakes that set a client kind's answer and make a service's stack a reference: three, or
 * fewer when the learning window itself is shorter (--learn-flows). */
static uint32_t learn_ja3s(const bl_state *b) {
    return b->cfg.learn_flows < BL_LEARN_JA3S ? b->cfg.learn_flows : BL_LEARN_JA3S;
}

/* The values of field `field` (0-based, comma-separated) of a JA3 or JA3S string, decimal
 * values joined by '-' as our own analyzer writes them (analyzers/tls_fp.h); at most max kept.
 * False when the field is missing or not that shape. */
static bool ja3_field(const char *str, int field, uint16_t *out, unsigned max, unsigned *n) {
    *n = 0;
    if (!str) return false;
    for (; field > 0; str++) {
        if (*str == '\0') return false;
        if (*str == ',') field--;
    }
    while (*str && *str != ',') {
        uint32_t v = 0;
        unsigned digits = 0;
        for (; *str >= '0' && *str <= '9'; str++, digits++)
            if ((v = v * 10 + (uint32_t)(*str - '0')) > 0xffff) return false;
        if (!digits || (*str && *str != ',' && *str != '-')) return false;
        if (*n < max) out[(*n)++] = (uint16_t)v;
        if (*str == '-') str++;
    }
    return true;
}

static int ext_slot(uint16_t type) {
    return type < BL_EXT_SLOTS - 1 ? type : type == 65281 ? BL_EXT_SLOTS - 1 : -1;
}

static uint16_t slot_ext(int slot) {
    return slot == BL_EXT_SLOTS - 1 ? 65281 : (uint16_t)slot;
}

/* A suite's family: its key exchange and authentication, and its bulk cipher without key size
 * or hash ("ECDHE_RSA AES_GCM", "TLS13 CHACHA20_POLY1305"); false for an unnamed value. Built
 * with memcpy, not printf: it runs for every suite a client offers, on every handshake. The
 * result is cut at 31 characters as it always was. */
static bool cipher_family_of(uint16_t id, char out[32]) {
    const char *name = tls_cipher_name(id);
    if (!name || strncmp(name, "TLS_", 4) != 0) return false;
    name += 4;
    const char *with = strstr(name, "_WITH_");
    const char *bulk = with ? with + 6 : name;
    const char *kx = with ? name : "TLS13";
    size_t kxlen = with ? (size_t)(with - name) : 5;
    size_t len = kxlen + 1; /* the key exchange and a space, as far as they fit */
    size_t kept = kxlen < 31 ? kxlen : 31;
    memcpy(out, kx, kept);
    if (kept < 31) out[kept++] = ' ';
    out[kept] = '\0';
    bool first = true;
    while (*bulk && len < 31) {
        const char *end = strchr(bulk, '_');
        size_t tl = end ? (size_t)(end - bulk) : strlen(bulk);
        bool digits = strspn(bulk, "0123456789") >= tl;
        bool hash = !end && (strncmp(bulk, "SHA", 3) == 0 || strncmp(bulk, "MD5", 3) == 0);
        if (!digits && !hash && len + tl + 1 < 32) {
            if (!first) out[len++] = '_';
            memcpy(out + len, bulk, tl);
            len += tl;
            out[len] = '\0';
            first = false;
        }
        bulk += tl + (end ? 1 : 0);
    }
    return true;
}

/* cipher_family_of through a small direct-mapped memo (per thread: the workers share nothing
 * here): a client offers the same few dozen suites on every handshake. */
static bool cipher_family(uint16_t id, char out[32]) {
    static _Thread_local struct {
        uint16_t id;
        bool filled, named;
        char fam[32];
    } memo[256];
    unsigned slot = (id ^ (id >> 8)) & 255u;
    if (!memo[slot].filled || memo[slot].id != id) {
        memset(memo[slot].fam, 0, sizeof memo[slot].fam); /* as answer_of's zeroed family */
        memo[slot].named = cipher_family_of(id, memo[slot].fam);
        memo[slot].id = id;
        memo[slot].filled = true;
    }
    if (memo[slot].named) memcpy(out, memo[slot].fam, 32);
    return memo[slot].named;
}

static uint32_t family_hash(const char *fam) {
    return mix((const uint8_t *)fam, strlen(fam), 2166136261u);
}

/* What one full handshake shows of the server's choices and the client's offer. */
typedef struct {
    uint16_t version, offered_max;
    char family[32];
    bool have_family;
    uint16_t ext[BL_EXT_SLOTS]; /* the ServerHello's extensions in order */
    unsigned next;
    uint64_t ext_mask, offered_mask;
    uint32_t offered_fam[BL_OFFERED];
    unsigned noffered_fam;
} bl_answer;

static bool answer_of(const tls_hs *hs, bl_answer *an) {
    memset(an, 0, sizeof *an);
    uint16_t vals[256];
    unsigned n;
    if (hs->resumed || !hs->version ||
        !ja3_field(hs->ja3s_string, 2, an->ext, BL_EXT_SLOTS, &an->next))
        return false;
    an->version = hs->version;
    an->offered_max = hs->ch_version;
    an->have_family = cipher_family(hs->cipher, an->family);
    for (unsigned i = 0; i < an->next; i++) {
        int sl = ext_slot(an->ext[i]);
        if (sl >= 0) an->ext_mask |= 1ull << sl;
    }
    if (!ja3_field(hs->ja3_string, 2, vals, 256, &n)) return false;
    for (unsigned i = 0; i < n; i++) {
        int sl = ext_slot(vals[i]);
        if (sl >= 0) an->offered_mask |= 1ull << sl;
    }
    if (!ja3_field(hs->ja3_string, 1, vals, 256, &n)) return false;
    for (unsigned i = 0; i < n; i++) {
        char fam[32];
        /* only what could have been chosen at the negotiated version was passed over */
        if (!cipher_family(vals[i], fam) ||
            (strncmp(fam, "TLS13 ", 6) == 0) != (an->version == 0x0304))
            continue;
        uint32_t h = family_hash(fam);
        unsigned k;
        for (k = 0; k < an->noffered_fam && an->offered_fam[k] != h; k++)
            ;
        if (k == an->noffered_fam && k < BL_OFFERED) an->offered_fam[an->noffered_fam++] = h;
    }
    return true;
}

static void stack_merge(bl_stack *st, const bl_answer *an) {
    if (st->flows < UINT32_MAX) st->flows++;
    unsigned k;
    for (k = 0; k < st->nversions && st->versions[k] != an->version; k++)
        ;
    if (k == st->nversions && k < 4) st->versions[st->nversions++] = an->version;
    if (an->offered_max > st->max_offered) st->max_offered = an->offered_max;
    for (k = 0; k < st->nby_offer; k++)
        if (st->by_offer[k][0] == an->offered_max && st->by_offer[k][1] == an->version) break;
    if (k == st->nby_offer && k < 8) {
        st->by_offer[k][0] = an->offered_max;
        st->by_offer[k][1] = an->version;
        st->nby_offer++;
    }
    bl_class *c = &st->cls[an->version == 0x0304];
    if (c->flows < UINT32_MAX) c->flows++;
    if (an->have_family) {
        for (k = 0; k < c->nchosen && strcmp(c->chosen[k], an->family) != 0; k++)
            ;
        if (k == c->nchosen && k < BL_FAMILIES) memcpy(c->chosen[c->nchosen++], an->family, 32);
    }
    for (unsigned i = 0; i < an->noffered_fam; i++) {
        for (k = 0; k < c->noffered && c->offered[k] != an->offered_fam[i]; k++)
            ;
        if (k == c->noffered && k < BL_OFFERED) c->offered[c->noffered++] = an->offered_fam[i];
    }
    c->ext_sent |= an->ext_mask;
    c->ext_offered |= an->offered_mask;
    c->ext_omitted |= an->offered_mask & ~an->ext_mask;
    for (unsigned i = 0; i < an->next; i++)
        for (unsigned j = i + 1; j < an->next; j++) {
            int a = ext_slot(an->ext[i]), b = ext_slot(an->ext[j]);
            if (a >= 0 && b >= 0) c->before[a] |= 1ull << b;
        }
}

enum { DIFF_VERSION = 1, DIFF_CIPHER = 2, DIFF_EXT_NEW = 4, DIFF_EXT_MISSING = 8, DIFF_ORDER = 16 };

/* Which parts of an answer fall outside everything the service has answered, counting only what
 * the client's offer does not explain: a version never negotiated while clients offering the
 * same had another; a cipher family never chosen though clients offered it before; an extension
 * never sent though clients offered it, or extended_master_secret / renegotiation_info left out
 * though every client offering them got them; two extensions in the opposite order. */
static unsigned stack_diff(const bl_stack *st, const bl_answer *an, uint32_t min_flows) {
    unsigned d = 0;
    uint16_t vmax = 0;
    bool vknown = false;
    for (unsigned k = 0; k < st->nversions; k++) {
        vknown |= st->versions[k] == an->version;
        if (st->versions[k] > vmax) vmax = st->versions[k];
    }
    /* clients offering what this one offers got other versions; else, by the versions seen */
    bool same_offer = false, same_answer = false;
    for (unsigned k = 0; k < st->nby_offer; k++)
        if (st->by_offer[k][0] == an->offered_max) {
            same_offer = true;
            same_answer |= st->by_offer[k][1] == an->version;
        }
    if (same_offer ? !same_answer
                   : !vknown && ((an->version > vmax && st->max_offered >= an->version) ||
                                 (an->version < vmax && an->offered_max >= vmax)))
        d |= DIFF_VERSION;
    const bl_class *c = &st->cls[an->version == 0x0304];
    if (c->flows < min_flows) return d; /* nothing learned of this version's answers yet */
    if (an->have_family) {
        bool chosen = false, offered = false;
        uint32_t h = family_hash(an->family);
        for (unsigned k = 0; k < c->nchosen; k++)
            chosen |= strcmp(c->chosen[k], an->family) == 0;
        for (unsigned k = 0; k < c->noffered; k++)
            offered |= c->offered[k] == h;
        if (!chosen && offered) d |= DIFF_CIPHER;
    }
    if (an->ext_mask & ~c->ext_sent & c->ext_offered) d |= DIFF_EXT_NEW;
    uint64_t always = (1ull << 23 | 1ull << (BL_EXT_SLOTS - 1)) & c->ext_sent & ~c->ext_omitted;
    if (always & an->offered_mask & ~an->ext_mask) d |= DIFF_EXT_MISSING;
    for (unsigned i = 0; i < an->next; i++)
        for (unsigned j = i + 1; j < an->next; j++) {
            int a = ext_slot(an->ext[i]), b = ext_slot(an->ext[j]);
            if (a >= 0 && b >= 0 && (c->before[b] >> a & 1) && !(c->before[a] >> b & 1))
                d |= DIFF_ORDER;
        }
    return d;
}

static size_t json_versions(char *out, size_t n, const uint16_t *v, unsigned count) {
    size_t len = (size_t)snprintf(out, n, "[");
    for (unsigned i = 0; i < count && len < n; i++) {
        const char *name = tls_version_name(v[i]);
        len += (size_t)snprintf(out + len, n - len, "%s\"%s\"", i ? "," : "", name ? name : "?");
    }
    if (len < n) len += (size_t)snprintf(out + len, n - len, "]");
    return len < n ? len : n - 1;
}

static size_t json_exts(char *out, size_t n, uint64_t mask) {
    size_t len = (size_t)snprintf(out, n, "[");
    bool first = true;
    for (int sl = 0; sl < BL_EXT_SLOTS && len < n; sl++)
        if (mask >> sl & 1) {
            len += (size_t)snprintf(out + len, n - len, "%s%u", first ? "" : ",", slot_ext(sl));
            first = false;
        }
    if (len < n) len += (size_t)snprintf(out + len, n - len, "]");
    return len < n ? len : n - 1;
}

static void stack_alert(const bl_svc *s, const bl_stack *st, const bl_answer *an, unsigned d,
                        const tls_hs *hs, bl_alert_fn fn, void *user) {
    static const char *const part[] = {"version", "cipher_family", "extension_new",
                                       "extension_missing", "extension_order"};
    char svc[80], parts[128] = "", jparts[160] = "";
    size_t pl = 0, jl = 0;
    for (unsigned i = 0; i < 5; i++)
        if (d >> i & 1) {
            pl += (size_t)snprintf(parts + pl, sizeof parts - pl, "%s%s", pl ? ", " : "", part[i]);
            jl += (size_t)snprintf(jparts + jl, sizeof jparts - jl, "%s\"%s\"", jl ? "," : "",
                                   part[i]);
        }
    service_name(s, svc, sizeof svc);
    bl_alert a = {.rule_id = "tls.ja3s_changed", .severity = 2};
    snprintf(a.key, sizeof a.key, "%s %s %s", svc, hs->ja3, hs->ja3s);
    const bl_class *c = &st->cls[an->version == 0x0304];
    char *e = a.expected;
    size_t n = sizeof a.expected,
           len = (size_t)snprintf(
               e, n, "{\"ja3\":\"%s\",\"server_stack\":{\"flows\":%u,\"versions\":", hs->ja3,
               st->flows);
    len += json_versions(e + len, n - len, st->versions, st->nversions);
    len += (size_t)snprintf(e + len, n - len, ",\"cipher_families\":[");
    for (unsigned i = 0; i < c->nchosen && len < n; i++)
        len += (size_t)snprintf(e + len, n - len, "%s\"%s\"", i ? "," : "", c->chosen[i]);
    if (len < n) len += (size_t)snprintf(e + len, n - len, "],\"extensions\":");
    if (len < n) len += json_exts(e + len, n - len, c->ext_sent);
    if (len < n) snprintf(e + len, n - len, "}}");
    char *o = a.observed;
    n = sizeof a.observed;
    len = (size_t)snprintf(o, n,
                           "{\"ja3\":\"%s\",\"ja3s\":\"%s\",\"differs\":[%s],\"version\":", hs->ja3,
                           hs->ja3s, jparts);
    if (len < n) len += json_versions(o + len, n - len, &an->version, 1);
    if (len < n)
        len += (size_t)snprintf(o + len, n - len, ",\"cipher_family\":\"%s\",\"extensions\":[",
                                an->have_family ? an->family : "");
    for (unsigned i = 0; i < an->next && len < n; i++)
        len += (size_t)snprintf(o + len, n - len, "%s%u", i ? "," : "", an->ext[i]);
    if (len < n) snprintf(o + len, n - len, "]}");
    snprintf(a.message, sizeof a.message,
             "%s answered a client kind not seen before (JA3 %s) with a ServerHello unlike any "
             "it has sent to %u earlier client%s (differs in: %s): a different TLS stack is "
             "answering for this service",
             svc, hs->ja3, st->flows, st->flows == 1 ? "" : "s", parts);
    fn(&a, user);
}

/* The JA3S a client kind (JA3, resumed or not) is answered with is learned from its first
 * learn_ja3s(b) handshakes; a learned kind answered otherwise matches. While a kind is not
 * learned yet, its answers are judged against the service's stack (bl_stack). */
static void judge_ja3s(const bl_state *b, bl_svc *s, const tls_hs *hs, uint64_t ts_us,
                       bl_alert_fn fn, void *user) {
    uint8_t ja3[16], ja3s[16];
    if (!hs->have_ch || !hs->have_sh || !hex16(hs->ja3, ja3) || !hex16(hs->ja3s, ja3s)) return;
    if (!s->pairs && !(s->pairs = calloc(BL_MAX_JA3, sizeof *s->pairs))) return;
    bl_answer an;
    bool full = answer_of(hs, &an);
    if (full && !s->stack)
        s->stack = calloc(1, sizeof *s->stack); /* no memory: no stack reference */
    bl_stack *st = full ? s->stack : NULL;
    bl_pair *p = NULL;
    for (int i = 0; i < s->npairs; i++)
        if (memcmp(s->pairs[i].ja3, ja3, 16) == 0 && s->pairs[i].resumed == hs->resumed)
            p = &s->pairs[i];
    if (!p && s->npairs < BL_MAX_JA3) {
        p = &s->pairs[s->npairs++];
        memcpy(p->ja3, ja3, 16);
        p->resumed = hs->resumed;
    }
    bool known = false;
    for (int i = 0; p && i < p->n; i++)
        known |= memcmp(p->ja3s[i], ja3s, 16) == 0;
    bool pair_learned = p && p->n && p->seen >= learn_ja3s(b);
    if (known) {
        p->dev.on = false;
        if (p->seen < UINT8_MAX) p->seen++;
        if (st) stack_merge(st, &an);
        return;
    }
    if (!pair_learned) {
        /* a client kind not learned yet: the service's stack is the reference */
        unsigned d = st && st->flows >= learn_ja3s(b) ? stack_diff(st, &an, learn_ja3s(b)) : 0;
        if (d && !dev_seen(b, &st->dev, ja3s, 16, ts_us)) {
            stack_alert(s, st, &an, d, hs, fn, user);
            return;
        }
        if (p && p->n < BL_MAX_JA3S) {
            memcpy(p->ja3s[p->n++], ja3s, 16);
            p->seen++;
        }
        if (st) stack_merge(st, &an);
        return;
    }
    if (dev_seen(b, &p->dev, ja3s, 16, ts_us)) {
        if (p->n < BL_MAX_JA3S) memcpy(p->ja3s[p->n++], ja3s, 16);
        if (st) stack_merge(st, &an);
        return;
    }
    char svc[80], want[33];
    service_name(s, svc, sizeof svc);
    bl_alert a = {.rule_id = "tls.ja3s_changed", .severity = 2};
    snprintf(a.key, sizeof a.key, "%s %s %s", svc, hs->ja3, hs->ja3s);
    size_t len =
        (size_t)snprintf(a.expected, sizeof a.expected, "{\"ja3\":\"%s\",\"resumed\":%s,\"ja3s\":[",
                         hs->ja3, hs->resumed ? "true" : "false");
    for (int i = 0; i < p->n; i++) {
        hex_of(p->ja3s[i], want);
        len += (size_t)snprintf(a.expected + len, sizeof a.expected - len, "%s\"%s\"", i ? "," : "",
                                want);
    }
    snprintf(a.expected + len, sizeof a.expected - len, "]}");
    snprintf(a.observed, sizeof a.observed, "{\"ja3\":\"%s\",\"ja3s\":\"%s\"}", hs->ja3, hs->ja3s);
    hex_of(p->ja3s[0], want);
    snprintf(a.message, sizeof a.message,
             "%s answered a known client (JA3 %s) with JA3S %s instead of %s: a different TLS "
             "stack is answering for this service",
             svc, hs->ja3, hs->ja3s, want);
    fn(&a, user);
}

/* A failed handshake: a ClientHello, and no completed handshake after it (no ServerHello, an
 * alert, or the connection ended or was reset first). */
static const char *failure_of(const tls_hs *hs) {
    if (hs->alert_seen && hs->alert_level == 2)
        return hs->alert_from_server ? "alert from the server" : "alert from the client";
    if (!hs->have_sh) return "no ServerHello";
    return "ended before the handshake completed";
}

/* tls.handshake_failures: a client kind (JA3) that completed learn_ja3s(b) handshakes with this
 * service fails twice in a row; every further failure matches until one completes again. */
static void judge_failures(const bl_state *b, bl_svc *s, const tls_hs *hs, bl_alert_fn fn,
                           void *user) {
    uint8_t ja3[16];
    if (!hs->have_ch || !hex16(hs->ja3, ja3)) return;
    if (!s->kinds && !(s->kinds = calloc(BL_MAX_JA3, sizeof *s->kinds))) return;
    bl_kind *k = NULL;
    for (int i = 0; i < s->nkinds && !k; i++)
        if (memcmp(s->kinds[i].ja3, ja3, 16) == 0) k = &s->kinds[i];
    if (!k) {
        if (s->nkinds >= BL_MAX_JA3) return;
        k = &s->kinds[s->nkinds++];
        memcpy(k->ja3, ja3, 16);
    }
    if (hs->established) {
        if (k->completed < UINT32_MAX) k->completed++;
        k->failed = 0;
        return;
    }
    if (k->failed < UINT32_MAX) k->failed++;
    if (k->completed < learn_ja3s(b) || k->failed < 2) return;
    char svc[80], hex[33];
    service_name(s, svc, sizeof svc);
    bl_alert a = {.rule_id = "tls.handshake_failures", .severity = 3};
    snprintf(a.key, sizeof a.key, "%s %s", svc, hs->ja3);
    /* every kind of this service: which used to complete, which fail now */
    size_t el = (size_t)snprintf(a.expected, sizeof a.expected, "{\"completing\":[");
    size_t ol = (size_t)snprintf(a.observed, sizeof a.observed, "{\"failure\":\"%s\",\"failing\":[",
                                 failure_of(hs));
    unsigned nfail = 0;
    bool efirst = true, ofirst = true;
    for (int i = 0; i < s->nkinds; i++) {
        const bl_kind *o = &s->kinds[i];
        hex_of(o->ja3, hex);
        if (o->failed && el < sizeof a.expected && ol < sizeof a.observed) {
            nfail++;
            ol += (size_t)snprintf(a.observed + ol, sizeof a.observed - ol,
                                   "%s{\"ja3\":\"%s\",\"failed\":%u,\"completed\":%u}",
                                   ofirst ? "" : ",", hex, o->failed, o->completed);
            ofirst = false;
        } else if (!o->failed && o->completed && el < sizeof a.expected) {
            el += (size_t)snprintf(a.expected + el, sizeof a.expected - el,
                                   "%s{\"ja3\":\"%s\",\"completed\":%u}", efirst ? "" : ",", hex,
                                   o->completed);
            efirst = false;
        }
    }
    if (el < sizeof a.expected) snprintf(a.expected + el, sizeof a.expected - el, "]}");
    if (ol < sizeof a.observed) snprintf(a.observed + ol, sizeof a.observed - ol, "]}");
    snprintf(a.message, sizeof a.message,
             "Handshakes with %s now fail (%s) for a client kind (JA3 %s) that completed %u "
             "there before: %u failed in a row, %u client kind%s failing; an interceptor the "
             "clients reject, or a server that changed what it accepts",
             svc, failure_of(hs), hs->ja3, k->completed, k->failed, nfail, nfail == 1 ? "" : "s");
    fn(&a, user);
}

void bl_observe(bl_state *b, const tls_hs *hs, const cap_flow *f, int client_side, bool watched,
                bl_alert_fn fn, void *user) {
    int server_side = !client_side;
    bl_svc *s = bl_svc_get(b, f->key.addr[server_side], f->key.ip_ver, f->key.port[server_side],
                           true, watched);
    unsigned hop[2] = {bl_hops(f->ttl[client_side]), bl_hops(f->ttl[server_side])};
    bool steady[2] = {f->pkts[client_side] > 0 && f->ttl_stable[client_side] >= b->cfg.min_packets,
                      f->pkts[server_side] > 0 && f->ttl_stable[server_side] >= b->cfg.min_packets};
    judge_ports(b, s, f, client_side, hop, steady, fn, user);
    if (!s) return;
    bool learning = s->flows < b->cfg.learn_flows;
    judge_path(b, s, learning, hop, steady, hs->ts_us, fn, user);
    judge_ja3s(b, s, hs, hs->ts_us, fn, user);
    judge_failures(b, s, hs, fn, user);
    if (s->flows < UINT32_MAX) s->flows++;
}

uint16_t *bl_tls_best(bl_state *b, const cap_flow *f, int client_side, bool watched) {
    int server_side = !client_side;
    bl_svc *s = bl_svc_get(b, f->key.addr[server_side], f->key.ip_ver, f->key.port[server_side],
                           true, watched);
    return s ? &s->tls_best : NULL;
}

/* --- learned trace paths ------------------------------------------------------------------ */

bl_trace *bl_trace_find(const bl_state *b, const char *host, uint16_t port) {
    for (uint32_t i = 0; i < b->ntraces; i++)
        if (b->traces[i].set.port == port && strcmp(b->traces[i].host, host) == 0)
            return &b->traces[i];
    return NULL;
}

const trace_pathset *bl_trace_get(const bl_state *b, const char *host, uint16_t port) {
    const bl_trace *t = bl_trace_find(b, host, port);
    return t && t->set.n ? &t->set : NULL;
}

unsigned bl_trace_count(const bl_state *b) {
    return b->ntraces;
}

bool bl_trace_put(bl_state *b, const char *host, uint16_t port, const trace_pathset *set) {
    if (strlen(host) >= sizeof b->traces[0].host || set->n > TRACE_SET_MAX) return false;
    bl_trace *t = bl_trace_find(b, host, port);
    if (!t) {
        if (b->ntraces >= BL_MAX_TRACES) return false;
        if (b->ntraces == b->traces_cap) {
            uint32_t cap = b->traces_cap ? b->traces_cap * 2 : 16;
            bl_trace *n = realloc(b->traces, cap * sizeof *n);
            if (!n) return false;
            b->traces = n;
            b->traces_cap = cap;
        }
        t = &b->traces[b->ntraces++];
        snprintf(t->host, sizeof t->host, "%s", host);
    }
    t->set = *set;
    t->set.port = port;
    return true;
}
