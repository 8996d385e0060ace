#include "ev_tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mw_encode.h"
#include "tls_names.h"

void ev_head(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
             const char *dataset) {
    ev_head_outcome(j, ctx, ts_us, kind, dataset, NULL);
}

void ev_head_outcome(mw_json *j, const ev_ctx *ctx, uint64_t ts_us, const char *kind,
                     const char *dataset, const char *outcome) {
    char ts[MW_TS_LEN];
    mw_ts_us(ts, ts_us);
    mw_json_obj_begin(j);
    mw_json_kstr(j, "@timestamp", ts);
    mw_json_kobj(j, "event");
    mw_json_kstr(j, "kind", kind);
    mw_json_karr(j, "category");
    mw_json_str(j, "network");
    mw_json_arr_end(j);
    mw_json_karr(j, "type");
    mw_json_str(j, strcmp(kind, "alert") == 0 ? "indicator" : "protocol");
    mw_json_arr_end(j);
    mw_json_kstr(j, "dataset", dataset);
    if (outcome)
        mw_json_kstr(j, "outcome", outcome);
    mw_json_obj_end(j);
    mw_json_kobj(j, "observer");
    mw_json_kstr(j, "name", ctx->observer);
    mw_json_obj_end(j);
}

static void endpoint(mw_json *j, const char *key, const cap_flow *f, int side) {
    char ip[INET6_ADDRSTRLEN] = "";
    inet_ntop(f->key.ip_ver == 4 ? AF_INET : AF_INET6, f->key.addr[side], ip, sizeof ip);
    mw_json_kobj(j, key);
    mw_json_kstr(j, "ip", ip);
    mw_json_kuint(j, "port", f->key.port[side]);
    mw_json_obj_end(j);
}

void ev_flow(mw_json *j, const cap_flow *f, int client_side, const char *protocol) {
    int server_side = !client_side;
    endpoint(j, "source", f, client_side);
    endpoint(j, "destination", f, server_side);
    mw_json_kobj(j, "network");
    mw_json_kstr(j, "transport", "tcp");
    mw_json_kstr(j, "type", f->key.ip_ver == 4 ? "ipv4" : "ipv6");
    mw_json_kstr(j, "protocol", protocol ? protocol : "tls");
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

static void sct_list(mw_json *j, const STACK_OF(SCT) * scts) {
    for (int i = 0; scts && i < sk_SCT_num(scts); i++) {
        const SCT *sct = sk_SCT_value(scts, i);
        unsigned char *id = NULL;
        size_t idlen = SCT_get0_log_id(sct, &id);
        char b64[MW_B64_LEN(64)] = "", ts[MW_TS_LEN];
        if (id && idlen <= 64)
            mw_b64(b64, id, idlen);
        mw_ts_ms(ts, SCT_get_timestamp(sct));
        mw_json_obj_begin(j);
        mw_json_kstr(j, "log_id", b64);
        mw_json_kstr(j, "timestamp", ts);
        mw_json_kstr(j, "source", x509_sct_source_name(sct));
        mw_json_kstr(j, "status", "unverified");
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

void ev_tls_fields(mw_json *j, const tls_hs *hs, const cap_flow *f, int client_side) {
    (void)f;
    (void)client_side;
    ev_tls_fields_open(j, hs);
    mw_json_obj_end(j); /* mitmwatch */
}

void ev_tls_fields_open(mw_json *j, const tls_hs *hs) {
    const x509_info *leaf = hs->nchain > 0 ? hs->chain[0] : NULL;
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
    if (hs->alpn)
        mw_json_kstr(j, "next_protocol", hs->alpn);
    if (hs->have_ch) {
        mw_json_kobj(j, "client");
        if (hs->sni)
            mw_json_kstr(j, "server_name", hs->sni);
        mw_json_kstr(j, "ja3", hs->ja3);
        if (hs->ja3_string)
            mw_json_kstr(j, "ja3_string", hs->ja3_string);
        mw_json_kstr(j, "ja4", hs->ja4);
        mw_json_obj_end(j);
    }
    if (hs->have_sh) {
        mw_json_kobj(j, "server");
        mw_json_kstr(j, "ja3s", hs->ja3s);
        if (hs->ja3s_string)
            mw_json_kstr(j, "ja3s_string", hs->ja3s_string);
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
            mw_json_raw(j, leaf->x509_json, strlen(leaf->x509_json));
        }
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j); /* tls */

    mw_json_kobj(j, "mitmwatch");
    mw_json_kobj(j, "tls");
    mw_json_kbool(j, "cert_visible", hs->nchain > 0);
    mw_json_kbool(j, "complete", !hs->incomplete);
    if (hs->starttls)
        mw_json_kstr(j, "starttls", hs->starttls);
    if (hs->hrr)
        mw_json_kbool(j, "hello_retry_request", true);
    if (hs->have_ch && hs->alpn_offered) {
        mw_json_kstr(j, "client_alpn", hs->alpn_offered);
    }
    mw_json_karr(j, "chain");
    for (int i = 0; i < hs->nchain; i++)
        mw_json_raw(j, hs->chain[i]->chain_json, strlen(hs->chain[i]->chain_json));
    mw_json_arr_end(j);
    mw_json_karr(j, "scts");
    if (leaf)
        sct_list(j, leaf->scts);
    sct_list(j, hs->tls_scts);
    sct_list(j, hs->ocsp_scts);
    mw_json_arr_end(j);
    if (hs->ocsp_stapled)
        mw_json_kbool(j, "ocsp_stapled", true);
    if (hs->alert_seen) {
        mw_json_kobj(j, "alert");
        mw_json_kstr(j, "from", hs->alert_from_server ? "server" : "client");
        mw_json_kuint(j, "level", hs->alert_level);
        mw_json_kuint(j, "description", hs->alert_desc);
        mw_json_obj_end(j);
    }
    mw_json_obj_end(j); /* mitmwatch.tls */
}

bool ev_tls_build(mw_buf *out, const ev_ctx *ctx, const tls_hs *hs, const cap_flow *f,
                  int client_side) {
    mw_json j;
    mw_buf_reset(out);
    mw_json_init(&j, out);
    ev_head(&j, ctx, hs->ts_us, "event", "mitmwatch.tls");
    ev_flow(&j, f, client_side, hs->starttls);
    ev_tls_fields(&j, hs, f, client_side);
    mw_json_obj_end(&j);
    return j.ok;
}
