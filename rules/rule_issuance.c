/* cert.issuance_odd: a watched name's certificate that is not in the known store and was
 * issued unlike the store's certificates for that name: another hour of the day, weekday or
 * lifetime (the cadence of an ACME client's renewals), or renewed at another distance from its
 * predecessor's expiry than the name's usual renewal overlap. */
#include <stdio.h>
#include <stdlib.h>

#include "rule_judge.h"
#include "rule_name.h"

static int hour_of(int64_t t) {
    return (int)(((t % 86400) + 86400) % 86400 / 3600);
}
static int wday_of(int64_t t) {
    return (int)((((t / 86400) + 4) % 7 + 7) % 7);
} /* 1970-01-01 Thu */

/* The renewal overlap: how long before the previous certificate's notAfter the next one's
 * notBefore lies (ACME clients renew at about 2/3 of the lifetime: ~30 days for 90-day
 * certificates). Certificates issued within a day of each other are one renewal (RSA and
 * ECDSA twins, re-issues), dated by the first and lasting until the last to expire. */
#define RE_ISS_MAX 512 /* known certificates per name considered; ~85 years of renewals */
#define RE_ISS_TWIN 86400

typedef struct {
    int64_t nb, na;
} iss_span;

static int span_cmp(const void *a, const void *b) {
    const iss_span *x = a, *y = b;
    return x->nb < y->nb ? -1 : x->nb > y->nb;
}

static int i64_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    bool judged; /* enough steady history, and a known predecessor */
    bool odd;
    unsigned renewals; /* known renewals of the name */
    int64_t usual;     /* median overlap, seconds */
    int64_t spread;    /* largest distance of a known overlap from it */
    int64_t observed;  /* this certificate's overlap with its predecessor */
    int64_t prev_na;   /* the predecessor's notAfter */
} iss_overlap;

/* Sorts spans (n <= RE_ISS_MAX) and merges twins in place; returns the renewal count + 1. */
static size_t renewals_of(iss_span *sp, size_t n) {
    qsort(sp, n, sizeof *sp, span_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && sp[i].nb - sp[m - 1].nb <= RE_ISS_TWIN) {
            if (sp[i].na > sp[m - 1].na) sp[m - 1].na = sp[i].na;
            continue;
        }
        sp[m++] = sp[i];
    }
    return m;
}

/* Judges the leaf's overlap against the name's known renewals (sp from renewals_of, m of
 * them). No judgement with fewer than min_renewals renewals, when the known renewals vary more
 * than the tolerance among themselves (no cadence to speak of: alerts would be noise), or when
 * the leaf is older than every known certificate. */
static iss_overlap judge_overlap(const iss_span *sp, size_t m, const x509_info *leaf,
                                 unsigned min_renewals, uint32_t tolerance) {
    iss_overlap o;
    memset(&o, 0, sizeof o);
    if (min_renewals == 0 || m < 2 || m - 1 < min_renewals) return o;
    int64_t ov[RE_ISS_MAX];
    o.renewals = (unsigned)(m - 1);
    for (size_t i = 1; i < m; i++)
        ov[i - 1] = sp[i - 1].na - sp[i].nb;
    qsort(ov, m - 1, sizeof ov[0], i64_cmp);
    size_t k = m - 1;
    o.usual = k % 2 ? ov[k / 2] : (ov[k / 2 - 1] + ov[k / 2]) / 2;
    for (size_t i = 0; i < k; i++) {
        int64_t d = ov[i] > o.usual ? ov[i] - o.usual : o.usual - ov[i];
        if (d > o.spread) o.spread = d;
    }
    if (o.spread > (int64_t)tolerance) return o;
    /* the predecessor: the latest renewal more than a twin's distance before the leaf */
    const iss_span *prev = NULL;
    for (size_t i = 0; i < m; i++)
        if (sp[i].nb + RE_ISS_TWIN < leaf->not_before) prev = &sp[i];
    if (!prev) return o;
    o.judged = true;
    o.prev_na = prev->na;
    o.observed = prev->na - leaf->not_before;
    int64_t d = o.observed > o.usual ? o.observed - o.usual : o.usual - o.observed;
    o.odd = d > (int64_t)tolerance;
    return o;
}

/* Whole days, rounded to the nearest (halves away from zero). */
static long long days_of(int64_t sec) {
    return (long long)(sec >= 0 ? (sec + 43200) / 86400 : -((-sec + 43200) / 86400));
}

/* "71 days before the previous certificate expires" / "3 days after it expired" */
static void overlap_text(char *out, size_t len, int64_t observed) {
    long long d = days_of(observed);
    if (d > 0)
        snprintf(out, len, "%lld day%s before the previous certificate expires", d,
                 d == 1 ? "" : "s");
    else if (d < 0)
        snprintf(out, len, "%lld day%s after the previous certificate expired", -d,
                 d == -1 ? "" : "s");
    else
        snprintf(out, len, "on the day the previous certificate expired");
}

