/* probes/probe_cert: target parsing. The fetch itself (connect, STARTTLS, handshake, the
 * recorded chain) is exercised against real servers by tests/lab/probe_cert_test.sh, the
 * STARTTLS reply parsers by probe_starttls_test.c. */
#include "mw_test.h"
#include "probe_cert.h"

static void test_target(void) {
    char h[64];
    uint16_t port = 7;
    CHECK(pcert_parse_target("mail.example.test", h, sizeof h, &port) == MW_OK);
    CHECK_STR(h, "mail.example.test");
    CHECK_EQ_U(port, 7);
    CHECK(pcert_parse_target("mail.example.test:587", h, sizeof h, &port) == MW_OK);
    CHECK_STR(h, "mail.example.test");
    CHECK_EQ_U(port, 587);
    CHECK(pcert_parse_target("[2001:db8::1]:5222", h, sizeof h, &port) == MW_OK);
    CHECK_STR(h, "2001:db8::1");
    CHECK_EQ_U(port, 5222);
    port = 9;
    CHECK(pcert_parse_target("::1", h, sizeof h, &port) == MW_OK);
    CHECK_STR(h, "::1");
    CHECK_EQ_U(port, 9);
    CHECK(pcert_parse_target("h:0", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("h:65536", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("h:25x", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("h:", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target(":25", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("[::1", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("[::1]x", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("", h, sizeof h, &port) == MW_MALFORMED);
    CHECK(pcert_parse_target("0123456789", h, 10, &port) == MW_MALFORMED); /* no room for NUL */
}

int main(void) {
    test_target();
    MW_TEST_END();
}
