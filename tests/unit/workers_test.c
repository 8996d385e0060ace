/* tools/workers.c: the symmetric flow hash, the reader's rings (every frame reaches its worker
 * once, whole and in order, with back-pressure and no loss), the time ticks, wk_pool_sync, and
 * wk_pool_cur and wk_pool_wait_passed (what the workers judge, each once the others are past
 * its record, comes out in the order of the input). Run under
 * ThreadSanitizer by the test command (-DMW_TSAN=ON). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ev_x509.h"
#include "mw_hash.h"
#include "mw_test.h"
#include "workers.h"
#include "x509_info.h"

#define NFRAMES 60000u
#define NW 3u

/* An Ethernet + IPv4 + TCP frame from (a, ap) to (b, bp), with a payload of plen bytes whose
 * first 4 bytes carry seq. */
static uint32_t make_frame(uint8_t *f, uint32_t a, uint16_t ap, uint32_t b, uint16_t bp,
                           uint32_t seq, uint32_t plen) {
    memset(f, 0, 54 + plen);
    f[12] = 0x08; /* IPv4 */
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    uint16_t tot = (uint16_t)(20 + 20 + plen);
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = 6;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t)(a >> (24 - 8 * i));
        ip[16 + i] = (uint8_t)(b >> (24 - 8 * i));
    }
    uint8_t *tcp = ip + 20;
    tcp[0] = (uint8_t)(ap >> 8);
    tcp[1] = (uint8_t)ap;
    tcp[2] = (uint8_t)(bp >> 8);
    tcp[3] = (uint8_t)bp;
    tcp[12] = 0x50;
    tcp[13] = 0x18;
    uint8_t *pl = tcp + 20;
    memcpy(pl, &seq, plen < 4 ? plen : 4);
    for (uint32_t i = 4; i < plen; i++)
        pl[i] = (uint8_t)(seq + i);
    return 54 + plen;
}

typedef struct {
    unsigned id;
    wk_pool **pool;
    uint64_t frames, bytes, ticks, last_tick;
    uint32_t last_seq;
    bool order_ok, content_ok;
} worker;

/* what the workers "judge", in the order they judged it */
static pthread_mutex_t judged_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t judged[NFRAMES];
static unsigned njudged;

static void on_frame(void *user, int dlt, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                     uint32_t wire_len) {
    worker *w = user;
    (void)dlt;
    (void)wire_len;
    uint32_t seq;
    memcpy(&seq, data + 54, 4);
    if (w->frames && seq <= w->last_seq) w->order_ok = false;
    if (ts_us != 1000000u + seq || caplen != 54 + 8 + seq % 1500) w->content_ok = false;
    for (uint32_t i = 4; i < caplen - 54; i++)
        if (data[54 + i] != (uint8_t)(seq + i)) w->content_ok = false;
    w->last_seq = seq;
    w->frames++;
    w->bytes += caplen;
    if (seq % 7 == 0) { /* a "handshake": judged in the input's order */
        uint64_t k = wk_pool_cur(*w->pool, w->id);
        if (k != seq) w->order_ok = false; /* the record's place in the input: the seq-th frame */
        for (unsigned j = 0; j < NW; j++)
            if (j != w->id) wk_pool_wait_passed(*w->pool, j, k);
        pthread_mutex_lock(&judged_mu);
        judged[njudged++] = seq;
        pthread_mutex_unlock(&judged_mu);
    }
}

static void on_tick(void *user, uint64_t ts_us) {
    worker *w = user;
    if (ts_us < w->last_tick) w->order_ok = false;
    w->last_tick = ts_us;
    w->ticks++;
}

static void test_hash(void) {
    uint8_t f1[128], f2[128];
    unsigned seen[4] = {0};
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t l1 =
            make_frame(f1, 0xc0000201u + i, (uint16_t)(40000 + i), 0xc6336402u, 443, 1, 8);
        uint32_t l2 =
            make_frame(f2, 0xc6336402u, 443, 0xc0000201u + i, (uint16_t)(40000 + i), 1, 8);
        unsigned a = wk_flow_worker(1, f1, l1, 4), b = wk_flow_worker(1, f2, l2, 4);
        CHECK(a == b);
        CHECK(a < 4);
        seen[a]++;
    }
    for (int i = 0; i < 4; i++)
        CHECK(seen[i] > 150); /* spread over every worker */
    uint8_t arp[60] = {0};
    arp[12] = 0x08;
    arp[13] = 0x06;
    CHECK(wk_flow_worker(1, arp, sizeof arp, 4) == 0);
    CHECK(wk_flow_worker(1, f1, 10, 4) == 0); /* truncated */
    CHECK(wk_flow_worker(1, f1, 62, 1) == 0);
}

