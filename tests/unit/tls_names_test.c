/* Unit test for analyzers/tls_names.c. Expected values are the IANA registry entries
 * (tools/data/tls-parameters-4.csv, 2026-04-20 snapshot) typed in by hand, plus exact counts
 * over the whole 16-bit space. Prints every failure; exit status 0 only when all pass. */
#include "tls_names.h"

#include <stdio.h>
#include <string.h>

static int failures;
static int checks;

static void fail(const char *what, unsigned id, const char *got, const char *want) {
    failures++;
    printf("FAIL %s 0x%04X: got %s, want %s\n", what, id, got ? got : "(null)",
           want ? want : "(null)");
}

static void check_str(const char *what, unsigned id, const char *got, const char *want) {
    checks++;
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
        fail(what, id, got, want);
}

static void check_uint(const char *what, unsigned id, unsigned got, unsigned want) {
    checks++;
    if (got != want) {
        failures++;
        printf("FAIL %s 0x%04X: got %u (0x%X), want %u (0x%X)\n", what, id, got, got, want, want);
    }
}

/* want_why NULL means "not weak". */
static void check_suite(uint16_t id, const char *want_name, const char *want_why) {
    check_str("name", id, tls_cipher_name(id), want_name);
    const char *why = "untouched";
    bool weak = tls_cipher_is_weak(id, &why);
    check_uint("is_weak", id, weak, want_why != NULL);
    check_str("why", id, why, want_why);
    /* why may be NULL */
    check_uint("is_weak(why=NULL)", id, tls_cipher_is_weak(id, NULL), want_why != NULL);
}

