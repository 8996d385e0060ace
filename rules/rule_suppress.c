/* Duplicate suppression: one alert per (rule, service, certificate) key and window of capture
 * time; the alert that ends a window carries the count dropped during it.
 *
 * The table is bounded (alerts.suppress_keys keys, fixed at start). Keys are found through
 * hash chains and kept on two lists: by the time of their last alert let through, and by their
 * last use (an alert let through or dropped). A new key, when the table is full, takes the slot
 * of the key alerted longest ago if its window is over (it suppresses nothing any more:
 * counted in expired), else of the key used least recently (counted in evicted: one of its
 * duplicates may be alerted again). Both are O(1). */
#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"
#include "rule_judge.h"

#define SUP_NIL UINT32_MAX

enum { BY_ALERT, BY_USE }; /* the two lists */

typedef struct {
    uint8_t key[32];
    uint64_t last_us;          /* capture time of the last alert let through */
    uint64_t count;            /* suppressed since then */
    uint32_t chain;            /* next slot of the same hash bucket */
    uint32_t prev[2], next[2]; /* [BY_ALERT], [BY_USE] */
} sup_slot;

struct rule_suppress {
    sup_slot *slots;
    uint32_t *bucket; /* first slot of each hash bucket */
    uint32_t max, n, mask;
    uint32_t ends[2][2]; /* [list][0 head: newest, 1 tail: oldest] */
    rule_suppress_counts counts;
};

rule_suppress *rule_suppress_new(uint32_t max_keys) {
    if (max_keys == 0) max_keys = RULE_SUPPRESS_KEYS;
    rule_suppress *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    uint32_t nb = 16;
    while (nb < max_keys)
        nb <<= 1;
    s->max = max_keys;
    s->mask = nb - 1;
    s->slots = calloc(max_keys, sizeof *s->slots);
    s->bucket = malloc(nb * sizeof *s->bucket);
    if (!s->slots || !s->bucket) {
        rule_suppress_free(s);
        return NULL;
    }
    memset(s->bucket, 0xff, nb * sizeof *s->bucket); /* SUP_NIL */
    for (int l = 0; l < 2; l++)
        s->ends[l][0] = s->ends[l][1] = SUP_NIL;
    return s;
}

void rule_suppress_free(rule_suppress *s) {
    if (!s) return;
    free(s->slots);
    free(s->bucket);
    free(s);
}

const rule_suppress_counts *rule_suppress_counts_get(const rule_suppress *s) {
    return &s->counts;
}

uint32_t rule_suppress_keys(const rule_suppress *s) {
    return s->n;
}

static void unlink_from(rule_suppress *s, int l, uint32_t i) {
    sup_slot *t = &s->slots[i];
    if (t->prev[l] != SUP_NIL)
        s->slots[t->prev[l]].next[l] = t->next[l];
    else
        s->ends[l][0] = t->next[l];
    if (t->next[l] != SUP_NIL)
        s->slots[t->next[l]].prev[l] = t->prev[l];
    else
        s->ends[l][1] = t->prev[l];
}

static void push_front(rule_suppress *s, int l, uint32_t i) {
    sup_slot *t = &s->slots[i];
    t->prev[l] = SUP_NIL;
    t->next[l] = s->ends[l][0];
    if (s->ends[l][0] != SUP_NIL)
        s->slots[s->ends[l][0]].prev[l] = i;
    else
        s->ends[l][1] = i;
    s->ends[l][0] = i;
}

static void to_front(rule_suppress *s, int l, uint32_t i) {
    unlink_from(s, l, i);
    push_front(s, l, i);
}

static uint32_t bucket_of(const rule_suppress *s, const uint8_t key[32]) {
    uint32_t h;
    memcpy(&h, key, 4);
    return h & s->mask;
}

/* Takes slot i out of the table (its bucket chain and both lists). */
static void drop_slot(rule_suppress *s, uint32_t i) {
    uint32_t *at = &s->bucket[bucket_of(s, s->slots[i].key)];
    while (*at != i)
        at = &s->slots[*at].chain;
    *at = s->slots[i].chain;
    unlink_from(s, BY_ALERT, i);
    unlink_from(s, BY_USE, i);
}

/* Forgets every key (a fuzz target between inputs): O(keys held; they are slots 0..n-1, since
 * slots are taken in order until the table is full), nothing when empty. */
void rule_suppress_clear(rule_suppress *s) {
    if (!s || s->n == 0) return;
    for (uint32_t i = 0; i < s->n; i++)
        s->bucket[bucket_of(s, s->slots[i].key)] = SUP_NIL;
    memset(s->slots, 0, (size_t)s->n * sizeof *s->slots);
    for (int l = 0; l < 2; l++)
        s->ends[l][0] = s->ends[l][1] = SUP_NIL;
    s->n = 0;
}

bool rule_suppress_pass(rule_suppress *s, uint32_t window, const char *rule_id, const char *svc_key,
                        const uint8_t *leaf_sha256, uint64_t ts_us, uint64_t *prior) {
    *prior = 0;
    if (window == 0) return true;
    uint8_t keybuf[512], key[32];
    size_t kl = 0, n;
    n = strlen(rule_id) + 1;
    memcpy(keybuf + kl, rule_id, n);
    kl += n;
    n = strlen(svc_key) + 1;
    memcpy(keybuf + kl, svc_key, n);
    kl += n;
    if (leaf_sha256)
        memcpy(keybuf + kl, leaf_sha256, 32);
    else
        memset(keybuf + kl, 0, 32);
    kl += 32;
    mw_sha256(keybuf, kl, key);
    uint64_t span = (uint64_t)window * 1000000u;
    uint32_t b = bucket_of(s, key);
    for (uint32_t i = s->bucket[b]; i != SUP_NIL; i = s->slots[i].chain) {
        sup_slot *t = &s->slots[i];
        if (memcmp(t->key, key, 32) != 0) continue;
        to_front(s, BY_USE, i);
        if (ts_us < t->last_us + span) {
            t->count++;
            return false;
        }
        *prior = t->count;
        t->count = 0;
        t->last_us = ts_us;
        to_front(s, BY_ALERT, i);
        return true;
    }
    uint32_t i;
    if (s->n < s->max) {
        i = s->n++;
    } else {
        i = s->ends[BY_ALERT][1];
        if (ts_us >= s->slots[i].last_us + span) {
            s->counts.expired++;
        } else {
            i = s->ends[BY_USE][1];
            s->counts.evicted++;
        }
        drop_slot(s, i);
    }
    sup_slot *t = &s->slots[i];
    memcpy(t->key, key, 32);
    t->last_us = ts_us;
    t->count = 0;
    t->chain = s->bucket[b];
    s->bucket[b] = i;
    push_front(s, BY_ALERT, i);
    push_front(s, BY_USE, i);
    return true;
}
