/* analyzers/starttls: each protocol's upgrade, refusal, pipelining, replies split anywhere,
 * clients that speak first, and the caps. Dialogues are fed a byte at a time as well as whole,
 * so no answer depends on how TCP segmented it. */
#include <stdlib.h>

#include "mw_test.h"
#include "starttls.h"

typedef struct {
    int role;
    const char *data;
    size_t len; /* 0: strlen */
} step;

/* Runs a dialogue; returns the final result and the bytes left unconsumed on each side. */
static stls_state last; /* the state after the latest run */

static stls_rc run(const step *steps, size_t n, bool bytewise, an_stats *st, stls_proto *proto,
                   size_t left[2]) {
    stls_state s;
    stls_init(&s);
    char buf[2][8192];
    size_t have[2] = {0, 0};
    stls_rc rc = STLS_PENDING;
    for (size_t i = 0; i < n && rc == STLS_PENDING; i++) {
        size_t len = steps[i].len ? steps[i].len : strlen(steps[i].data);
        int r = steps[i].role;
        for (size_t k = 0; k < len && rc == STLS_PENDING;) {
            size_t chunk = bytewise ? 1 : len;
            memcpy(buf[r] + have[r], steps[i].data + k, chunk);
            have[r] += chunk;
            k += chunk;
            size_t used;
            rc = stls_feed(&s, r, (const uint8_t *)buf[r], have[r], &used, st);
            memmove(buf[r], buf[r] + used, have[r] - used);
            have[r] -= used;
        }
    }
    *proto = s.proto;
    last = s;
    left[0] = have[0];
    left[1] = have[1];
    return rc;
}

static void expect(const char *name, const step *steps, size_t n, stls_rc want, const char *proto,
                   uint64_t refused) {
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        an_stats st;
        memset(&st, 0, sizeof st);
        stls_proto p;
        size_t left[2];
        stls_rc rc = run(steps, n, bytewise, &st, &p, left);
        if (rc != want || strcmp(stls_proto_name(p), proto) != 0 || st.starttls_refused != refused)
            fprintf(stderr, "%s (bytewise %d): rc %d proto %s refused %llu\n", name, bytewise, rc,
                    stls_proto_name(p), (unsigned long long)st.starttls_refused);
        CHECK_EQ_U(rc, want);
        CHECK_STR(stls_proto_name(p), proto);
        CHECK_EQ_U(st.starttls_refused, refused);
        if (want == STLS_UPGRADED) /* nothing of the plaintext is left over */
            CHECK(left[0] == 0 && left[1] == 0 && name);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The facts a session that stays in plaintext leaves (tls.starttls_missing), whole and
 * bytewise. */
static void facts(const char *name, const step *steps, size_t n, bool offered, bool asked,
                  bool refused, uint32_t cmds) {
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        an_stats st;
        memset(&st, 0, sizeof st);
        stls_proto p;
        size_t left[2];
        run(steps, n, bytewise, &st, &p, left);
        if (last.offered != offered || last.asked != asked || last.refused != refused ||
            last.session_cmds != cmds)
            fprintf(stderr, "%s (bytewise %d): offered %d asked %d refused %d cmds %u\n", name,
                    bytewise, last.offered, last.asked, last.refused, last.session_cmds);
        CHECK_EQ_U(last.offered, offered);
        CHECK_EQ_U(last.asked, asked);
        CHECK_EQ_U(last.refused, refused);
        CHECK_EQ_U(last.session_cmds, cmds);
    }
}

