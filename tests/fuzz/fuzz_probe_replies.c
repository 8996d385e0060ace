/* Fuzz target: the reply parsers of the certificate fetch's STARTTLS dialogues (what a hostile
 * server controls before TLS starts). Input: u8 selector, then the server's bytes. Invariants:
 * every view stays inside the input, lengths obey their caps, strings are terminated. */
#include <stdlib.h>
#include <string.h>

#include "probe_starttls.h"

static void replies(const char *d, size_t n) {
    pcert_reply r;
    pcert_reply_init(&r);
    while (n > 0) {
        const char *nl = memchr(d, '\n', n);
        size_t l = nl ? (size_t)(nl - d) : n;
        if (pcert_reply_line(&r, d, l) != MW_OK || r.done) {
            if (r.lines > PCERT_REPLY_LINES) abort();
            pcert_reply_init(&r);
        }
        (void)pcert_imap_line(d, l, "a");
        (void)pcert_imap_greeting_ok(d, l);
        (void)pcert_pop3_status(d, l);
        if (!nl) break;
        n -= l + 1;
        d += l + 1;
    }
}

static void tags(const char *d, size_t n) {
    for (;;) {
        size_t off = 0, tl = 0;
        pcert_xml_tag t;
        mw_rc rc = pcert_xml_next_tag(d, n, &off, &tl);
        if (off > n) abort();
        if (rc != MW_OK) return;
        if (tl < 2 || tl > PCERT_LINE_MAX || off + tl > n || d[off] != '<' ||
            d[off + tl - 1] != '>')
            abort();
        pcert_xml_tag_parse(d + off, tl, &t);
        if (strlen(t.local) >= sizeof t.local) abort();
        d += off + tl;
        n -= off + tl;
    }
}

static void ldap(const uint8_t *d, size_t n) {
    for (;;) {
        size_t ml = 0;
        uint32_t code;
        char diag[16];
        bool disc;
        if (pcert_ldap_response(d, n, &ml, &code, diag, sizeof diag, &disc) != MW_OK) return;
        if (ml == 0 || ml > n || strlen(diag) >= sizeof diag) abort();
        d += ml;
        n -= ml;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        replies((const char *)p, n);
        break;
    case 1:
        tags((const char *)p, n);
        break;
    default:
        ldap(p, n);
        break;
    }
    return 0;
}
