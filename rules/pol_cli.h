/* The common policy on the command line (docs/ARCHITECTURE.md), for an analyst with one pcap
 * and no config file. Each flag fills the same pol_policy the file does; flags are applied
 * after the file, adding to its lists. */
#ifndef POL_CLI_H
#define POL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "pol_policy.h"

/* The long option names (without "--"), NULL-terminated; every one takes a value. */
extern const char *const pol_cli_flags[];
/* The help lines for them. */
extern const char pol_cli_help[];

struct option;
/* lo = base's nbase options, then one per pol_cli_flags (its val first_val + index), then the
 * terminating entry; cap counts lo's entries. Returns how many options lo holds. */
size_t pol_cli_longopts(struct option *lo, size_t cap, const struct option *base, size_t nbase,
                        int first_val);

/* Applies --flag arg. False with err "--flag VALUE: expected ..." when the value is bad. */
bool pol_cli_apply(pol_policy *p, const char *flag, const char *arg, char *err, size_t errlen);

#endif
