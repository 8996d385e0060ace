#include "probe_trigger.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mw_community_id.h"

#define TLS13 0x0304

typedef struct {
    char key[300]; /* "service-name port"; "" free */
    uint64_t last_us;
} ptrig_slot;

struct ptrig {
    uint64_t interval_us;
    ptrig_slot slots[PTRIG_MAX_SERVICES];
    ev_trigger_stats st;
};

ptrig *ptrig_new(uint64_t interval_us) {
    ptrig *t = calloc(1, sizeof *t);
    if (t) t->interval_us = interval_us;
    return t;
}

void ptrig_free(ptrig *t) {
    free(t);
}

const ev_trigger_stats *ptrig_stats(const ptrig *t) {
    return &t->st;
}

static bool listed(const rule_verdict *v, const char *rule_id) {
    for (unsigned i = 0; v && i < v->n; i++)
        if (strcmp(v->rules[i], rule_id) == 0) return true;
    return false;
}

const char *ptrig_reason(const tls_hs *hs, const rule_verdict *v) {
    if (!hs->have_sh || hs->version != TLS13 || hs->nchain > 0) return NULL;
    if (listed(v, "tls.ja3s_changed")) return "tls.ja3s_changed";
    if (listed(v, "path.ttl_changed")) return "path.ttl_changed";
    return NULL;
}

/* May the service behind key have a fetch now? Takes its slot when it may. A full table
 * reuses the stalest slot that is past the interval; when none is, the trigger waits. */
static bool admit(ptrig *t, const char *key, uint64_t now_us) {
    ptrig_slot *free_slot = NULL, *stale = NULL;
    for (int i = 0; i < PTRIG_MAX_SERVICES; i++) {
        ptrig_slot *s = &t->slots[i];
        if (!s->key[0]) {
            if (!free_slot) free_slot = s;
            continue;
        }
        if (strcmp(s->key, key) == 0) {
            if (now_us >= s->last_us && now_us - s->last_us < t->interval_us) return false;
            s->last_us = now_us;
            return true;
        }
        if (now_us >= s->last_us && now_us - s->last_us >= t->interval_us &&
            (!stale || s->last_us < stale->last_us))
            stale = s;
    }
    ptrig_slot *s = free_slot ? free_slot : stale;
    if (!s) return false;
    snprintf(s->key, sizeof s->key, "%s", key);
    s->last_us = now_us;
    return true;
}

static void addr_text(const cap_flow *f, int side, char *out, size_t cap) {
    if (!inet_ntop(f->key.ip_ver == 4 ? AF_INET : AF_INET6, f->key.addr[side], out, (socklen_t)cap))
        snprintf(out, cap, "?");
}

ptrig_decision ptrig_decide(ptrig *t, const tls_hs *hs, const cap_flow *f, int client_side,
                            const rule_verdict *v, const pol_service *svc, const char *hs_id,
                            uint64_t now_us, ps_trigger_req *req) {
    const char *why = svc ? ptrig_reason(hs, v) : NULL;
    if (!why) return PTRIG_NONE;
    int ss = !client_side;
    char key[300];
    snprintf(key, sizeof key, "%s %u", svc->label ? svc->label : "?", f->key.port[ss]);
    if (!admit(t, key, now_us)) {
        t->st.rate_limited++;
        return PTRIG_LIMITED;
    }
    t->st.triggered++;
    memset(req, 0, sizeof *req);
    addr_text(f, ss, req->host, sizeof req->host);
    req->port = f->key.port[ss];
    const char *sni = hs->have_ch && hs->sni             ? hs->sni
                      : svc->name.kind == POL_NAME_EXACT ? svc->name.name
                                                         : "";
    snprintf(req->sni, sizeof req->sni, "%s", sni);
    if (!svc->starttls || !pcert_starttls_parse(svc->starttls, &req->starttls))
        req->starttls = PCERT_STARTTLS_NONE;
    ev_probe_trigger *tr = &req->trig;
    snprintf(tr->handshake_id, sizeof tr->handshake_id, "%s", hs_id);
    char cid[MW_COMMUNITY_ID_LEN];
    if (mw_community_id(cid, 0, f->key.ip_ver, f->key.addr[client_side], f->key.addr[ss], 6,
                        f->key.port[client_side], f->key.port[ss]))
        snprintf(tr->community_id, sizeof tr->community_id, "%s", cid);
    snprintf(tr->rule_id, sizeof tr->rule_id, "%s", why);
    snprintf(tr->service, sizeof tr->service, "%s", svc->label ? svc->label : "");
    addr_text(f, client_side, tr->client_ip, sizeof tr->client_ip);
    snprintf(tr->server_ip, sizeof tr->server_ip, "%s", req->host);
    tr->client_port = f->key.port[client_side];
    tr->server_port = req->port;
    return PTRIG_FETCH;
}

void ptrig_handshake(ptrig *t, probe_sched *ps, const rule_engine *re, const tls_hs *hs,
                     const cap_flow *f, int client_side, const rule_verdict *v, const char *hs_id) {
    if (!t || !ptrig_reason(hs, v)) return; /* the common case costs no service lookup */
    ps_trigger_req req;
    if (ptrig_decide(t, hs, f, client_side, v, rule_engine_service(re, hs, f, client_side), hs_id,
                     hs->ts_us, &req) == PTRIG_FETCH &&
        !ps_trigger(ps, &req))
        t->st.dropped++;
}
