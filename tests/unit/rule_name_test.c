/* rules/rule_name: RFC 6125 section 6.4 host name matching, identifier by identifier, and a
 * certificate's SANs with the CN fallback only when there is no dNSName. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mw_test.h"
#include "rule_name.h"

static bool m(const char *presented, const char *host) {
    return rule_name_match(presented, strlen(presented), host);
}

static X509 *cert(const char *cn, const char *san) {
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_NAME_free(n);
    if (san) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    return x;
}

int main(void) {
    CHECK(m("www.example.org", "www.example.org"));
    CHECK(m("WWW.Example.ORG", "www.example.org"));
    CHECK(m("www.example.org.", "www.example.org"));
    CHECK(m("www.example.org", "www.example.org."));
    CHECK(!m("www.example.org", "example.org"));
    CHECK(!m("www.example.org", "www.example.org.evil"));
    /* wildcard: the whole left-most label, one label, not empty */
    CHECK(m("*.example.org", "www.example.org"));
    CHECK(m("*.example.org", "XMPP.example.org"));
    CHECK(!m("*.example.org", "example.org"));
    CHECK(!m("*.example.org", ".example.org"));
    CHECK(!m("*.example.org", "a.b.example.org"));
    CHECK(!m("*.org", "example.org"));         /* at least two labels after it */
    CHECK(!m("w*.example.org", "www.example.org")); /* partial-label: not honoured */
    CHECK(!m("*w.example.org", "www.example.org"));
    CHECK(!m("www.*.org", "www.example.org"));
    CHECK(!m("*.*.example.org", "a.b.example.org"));
    CHECK(!m("*.example.org", "xn--bcher-kva.example.org")); /* not into an A-label */
    CHECK(!m("", "example.org"));
    CHECK(!rule_name_match("a\0b.org", 7, "a"));

    X509 *x = cert("cn.example.org", "DNS:www.example.org,DNS:*.example.net,IP:192.0.2.7");
    CHECK(rule_cert_covers(x, "www.example.org"));
    CHECK(rule_cert_covers(x, "mail.example.net"));
    CHECK(!rule_cert_covers(x, "cn.example.org")); /* SAN DNS present: CN not consulted */
    CHECK(rule_cert_covers(x, "192.0.2.7"));
    CHECK(!rule_cert_covers(x, "192.0.2.8"));
    X509_free(x);
    x = cert("cn.example.org", NULL);
    CHECK(rule_cert_covers(x, "cn.example.org")); /* no dNSName: the CN */
    CHECK(!rule_cert_covers(x, "www.example.org"));
    X509_free(x);
    x = cert("cn.example.org", "IP:192.0.2.7");
    CHECK(rule_cert_covers(x, "cn.example.org")); /* an iPAddress is not a dNSName */
    X509_free(x);
    MW_TEST_END();
}
