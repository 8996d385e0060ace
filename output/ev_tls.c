#include "ev_tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "an_ndpi.h"
#include "ev_x509.h"
#include "mw_community_id.h"
#include "mw_ecs.h"
#include "mw_encode.h"
#include "mw_hash.h"
#include "mw_hostport.h"
#include "tls_names.h"

void ev_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind, const char *dataset,
             int severity) {
    mw_ecs_head_outcome(j, ctx->observer, ts_us, kind, dataset, severity, NULL);
}

void ev_head_outcome(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
                     const char *dataset, const char *outcome) {
    mw_ecs_head_outcome(j, ctx->observer, ts_us, kind, dataset, 0, outcome);
}

static void endpoint(mw_json *j, const char *key, const cap_flow *f, int side) {
    char ip[MW_ADDR_STRLEN];
    mw_addr_str(f->key.ip_ver, f->key.addr[side], ip);
    mw_json_kobj(j, key);
    mw_json_kstr(j, "ip", ip);
    mw_json_kuint(j, "port", f->key.port[side]);
    mw_json_obj_end(j);
}

void ev_flow(mw_json *j, const cap_flow *f, int client_side, const char *protocol,
             const char *application) {
    int server_side = !client_side;
    char cid[MW_COMMUNITY_ID_LEN];
    endpoint(j, "source", f, client_side);
    endpoint(j, "destination", f, server_side);
    mw_json_kobj(j, "network");
    mw_json_kstr(j, "transport", "tcp");
    mw_json_kstr(j, "type", f->key.ip_ver == 4 ? "ipv4" : "ipv6");
    mw_json_kstr(j, "protocol", protocol ? protocol : "tls");
    if (application) mw_json_kstr(j, "application", application);
    if (mw_community_id(cid, 0, f->key.ip_ver, f->key.addr[client_side], f->key.addr[server_side],
                        6 /* TCP */, f->key.port[client_side], f->key.port[server_side]))
        mw_json_kstr(j, "community_id", cid);
    mw_json_kuint(j, "ttl", f->ttl[server_side]);
    if (f->key.vlan[0]) {
        mw_json_kobj(j, "vlan");
        mw_json_kuint(j, "id", f->key.vlan[0]);
        mw_json_obj_end(j);
    }
    if (f->key.vlan[1]) {
        mw_json_kobj(j, "inner");
        mw_json_kobj(j, "vlan");
        mw_json_kuint(j, "id", f->key.vlan[1]);
        mw_json_obj_end(j);
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j);
}

void ev_encapsulation(mw_json *j, const cap_flow *f) {
    if (!f || f->nencap == 0) return;
    mw_json_karr(j, "encapsulation");
    for (int i = 0; i < f->nencap && i < CAP_ENCAP_MAX; i++) {
        char name[48];
        cap_encap_name(&f->encap[i], name, sizeof name);
        mw_json_str(j, name);
    }
    mw_json_arr_end(j);
}

const char *ev_protocol(const tls_hs *hs) {
    /* After STARTTLS mitmwatch knows the protocol from its own dialogue; everything else it
     * reports is TLS on the wire, whatever application nDPI recognised inside. */
    return hs->app_protocol ? hs->app_protocol : "tls";
}

const char *ev_application(const tls_hs *hs) {
    /* nDPI's "tls" names no application: network.protocol already says it */
    if (!hs->ndpi_protocol[0] || !strcasecmp(hs->ndpi_protocol, "tls")) return NULL;
    return hs->ndpi_protocol;
}

void ev_handshake_id(char out[EV_ID_LEN], const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                     int client_side, uint64_t seq) {
    const char *obs = ctx->observer ? ctx->observer : "mitmwatch";
    size_t olen = strnlen(obs, 256);
    uint8_t buf[256 + 1 + 8 + 1 + 2 * 16 + 2 * 2 + 2 * 2 + 8], sha[32];
    size_t n = 0;
    int server_side = !client_side;
    memcpy(buf, obs, olen);
    n = olen;
    buf[n++] = 0;
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(hs->ts_us >> (8 * i));
    buf[n++] = f->key.ip_ver;
    memcpy(buf + n, f->key.addr[client_side], 16);
    n += 16;
    memcpy(buf + n, f->key.addr[server_side], 16);
    n += 16;
    uint16_t u16[4] = {f->key.port[client_side], f->key.port[server_side], f->key.vlan[0],
                       f->key.vlan[1]};
    for (int i = 0; i < 4; i++) {
        buf[n++] = (uint8_t)(u16[i] >> 8);
        buf[n++] = (uint8_t)u16[i];
    }
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(seq >> (8 * i));
    mw_sha256(buf, n, sha);
    mw_hex(out, sha, 16);
}

