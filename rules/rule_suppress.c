/* Duplicate suppression: one alert per (rule, service, certificate) key and window of capture
 * time; the alert that ends a window carries the count dropped during it. */
#include <stdlib.h>
#include <string.h>

#include "mw_hash.h"
#include "rule_judge.h"

#define RE_SUP_SLOTS 8192 /* (rule, service, certificate) keys under suppression */
#define RE_SUP_PROBE 16

typedef struct {
    uint8_t key[32];
    uint64_t last_us; /* capture time of the last alert let through */
    uint64_t count;   /* suppressed since then */
    bool used;
} sup_slot;

struct rule_suppress {
    sup_slot slots[RE_SUP_SLOTS];
    unsigned nused; /* slots in use (nothing to clear when 0) */
};

rule_suppress *rule_suppress_new(void) {
    return calloc(1, sizeof(rule_suppress));
}

void rule_suppress_free(rule_suppress *s) {
    free(s);
}

void rule_suppress_clear(rule_suppress *s) {
    if (!s || s->nused == 0) return;
    memset(s->slots, 0, sizeof s->slots);
    s->nused = 0;
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
    uint32_t h;
    memcpy(&h, key, 4);
    sup_slot *victim = NULL;
    for (uint32_t i = 0; i < RE_SUP_PROBE; i++) {
        sup_slot *t = &s->slots[(h + i) % RE_SUP_SLOTS];
        if (t->used && memcmp(t->key, key, 32) == 0) {
            if (ts_us < t->last_us + (uint64_t)window * 1000000u) {
                t->count++;
                return false;
            }
            *prior = t->count;
            t->count = 0;
            t->last_us = ts_us;
            return true;
        }
        if (!t->used) {
            if (!victim || victim->used) victim = t;
        } else if (!victim || (victim->used && t->last_us < victim->last_us)) {
            victim = t; /* full: forget the key alerted longest ago */
        }
    }
    if (!victim->used) s->nused++;
    memcpy(victim->key, key, 32);
    victim->last_us = ts_us;
    victim->count = 0;
    victim->used = true;
    return true;
}
