#include "starttls.h"

#include <ctype.h>
#include <string.h>

#include "mw_cursor.h"

static const uint8_t pg_ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}; /* 80877103 */
#define LDAP_STARTTLS_OID "1.3.6.1.4.1.1466.20037"
#define MYSQL_CLIENT_SSL 0x0800u

void stls_init(stls_state *s) { memset(s, 0, sizeof *s); }

const char *stls_proto_name(stls_proto p) {
    static const char *const names[] = {"unknown", "xmpp", "smtp",     "imap",  "pop3",
                                        "ftp",     "ldap", "postgres", "mysql", "smtp"};
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "unknown";
}

/* Case-insensitive "line starts with word". */
const char *stls_network_protocol(stls_proto p) {
    return p == STLS_POSTGRES ? "postgresql" : stls_proto_name(p);
}

const char *stls_network_protocol_of(const char *name) {
    return strcmp(name, "postgres") == 0 ? "postgresql" : name;
}

static bool starts(mw_cur line, const char *word) {
    size_t n = strlen(word);
    if (line.len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (tolower(mw_cur_at(&line, i)) != tolower((unsigned char)word[i]))
            return false;
    return true;
}

static bool contains(mw_cur hay, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; n <= hay.len && i + n <= hay.len; i++)
        if (memcmp(hay.data + i, needle, n) == 0)
            return true;
    return false;
}

static bool is_mysql_greeting(mw_cur c) {
    /* 3-byte little-endian length, sequence 0, protocol version 10 (Protocol::HandshakeV10) */
    uint8_t b[5];
    if (!mw_cur_copy(&c, b, sizeof b))
        return false;
    unsigned len = b[0] | (unsigned)b[1] << 8 | (unsigned)b[2] << 16;
    return b[3] == 0 && b[4] == 0x0a && len > 0 && len < 1024;
}

static stls_proto classify(int role, const uint8_t *p, size_t len) {
    mw_cur c = mw_cur_make(p, len);
    if (role == 0) {
        if (len >= 8 && memcmp(p, pg_ssl_request, 8) == 0)
            return STLS_POSTGRES;
        if (mw_cur_at(&c, 0) == 0x30)
            return STLS_LDAP;
        if (starts(c, "<?xml") || starts(c, "<stream:stream"))
            return STLS_XMPP;
        return STLS_UNKNOWN;
    }
    if (starts(c, "220"))
        return STLS_SMTP_OR_FTP;
    if (starts(c, "* OK") || starts(c, "* PREAUTH"))
        return STLS_IMAP;
    if (starts(c, "+OK"))
        return STLS_POP3;
    if (starts(c, "<?xml") || starts(c, "<stream:stream"))
        return STLS_XMPP;
    if (is_mysql_greeting(c))
        return STLS_MYSQL;
    return STLS_UNKNOWN;
}

bool stls_candidate(int role, const uint8_t *data, size_t len) {
    return classify(role, data, len) != STLS_UNKNOWN;
}

/* --- text protocols ------------------------------------------------------------------- */

bool stls_offer_visible(stls_proto p) {
    return p != STLS_LDAP && p != STLS_POSTGRES && p != STLS_MYSQL && p != STLS_UNKNOWN;
}

/* Client commands that carry the session itself (mail, logins), as opposed to the
 * greeting, capability and goodbye exchanges a health check also makes: in plaintext they
 * are what STARTTLS should have protected. */
