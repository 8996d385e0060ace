/* The policy the verdicts are judged against (docs/ARCHITECTURE.md): watched services, what
 * their certificates are expected to look like, where the known certificates live, the SCT
 * policy and how alerts are rate limited.
 *
 * One struct is filled from two places: the YAML config file (pol_config.c) and the
 * command-line flags (pol_cli.c), flags after the file, so an analyst with one pcap needs no
 * file. Everything is plain owned data (strings, arrays); pol_policy_free releases it. */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_path.h"

#define POL_MAX_LIST 64 /* items in any one list: services, issuers, pins, dirs, ports, ips */

/* How a watched name pattern matches a host name. */
enum pol_name_kind {
    POL_NAME_EXACT,    /* "xmpp.example.org": that name only */
    POL_NAME_WILDCARD, /* "*.example.org": exactly one more label, as a certificate wildcard */
    POL_NAME_SUFFIX,   /* ".example.org": example.org itself and every name below it */
};

typedef struct {
    enum pol_name_kind kind;
    char *name; /* lowercase, without the "*." or "." prefix, no trailing dot */
} pol_name;

/* An expected issuer: the CA's name (issuer O or CN, anywhere above the leaf), an exact issuer
 * DN, or the SHA-256 of the issuing CA's SubjectPublicKeyInfo. */
enum pol_issuer_kind { POL_ISSUER_CA_NAME, POL_ISSUER_DN, POL_ISSUER_SPKI };

typedef struct {
    enum pol_issuer_kind kind;
    char *text;       /* the configured text, for messages */
    uint8_t spki[32]; /* POL_ISSUER_SPKI */
} pol_issuer;

typedef struct {
    uint8_t ip[16];
    uint8_t ver; /* 4 or 6 */
} pol_ip;

typedef struct {
    pol_name name;
    char *label;                /* the name as written, for events and messages */
    pol_ip ips[POL_MAX_LIST];   /* server addresses; none = any */
    size_t nips;
    uint16_t ports[POL_MAX_LIST]; /* server ports; none = any */
    size_t nports;
    char *starttls;             /* "xmpp", "smtp", ... or NULL for direct TLS */
    /* per-service expectations; when absent the global ones apply */
    pol_issuer issuers[POL_MAX_LIST];
    size_t nissuers;
    bool has_issuers;
    uint8_t pins[POL_MAX_LIST][32]; /* SPKI SHA-256 of a certificate in the chain */
    size_t npins;
    bool has_pins;
    uint16_t min_version; /* lowest acceptable negotiated TLS version; 0 = none */
} pol_service;

/* An acceptable path of the live sensor's TCP traceroute to one port (path.hops_changed): from a
 * service's expect_paths in the policy file (service >= 0; it applies to a traced host that the
 * service's name matches or, for an address, that is among its ips), or from --expect-hops
 * HOST:PORT=A,B,C (service -1; the traced host must be host). Several for one port: any of
 * them is clean. */
#define POL_MAX_PATHS 256
typedef struct {
    int service;
    char *host; /* pol_canon_host form; NULL for a service's */
    uint16_t port;
    trace_path path;
} pol_path_expect;

typedef struct {
    pol_service services[POL_MAX_LIST];
    size_t nservices;
    /* global expectations (services without their own) */
    pol_issuer issuers[POL_MAX_LIST];
    size_t nissuers;
    uint8_t pins[POL_MAX_LIST][32];
    size_t npins;
    uint16_t min_version;
    /* known-certificate stores */
    char *known_dirs[POL_MAX_LIST];
    size_t nknown_dirs;
    unsigned known_dirs_line[POL_MAX_LIST]; /* pol_where: the file line, 0 = a flag */
    /* trust anchors: files of PEM CA certificates; none = the system store */
    char *ca_files[POL_MAX_LIST];
    size_t nca_files;
    unsigned ca_files_line[POL_MAX_LIST];
    bool system_trust; /* also the system store when ca_files are given (default false) */
    /* SCT policy */
    char *ct_log_list; /* Google v3 log_list.json or OpenSSL CTLOG config */
    unsigned ct_log_list_line;
    /* valid-or-unverifiable SCTs a certificate needs when sct_min_given (ct.min_scts,
     * --min-scts); otherwise rule_sct_required decides from the chain's anchor */
    unsigned sct_min_count;
    bool sct_min_given;
    unsigned sct_min_operators; /* distinct log operators among them (needs the log list) */
    /* issuance cadence (cert.issuance_odd) */
    unsigned issuance_min_samples; /* known certificates for the name before judging */
    unsigned issuance_hour_tolerance;  /* hours */
    uint32_t issuance_lifetime_tolerance; /* seconds */
    /* overlap: how long before the previous certificate's notAfter the next one begins */
    unsigned issuance_min_renewals;      /* known renewals of the name before judging; 0 off */
    uint32_t issuance_overlap_tolerance; /* seconds from the usual overlap (1h..60d) */
    /* alerts */
    uint32_t suppress_window; /* seconds; 0 = never suppress */
    uint32_t suppress_keys;   /* keys under suppression at most, read at start; 0 = 8192 */
    /* CT sources for `mitmwatch ct sync -c` (ct.sources) */
    struct pol_ct_source {
        char *kind;   /* "rfc6962", "tiles", "crtsh", "certspotter" */
        char *url;
        char *key;    /* log public key (PEM file); Cert Spotter: a file with the API key */
        char *origin; /* tiles: the checkpoint origin, NULL = from the URL */
        uint32_t mmd; /* maximum merge delay, seconds; 0 = default */
    } ct_sources[POL_MAX_LIST];
    size_t nct_sources;
    /* files used by other parts */
    char *ctcache;
    char *state;
    char *outputs[POL_MAX_LIST]; /* JSON-lines files ("-" = stdout) */
    size_t noutputs;
    unsigned ctcache_line, state_line, outputs_line[POL_MAX_LIST];
    char *file; /* the policy file the lines are of, or NULL */
    char *observer;
    /* configured trace paths (heap; ~3 KB each) */
    pol_path_expect *path_expect;
    size_t npath_expect;
} pol_policy;

