/* The policy file: YAML (docs/ARCHITECTURE.md), parsed with libyaml.
 *
 * Why YAML and libyaml: Suricata's operators already write YAML; libyaml is the reference C
 * parser (Debian libyaml-0-2, maintained, used by Suricata and PyYAML); its nodes carry
 * line/column marks, so every error names FILE:LINE. Every key is validated: an unknown key,
 * a wrong type or a bad value fails the whole load with "FILE:LINE: key 'k': expected ...".
 * See rules/example-policy.yaml for every key. */
#ifndef POL_CONFIG_H
#define POL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "pol_policy.h"

#define POL_CONFIG_MAX_BYTES (1u << 20)

/* Reads path into p (which pol_policy_init prepared). False with err filled on any error. */
bool pol_load_file(pol_policy *p, const char *path, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages. */
bool pol_load_string(pol_policy *p, const char *name, const char *text, size_t len, char *err,
                     size_t errlen);

#endif
