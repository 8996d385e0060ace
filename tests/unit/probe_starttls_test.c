/* probes/probe_starttls: the client-side reply parsers of the STARTTLS dialogues (SMTP/FTP
 * replies, IMAP and POP3 status lines, XMPP tags, the LDAP ExtendedResponse) and the protocol
 * names and ports. The dialogues themselves are exercised by tests/lab/probe_cert_test.sh. */
#include <stdlib.h>

#include "mw_test.h"
#include "probe_starttls.h"

static mw_rc line(pcert_reply *r, const char *s) {
    return pcert_reply_line(r, s, strlen(s));
}

static void test_names(void) {
    pcert_starttls p = PCERT_STARTTLS_NONE;
    CHECK(pcert_starttls_parse("xmpp", &p) && p == PCERT_STARTTLS_XMPP);
    CHECK(pcert_starttls_parse("SMTP", &p) && p == PCERT_STARTTLS_SMTP);
    CHECK(pcert_starttls_parse("imap", &p) && p == PCERT_STARTTLS_IMAP);
    CHECK(pcert_starttls_parse("pop3", &p) && p == PCERT_STARTTLS_POP3);
    CHECK(pcert_starttls_parse("ftp", &p) && p == PCERT_STARTTLS_FTP);
    CHECK(pcert_starttls_parse("ldap", &p) && p == PCERT_STARTTLS_LDAP);
    CHECK(pcert_starttls_parse("postgres", &p) && p == PCERT_STARTTLS_POSTGRES);
    p = PCERT_STARTTLS_NONE;
    CHECK(pcert_starttls_parse("postgresql", &p) && p == PCERT_STARTTLS_POSTGRES);
    CHECK(!pcert_starttls_parse("smtps", &p));
    CHECK(!pcert_starttls_parse("", &p));
    CHECK(!pcert_starttls_parse(NULL, &p));
    /* the passive path's names (stls_proto_name) */
    CHECK_STR(pcert_starttls_name(PCERT_STARTTLS_POSTGRES), "postgres");
    CHECK_STR(pcert_starttls_name(PCERT_STARTTLS_XMPP), "xmpp");
    CHECK(pcert_starttls_name(PCERT_STARTTLS_NONE) == NULL);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_NONE), 443);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_XMPP), 5222);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_SMTP), 25);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_IMAP), 143);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_POP3), 110);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_FTP), 21);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_LDAP), 389);
    CHECK_EQ_U(pcert_default_port(PCERT_STARTTLS_POSTGRES), 5432);
}

static void test_reply(void) {
    pcert_reply r;
    /* SMTP single line, and the bare code */
    pcert_reply_init(&r);
    CHECK(line(&r, "220 mail.example.test ESMTP") == MW_OK && r.done && r.code == 220);
    pcert_reply_init(&r);
    CHECK(line(&r, "220") == MW_OK && r.done && r.code == 220);
    /* a line after the end is not part of the reply */
    CHECK(line(&r, "250 x") == MW_MALFORMED);
    /* EHLO: multi-line */
    pcert_reply_init(&r);
    CHECK(line(&r, "250-mail.example.test") == MW_OK && !r.done);
    CHECK(line(&r, "250-STARTTLS") == MW_OK && !r.done);
    CHECK(line(&r, "250 SMTPUTF8") == MW_OK && r.done && r.code == 250 && r.lines == 3);
    /* FTP (RFC 959 4.2): any text inside, only "220 " with the same code ends it */
    pcert_reply_init(&r);
    CHECK(line(&r, "220-Welcome") == MW_OK && !r.done);
    CHECK(line(&r, "This is free text") == MW_OK && !r.done);
    CHECK(line(&r, " 220 indented does not end it") == MW_OK && !r.done);
    CHECK(line(&r, "230 another code does not end it") == MW_OK && !r.done);
    CHECK(line(&r, "220-still going") == MW_OK && !r.done);
    CHECK(line(&r, "220 ready") == MW_OK && r.done && r.code == 220);
    /* first lines that are no reply */
    pcert_reply_init(&r);
    CHECK(line(&r, "22") == MW_MALFORMED);
    pcert_reply_init(&r);
    CHECK(line(&r, "+OK pop3") == MW_MALFORMED);
    pcert_reply_init(&r);
    CHECK(line(&r, "220x") == MW_MALFORMED);
    pcert_reply_init(&r);
    CHECK(line(&r, "") == MW_MALFORMED);
    /* a reply that never ends is cut at PCERT_REPLY_LINES lines */
    pcert_reply_init(&r);
    mw_rc rc = MW_OK;
    unsigned n = 0;
    while (rc == MW_OK && n < 1000) {
        rc = line(&r, "250-more");
        n++;
    }
    CHECK(rc == MW_MALFORMED);
    CHECK_EQ_U(n, PCERT_REPLY_LINES + 1);
}

#define IMAP(s, tag) pcert_imap_line((s), strlen(s), (tag))
#define GREET(s) pcert_imap_greeting_ok((s), strlen(s))
#define POP(s) pcert_pop3_status((s), strlen(s))

