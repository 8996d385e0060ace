/* The end-of-run summary for people (-r; on by default when stderr is a terminal, or with
 * --summary): handshakes, distinct leaf certificates, alerts by rule, the busiest services. */
#ifndef SUMMARY_H
#define SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "cap_flow.h"
#include "tls_session.h"

typedef struct summary summary;

summary *summary_new(void); /* NULL when out of memory */
void summary_free(summary *sm);
void summary_handshake(summary *sm, const tls_hs *hs, const cap_flow *f, int client_side);
void summary_alert(summary *sm, const char *rule_id);
void summary_print(const summary *sm, FILE *out);

#endif
