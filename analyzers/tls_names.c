/* TLS registry names. The suite table is generated from the IANA CSV (tools/gen-tls-names.py);
 * this file only searches it. */
#include "tls_names.h"

#include <stddef.h>

typedef struct {
    uint16_t id;
    uint8_t flags;
    const char *name;
} tls_suite_row;

static const tls_suite_row tls_suites[] = {
#include "tls_names_table.inc"
};

/* RFC 8701 section 2: both bytes equal and of the form 0x?A. The registry lists these as
 * "Reserved" so the table has no row for them; the check just makes that explicit. */
static bool grease_value(uint16_t v) {
    return (v & 0x0F0F) == 0x0A0A && (v >> 8) == (v & 0xFF);
}

static const tls_suite_row *find_suite(uint16_t id) {
    if (grease_value(id)) return NULL;
    size_t lo = 0;
    size_t hi = sizeof(tls_suites) / sizeof(tls_suites[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tls_suites[mid].id == id) return &tls_suites[mid];
        if (tls_suites[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *tls_cipher_name(uint16_t id) {
    const tls_suite_row *r = find_suite(id);
    return r ? r->name : NULL;
}

unsigned tls_cipher_flags(uint16_t id) {
    const tls_suite_row *r = find_suite(id);
    return r ? r->flags : 0;
}

bool tls_cipher_is_weak(uint16_t id, const char **why) {
    /* Most severe first: no encryption at all, then no authentication (the jabber.ru
     * interception offered anonymous NULL suites, which must read as "null"). */
    static const struct {
        unsigned flag;
        const char *why;
    } order[] = {
        {TLS_CF_NULL, "null"}, {TLS_CF_ANON, "anonymous"}, {TLS_CF_EXPORT, "export"},
        {TLS_CF_RC4, "rc4"},   {TLS_CF_DES, "des"},        {TLS_CF_3DES, "3des"},
    };
    unsigned f = tls_cipher_flags(id);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (f & order[i].flag) {
            if (why) *why = order[i].why;
            return true;
        }
    }
    if (why) *why = NULL;
    return false;
}

typedef struct {
    uint16_t v;
    const char *name;
    const char *protocol;
} tls_version_row;

/* SSL 2.0 hellos carry 0x0002 (draft-hickman SSL 2.0, "CLIENT-HELLO"); DTLS counts down
 * from 0xFEFF (RFC 6347 section 4.1, RFC 9147 section 5.3). */
static const tls_version_row tls_versions[] = {
    {0x0002, "2.0", "ssl"},  {0x0300, "3.0", "ssl"},  {0x0301, "1.0", "tls"},
    {0x0302, "1.1", "tls"},  {0x0303, "1.2", "tls"},  {0x0304, "1.3", "tls"},
    {0xFEFC, "1.3", "dtls"}, {0xFEFD, "1.2", "dtls"}, {0xFEFF, "1.0", "dtls"},
};

static const tls_version_row *find_version(uint16_t v) {
    for (size_t i = 0; i < sizeof(tls_versions) / sizeof(tls_versions[0]); i++) {
        if (tls_versions[i].v == v) return &tls_versions[i];
    }
    return NULL;
}

/* TLS 1.3 drafts: 0x7F00 + n for draft-ietf-tls-tls13-n (n <= 28), and Facebook's 0xFB1A
 * (its draft 26 variant, as Wireshark names it). */
static const char *const tls13_drafts[] = {
    "1.3-draft-00", "1.3-draft-01", "1.3-draft-02", "1.3-draft-03", "1.3-draft-04", "1.3-draft-05",
    "1.3-draft-06", "1.3-draft-07", "1.3-draft-08", "1.3-draft-09", "1.3-draft-10", "1.3-draft-11",
    "1.3-draft-12", "1.3-draft-13", "1.3-draft-14", "1.3-draft-15", "1.3-draft-16", "1.3-draft-17",
    "1.3-draft-18", "1.3-draft-19", "1.3-draft-20", "1.3-draft-21", "1.3-draft-22", "1.3-draft-23",
    "1.3-draft-24", "1.3-draft-25", "1.3-draft-26", "1.3-draft-27", "1.3-draft-28"};

static const char *draft_name(uint16_t v) {
    if ((v >> 8) == 0x7F && (v & 0xFF) < sizeof tls13_drafts / sizeof tls13_drafts[0])
        return tls13_drafts[v & 0xFF];
    if (v == 0xFB1A) return "1.3-fb-draft-26";
    return NULL;
}

const char *tls_version_name(uint16_t v) {
    const tls_version_row *r = find_version(v);
    return r ? r->name : draft_name(v);
}

const char *tls_version_protocol(uint16_t v) {
    const tls_version_row *r = find_version(v);
    return r ? r->protocol : draft_name(v) ? "tls" : NULL;
}