/* A value that names a file, with where it came from, for messages: "FILE:LINE: key: VALUE"
 * when line is set (the policy file), else "--flag VALUE". */
void pol_where(const pol_policy *p, unsigned line, const char *key, const char *flag,
               const char *value, char *out, size_t outlen);

/* A policy with the defaults: no services, the system trust store, one SCT (for chains to a
 * public anchor: rule_sct_required), one hour
 * suppression, issuance judged from 3 known certificates (2 h, 1 day tolerance) and the renewal
 * overlap from 3 known renewals (5 days tolerance). */
void pol_policy_init(pol_policy *p);
void pol_policy_free(pol_policy *p);

/* Value parsers shared by the file and the flags. Each returns false and fills what (a short
 * "expected ..." phrase) when the text is not acceptable. */
bool pol_parse_name(const char *s, pol_name *out, const char **what);
bool pol_parse_issuer(const char *kind, const char *s, pol_issuer *out, const char **what);
/* An issuer from one string: 64 hex digits = SPKI SHA-256, contains '=' = DN, else CA name. */
bool pol_parse_issuer_auto(const char *s, pol_issuer *out, const char **what);
/* "sha256/BASE64" (HPKP form) or 64 hex digits. */
bool pol_parse_pin(const char *s, uint8_t out[32], const char **what);
bool pol_parse_ip(const char *s, pol_ip *out, const char **what);
/* "1.2", "1.3", "1.0", "1.1" -> wire version. */
bool pol_parse_tls_version(const char *s, uint16_t *out, const char **what);
/* "90", "90s", "15m", "1h", "7d" -> seconds. */
bool pol_parse_duration(const char *s, uint32_t *out, const char **what);
bool pol_parse_uint(const char *s, unsigned max, unsigned *out, const char **what);
/* Adds a service for a bare name (--watch); false with what when invalid or too many. */
bool pol_add_watch(pol_policy *p, const char *name, const char **what);
/* The first watched service with a `starttls` protocol whose name matches host and, when port
 * is not 0 and the service lists ports, that has the port: active probes and `check` of the
 * service speak its STARTTLS unless told otherwise. NULL when none. */
const pol_service *pol_starttls_service(const pol_policy *p, const char *host, uint16_t port);
/* True when the pattern matches the host name (case-insensitive, trailing dot ignored). */
bool pol_name_match(const pol_name *pat, const char *host);

/* A traced host as compared: an address in its canonical inet_ntop form, a name in lowercase
 * without a trailing dot. False when it is neither (empty, too long, odd characters). */
bool pol_canon_host(const char *in, char *out, size_t cap);
/* Adds one acceptable path (see pol_path_expect); false with what when full. */
bool pol_add_path_expect(pol_policy *p, int service, const char *host, uint16_t port,
                         const trace_path *path, const char **what);
/* "HOST:PORT=A,B,C" or "[IPV6]:PORT=A,B,C" (--expect-hops): hops are addresses or '*'. */
bool pol_parse_expect_hops(pol_policy *p, const char *arg, const char **what);
/* Every configured acceptable path for a trace of host (pol_canon_host form) to port, into out
 * (replaced; out->port = port). False when there are more than TRACE_SET_MAX. */
bool pol_expected_paths(const pol_policy *p, const char *host, uint16_t port,
                        trace_pathset *out);

#endif