int main(void) {
    const step smtp[] = {{1, "220 mx.example.test ESMTP Postfix\r\n"},
                         {0, "EHLO client\r\n"},
                         {1, "250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"},
                         {0, "STARTTLS\r\n"},
                         {1, "220 2.0.0 Ready to start TLS\r\n"}};
    expect("smtp", smtp, N(smtp), STLS_UPGRADED, "smtp", 0);

    /* pipelined: EHLO and STARTTLS in one segment; the 250 answers EHLO, the 220 STARTTLS */
    const step smtp_pipe[] = {{1, "220 mx ESMTP\r\n"},
                              {0, "EHLO c\r\nSTARTTLS\r\n"},
                              {1, "250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n"}};
    expect("smtp pipelined", smtp_pipe, N(smtp_pipe), STLS_UPGRADED, "smtp", 0);

    const step smtp_refused[] = {{1, "220 mx ESMTP\r\n"},
                                 {0, "EHLO c\r\n"},
                                 {1, "250 mx\r\n"},
                                 {0, "STARTTLS\r\n"},
                                 {1, "454 4.7.0 TLS not available\r\n"},
                                 {0, "MAIL FROM:<a@b>\r\n"},
                                 {1, "250 ok\r\n"}};
    expect("smtp refused", smtp_refused, N(smtp_refused), STLS_PENDING, "smtp", 1);

    const step imap[] = {{0, "a CAPABILITY\r\n"}, /* the client speaks before the greeting */
                         {1, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"},
                         {1, "* CAPABILITY IMAP4rev1 STARTTLS\r\na OK done\r\n"},
                         {0, "b STARTTLS\r\n"},
                         {1, "b OK Begin TLS negotiation now\r\n"}};
    /* the dialogue starts with the client: the engine waits for the greeting to classify */
    expect("imap", imap + 1, N(imap) - 1, STLS_UPGRADED, "imap", 0);
    const step imap_no[] = {{1, "* OK ready\r\n"}, {0, "x1 STARTTLS\r\n"}, {1, "x1 BAD no\r\n"}};
    expect("imap refused", imap_no, N(imap_no), STLS_PENDING, "imap", 1);

    const step pop3[] = {{1, "+OK Dovecot ready.\r\n"}, {0, "STLS\r\n"}, {1, "+OK Begin TLS\r\n"}};
    expect("pop3", pop3, N(pop3), STLS_UPGRADED, "pop3", 0);

    const step ftp[] = {{1, "220-Welcome\r\n220 FTP ready\r\n"},
                        {0, "AUTH TLS\r\n"},
                        {1, "234 Proceed with negotiation.\r\n"}};
    expect("ftp", ftp, N(ftp), STLS_UPGRADED, "ftp", 0);
    const step ftp_no[] = {{1, "220 FTP\r\n"}, {0, "AUTH TLS\r\n"}, {1, "530 no\r\n"}};
    expect("ftp refused", ftp_no, N(ftp_no), STLS_PENDING, "ftp", 1);

    const step xmpp[] = {
        {0, "<?xml version='1.0'?><stream:stream to='xmpp.example.test' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"},
        {1, "<?xml version='1.0'?><stream:stream from='xmpp.example.test' id='1' version='1.0'>"
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
            "</starttls></stream:features>"},
        {0, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
        {1, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}};
    expect("xmpp", xmpp, N(xmpp), STLS_UPGRADED, "xmpp", 0);

    static const char pg_req[] = {0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x2f};
    const step pg[] = {{0, pg_req, 8}, {1, "S"}};
    expect("postgres", pg, N(pg), STLS_UPGRADED, "postgres", 0);
    const step pg_no[] = {{0, pg_req, 8}, {1, "N"}};
    expect("postgres refused", pg_no, N(pg_no), STLS_NOT, "postgres", 1);

    /* LDAP: ExtendedRequest for StartTLS (messageID 1), success response */
    static const char ldap_req[] = "\x30\x1d\x02\x01\x01\x77\x18\x80\x16"
                                   "1.3.6.1.4.1.1466.20037";
    static const char ldap_ok[] = "\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
    const step ldap[] = {{0, ldap_req, sizeof ldap_req - 1}, {1, ldap_ok, sizeof ldap_ok - 1}};
    expect("ldap", ldap, N(ldap), STLS_UPGRADED, "ldap", 0);
    static const char ldap_err[] = "\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x02\x04\x00\x04\x00";
    const step ldap_no[] = {{0, ldap_req, sizeof ldap_req - 1}, {1, ldap_err, sizeof ldap_err - 1}};
    expect("ldap refused", ldap_no, N(ldap_no), STLS_PENDING, "ldap", 1);

    /* MySQL: a v10 greeting, then the client's 32-byte SSLRequest (CLIENT_SSL set) */
    static const char my_greet[] = "\x0b\x00\x00\x00\x0a"
                                   "8.0.0\0\x01\x00\x00\x00";
    static char my_ssl[36] = {32, 0, 0, 1, 0x00, 0x08, 0, 0};
    const step my[] = {{1, my_greet, sizeof my_greet - 1}, {0, my_ssl, sizeof my_ssl}};
    expect("mysql", my, N(my), STLS_UPGRADED, "mysql", 0);

    /* Sessions that stay in plaintext: what was offered, asked, refused, and how many client
     * commands went out unprotected (greeting, capabilities and goodbye do not count) */
    facts("smtp upgraded", smtp, N(smtp), true, true, false, 0);
    const step smtp_plain[] = {{1, "220 mx ESMTP\r\n"},
                               {0, "EHLO c\r\n"},
                               {1, "250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n"},
                               {0, "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"},
                               {1, "250 ok\r\n250 ok\r\n"},
                               {0, "DATA\r\n"},
                               {1, "354 go ahead\r\n"},
                               {0, "Subject: hi\r\n\r\nQUIT is not a command here\r\n.\r\n"},
                               {1, "250 queued\r\n"},
                               {0, "QUIT\r\n"},
                               {1, "221 bye\r\n"}};
    facts("smtp never asked", smtp_plain, N(smtp_plain), true, false, false, 3);
    const step smtp_check[] = {{1, "220 mx ESMTP\r\n"},
                               {0, "EHLO c\r\n"},
                               {1, "250 mx\r\n"},
                               {0, "\r\nQUIT\r\n"},
                               {1, "221 bye\r\n"}};
    facts("smtp health check, not offered", smtp_check, N(smtp_check), false, false, false, 0);
    facts("smtp refused", smtp_refused, N(smtp_refused), false, true, true, 1);
    const step xmpp_plain[] = {
        {0, "<?xml version='1.0'?><stream:stream to='x.test' xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"},
        {1, "<?xml version='1.0'?><stream:stream from='x.test' id='1' version='1.0'>"
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
            "</starttls></stream:features>"},
        {0, " <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>"},
        {1, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>"},
        {0, "<iq type='get' id='1'><query xmlns='jabber:iq:version'/></iq></stream:stream>"}};
    facts("xmpp upgraded", xmpp, N(xmpp), true, true, false, 0);
    facts("xmpp auth in plaintext", xmpp_plain, N(xmpp_plain), true, false, false, 2);
    const step imap_plain[] = {{1, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"},
                               {0, "a1 CAPABILITY\r\n"},
                               {1, "* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"},
                               {0, "a2 LOGIN alice s3cret\r\n"},
                               {1, "a2 NO plaintext\r\n"},
                               {0, "a3 LOGOUT\r\n"}};
    facts("imap login in plaintext", imap_plain, N(imap_plain), true, false, false, 1);
    facts("postgres refused", pg_no, N(pg_no), false, true, true, 0);

    /* Not STARTTLS protocols */
    const step http[] = {{1, "HTTP/1.1 200 OK\r\n\r\n"}};
    expect("http", http, N(http), STLS_NOT, "unknown", 0);

    /* A greeting that never ends: the line cap stops it, counted */
    char *endless = malloc(8000);
    memcpy(endless, "220 ", 4);
    memset(endless + 4, 'x', 7996);
    const step longline[] = {{1, endless, 8000}};
    an_stats st;
    memset(&st, 0, sizeof st);
    stls_proto p;
    size_t left[2];
    CHECK_EQ_U(run(longline, 1, false, &st, &p, left), STLS_NOT);
    CHECK_EQ_U(st.an[AN_AN_starttls_line_too_long], 1);
    free(endless);
    MW_TEST_END();
}