static void test_imap_pop3(void) {
    CHECK(GREET("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."));
    CHECK(GREET("* PREAUTH hello"));
    CHECK(GREET("* ok lowercase"));
    CHECK(!GREET("* BYE too busy"));
    CHECK(!GREET("* OKAY"));
    CHECK(!GREET("+OK pop3"));
    CHECK(!GREET(""));
    CHECK(IMAP("a OK Begin TLS negotiation now.", "a") == PCERT_IMAP_OK);
    CHECK(IMAP("a ok", "a") == PCERT_IMAP_OK);
    CHECK(IMAP("a NO [UNAVAILABLE] no", "a") == PCERT_IMAP_NO);
    CHECK(IMAP("a BAD unknown command", "a") == PCERT_IMAP_BAD);
    CHECK(IMAP("* CAPABILITY IMAP4rev1", "a") == PCERT_IMAP_UNTAGGED);
    CHECK(IMAP("+ continue", "a") == PCERT_IMAP_UNTAGGED);
    CHECK(IMAP("* BYE shutting down", "a") == PCERT_IMAP_BYE);
    CHECK(IMAP("ab OK other tag", "a") == PCERT_IMAP_OTHER);
    CHECK(IMAP("a OKAY", "a") == PCERT_IMAP_OTHER);
    CHECK(IMAP("a", "a") == PCERT_IMAP_OTHER);
    CHECK(IMAP("", "a") == PCERT_IMAP_OTHER);
    CHECK(POP("+OK") == 1);
    CHECK(POP("+OK Begin TLS negotiation") == 1);
    CHECK(POP("+ok") == 1);
    CHECK(POP("-ERR nope") == 0);
    CHECK(POP("+OKAY") == -1);
    CHECK(POP("220 smtp") == -1);
    CHECK(POP("") == -1);
}

static void test_xml(void) {
    size_t off, tl;
    pcert_xml_tag t;
    const char *s = "<?xml version='1.0'?><stream:stream from='x' id='a>b'>";
    CHECK(pcert_xml_next_tag(s, strlen(s), &off, &tl) == MW_OK && off == 0 && tl == 21);
    pcert_xml_tag_parse(s, tl, &t);
    CHECK(t.decl);
    CHECK(pcert_xml_next_tag(s + 21, strlen(s) - 21, &off, &tl) == MW_OK);
    CHECK_EQ_U(off, 0);
    CHECK_EQ_U(tl, strlen(s) - 21); /* the quoted '>' does not end the tag */
    pcert_xml_tag_parse(s + 21, tl, &t);
    CHECK_STR(t.local, "stream");
    CHECK(!t.end && !t.empty && !t.decl);
    /* whitespace keepalives before a tag are skipped */
    s = " \r\n <stream:features>";
    CHECK(pcert_xml_next_tag(s, strlen(s), &off, &tl) == MW_OK && off == 4 && tl == 17);
    pcert_xml_tag_parse(s + off, tl, &t);
    CHECK_STR(t.local, "features");
    s = "</stream:features>";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK(t.end && !t.empty);
    CHECK_STR(t.local, "features");
    s = "<stream:features/>";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK(!t.end && t.empty);
    CHECK_STR(t.local, "features");
    s = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK(t.empty);
    CHECK_STR(t.local, "starttls");
    s = "<proceed\txmlns=\"urn:ietf:params:xml:ns:xmpp-tls\">";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK(!t.empty && !t.end);
    CHECK_STR(t.local, "proceed");
    s = "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK_STR(t.local, "host-unknown");
    s = "<a-very-long-local-name-that-does-not-fit-in-thirty-one>";
    pcert_xml_tag_parse(s, strlen(s), &t);
    CHECK_EQ_U(strlen(t.local), 31);
    /* incomplete: a tag cut anywhere, text without a tag */
    s = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    for (size_t k = 1; k < strlen(s); k++)
        CHECK(pcert_xml_next_tag(s, k, &off, &tl) == MW_NEED_MORE && off == 0);
    CHECK(pcert_xml_next_tag("abc", 3, &off, &tl) == MW_NEED_MORE && off == 3);
    CHECK(pcert_xml_next_tag("", 0, &off, &tl) == MW_NEED_MORE && off == 0);
    /* a tag that never ends is cut at PCERT_LINE_MAX */
    char *big = malloc(PCERT_LINE_MAX + 10);
    memset(big, 'x', PCERT_LINE_MAX + 10);
    big[0] = '<';
    CHECK(pcert_xml_next_tag(big, PCERT_LINE_MAX - 1, &off, &tl) == MW_NEED_MORE);
    CHECK(pcert_xml_next_tag(big, PCERT_LINE_MAX + 10, &off, &tl) == MW_MALFORMED);
    big[PCERT_LINE_MAX - 2] = '>'; /* the longest tag that fits */
    CHECK(pcert_xml_next_tag(big, PCERT_LINE_MAX + 10, &off, &tl) == MW_OK &&
          tl == PCERT_LINE_MAX - 1);
    free(big);
}