/* What rule_judge's SCT_validate left in the SCT (rules/rule_ct.c); not judged: unverified. */
static const char *sct_status(const SCT *sct) {
    switch (SCT_get_validation_status(sct)) {
    case SCT_VALIDATION_STATUS_VALID:
        return "valid";
    case SCT_VALIDATION_STATUS_INVALID:
        return "invalid";
    case SCT_VALIDATION_STATUS_UNKNOWN_LOG:
        return "unknown_log";
    default:
        return "unverified";
    }
}

/* The CT log list lives with the verdicts (rules/rule_ct.c); they lend it for log names. */
static ev_log_name_fn g_log_name;
static void *g_log_name_user;

void ev_tls_set_log_names(ev_log_name_fn fn, void *user) {
    g_log_name = fn;
    g_log_name_user = user;
}

static void sct_list(mw_json *j, const STACK_OF(SCT) * scts) {
    for (int i = 0; scts && i < sk_SCT_num(scts); i++) {
        const SCT *sct = sk_SCT_value(scts, i);
        unsigned char *id = NULL;
        size_t idlen = SCT_get0_log_id(sct, &id);
        char b64[MW_B64_LEN(64)] = "", ts[MW_TS_LEN];
        if (id && idlen <= 64) mw_b64(b64, id, idlen);
        mw_ts_ms(ts, SCT_get_timestamp(sct));
        mw_json_obj_begin(j);
        mw_json_kstr(j, "log_id", b64);
        const char *name = g_log_name && id ? g_log_name(id, idlen, g_log_name_user) : NULL;
        if (name) mw_json_kstr(j, "log_name", name);
        mw_json_kstr(j, "timestamp", ts);
        mw_json_kstr(j, "source", x509_sct_source_name(sct));
        mw_json_kstr(j, "status", sct_status(sct));
        mw_json_obj_end(j);
    }
}

static void version_fields(mw_json *j, uint16_t v) {
    const char *name = tls_version_name(v), *proto = tls_version_protocol(v);
    char hex[8];
    if (!name) {
        snprintf(hex, sizeof hex, "0x%04x", v);
        name = hex;
        proto = "unknown";
    }
    mw_json_kstr(j, "version", name);
    mw_json_kstr(j, "version_protocol", proto);
}

/* The forward proxy the client tunnelled through, and the target it asked for. A name that
 * differs from the SNI is worth a look: the proxy was asked for one host, TLS for another. */
static void ev_proxy(mw_json *j, const tls_hs *hs) {
    mw_json_kobj(j, "proxy");
    mw_json_kstr(j, "type", hs->proxy);
    if (hs->proxy_host) mw_json_kstr(j, "target_host", hs->proxy_host);
    mw_json_kuint(j, "target_port", hs->proxy_port);
    if (hs->proxy_auth) mw_json_kbool(j, "authenticated", true);
    if (hs->have_ch && hs->sni && hs->proxy_host && hs->proxy_host_is_name)
        mw_json_kbool(j, "sni_matches_target", strcasecmp(hs->sni, hs->proxy_host) == 0);
    mw_json_obj_end(j);
}

void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side) {
    (void)f;
    (void)client_side;
    x509_info *leaf = hs->nchain > 0 ? hs->chain[0] : NULL; /* its x509 slot may be filled */
    mw_json_kobj(j, "tls");
    if (hs->have_sh) {
        version_fields(j, hs->version);
        const char *cn = tls_cipher_name(hs->cipher);
        char hex[8];
        if (!cn) {
            snprintf(hex, sizeof hex, "0x%04X", hs->cipher);
            cn = hex;
        }
        mw_json_kstr(j, "cipher", cn);
    }
    mw_json_kbool(j, "established", hs->established);
    mw_json_kbool(j, "resumed", hs->resumed);
    if (hs->alpn) mw_json_kstr(j, "next_protocol", hs->alpn);
    if (hs->have_ch) {
        mw_json_kobj(j, "client");
        if (hs->sni) mw_json_kstr(j, "server_name", hs->sni);
        mw_json_kstr(j, "ja3", hs->ja3);
        if (hs->ja3_string) mw_json_kstr(j, "ja3_string", hs->ja3_string);
        mw_json_kstr(j, "ja4", hs->ja4);
        mw_json_obj_end(j);
    }
    if (hs->have_sh) {
        mw_json_kobj(j, "server");
        mw_json_kstr(j, "ja3s", hs->ja3s);
        if (hs->ja3s_string) mw_json_kstr(j, "ja3s_string", hs->ja3s_string);
        if (leaf) {
            char hex[65], ts[MW_TS_LEN];
            mw_hex(hex, leaf->sha256, 32);
            for (char *p = hex; *p; p++)
                *p = (char)toupper((unsigned char)*p); /* ECS: hashes in uppercase */
            mw_json_kobj(j, "hash");
            mw_json_kstr(j, "sha256", hex);
            mw_json_obj_end(j);
            mw_json_kstr(j, "subject", leaf->subject);
            mw_json_kstr(j, "issuer", leaf->issuer);
            mw_ts_sec(ts, leaf->not_before);
            mw_json_kstr(j, "not_before", ts);
            mw_ts_sec(ts, leaf->not_after);
            mw_json_kstr(j, "not_after", ts);
            mw_json_key(j, "x509");
            ev_x509_object(j, leaf);
        }
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j); /* tls */
}