static void test_pool(void) {
    static worker ws[NW];
    void *users[NW];
    wk_pool *pool = NULL;
    for (unsigned i = 0; i < NW; i++) {
        ws[i] = (worker){.id = i, .pool = &pool, .order_ok = true, .content_ok = true};
        users[i] = &ws[i];
    }
    wk_pool_cfg cfg = {.n = NW,
                       .ring_bytes = 64u << 10, /* small: the reader must wait */
                       .on_frame = on_frame,
                       .on_tick = on_tick,
                       .users = users};
    char err[256];
    /* the workers read pool through ws[].pool: set before the first frame */
    pool = wk_pool_start(&cfg, err, sizeof err);
    CHECK(pool != NULL);
    if (!pool) return;
    static uint8_t f[2048];
    uint64_t want_bytes = 0, want_frames[NW] = {0};
    for (uint32_t seq = 0; seq < NFRAMES; seq++) {
        uint32_t len = make_frame(f, 0x0a000001u + seq % 97, (uint16_t)(1000 + seq % 31),
                                  0x0a000101u, 443, seq, 8 + seq % 1500);
        if (seq % 5000 == 0) wk_pool_tick(pool, 1000000u + seq);
        wk_pool_frame(pool, 1, 1000000u + seq, f, len, len);
        want_bytes += len;
        want_frames[wk_flow_worker(1, f, len, NW)]++;
        if (seq == NFRAMES / 2) {
            wk_pool_sync(pool);
            uint64_t got = 0;
            for (unsigned i = 0; i < NW; i++)
                got += ws[i].frames;
            CHECK(got == seq + 1); /* after a sync, everything handed is handled */
        }
    }
    wk_pool_sync(pool);
    uint64_t got_bytes = 0;
    for (unsigned i = 0; i < NW; i++) {
        CHECK(ws[i].frames == want_frames[i]);
        CHECK(ws[i].order_ok);
        CHECK(ws[i].content_ok);
        CHECK(ws[i].ticks == NFRAMES / 5000);
        got_bytes += ws[i].bytes;
    }
    CHECK(got_bytes == want_bytes);
    CHECK(wk_pool_full_waits(pool) > 0); /* the small rings filled: back-pressure, no loss */
    CHECK(njudged == (NFRAMES + 6) / 7);
    bool in_order = true;
    for (unsigned i = 1; i < njudged; i++)
        if (judged[i] <= judged[i - 1]) in_order = false;
    CHECK(in_order);
    wk_pool_stop(pool);
}

/* ---- the shared certificate cache: one decode per distinct DER, from any thread ---- */

#define NCERTS 8
#define NTHREADS 4
static uint8_t *ders[NCERTS];
static size_t der_lens[NCERTS];
static x509_cache *shared;

static void make_certs(void) {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    for (int i = 0; i < NCERTS; i++) {
        X509 *x = X509_new();
        char cn[32];
        snprintf(cn, sizeof cn, "w%d.workers.test", i);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_set_issuer_name(x, n);
        X509_set_pubkey(x, k);
        X509_sign(x, k, EVP_sha256());
        unsigned char *d = NULL;
        int l = i2d_X509(x, &d);
        ders[i] = d;
        der_lens[i] = (size_t)l;
        X509_free(x);
    }
    EVP_PKEY_free(k);
}

static void *cache_user(void *arg) {
    unsigned t = (unsigned)(uintptr_t)arg;
    mw_buf b;
    mw_buf_init(&b, 1u << 16);
    for (unsigned r = 0; r < 400; r++) {
        int i = (int)((r * 7 + t) % NCERTS);
        x509_info *e = x509_cache_get(shared, ders[i], der_lens[i]);
        if (!e) continue;
        x509_info_ref(e);
        mw_json j;
        mw_buf_reset(&b);
        mw_json_init(&j, &b);
        ev_x509_chain_entry(&j, e); /* the render slots fill from several threads */
        ev_x509_object(&j, e);
        x509_info_unref(shared, e);
        x509_info_unref(shared, e);
    }
    mw_buf_free(&b);
    mw_hash_thread_cleanup();
    return NULL;
}

static void test_shared_cache(void) {
    make_certs();
    shared = x509_cache_new_shared(64, 0, 4);
    CHECK(shared != NULL);
    if (!shared) return;
    pthread_t th[NTHREADS];
    for (unsigned t = 0; t < NTHREADS; t++)
        CHECK(pthread_create(&th[t], NULL, cache_user, (void *)(uintptr_t)t) == 0);
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    an_stats st;
    memset(&st, 0, sizeof st);
    x509_cache_stats(shared, &st);
    CHECK_EQ_U(st.cert_cache_misses, NCERTS); /* each distinct certificate decoded once */
    CHECK_EQ_U(st.cert_cache_hits + st.cert_cache_misses, NTHREADS * 400);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_evicted], 0);
    CHECK_EQ_U(st.an[AN_AN_x509_cache_full], 0);
    x509_cache_free(shared);
    for (int i = 0; i < NCERTS; i++)
        OPENSSL_free(ders[i]);
}

int main(void) {
    CHECK(mw_hash_init());
    test_hash();
    test_pool();
    test_shared_cache();
    mw_hash_cleanup();
    MW_TEST_END();
}