void rule_issuance(rule_ctx *jd, const rule_cert_facts *cf) {
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    rule_engine *re = jd->re;
    const pol_policy *p = jd->p;
    if (!re->r.store || !jd->watched || cf->known || !jd->host) return;
    size_t n;
    const store_cert *sc = store_known_certs(re->r.store, &n);
    bool hours[24] = {false}, wdays[7] = {false};
    int64_t lifetimes[64];
    iss_span spans[RE_ISS_MAX];
    size_t nl = 0, samples = 0, nspans = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sc[i].x || !rule_cert_covers(sc[i].x, jd->host)) continue;
        samples++;
        hours[hour_of(sc[i].not_before)] = true;
        wdays[wday_of(sc[i].not_before)] = true;
        int64_t lt = sc[i].not_after - sc[i].not_before;
        size_t k;
        for (k = 0; k < nl && lifetimes[k] != lt; k++)
            ;
        if (k == nl && nl < 64) lifetimes[nl++] = lt;
        if (nspans < RE_ISS_MAX) spans[nspans++] = (iss_span){sc[i].not_before, sc[i].not_after};
    }
    const x509_info *l = jd->leaf;
    bool cadence = p->issuance_min_samples > 0 && samples >= p->issuance_min_samples;
    size_t m = renewals_of(spans, nspans);
    iss_overlap ov =
        judge_overlap(spans, m, l, p->issuance_min_renewals, p->issuance_overlap_tolerance);
    if (!cadence && !ov.judged) return;
    int h = hour_of(l->not_before), w = wday_of(l->not_before);
    int64_t lt = l->not_after - l->not_before;
    int hdist = 24;
    for (int k = 0; k < 24; k++) {
        if (!hours[k]) continue;
        int d = abs(k - h);
        if (24 - d < d) d = 24 - d;
        if (d < hdist) hdist = d;
    }
    int64_t ldist = INT64_MAX;
    for (size_t k = 0; k < nl; k++) {
        int64_t d = lifetimes[k] > lt ? lifetimes[k] - lt : lt - lifetimes[k];
        if (d < ldist) ldist = d;
    }
    unsigned nwd = 0;
    for (int k = 0; k < 7; k++)
        nwd += wdays[k];
    bool odd_hour = cadence && hdist > (int)p->issuance_hour_tolerance;
    bool odd_life = cadence && ldist > (int64_t)p->issuance_lifetime_tolerance;
    /* Weekdays say something only when the known renewals keep to one or two of them. */
    bool odd_wday = cadence && nwd <= 2 && !wdays[w];
    if (!odd_hour && !odd_life && !odd_wday && !ov.odd) return;
    rule_evidence_begin(jd);
    mw_json_kuint(&jd->je, "samples", samples);
    mw_json_karr(&jd->je, "hours_utc");
    for (int k = 0; k < 24; k++)
        if (hours[k]) mw_json_uint(&jd->je, (uint64_t)k);
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->je, "weekdays");
    for (int k = 0; k < 7; k++)
        if (wdays[k]) mw_json_str(&jd->je, wd[k]);
    mw_json_arr_end(&jd->je);
    mw_json_karr(&jd->je, "lifetime_days");
    for (size_t k = 0; k < nl; k++)
        mw_json_int(&jd->je, lifetimes[k] / 86400);
    mw_json_arr_end(&jd->je);
    char prev_na[MW_TS_LEN];
    if (ov.judged) {
        mw_json_kuint(&jd->je, "renewals", ov.renewals);
        mw_json_kint(&jd->je, "overlap_days", days_of(ov.usual));
        mw_json_kint(&jd->je, "overlap_spread_days", days_of(ov.spread));
        mw_json_kint(&jd->je, "overlap_tolerance_days", days_of(p->issuance_overlap_tolerance));
        mw_ts_sec(prev_na, ov.prev_na);
    }
    mw_json_kuint(&jd->jo, "hour_utc", (uint64_t)h);
    mw_json_kstr(&jd->jo, "weekday", wd[w]);
    mw_json_kint(&jd->jo, "lifetime_days", lt / 86400);
    if (ov.judged) {
        mw_json_kint(&jd->jo, "overlap_days", days_of(ov.observed));
        mw_json_kstr(&jd->jo, "previous_not_after", prev_na);
    }
    mw_json_karr(&jd->jo, "odd");
    if (odd_hour) mw_json_str(&jd->jo, "hour");
    if (odd_wday) mw_json_str(&jd->jo, "weekday");
    if (odd_life) mw_json_str(&jd->jo, "lifetime");
    if (ov.odd) mw_json_str(&jd->jo, "overlap");
    mw_json_arr_end(&jd->jo);
    char nb[MW_TS_LEN], odd_text[80], when[96], cadence_text[200] = "";
    mw_ts_sec(nb, l->not_before);
    if (ov.odd) {
        overlap_text(when, sizeof when, ov.observed);
        snprintf(cadence_text, sizeof cadence_text,
                 "issued %s; this name usually renews %lld±%lld days before (%u known renewals)",
                 when, days_of(ov.usual), days_of(ov.spread), ov.renewals);
    }
    if (!odd_hour && !odd_wday && !odd_life) {
        rule_emit(jd, "cert.issuance_odd", 2, "The certificate for %s (notBefore %s) was %s.",
                  rule_who(jd), nb, cadence_text);
        return;
    }
    snprintf(odd_text, sizeof odd_text, "%s%s%s%s%s", odd_hour ? "another hour of the day" : "",
             odd_hour && (odd_wday || odd_life) ? ", " : "", odd_wday ? "another weekday" : "",
             odd_wday && odd_life ? ", " : "", odd_life ? "another lifetime" : "");
    rule_emit(jd, "cert.issuance_odd", 2,
              "The certificate for %s was issued %s (%s, %lld-day lifetime), unlike the %zu known "
              "certificates for that name (%s)%s%s.",
              rule_who(jd), nb, wd[w], (long long)(lt / 86400), samples, odd_text,
              ov.odd ? "; it was " : "", cadence_text);
}
