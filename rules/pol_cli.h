/* The common policy on the command line (DESIGN.md section 2), for an analyst with one pcap
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

/* Applies --flag arg. False with err "--flag VALUE: expected ..." when the value is bad. */
bool pol_cli_apply(pol_policy *p, const char *flag, const char *arg, char *err, size_t errlen);

#endif
