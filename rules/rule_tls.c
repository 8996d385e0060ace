/* The TLS rules of one connection: tls.weak_or_null_cipher (the cipher suite the server chose),
 * tls.version_downgrade (below the policy's minimum, or below the version this server was
 * learned to negotiate, kept with the baselines) and tls.starttls_missing (a watched STARTTLS
 * service spoken to the end in plaintext). tls.ja3s_changed is judged with the other learned
 * baselines in bl_baseline.c. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bl_baseline.h"
#include "rule_judge.h"
#include "tls_names.h"

static const char *version_name(uint16_t v, char *buf, size_t len) {
    const char *n = tls_version_name(v);
    if (n) return n;
    snprintf(buf, len, "0x%04x", v);
    return buf;
}

void rule_tls_cipher(rule_ctx *jd) {
    const char *why = NULL;
    if (!jd->hs->have_sh || !tls_cipher_is_weak(jd->hs->cipher, &why)) return;
    const char *cn = tls_cipher_name(jd->hs->cipher);
    char hex[8];
    if (!cn) {
        snprintf(hex, sizeof hex, "0x%04X", jd->hs->cipher);
        cn = hex;
    }
    rule_evidence_begin(jd);
    mw_json_kstr(&jd->je, "cipher", "not NULL, anonymous, export, RC4, DES or 3DES");
    mw_json_kstr(&jd->jo, "cipher", cn);
    mw_json_kstr(&jd->jo, "weakness", why);
    rule_emit(jd, "tls.weak_or_null_cipher", 3,
              "The server %s chose %s (%s): this connection has no real %s.", rule_who(jd), cn, why,
              strcmp(why, "anonymous") == 0 ? "server authentication" : "confidentiality");
}

void rule_tls_version(rule_ctx *jd) {
    const tls_hs *hs = jd->hs;
    rule_engine *re = jd->re;
    if (!hs->have_sh || !hs->have_ch || hs->version == 0) return;
    uint16_t v = hs->version, offered = hs->ch_version;
    uint16_t min = jd->svc && jd->svc->min_version ? jd->svc->min_version : jd->p->min_version;
    char b1[8], b2[8], b3[8];
    const char *vn = version_name(v, b2, sizeof b2), *on = version_name(offered, b3, sizeof b3);
    if (min && jd->watched && v < min) {
        const char *mn = version_name(min, b1, sizeof b1);
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "min_version", mn);
        mw_json_kstr(&jd->jo, "version", vn);
        mw_json_kstr(&jd->jo, "client_max_version", on);
        rule_emit(jd, "tls.version_downgrade", 3,
                  "The connection to %s used TLS %s, below the minimum TLS %s the policy sets (the "
                  "client offered up to %s).",
                  rule_who(jd), vn, mn, on);
        return;
    }
    /* Learned: a server that negotiated version X with clients offering X and now gives a
     * client offering X less is being downgraded, or is not the same server. */
    uint16_t *best = bl_tls_best(re->ver, jd->f, jd->client_side, jd->svc != NULL);
    if (!best) return; /* table full: no baseline for this server */
    if (*best && offered >= *best && v < *best) {
        const char *bn = version_name(*best, b1, sizeof b1);
        char addr[80];
        rule_server_addr(jd, addr, sizeof addr);
        rule_evidence_begin(jd);
        mw_json_kstr(&jd->je, "version", bn);
        mw_json_kstr(&jd->je, "basis", "learned from earlier handshakes with this server");
        mw_json_kstr(&jd->jo, "version", vn);
        mw_json_kstr(&jd->jo, "client_max_version", on);
        rule_emit(jd, "tls.version_downgrade", 3,
                  "%s (%s) negotiated TLS %s although the client offered TLS %s and this server "
                  "used TLS %s before: a downgrade, or another server answering.",
                  rule_who(jd), addr, vn, on, bn);
    }
    if (v <= offered && v > *best) *best = v;
}

/* The passive analyzer's name for a configured STARTTLS protocol: XMPP server-to-server is an
 * XMPP stream, LMTP speaks SMTP's STARTTLS. NNTP and Sieve are not followed passively (no flow
 * ever carries their name, so they never match). */
static const char *passive_starttls(const char *configured) {
    if (strcmp(configured, "xmpp-server") == 0) return "xmpp";
    if (strcmp(configured, "lmtp") == 0) return "smtp";
    return configured;
}