static mw_rc ldap(const uint8_t *d, size_t n, size_t *ml, uint32_t *code, char *diag, bool *disc) {
    return pcert_ldap_response(d, n, ml, code, diag, 64, disc);
}

static void test_ldap(void) {
    size_t ml = 0;
    uint32_t code = 99;
    char diag[64];
    bool disc = true;
    /* the request: LDAPMessage { 1, ExtendedRequest { [0] "1.3.6.1.4.1.1466.20037" } } */
    static const uint8_t head[] = {0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16};
    CHECK_MEM(pcert_ldap_starttls_req, head, sizeof head);
    CHECK_MEM(pcert_ldap_starttls_req + 9, "1.3.6.1.4.1.1466.20037", 22);

    /* slapd's success answer, with the responseName */
    static const uint8_t ok[] = {0x30, 0x24, 0x02, 0x01, 0x01, 0x78, 0x1f, 0x0a, 0x01, 0x00,
                                 0x04, 0x00, 0x04, 0x00, 0x8a, 0x16, '1',  '.',  '3',  '.',
                                 '6',  '.',  '1',  '.',  '4',  '.',  '1',  '.',  '1',  '4',
                                 '6',  '6',  '.',  '2',  '0',  '0',  '3',  '7'};
    CHECK(ldap(ok, sizeof ok, &ml, &code, diag, &disc) == MW_OK);
    CHECK_EQ_U(ml, sizeof ok);
    CHECK_EQ_U(code, 0);
    CHECK_STR(diag, "");
    CHECK(!disc);
    for (size_t k = 0; k < sizeof ok; k++)
        CHECK(ldap(ok, k, &ml, &code, diag, &disc) == MW_NEED_MORE);
    /* followed by other bytes: msg_len says where the message ends */
    uint8_t two[sizeof ok + 3];
    memcpy(two, ok, sizeof ok);
    memcpy(two + sizeof ok, "\x16\x03\x03", 3);
    CHECK(ldap(two, sizeof two, &ml, &code, diag, &disc) == MW_OK && ml == sizeof ok);

    /* refusal, long-form lengths */
    static const uint8_t no[] = {0x30, 0x81, 0x16, 0x02, 0x01, 0x01, 0x78, 0x81, 0x10,
                                 0x0a, 0x01, 0x34, 0x04, 0x00, 0x04, 0x09, 'n',  'o',
                                 ' ',  'T',  'L',  'S',  ' ',  'h',  'i'};
    CHECK(ldap(no, sizeof no, &ml, &code, diag, &disc) == MW_OK);
    CHECK_EQ_U(code, 52);
    CHECK_STR(diag, "no TLS hi");
    CHECK_EQ_U(ml, sizeof no);
    /* the diagnostic is truncated to the buffer */
    char small[4];
    CHECK(pcert_ldap_response(no, sizeof no, &ml, &code, small, sizeof small, &disc) == MW_OK);
    CHECK_STR(small, "no ");

    /* Notice of Disconnection: message id 0 */
    uint8_t nod[sizeof ok];
    memcpy(nod, ok, sizeof ok);
    nod[4] = 0x00;
    nod[9] = 0x34;
    CHECK(ldap(nod, sizeof nod, &ml, &code, diag, &disc) == MW_OK && disc && code == 52);

    /* malformed: other message id, other operation, other outer tag, indefinite length,
     * negative integer, missing diagnosticMessage */
    uint8_t bad[sizeof ok];
    memcpy(bad, ok, sizeof ok);
    bad[4] = 0x02;
    CHECK(ldap(bad, sizeof bad, &ml, &code, diag, &disc) == MW_MALFORMED);
    memcpy(bad, ok, sizeof ok);
    bad[5] = 0x65; /* SearchResultDone */
    CHECK(ldap(bad, sizeof bad, &ml, &code, diag, &disc) == MW_MALFORMED);
    memcpy(bad, ok, sizeof ok);
    bad[0] = 0x31;
    CHECK(ldap(bad, sizeof bad, &ml, &code, diag, &disc) == MW_MALFORMED);
    memcpy(bad, ok, sizeof ok);
    bad[1] = 0x80;
    CHECK(ldap(bad, sizeof bad, &ml, &code, diag, &disc) == MW_MALFORMED);
    memcpy(bad, ok, sizeof ok);
    bad[9] = 0x80;
    CHECK(ldap(bad, sizeof bad, &ml, &code, diag, &disc) == MW_MALFORMED);
    static const uint8_t short_op[] = {0x30, 0x0a, 0x02, 0x01, 0x01, 0x78,
                                       0x05, 0x0a, 0x01, 0x00, 0x04, 0x00};
    CHECK(ldap(short_op, sizeof short_op, &ml, &code, diag, &disc) == MW_MALFORMED);
    static const uint8_t hightag[] = {0x3f, 0x01, 0x00};
    CHECK(ldap(hightag, sizeof hightag, &ml, &code, diag, &disc) == MW_MALFORMED);
}

int main(void) {
    test_names();
    test_reply();
    test_imap_pop3();
    test_xml();
    test_ldap();
    MW_TEST_END();
}