void ev_tls_fields_open(mw_json *j, const tls_hs *hs) {
    ev_tls_fields(j, hs, NULL, 0);
    mw_json_kobj(j, "mitmwatch");
    ev_mitmwatch_tls(j, hs);
}

void ev_mitmwatch_tls(mw_json *j, const tls_hs *hs) {
    const x509_info *leaf = hs->nchain > 0 ? hs->chain[0] : NULL;
    mw_json_kobj(j, "tls");
    mw_json_kbool(j, "cert_visible", hs->nchain > 0);
    mw_json_kbool(j, "complete", !hs->incomplete);
    if (hs->starttls) mw_json_kstr(j, "starttls", hs->starttls);
    /* the capture began after the ClientHello: only the server's side is known */
    if (hs->have_sh && !hs->have_ch) mw_json_kbool(j, "partial", true);
    if (hs->sslv2_hello) mw_json_kbool(j, "sslv2_client_hello", true);
    if (hs->hrr) mw_json_kbool(j, "hello_retry_request", true);
    if (hs->have_ch && hs->alpn_offered) {
        mw_json_kstr(j, "client_alpn", hs->alpn_offered);
    }
    mw_json_karr(j, "chain");
    for (int i = 0; i < hs->nchain; i++)
        ev_x509_chain_entry(j, hs->chain[i]);
    mw_json_arr_end(j);
    mw_json_karr(j, "scts");
    if (leaf) sct_list(j, leaf->scts);
    sct_list(j, hs->tls_scts);
    sct_list(j, hs->ocsp_scts);
    mw_json_arr_end(j);
    if (hs->ocsp_stapled) mw_json_kbool(j, "ocsp_stapled", true);
    if (hs->alert_seen) {
        mw_json_kobj(j, "alert");
        mw_json_kstr(j, "from", hs->alert_from_server ? "server" : "client");
        mw_json_kuint(j, "level", hs->alert_level);
        mw_json_kuint(j, "description", hs->alert_desc);
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j); /* mitmwatch.tls */
    if (hs->proxy) ev_proxy(j, hs);
    if (hs->ndpi_protocol[0] || hs->ndpi_risks) {
        mw_json_kobj(j, "ndpi");
        mw_json_kstr(j, "protocol", hs->ndpi_protocol);
        mw_json_karr(j, "risks");
        for (unsigned i = 0; i < 64; i++)
            if (hs->ndpi_risks & (1ull << i)) mw_json_str(j, dpi_risk_name(i));
        mw_json_arr_end(j);
        mw_json_obj_end(j);
    }
}

bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side, const char *event_id, const rule_verdict *v) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    mw_ecs_head_id(&j, ctx->observer, hs->ts_us, "event", "mitmwatch.tls", 0, NULL, event_id);
    ev_flow(&j, f, client_side, ev_protocol(hs), ev_application(hs));
    ev_tls_fields(&j, hs, f, client_side);
    mw_json_kobj(&j, "mitmwatch");
    ev_encapsulation(&j, f);
    ev_mitmwatch_tls(&j, hs);
    if (v) {
        mw_json_kobj(&j, "verdict");
        mw_json_karr(&j, "rules");
        for (unsigned i = 0; i < v->n; i++)
            mw_json_str(&j, v->rules[i]);
        mw_json_arr_end(&j);
        mw_json_obj_end(&j);
    }
    mw_json_obj_end(&j);
    mw_json_obj_end(&j);
    return j.ok;
}