static bool carries_session(stls_proto p, mw_cur line) {
    static const char *const smtp[] = {"EHLO", "HELO", "LHLO", "QUIT", "NOOP", "RSET", "STARTTLS",
                                       NULL};
    static const char *const ftp[] = {"FEAT", "QUIT", "AUTH", "SYST", "NOOP", NULL};
    static const char *const imap[] = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "ID", NULL};
    static const char *const pop3[] = {"CAPA", "QUIT", "STLS", "NOOP", NULL};
    int c0;
    while ((c0 = mw_cur_at(&line, 0)) == ' ' || c0 == '\t' || c0 == '\r' || c0 == '\n')
        line = mw_cur_make(line.data + 1, line.len - 1);
    if (c0 < 0x20 || c0 > 0x7e) /* also the empty line (-1) */
        return false; /* not a command: e.g. TLS records after an upgrade the capture missed */
    const char *const *w = smtp;
    if (p == STLS_FTP)
        w = ftp;
    else if (p == STLS_POP3)
        w = pop3;
    else if (p == STLS_IMAP) {
        w = imap;
        size_t sp = 0; /* past the tag */
        while (sp < line.len && mw_cur_at(&line, sp) != ' ')
            sp++;
        line = sp < line.len ? mw_cur_make(line.data + sp + 1, line.len - sp - 1)
                             : mw_cur_make(line.data, 0);
    }
    for (; *w; w++)
        if (starts(line, *w))
            return false;
    return true;
}

/* XMPP: one tag (with any text before it). A stanza is an element opened right inside the
 * stream (RFC 6120 4.1); <starttls/> and the stream header itself are not session. */
static bool xmpp_stanza(stls_state *s, mw_cur seg) {
    const uint8_t *lt = memchr(seg.data, '<', seg.len);
    if (!lt)
        return false;
    mw_cur tag = mw_cur_make(lt, seg.len - (size_t)(lt - seg.data));
    if (starts(tag, "<?") || starts(tag, "<!"))
        return false;
    if (starts(tag, "</")) {
        if (s->xmpp_depth)
            s->xmpp_depth--;
        return false;
    }
    uint32_t at = s->xmpp_depth;
    bool self_closing = tag.len >= 2 && mw_cur_at(&tag, tag.len - 2) == '/';
    if (!self_closing && s->xmpp_depth < UINT32_MAX)
        s->xmpp_depth++;
    return at == 1 && !starts(tag, "<starttls");
}

/* Does a server line advertise STARTTLS? (EHLO 250 lines, FEAT, IMAP capabilities, CAPA,
 * XMPP stream features) */
static bool advertises(stls_proto p, mw_cur line) {
    switch (p) {
    case STLS_SMTP_OR_FTP:
    case STLS_SMTP:
        return line.len > 4 && starts(line, "250") &&
               starts(mw_cur_make(line.data + 4, line.len - 4), "STARTTLS");
    case STLS_FTP:
        return contains(line, "AUTH TLS") || contains(line, "AUTH SSL");
    case STLS_IMAP:
        return starts(line, "* ") && contains(line, "STARTTLS");
    case STLS_POP3:
        return starts(line, "STLS");
    case STLS_XMPP:
        return contains(line, "<starttls");
    default:
        return false;
    }
}

/* SMTP/FTP reply line: three digits, then ' ' (final) or '-' (continued). */
static bool final_reply(mw_cur line, int *code) {
    uint8_t d[4];
    mw_cur c = line;
    if (!mw_cur_copy(&c, d, sizeof d) || !isdigit(d[0]) || !isdigit(d[1]) || !isdigit(d[2]))
        return false;
    *code = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    return d[3] == ' ' || d[3] == '\r' || d[3] == '\n';
}

static stls_rc client_line_proto(stls_state *s, mw_cur line);

static stls_rc client_line(stls_state *s, mw_cur line) {
    stls_rc rc = client_line_proto(s, line);
    if (s->smtp_body) {
        if ((line.len == 3 && memcmp(line.data, ".\r\n", 3) == 0) ||
            (line.len == 2 && memcmp(line.data, ".\n", 2) == 0))
            s->smtp_body = false;
    } else if (s->proto == STLS_XMPP ? xmpp_stanza(s, line) : carries_session(s->proto, line)) {
        s->session_cmds++;
        s->smtp_body = s->proto == STLS_SMTP && starts(line, "DATA");
    }
    s->asked |= s->requested;
    return rc;
}

