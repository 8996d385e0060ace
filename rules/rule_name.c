#include "rule_name.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

static size_t trim_dot(const char *s, size_t n) {
    return n && s[n - 1] == '.' ? n - 1 : n;
}

bool rule_name_match(const char *presented, size_t plen, const char *host) {
    size_t hlen = trim_dot(host, strlen(host));
    plen = trim_dot(presented, plen);
    if (plen == 0 || hlen == 0 || memchr(presented, '\0', plen)) return false;
    if (presented[0] != '*') {
        if (memchr(presented, '*', plen)) /* a '*' anywhere else is never a wildcard */
            return false;
        return plen == hlen && strncasecmp(presented, host, plen) == 0;
    }
    /* "*." + at least two labels */
    if (plen < 3 || presented[1] != '.') return false;
    const char *rest = presented + 1; /* ".example.org" */
    size_t rlen = plen - 1;
    if (memchr(rest + 1, '.', rlen - 1) == NULL || memchr(rest, '*', rlen)) return false;
    if (hlen <= rlen || strncasecmp(host + hlen - rlen, rest, rlen) != 0) return false;
    size_t first = hlen - rlen; /* the label the wildcard stands for */
    if (memchr(host, '.', first)) return false;
    if (first >= 4 && strncasecmp(host, "xn--", 4) == 0) /* 6.4.3: not into an A-label */
        return false;
    return true;
}

bool rule_cert_covers(X509 *x, const char *host) {
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    bool hit = rule_cert_covers_sans(x, gens, host);
    GENERAL_NAMES_free(gens);
    return hit;
}

bool rule_cert_covers_sans(X509 *x, const GENERAL_NAMES *gens, const char *host) {
    unsigned char ip[16];
    int iplen = 0;
    if (inet_pton(AF_INET, host, ip) == 1)
        iplen = 4;
    else if (inet_pton(AF_INET6, host, ip) == 1)
        iplen = 16;
    bool any_dns = false, hit = false;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !hit; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            any_dns = true;
            if (!iplen)
                hit = rule_name_match((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                                      (size_t)ASN1_STRING_length(g->d.dNSName), host);
        } else if (g->type == GEN_IPADD && iplen) {
            hit = ASN1_STRING_length(g->d.iPAddress) == iplen &&
                  memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0;
        }
    }
    if (hit || any_dns || iplen) return hit;
    const X509_NAME *subj = X509_get_subject_name(x);
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0) {
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        if (rule_name_match((const char *)ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn),
                            host))
            return true;
    }
    return false;
}