void rule_tls_starttls(rule_ctx *jd, const an_plain *pl) {
    if (!pl->stripped && !pl->refused && pl->session_cmds == 0)
        return; /* greeting, capabilities, goodbye: nothing was sent that TLS should protect */
    for (size_t i = 0; i < jd->p->nservices && !jd->svc; i++) {
        const pol_service *s = &jd->p->services[i];
        if (s->starttls && (s->nips || s->nports) &&
            strcmp(passive_starttls(s->starttls), pl->protocol) == 0 &&
            rule_svc_addr_match(s, jd->f, !jd->client_side))
            jd->svc = s;
    }
    if (!jd->svc) return;
    jd->watched = true;
    snprintf(jd->svc_key, sizeof jd->svc_key, "%s", jd->svc->label);
    char addr[80], proto[16];
    rule_server_addr(jd, addr, sizeof addr);
    size_t k;
    for (k = 0; pl->protocol[k] && k < sizeof proto - 1; k++)
        proto[k] = (char)toupper((unsigned char)pl->protocol[k]);
    proto[k] = '\0';
    const char *why;
    if (pl->stripped)
        why = "the server agreed to STARTTLS, but plaintext followed instead of TLS (something on "
              "the path stripped it)";
    else if (pl->refused)
        why = "the server refused STARTTLS";
    else if (pl->offer_visible && !pl->offered)
        why = "the server never offered STARTTLS (an interception box may have removed the "
              "offer)";
    else if (pl->offered && !pl->requested)
        why = "the client never sent STARTTLS although the server offered it";
    else
        why = "the client never asked for STARTTLS";
    char cmds[96] = "";
    if (pl->session_cmds)
        snprintf(cmds, sizeof cmds, "; %u client command%s went out in plaintext", pl->session_cmds,
                 pl->session_cmds == 1 ? "" : "s");
    rule_evidence_begin(jd);
    mw_json_kstr(&jd->je, "starttls", jd->svc->starttls);
    mw_json_kbool(&jd->je, "tls", true);
    mw_json_kstr(&jd->jo, "protocol", pl->protocol);
    mw_json_kbool(&jd->jo, "tls", false);
    if (pl->offer_visible) mw_json_kbool(&jd->jo, "server_offered", pl->offered);
    mw_json_kbool(&jd->jo, "client_requested", pl->requested);
    mw_json_kbool(&jd->jo, "server_refused", pl->refused);
    if (pl->stripped) mw_json_kbool(&jd->jo, "tls_after_agreement", false);
    mw_json_kuint(&jd->jo, "plaintext_commands", pl->session_cmds);
    jd->protocol = pl->network_protocol; /* no handshake names it */
    rule_emit(jd, "tls.starttls_missing", 3, "The %s session to %s (%s) ended without TLS: %s%s.",
              proto, jd->svc->label, addr, why, cmds);
}

void rule_tls_injection(rule_ctx *jd, const cap_conflict *c, int side) {
    char addr[80], first[65], later[65];
    rule_server_addr(jd, addr, sizeof addr);
    rule_hex32(first, c->first_sha256);
    rule_hex32(later, c->later_sha256);
    const char *dir = side == jd->client_side ? "client" : "server";
    rule_evidence_begin(jd);
    mw_json_kstr(&jd->je, "sha256", first);
    mw_json_kuint(&jd->je, "ttl", c->first_ttl);
    mw_json_kstr(&jd->jo, "sha256", later);
    mw_json_kuint(&jd->jo, "ttl", c->later_ttl);
    mw_json_kstr(&jd->jo, "direction", dir);
    mw_json_kuint(&jd->jo, "offset", c->offset);
    mw_json_kuint(&jd->jo, "length", c->len);
    mw_json_kuint(&jd->jo, "copies_differing", c->count);
    mw_json_kbool(&jd->jo, "first_copy_parsed", c->consumed);
    rule_emit(jd, "tls.injection", 4,
              "Two different copies of the same %s bytes of the connection to %s were seen "
              "(stream offset %u, %u bytes; TTL %u, then %u): something on the path injected "
              "data; the %s copy is the one judged.",
              dir, addr, c->offset, c->len, c->first_ttl, c->later_ttl,
              c->consumed ? "first" : "later");
}