static void test_named_suites(void) {
    /* 0x00 row: the oldest suites, weak in every way the set knows. */
    check_suite(0x0000, "TLS_NULL_WITH_NULL_NULL", "null");
    check_suite(0x0001, "TLS_RSA_WITH_NULL_MD5", "null");
    check_suite(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "export");
    check_suite(0x0004, "TLS_RSA_WITH_RC4_128_MD5", "rc4");
    check_suite(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", "export");
    check_suite(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", NULL); /* IDEA: outside the chosen set */
    check_suite(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", "des");
    check_suite(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3des");
    check_suite(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", "anonymous");
    check_suite(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", "anonymous");
    check_suite(0x001C, NULL, NULL); /* reserved to avoid conflicts with SSLv3 */
    check_suite(0x001E, "TLS_KRB5_WITH_DES_CBC_SHA", "des");
    check_suite(0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", "export");
    check_suite(0x002C, "TLS_PSK_WITH_NULL_SHA", "null");
    check_suite(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", NULL);
    check_suite(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", "anonymous");
    check_suite(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", NULL);
    check_suite(0x005D, NULL, NULL);
    check_suite(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", "anonymous");
    check_suite(0x006E, "TLS_ASCONAEAD128_ASCONHASH256", NULL);
    check_suite(0x0071, "TLS_AES_128_CCM_ASCONHASH256", NULL);
    check_suite(0x0072, NULL, NULL);
    check_suite(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", NULL);
    check_suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", NULL);
    check_suite(0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", "null");
    check_suite(0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", "anonymous");
    check_suite(0x00C6, "TLS_SM4_GCM_SM3", NULL);
    check_suite(0x00C8, NULL, NULL);
    check_suite(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", NULL);
    check_suite(0x0100, NULL, NULL);
    /* TLS 1.3 (RFC 8446) and AEGIS. */
    check_suite(0x1300, NULL, NULL);
    check_suite(0x1301, "TLS_AES_128_GCM_SHA256", NULL);
    check_suite(0x1302, "TLS_AES_256_GCM_SHA384", NULL);
    check_suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", NULL);
    check_suite(0x1304, "TLS_AES_128_CCM_SHA256", NULL);
    check_suite(0x1305, "TLS_AES_128_CCM_8_SHA256", NULL);
    check_suite(0x1306, "TLS_AEGIS_256_SHA512", NULL);
    check_suite(0x1307, "TLS_AEGIS_128L_SHA256", NULL);
    check_suite(0x1308, NULL, NULL);
    check_suite(0x5600, "TLS_FALLBACK_SCSV", NULL);
    check_suite(0x5601, NULL, NULL);
    /* 0xC0 row: ECC, SRP, ARIA, CAMELLIA, CCM, ECCPWD, integrity-only. */
    check_suite(0xC000, NULL, NULL);
    check_suite(0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", "null");
    check_suite(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "rc4");
    check_suite(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "3des");
    check_suite(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", "null"); /* anonymous NULL */
    check_suite(0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", "anonymous");
    check_suite(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "anonymous");
    check_suite(0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", "3des");
    check_suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", NULL);
    check_suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", NULL);
    check_suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", NULL);
    check_suite(0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", NULL);
    check_suite(0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", NULL);
    check_suite(0xC05B, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384", "anonymous");
    check_suite(0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", NULL);
    check_suite(0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", NULL);
    check_suite(0xC09C, "TLS_RSA_WITH_AES_128_CCM", NULL);
    check_suite(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", NULL);
    check_suite(0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", NULL);
    check_suite(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", NULL);
    check_suite(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", NULL);
    check_suite(0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", NULL);
    check_suite(0xC0B4, "TLS_SHA256_SHA256", "null"); /* RFC 9150: integrity only */
    check_suite(0xC0B5, "TLS_SHA384_SHA384", "null");
    check_suite(0xC0B6, NULL, NULL);
    check_suite(0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", NULL);
    check_suite(0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", NULL);
    check_suite(0xC107, NULL, NULL);
    check_suite(0xCCA7, NULL, NULL);
    check_suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", NULL);
    check_suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", NULL);
    check_suite(0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", NULL);
    check_suite(0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", NULL);
    check_suite(0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", NULL);
    check_suite(0xD004, NULL, NULL);
    check_suite(0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", NULL); /* last row */
    check_suite(0xFEFE, NULL, NULL);                                    /* reserved */
    check_suite(0xFF00, NULL, NULL);                                    /* private use */
    check_suite(0xFFFF, NULL, NULL);
}

static void test_flags(void) {
    check_uint("flags", 0x0000, tls_cipher_flags(0x0000), TLS_CF_NULL | TLS_CF_ANON);
    check_uint("flags", 0xC015, tls_cipher_flags(0xC015),
               TLS_CF_NULL | TLS_CF_ANON | TLS_CF_DISCOURAGED);
    check_uint("flags", 0x0003, tls_cipher_flags(0x0003),
               TLS_CF_EXPORT | TLS_CF_RC4 | TLS_CF_DISCOURAGED);
    check_uint("flags", 0x0019, tls_cipher_flags(0x0019),
               TLS_CF_ANON | TLS_CF_EXPORT | TLS_CF_DES | TLS_CF_DISCOURAGED);
    check_uint("flags", 0x0007, tls_cipher_flags(0x0007), TLS_CF_DISCOURAGED);
    check_uint("flags", 0x00FF, tls_cipher_flags(0x00FF), TLS_CF_SCSV);
    check_uint("flags", 0x5600, tls_cipher_flags(0x5600), TLS_CF_SCSV);
    check_uint("flags", 0xC02F, tls_cipher_flags(0xC02F), 0);
    check_uint("flags", 0x1301, tls_cipher_flags(0x1301), 0);
    check_uint("flags", 0x0A0A, tls_cipher_flags(0x0A0A), 0);
    check_uint("flags", 0x1234, tls_cipher_flags(0x1234), 0);
}

static void test_grease(void) {
    for (unsigned hi = 0; hi < 16; hi++) {
        uint16_t g = (uint16_t)(((hi << 4 | 0xA) << 8) | (hi << 4 | 0xA));
        check_suite(g, NULL, NULL);
    }
    /* Near misses are ordinary unassigned values. */
    check_suite(0x0A1A, NULL, NULL);
    check_suite(0x1A0A, NULL, NULL);
}

/* Independent of the generator: derive the weak set from each returned name here, by string
 * search, and compare with the table's flags for every value in the 16-bit space. */
static unsigned expected_weak_flags(const char *n) {
    unsigned f = 0;
    if (strstr(n, "_WITH_NULL_") || strcmp(n, "TLS_NULL_WITH_NULL_NULL") == 0 ||
        strcmp(n, "TLS_SHA256_SHA256") == 0 || strcmp(n, "TLS_SHA384_SHA384") == 0)
        f |= TLS_CF_NULL;
    if (strstr(n, "_anon_") || strcmp(n, "TLS_NULL_WITH_NULL_NULL") == 0) f |= TLS_CF_ANON;
    if (strstr(n, "EXPORT")) f |= TLS_CF_EXPORT;
    if (strstr(n, "RC4")) f |= TLS_CF_RC4;
    if (strstr(n, "_DES_") || strstr(n, "_DES40_")) f |= TLS_CF_DES;
    if (strstr(n, "3DES")) f |= TLS_CF_3DES;
    return f;
}

static void test_whole_space(void) {
    unsigned named = 0, weak = 0, scsv = 0, discouraged = 0;
    unsigned n_null = 0, n_anon = 0, n_export = 0, n_rc4 = 0, n_des = 0, n_3des = 0;
    unsigned prev = 0;
    bool have_prev = false;
    for (unsigned id = 0; id <= 0xFFFF; id++) {
        const char *name = tls_cipher_name((uint16_t)id);
        unsigned flags = tls_cipher_flags((uint16_t)id);
        const char *why = NULL;
        bool w = tls_cipher_is_weak((uint16_t)id, &why);
        if (!name) {
            if (flags != 0 || w || why) fail("unnamed value has flags/weak", id, why, NULL);
            continue;
        }
        named++;
        if (strncmp(name, "TLS_", 4) != 0) fail("name prefix", id, name, "TLS_*");
        /* Names are unique; adjacent ids sharing a pointer would mean a bad search. */
        if (have_prev && tls_cipher_name((uint16_t)prev) == name)
            fail("same name as previous id", id, name, NULL);
        prev = id;
        have_prev = true;
        check_uint("weak flags vs name", id, flags & TLS_CF_WEAK_MASK, expected_weak_flags(name));
        check_uint("is_weak vs flags", id, w, (flags & TLS_CF_WEAK_MASK) != 0);
        if (flags & TLS_CF_SCSV) scsv++;
        if (flags & TLS_CF_DISCOURAGED) discouraged++;
        if (!w) continue;
        weak++;
        if (!why)
            fail("weak without why", id, NULL, "a reason");
        else if (strcmp(why, "null") == 0)
            n_null++;
        else if (strcmp(why, "anonymous") == 0)
            n_anon++;
        else if (strcmp(why, "export") == 0)
            n_export++;
        else if (strcmp(why, "rc4") == 0)
            n_rc4++;
        else if (strcmp(why, "des") == 0)
            n_des++;
        else if (strcmp(why, "3des") == 0)
            n_3des++;
        else
            fail("unknown why", id, why, NULL);
    }
    /* Counts in the 2026-04-20 registry snapshot (356 TLS_* rows). */
    check_uint("count named", 0, named, 356);
    check_uint("count weak", 0, weak, 99);
    check_uint("count why=null", 0, n_null, 23);
    check_uint("count why=anonymous", 0, n_anon, 26);
    check_uint("count why=export", 0, n_export, 13);
    check_uint("count why=rc4", 0, n_rc4, 12);
    check_uint("count why=des", 0, n_des, 7);
    check_uint("count why=3des", 0, n_3des, 18);
    check_uint("count scsv", 0, scsv, 2);
    check_uint("count discouraged", 0, discouraged, 244);
}

static void check_version(uint16_t v, const char *name, const char *proto) {
    check_str("version_name", v, tls_version_name(v), name);
    check_str("version_protocol", v, tls_version_protocol(v), proto);
}

static void test_versions(void) {
    check_version(0x0002, "2.0", "ssl");
    check_version(0x0300, "3.0", "ssl");
    check_version(0x0301, "1.0", "tls");
    check_version(0x0302, "1.1", "tls");
    check_version(0x0303, "1.2", "tls");
    check_version(0x0304, "1.3", "tls");
    check_version(0xFEFF, "1.0", "dtls");
    check_version(0xFEFD, "1.2", "dtls");
    check_version(0xFEFC, "1.3", "dtls");
    check_version(0x0000, NULL, NULL);
    check_version(0x0200, NULL, NULL);
    check_version(0x0305, NULL, NULL);
    check_version(0x7F1C, "1.3-draft-28", "tls"); /* TLS 1.3 draft 28, as Wireshark names it */
    check_version(0x7F12, "1.3-draft-18", "tls");
    check_version(0xFB1A, "1.3-fb-draft-26", "tls"); /* Facebook's draft 26 variant */
    check_version(0x7F1D, NULL, NULL);               /* there was no draft 29 */
    check_version(0x0A0A, NULL, NULL);               /* GREASE */
    check_version(0xFEFE, NULL, NULL);               /* there was no DTLS 1.1 */
    check_version(0xFEFB, NULL, NULL);
    check_version(0xFFFF, NULL, NULL);
}

int main(void) {
    test_named_suites();
    test_flags();
    test_grease();
    test_whole_space();
    test_versions();
    printf("%s: %d checks, %d failures\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
