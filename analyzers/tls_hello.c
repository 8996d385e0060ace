#include "tls_hello.h"

#include <string.h>

/* SHA-256("HelloRetryRequest"), RFC 8446 section 4.1.3. */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static mw_rc read_u16_list(mw_cur list, uint16_t *out, uint16_t *n, size_t max) {
    MW_ENSURE(list.len % 2 == 0, MW_MALFORMED);
    MW_ENSURE(list.len / 2 <= max, MW_MALFORMED);
    *n = 0;
    while (!mw_cur_empty(&list)) {
        uint16_t v;
        MW_GUARD_B(mw_cur_get_u16(&list, &v), MW_MALFORMED);
        out[(*n)++] = v;
    }
    return MW_OK;
}

static mw_rc add_ext(uint16_t *exts, uint16_t *n, uint16_t type) {
    MW_ENSURE(*n < TLS_MAX_EXTS, MW_MALFORMED);
    /* RFC 8446 4.2: no more than one extension of the same type. */
    for (uint16_t i = 0; i < *n; i++)
        MW_ENSURE(exts[i] != type, MW_MALFORMED);
    exts[(*n)++] = type;
    return MW_OK;
}

/* struct { NameType name_type; select (name_type) { case host_name: HostName; } } ServerName;
 * struct { ServerName server_name_list<1..2^16-1> } ServerNameList;      RFC 6066 section 3 */
static mw_rc ext_server_name(mw_cur d, tls_client_hello *ch) {
    mw_cur list;
    MW_GUARD_B(mw_cur_get_u16_prefixed(&d, &list), MW_MALFORMED);
    MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
    while (!mw_cur_empty(&list)) {
        uint8_t type;
        mw_cur name;
        MW_GUARD_B(mw_cur_get_u8(&list, &type), MW_MALFORMED);
        MW_GUARD_B(mw_cur_get_u16_prefixed(&list, &name), MW_MALFORMED);
        if (type == 0 && ch->sni.len == 0)
            ch->sni = name;
    }
    return MW_OK;
}

/* opaque ProtocolName<1..2^8-1>; ProtocolName protocol_name_list<2..2^16-1>  RFC 7301 3.1 */
static mw_rc ext_alpn_list(mw_cur d, mw_cur *out) {
    mw_cur list, walk;
    MW_GUARD_B(mw_cur_get_u16_prefixed(&d, &list), MW_MALFORMED);
    MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
    walk = list;
    while (!mw_cur_empty(&walk)) {
        mw_cur name;
        MW_GUARD_B(mw_cur_get_u8_prefixed(&walk, &name), MW_MALFORMED);
    }
    *out = list;
    return MW_OK;
}

