/* The alert catalogue: rule.id -> rule.name, one table for every alert the sensor emits. */
#ifndef RULE_CATALOG_H
#define RULE_CATALOG_H

/* The rule.name of a rule.id from the catalogue, or the id itself. */
const char *rule_catalog_name(const char *rule_id);

#endif