static stls_rc client_line_proto(stls_state *s, mw_cur line) {
    switch (s->proto) {
    case STLS_SMTP_OR_FTP:
    case STLS_SMTP:
    case STLS_FTP:
        if (s->proto == STLS_SMTP_OR_FTP) {
            if (starts(line, "EHLO") || starts(line, "HELO") || starts(line, "LHLO") ||
                starts(line, "STARTTLS"))
                s->proto = STLS_SMTP;
            else if (starts(line, "AUTH TLS") || starts(line, "AUTH SSL") ||
                     starts(line, "USER") || starts(line, "FEAT"))
                s->proto = STLS_FTP;
        }
        s->cmds++;
        if ((s->proto == STLS_SMTP && starts(line, "STARTTLS")) ||
            (s->proto == STLS_FTP && (starts(line, "AUTH TLS") || starts(line, "AUTH SSL")))) {
            s->requested = true;
            s->upgrade_cmd = s->cmds;
        }
        return STLS_PENDING;
    case STLS_IMAP: {
        /* tag SP STARTTLS */
        size_t sp = 0;
        while (sp < line.len && mw_cur_at(&line, sp) != ' ')
            sp++;
        mw_cur rest = mw_cur_make(line.data + sp, line.len - sp);
        if (sp > 0 && sp < sizeof s->tag && starts(rest, " STARTTLS")) {
            memcpy(s->tag, line.data, sp);
            s->tag[sp] = '\0';
            s->requested = true;
        }
        return STLS_PENDING;
    }
    case STLS_POP3:
        if (starts(line, "STLS"))
            s->requested = true;
        return STLS_PENDING;
    case STLS_XMPP:
        if (contains(line, "<starttls"))
            s->requested = true;
        return STLS_PENDING;
    default:
        return STLS_NOT;
    }
}

static stls_rc server_line_proto(stls_state *s, mw_cur line, an_stats *st);

static stls_rc server_line(stls_state *s, mw_cur line, an_stats *st) {
    uint64_t refused = st->starttls_refused;
    s->offered |= advertises(s->proto, line);
    stls_rc rc = server_line_proto(s, line, st);
    s->refused |= st->starttls_refused != refused;
    return rc;
}

static stls_rc server_line_proto(stls_state *s, mw_cur line, an_stats *st) {
    int code;
    switch (s->proto) {
    case STLS_SMTP_OR_FTP:
    case STLS_SMTP:
    case STLS_FTP:
        if (!final_reply(line, &code))
            return STLS_PENDING;
        if (!s->greeted) {
            s->greeted = true;
            return STLS_PENDING;
        }
        s->replies++;
        if (s->requested && s->replies == s->upgrade_cmd) {
            s->requested = false;
            if ((s->proto == STLS_SMTP && code == 220) || (s->proto == STLS_FTP && code == 234))
                return STLS_UPGRADED;
            st->starttls_refused++;
        }
        return STLS_PENDING;
    case STLS_IMAP:
        if (s->requested && s->tag[0]) {
            size_t tl = strlen(s->tag);
            if (line.len > tl && memcmp(line.data, s->tag, tl) == 0 &&
                mw_cur_at(&line, tl) == ' ') {
                mw_cur status = mw_cur_make(line.data + tl + 1, line.len - tl - 1);
                s->requested = false;
                if (starts(status, "OK"))
                    return STLS_UPGRADED;
                st->starttls_refused++;
            }
        }
        return STLS_PENDING;
    case STLS_POP3:
        if (s->requested && (starts(line, "+OK") || starts(line, "-ERR"))) {
            s->requested = false;
            if (starts(line, "+OK"))
                return STLS_UPGRADED;
            st->starttls_refused++;
        }
        return STLS_PENDING;
    case STLS_XMPP:
        if (s->requested && contains(line, "<proceed"))
            return STLS_UPGRADED;
        if (s->requested && contains(line, "<failure")) {
            s->requested = false;
            st->starttls_refused++;
        }
        return STLS_PENDING;
    default:
        return STLS_NOT;
    }
}

