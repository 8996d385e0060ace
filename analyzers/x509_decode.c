/* The short decoder walk (x509_decode.h): a library context whose one provider, built in, is
 * the default provider's dispatch behind a filter on two operations. */
#include "x509_decode.h"

#include <openssl/asn1t.h>
#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <string.h>

/* the key types a certificate's key may have here; any other falls back to d2i_X509 */
static const char *const key_types[] = {"RSA", "RSA-PSS", "EC", "ED25519", "ED448"};
#define MAX_KEPT 32

static OSSL_FUNC_provider_query_operation_fn *def_query;
static void *def_provctx;
static OSSL_ALGORITHM kept_keymgmt[MAX_KEPT + 1], kept_decoder[MAX_KEPT + 1];
static OSSL_LIB_CTX *short_ctx;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static x509_decode_counts counts;

/* The first of an algorithm's names ("EC:id-ecPublicKey:1.2.840.10045.2.1") is one of ours.
 * The decoders' "DER" is the one that takes a SubjectPublicKeyInfo apart for the typed ones. */
static bool first_name_in(const char *names, bool der_too) {
    size_t n = strcspn(names, ":");
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
        if (strlen(key_types[i]) == n && strncmp(names, key_types[i], n) == 0) return true;
    return der_too && n == 3 && strncmp(names, "DER", 3) == 0;
}

static bool keep(const OSSL_ALGORITHM *a, int op) {
    if (op == OSSL_OP_KEYMGMT) return first_name_in(a->algorithm_names, false);
    /* decoders: DER input, SubjectPublicKeyInfo structure */
    const char *pd = a->property_definition ? a->property_definition : "";
    return strstr(pd, "input=der") && strstr(pd, "structure=SubjectPublicKeyInfo") &&
           first_name_in(a->algorithm_names, true);
}

static bool filter(int op, OSSL_ALGORITHM *out) {
    int no_cache = 0;
    const OSSL_ALGORITHM *a = def_query(def_provctx, op, &no_cache);
    size_t k = 0;
    for (; a && a->algorithm_names; a++)
        if (keep(a, op)) {
            if (k == MAX_KEPT) return false;
            out[k++] = *a;
        }
    return k > 0; /* out[k] stays zero: the end */
}

static const OSSL_ALGORITHM *short_query(void *provctx, int op, int *no_cache) {
    (void)provctx;
    if (op == OSSL_OP_KEYMGMT || op == OSSL_OP_DECODER) {
        *no_cache = 0;
        return op == OSSL_OP_KEYMGMT ? kept_keymgmt : kept_decoder;
    }
    return def_query(def_provctx, op, no_cache);
}

static const OSSL_DISPATCH short_dispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))short_query},
    {0, NULL},
};

/* The algorithms are the default provider's, so they get its provider context. */
static int short_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                      const OSSL_DISPATCH **out, void **provctx) {
    (void)handle;
    (void)in;
    *out = short_dispatch;
    *provctx = def_provctx;
    return 1;
}

static void make_ctx(void) {
    ERR_set_mark();
    /* only when the process already uses it (a FIPS-only configuration does not: it is not
     * loaded into the default context here); then this is one more reference to it */
    OSSL_PROVIDER *def = OSSL_PROVIDER_available(NULL, "default")
                             ? OSSL_PROVIDER_try_load(NULL, "default", 1)
                             : NULL;
    const OSSL_DISPATCH *d = def ? OSSL_PROVIDER_get0_dispatch(def) : NULL;
    for (; d && d->function_id; d++)
        if (d->function_id == OSSL_FUNC_PROVIDER_QUERY_OPERATION)
            def_query = (OSSL_FUNC_provider_query_operation_fn *)(void (*)(void))d->function;
    def_provctx = def ? OSSL_PROVIDER_get0_provider_ctx(def) : NULL;
    OSSL_LIB_CTX *ctx = NULL;
    if (def_query && def_provctx && filter(OSSL_OP_KEYMGMT, kept_keymgmt) &&
        filter(OSSL_OP_DECODER, kept_decoder) && (ctx = OSSL_LIB_CTX_new()) &&
        OSSL_PROVIDER_add_builtin(ctx, "mitmwatch-x509", short_init) &&
        OSSL_PROVIDER_load(ctx, "mitmwatch-x509")) {
        short_ctx = ctx;
    } else {
        OSSL_LIB_CTX_free(ctx);
    }
    ERR_pop_to_mark();
}

OSSL_LIB_CTX *x509_decode_libctx(void) {
    pthread_once(&once, make_ctx);
    return short_ctx;
}

X509 *x509_decode(const unsigned char *der, size_t len) {
    if (len == 0 || len > INT32_MAX) return NULL;
    OSSL_LIB_CTX *ctx = x509_decode_libctx();
    const unsigned char *p = der;
    X509 *x = NULL;
    if (ctx) {
        x = (X509 *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509), ctx, NULL);
        if (!x || p != der + len) {
            /* the walk is not what failed: the same bytes fail d2i_X509 too */
            X509_free(x);
            return NULL;
        }
        ERR_set_mark();
        bool have_key = X509_get0_pubkey(x) != NULL;
        ERR_pop_to_mark();
        if (have_key) {
            __atomic_fetch_add(&counts.fast, 1, __ATOMIC_RELAXED);
            return x;
        }
        X509_free(x);
        __atomic_fetch_add(&counts.fallback, 1, __ATOMIC_RELAXED);
        p = der;
    }
    x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

x509_decode_counts x509_decode_stats(void) {
    x509_decode_counts c;
    c.fast = __atomic_load_n(&counts.fast, __ATOMIC_RELAXED);
    c.fallback = __atomic_load_n(&counts.fallback, __ATOMIC_RELAXED);
    return c;
}