static mw_rc client_ext(uint16_t type, mw_cur d, tls_client_hello *ch) {
    mw_cur inner;
    switch (type) {
    case TLS_EXT_SERVER_NAME:
        return d.len == 0 ? MW_OK : ext_server_name(d, ch);
    case TLS_EXT_SUPPORTED_GROUPS: /* NamedGroup named_group_list<2..2^16-1> */
        MW_GUARD_B(mw_cur_get_u16_prefixed(&d, &inner), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        return read_u16_list(inner, ch->groups, &ch->ngroups, TLS_MAX_GROUPS);
    case TLS_EXT_EC_POINT_FORMATS: /* ECPointFormat ec_point_format_list<1..2^8-1> */
        MW_GUARD_B(mw_cur_get_u8_prefixed(&d, &inner), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        MW_ENSURE(inner.len <= TLS_MAX_POINT_FORMATS, MW_MALFORMED);
        ch->npoint_formats = (uint16_t)inner.len;
        MW_GUARD_B(mw_cur_copy(&inner, ch->point_formats, inner.len), MW_MALFORMED);
        return MW_OK;
    case TLS_EXT_SIGNATURE_ALGORITHMS: /* SignatureScheme supported_signature_algorithms<2..> */
        MW_GUARD_B(mw_cur_get_u16_prefixed(&d, &inner), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        return read_u16_list(inner, ch->sigalgs, &ch->nsigalgs, TLS_MAX_SIGALGS);
    case TLS_EXT_ALPN:
        return ext_alpn_list(d, &ch->alpn);
    case TLS_EXT_SUPPORTED_VERSIONS: /* ProtocolVersion versions<2..254> */
        MW_GUARD_B(mw_cur_get_u8_prefixed(&d, &inner), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        return read_u16_list(inner, ch->versions, &ch->nversions, TLS_MAX_VERSIONS);
    case TLS_EXT_SESSION_TICKET:
        ch->has_ticket = d.len > 0;
        return MW_OK;
    case TLS_EXT_PRE_SHARED_KEY:
        ch->has_psk = true;
        return MW_OK;
    default:
        return MW_OK;
    }
}

/* struct {
 *     ProtocolVersion legacy_version;
 *     Random random;
 *     opaque legacy_session_id<0..32>;
 *     CipherSuite cipher_suites<2..2^16-2>;
 *     opaque legacy_compression_methods<1..2^8-1>;
 *     Extension extensions<8..2^16-1>;      (absent in old SSLv3/TLS 1.0 hellos)
 * } ClientHello;                                                    RFC 8446 section 4.1.2 */
mw_rc tls_parse_client_hello(mw_cur b, tls_client_hello *ch) {
    mw_cur ciphers, comp, exts;
    memset(ch, 0, sizeof *ch);
    MW_GUARD_B(mw_cur_get_u16(&b, &ch->legacy_version), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_bytes(&b, 32, &ch->random), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8_prefixed(&b, &ch->session_id), MW_MALFORMED);
    MW_ENSURE(ch->session_id.len <= 32, MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16_prefixed(&b, &ciphers), MW_MALFORMED);
    MW_GUARD(read_u16_list(ciphers, ch->ciphers, &ch->nciphers, TLS_MAX_CIPHERS));
    MW_GUARD_B(mw_cur_get_u8_prefixed(&b, &comp), MW_MALFORMED);
    MW_ENSURE(comp.len >= 1, MW_MALFORMED);
    if (mw_cur_empty(&b))
        return MW_OK;
    MW_GUARD_B(mw_cur_get_u16_prefixed(&b, &exts), MW_MALFORMED);
    MW_ENSURE(mw_cur_empty(&b), MW_MALFORMED);
    while (!mw_cur_empty(&exts)) {
        uint16_t type;
        mw_cur data;
        MW_GUARD_B(mw_cur_get_u16(&exts, &type), MW_MALFORMED);
        MW_GUARD_B(mw_cur_get_u16_prefixed(&exts, &data), MW_MALFORMED);
        MW_GUARD(add_ext(ch->exts, &ch->nexts, type));
        MW_GUARD(client_ext(type, data, ch));
    }
    return MW_OK;
}

uint16_t tls_client_max_version(const tls_client_hello *ch) {
    uint16_t best = 0;
    for (uint16_t i = 0; i < ch->nversions; i++)
        if (!tls_is_grease(ch->versions[i]) && ch->versions[i] > best)
            best = ch->versions[i];
    return best ? best : ch->legacy_version;
}

static mw_rc server_ext(uint16_t type, mw_cur d, tls_server_hello *sh) {
    mw_cur list;
    switch (type) {
    case TLS_EXT_SUPPORTED_VERSIONS: /* ProtocolVersion selected_version */
        MW_GUARD_B(mw_cur_get_u16(&d, &sh->version), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        return MW_OK;
    case TLS_EXT_ALPN: /* exactly one ProtocolName, RFC 7301 3.1 */
        MW_GUARD_B(mw_cur_get_u16_prefixed(&d, &list), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&d), MW_MALFORMED);
        MW_GUARD_B(mw_cur_get_u8_prefixed(&list, &sh->alpn), MW_MALFORMED);
        MW_ENSURE(mw_cur_empty(&list), MW_MALFORMED);
        return MW_OK;
    case TLS_EXT_SCT:
        sh->sct_list = d;
        return MW_OK;
    case TLS_EXT_PRE_SHARED_KEY:
        sh->has_psk = true;
        return MW_OK;
    default:
        return MW_OK;
    }
}

/* struct {
 *     ProtocolVersion legacy_version;
 *     Random random;
 *     opaque legacy_session_id_echo<0..32>;
 *     CipherSuite cipher_suite;
 *     uint8 legacy_compression_method;
 *     Extension extensions<6..2^16-1>;
 * } ServerHello;                                                    RFC 8446 section 4.1.3 */
mw_rc tls_parse_server_hello(mw_cur b, tls_server_hello *sh) {
    mw_cur exts;
    memset(sh, 0, sizeof *sh);
    MW_GUARD_B(mw_cur_get_u16(&b, &sh->legacy_version), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_bytes(&b, 32, &sh->random), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8_prefixed(&b, &sh->session_id), MW_MALFORMED);
    MW_ENSURE(sh->session_id.len <= 32, MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u16(&b, &sh->cipher), MW_MALFORMED);
    MW_GUARD_B(mw_cur_get_u8(&b, &sh->compression), MW_MALFORMED);
    sh->is_hrr = memcmp(sh->random.data, hrr_random, 32) == 0;
    sh->version = sh->legacy_version;
    if (mw_cur_empty(&b))
        return MW_OK;
    MW_GUARD_B(mw_cur_get_u16_prefixed(&b, &exts), MW_MALFORMED);
    MW_ENSURE(mw_cur_empty(&b), MW_MALFORMED);
    while (!mw_cur_empty(&exts)) {
        uint16_t type;
        mw_cur data;
        MW_GUARD_B(mw_cur_get_u16(&exts, &type), MW_MALFORMED);
        MW_GUARD_B(mw_cur_get_u16_prefixed(&exts, &data), MW_MALFORMED);
        MW_GUARD(add_ext(sh->exts, &sh->nexts, type));
        MW_GUARD(server_ext(type, data, sh));
    }
    return MW_OK;
}