/* Consumes whole lines (XMPP: whole tags, ending at '>'). */
static stls_rc feed_text(stls_state *s, int role, mw_cur c, size_t *consumed, an_stats *st) {
    const uint8_t end = s->proto == STLS_XMPP ? '>' : '\n';
    size_t used = 0;
    for (;;) {
        const uint8_t *nl = memchr(c.data + used, end, c.len - used);
        if (!nl) {
            if (c.len - used > STLS_LINE_MAX) {
                st->an[AN_AN_starttls_line_too_long]++;
                *consumed = c.len;
                return STLS_NOT;
            }
            *consumed = used;
            return STLS_PENDING;
        }
        size_t n = (size_t)(nl - (c.data + used)) + 1;
        if (n > STLS_LINE_MAX) {
            st->an[AN_AN_starttls_line_too_long]++;
            *consumed = c.len;
            return STLS_NOT;
        }
        mw_cur line = mw_cur_make(c.data + used, n);
        used += n;
        stls_rc rc = role == 0 ? client_line(s, line) : server_line(s, line, st);
        if (rc != STLS_PENDING) {
            *consumed = used;
            return rc;
        }
    }
}

/* --- binary protocols ------------------------------------------------------------------ */

/* One BER element (X.690): tag, definite length, contents. */
static bool ber(mw_cur *c, uint8_t *tag, mw_cur *contents) {
    uint8_t l0;
    uint32_t len = 0;
    if (!mw_cur_get_u8(c, tag) || !mw_cur_get_u8(c, &l0))
        return false;
    if (l0 & 0x80) {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4 || !mw_cur_get_uN(c, n, &len))
            return false;
    } else {
        len = l0;
    }
    return mw_cur_get_bytes(c, len, contents);
}

/* LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE { ...
 *   extendedReq [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID, ... },
 *   extendedResp [APPLICATION 24] SEQUENCE { resultCode ENUMERATED, ... } } }  RFC 4511 4.12 */
static stls_rc feed_ldap(stls_state *s, int role, mw_cur c, size_t *consumed, an_stats *st) {
    size_t start_len = c.len;
    for (;;) {
        mw_cur msg, body, id, op;
        uint8_t tag;
        mw_cur save = c;
        if (c.len < 2) {
            *consumed = start_len - c.len;
            return STLS_PENDING;
        }
        if (!ber(&c, &tag, &msg)) {
            c = save; /* incomplete: wait, unless it can never fit */
            if (c.len > STLS_LINE_MAX) {
                st->an[AN_AN_starttls_malformed]++;
                *consumed = start_len;
                return STLS_NOT;
            }
            *consumed = start_len - c.len;
            return STLS_PENDING;
        }
        if (tag != 0x30 || !ber(&msg, &tag, &id) || tag != 0x02 || !ber(&msg, &tag, &op)) {
            st->an[AN_AN_starttls_malformed]++;
            *consumed = start_len;
            return STLS_NOT;
        }
        body = op;
        if (role == 0 && tag == 0x77) { /* extendedReq */
            mw_cur name;
            if (ber(&body, &tag, &name) && tag == 0x80 &&
                name.len == sizeof LDAP_STARTTLS_OID - 1 &&
                memcmp(name.data, LDAP_STARTTLS_OID, name.len) == 0)
                s->requested = true;
            else
                s->session_cmds++;
        } else if (role == 1 && tag == 0x78 && s->requested) { /* extendedResp */
            mw_cur rc;
            s->requested = false;
            if (ber(&body, &tag, &rc) && tag == 0x0a && rc.len == 1 && mw_cur_at(&rc, 0) == 0) {
                *consumed = start_len - c.len;
                return STLS_UPGRADED;
            }
            st->starttls_refused++;
        } else if (role == 0 && tag != 0x42) { /* anything but an unbindRequest */
            s->session_cmds++;
        }
    }
}

