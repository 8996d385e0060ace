/* Community ID v1 (corelight/community-id-spec): a flow hash that Zeek, Suricata and others
 * emit as network.community_id, so one connection can be found across tools. */
#ifndef MW_COMMUNITY_ID_H
#define MW_COMMUNITY_ID_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_encode.h"

#define MW_COMMUNITY_ID_LEN (2 + MW_B64_LEN(20)) /* "1:" + base64(SHA-1) + NUL */

/* Writes "1:<base64>" for a transport flow (TCP, UDP, SCTP: ports; proto is the IP protocol
 * number). Addresses are 4 (ip_ver 4) or 16 bytes in network order; the endpoints may come in
 * either direction, both give the same ID. Returns false (out "") for another ip_ver. */
bool mw_community_id(char out[MW_COMMUNITY_ID_LEN], uint16_t seed, int ip_ver, const uint8_t *src,
                     const uint8_t *dst, uint8_t proto, uint16_t sport, uint16_t dport);

#endif
