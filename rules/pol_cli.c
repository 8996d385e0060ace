#include "pol_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --state belongs to the baselines (rules/bl_baseline.c, tools/sensor.c); the policy file's
 * state key is its default. */
const char *const pol_cli_flags[] = {
    "watch",   "known-certs", "expect-issuer",   "pin",         "ca-file", "ct-log-list",
    "ctcache", "min-scts",    "suppress-window", "expect-hops", NULL};

const char pol_cli_help[] =
    "  -c, --config FILE      policy file (YAML; see rules/example-policy.yaml)\n"
    "      --watch NAME       watch a service: name, *.domain or .domain (repeatable)\n"
    "      --known-certs DIR  known-certificate store (certbot, dehydrated, acme.sh, lego)\n"
    "      --expect-issuer X  CA name, issuer DN, or issuer SPKI SHA-256 (64 hex)\n"
    "      --pin SPKI         SPKI SHA-256 pin: sha256/BASE64 or 64 hex\n"
    "      --ca-file FILE     trust anchors (PEM) instead of the system store\n"
    "      --ct-log-list FILE CT log list (Google v3 log_list.json or OpenSSL CTLOG config)\n"
    "      --ctcache FILE     CT cache snapshot\n"
    "      --min-scts N       SCTs a certificate needs (default: 1 for a chain to a public\n"
    "                         anchor, the system store; 0 for a private CA; 0: no check)\n"
    "      --suppress-window D  repeat alerts per (rule, service, cert) after D (default 1h)\n"
    "      --expect-hops HOST:PORT=A,B,C  an acceptable path for --probe trace:HOST:...\n"
    "                         to PORT (hops: addresses or *; repeat for several; the last 3\n"
    "                         are compared; configured paths are not learned)\n";

static bool add_str(char **arr, size_t *n, const char *arg) {
    if (*n >= POL_MAX_LIST) return false;
    char *d = strdup(arg);
    if (!d) return false;
    arr[(*n)++] = d;
    return true;
}

static bool set_str(char **dst, const char *arg) {
    char *d = strdup(arg);
    if (!d) return false;
    free(*dst);
    *dst = d;
    return true;
}

bool pol_cli_apply(pol_policy *p, const char *flag, const char *arg, char *err, size_t errlen) {
    const char *what = "at most 64 of them";
    bool ok;
    if (strcmp(flag, "watch") == 0) {
        ok = pol_add_watch(p, arg, &what);
    } else if (strcmp(flag, "known-certs") == 0) {
        if ((ok = add_str(p->known_dirs, &p->nknown_dirs, arg)))
            p->known_dirs_line[p->nknown_dirs - 1] = 0;
    } else if (strcmp(flag, "expect-issuer") == 0) {
        ok = p->nissuers < POL_MAX_LIST &&
             pol_parse_issuer_auto(arg, &p->issuers[p->nissuers], &what);
        if (ok) p->nissuers++;
    } else if (strcmp(flag, "pin") == 0) {
        ok = p->npins < POL_MAX_LIST && pol_parse_pin(arg, p->pins[p->npins], &what);
        if (ok) p->npins++;
    } else if (strcmp(flag, "ca-file") == 0) {
        if ((ok = add_str(p->ca_files, &p->nca_files, arg))) p->ca_files_line[p->nca_files - 1] = 0;
    } else if (strcmp(flag, "ct-log-list") == 0) {
        ok = set_str(&p->ct_log_list, arg);
        p->ct_log_list_line = 0;
    } else if (strcmp(flag, "ctcache") == 0) {
        ok = set_str(&p->ctcache, arg);
        p->ctcache_line = 0;
    } else if (strcmp(flag, "min-scts") == 0) {
        ok = pol_parse_uint(arg, 16, &p->sct_min_count, &what);
        p->sct_min_given = ok;
        if (!ok) what = "a whole number from 0 to 16";
    } else if (strcmp(flag, "suppress-window") == 0) {
        ok = pol_parse_duration(arg, &p->suppress_window, &what);
    } else if (strcmp(flag, "expect-hops") == 0) {
        ok = pol_parse_expect_hops(p, arg, &what);
    } else {
        what = "a policy flag";
        ok = false;
    }
    if (!ok) snprintf(err, errlen, "--%s %s: expected %s", flag, arg, what);
    return ok;
}

size_t pol_cli_longopts(struct option *lo, size_t cap, const struct option *base, size_t nbase,
                        int first_val) {
    size_t n = nbase < cap ? nbase : cap - 1;
    memcpy(lo, base, n * sizeof *lo);
    for (int i = 0; pol_cli_flags[i] && n < cap - 1; i++)
        lo[n++] = (struct option){pol_cli_flags[i], required_argument, NULL, first_val + i};
    lo[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}
