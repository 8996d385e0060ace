/* Watched names and how a certificate name matches them.
 *
 * Watch forms (docs/ARCHITECTURE.md): "host.example" exact, "*.example" any one label under example,
 * ".example" example itself and every name under it. A certificate's own wildcard
 * ("*.example") counts when it would be valid for a watched name, so an issuance that could
 * impersonate a watched host is never filtered out. Comparison is ASCII case-insensitive and
 * ignores one trailing dot. */
#ifndef CT_NAMES_H
#define CT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define CT_NAME_MAX 253

typedef enum { CT_WATCH_EXACT, CT_WATCH_WILDCARD, CT_WATCH_SUFFIX } ct_watch_kind;

typedef struct {
    ct_watch_kind kind;
    char name[CT_NAME_MAX + 1]; /* lowercased; for wildcard/suffix the part after "*." / "." */
} ct_watch;

typedef struct {
    ct_watch *v;
    size_t n, cap;
} ct_watchlist;

void ct_watchlist_free(ct_watchlist *w);
/* Adds one watch in any of the three forms; false when the name is empty or too long. */
bool ct_watchlist_add(ct_watchlist *w, const char *pattern);
/* Does a certificate name (SAN dNSName or CN, possibly "*.x") concern any watched name? */
bool ct_watch_match(const ct_watchlist *w, const char *cert_name, size_t len);
bool ct_watch_match_one(const ct_watch *wt, const char *cert_name, size_t len);
/* Does the name given on `ct show NAME` select this certificate name? Same rules, NAME as the
 * single watch. */
bool ct_name_selects(const char *pattern, const char *cert_name, size_t len);

#endif