static stls_rc feed_binary(stls_state *s, int role, mw_cur c, size_t *consumed, an_stats *st) {
    switch (s->proto) {
    case STLS_POSTGRES:
        if (role == 0) { /* the SSLRequest, then nothing until the answer */
            if (!s->requested && c.len >= 8) {
                s->requested = true;
                *consumed = 8;
                return STLS_PENDING;
            }
            *consumed = 0;
            return c.len > 8 ? STLS_NOT : STLS_PENDING;
        }
        *consumed = 0;
        if (c.len == 0)
            return STLS_PENDING;
        if (s->requested && mw_cur_at(&c, 0) == 'S') {
            *consumed = 1;
            return STLS_UPGRADED;
        }
        st->starttls_refused++; /* 'N' or an error: the session stays in plaintext */
        return STLS_NOT;
    case STLS_LDAP:
        return feed_ldap(s, role, c, consumed, st);
    case STLS_MYSQL: {
        /* packet: u24le length, u8 sequence, payload (MySQL client/server protocol) */
        *consumed = 0;
        uint8_t h[4];
        mw_cur body = c;
        if (!mw_cur_copy(&body, h, sizeof h))
            return STLS_PENDING;
        uint32_t len = h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
        if (len > STLS_LINE_MAX) {
            st->an[AN_AN_starttls_malformed]++;
            return STLS_NOT;
        }
        if (body.len < len)
            return STLS_PENDING;
        *consumed = 4 + len;
        if (role == 1)
            return STLS_PENDING; /* the greeting */
        uint8_t cf[2]; /* capability flags, little-endian (len >= 4: within the packet) */
        uint32_t caps = len >= 4 && mw_cur_copy(&body, cf, 2) ? (cf[0] | (uint32_t)cf[1] << 8) : 0;
        if (h[3] == 1 && len == 32 && (caps & MYSQL_CLIENT_SSL))
            return STLS_UPGRADED; /* SSLRequest: TLS follows at once */
        s->session_cmds++; /* a full handshake response (the login) without TLS */
        return STLS_NOT;
    }
    default:
        *consumed = 0;
        return STLS_NOT;
    }
}

static stls_rc stls_feed_proto(stls_state *s, int role, const uint8_t *data, size_t len,
                               size_t *consumed, an_stats *st);

stls_rc stls_feed(stls_state *s, int role, const uint8_t *data, size_t len, size_t *consumed,
                  an_stats *st) {
    uint64_t refused = st->starttls_refused;
    stls_rc rc = stls_feed_proto(s, role, data, len, consumed, st);
    s->refused |= st->starttls_refused != refused;
    s->asked |= s->requested;
    return rc;
}

static stls_rc stls_feed_proto(stls_state *s, int role, const uint8_t *data, size_t len,
                               size_t *consumed, an_stats *st) {
    *consumed = 0;
    if (len == 0)
        return STLS_PENDING;
    if (s->proto == STLS_UNKNOWN) {
        s->proto = classify(role, data, len);
        if (s->proto == STLS_UNKNOWN)
            return len < 8 ? STLS_PENDING : STLS_NOT;
    }
    stls_rc rc;
    mw_cur c = mw_cur_make(data, len);
    if (s->proto == STLS_POSTGRES || s->proto == STLS_LDAP || s->proto == STLS_MYSQL)
        rc = feed_binary(s, role, c, consumed, st);
    else
        rc = feed_text(s, role, c, consumed, st);
    s->plain_bytes += *consumed;
    if (rc == STLS_PENDING && s->plain_bytes > STLS_PLAIN_MAX)
        return STLS_NOT;
    return rc;
}
