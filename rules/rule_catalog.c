/* The alert catalogue: every rule.id the sensor can emit and its rule.name (rules/ALERTS.md
 * documents each). */
#include <string.h>

#include "rule_catalog.h"

const char *rule_catalog_name(const char *rule_id) {
    static const struct {
        const char *id, *name;
    } names[] = {
        {"cert.unknown", "Certificate not in the known store"},
        {"cert.issuer_unexpected", "Certificate from an unexpected issuer"},
        {"cert.spki_unpinned", "Certificate key not pinned"},
        {"cert.expired", "Certificate expired"},
        {"cert.not_yet_valid", "Certificate not yet valid"},
        {"cert.name_mismatch", "Certificate name mismatch"},
        {"cert.self_signed", "Self-signed certificate"},
        {"cert.chain_invalid", "Certificate chain invalid"},
        {"cert.sct_missing", "Certificate lacks SCTs"},
        {"cert.sct_invalid", "Invalid SCT"},
        {"cert.not_in_ct", "Certificate not in Certificate Transparency"},
        {"cert.issuance_odd", "Unusual certificate issuance"},
        {"tls.ja3s_changed", "Server TLS fingerprint changed"},
        {"tls.handshake_failures", "Handshakes started failing"},
        {"tls.version_downgrade", "TLS version downgrade"},
        {"tls.weak_or_null_cipher", "Weak or NULL cipher"},
        {"tls.injection", "Injected handshake bytes"},
        {"tls.starttls_missing", "Session without STARTTLS"},
        {"path.ttl_changed", "Network path (TTL) changed"},
        {"path.hops_changed", "Network path (traceroute) changed"},
        {"probe.jarm_changed", "Server JARM changed"},
        {"probe.cert_mismatch", "Fetched certificate not known"},
        {"probe.failed", "Probe failed"},
        {"sensor.drops", "Sensor dropped packets"},
        {"sensor.overload", "Sensor overloaded"},
        {"sensor.undecoded", "Packets the sensor could not decode"},
        {"ct.unknown_issuance", "CT-logged certificate not in the known store"},
        {"ct.log_inconsistent", "CT log contradicted its own history"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].id, rule_id) == 0)
            return names[i].name;
    return rule_id;
}
