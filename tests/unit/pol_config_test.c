/* rules/pol_config + pol_cli: the example policy parses into exactly these values, every bad
 * value fails with FILE:LINE and what was expected (exact messages), and the command-line
 * flags fill the same struct. Usage: pol_config_test EXAMPLE_POLICY_YAML */
#include <stdlib.h>

#include "mw_test.h"
#include "pol_cli.h"
#include "pol_config.h"

static void expect_error(const char *yaml, const char *want) {
    pol_policy p;
    char err[512] = "";
    pol_policy_init(&p);
    bool ok = pol_load_string(&p, "t.yaml", yaml, strlen(yaml), err, sizeof err);
    CHECK(!ok);
    CHECK_STR(err, want);
    pol_policy_free(&p);
}

static void expect_cli_error(const char *flag, const char *arg, const char *want) {
    pol_policy p;
    char err[512] = "";
    pol_policy_init(&p);
    CHECK(!pol_cli_apply(&p, flag, arg, err, sizeof err));
    CHECK_STR(err, want);
    pol_policy_free(&p);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXAMPLE_POLICY_YAML\n", argv[0]);
        return 2;
    }
    pol_policy p;
    char err[512] = "";
    pol_policy_init(&p);
    CHECK(pol_load_file(&p, argv[1], err, sizeof err));
    CHECK_STR(err, "");
    CHECK_STR(p.observer, "mail-gw-sensor");
    CHECK_EQ_U(p.nservices, 5);
    CHECK_STR(p.services[0].label, "example.org");
    CHECK_EQ_U(p.services[0].name.kind, POL_NAME_EXACT);
    CHECK_EQ_U(p.services[0].nports, 3);
    CHECK_EQ_U(p.services[0].ports[2], 5269);
    CHECK_EQ_U(p.services[0].nips, 2);
    CHECK_EQ_U(p.services[0].ips[0].ver, 4);
    CHECK_MEM(p.services[0].ips[0].ip, "\xc0\x00\x02\x0a", 4);
    CHECK_EQ_U(p.services[0].ips[1].ver, 6);
    CHECK_STR(p.services[0].starttls, "xmpp");
    CHECK_EQ_U(p.services[2].min_version, 0x0303);
    CHECK_EQ_U(p.services[3].name.kind, POL_NAME_WILDCARD);
    CHECK_STR(p.services[3].name.name, "example.org");
    CHECK_EQ_U(p.services[4].name.kind, POL_NAME_SUFFIX);
    CHECK_STR(p.services[4].name.name, "example.net");
    CHECK(p.services[4].has_pins);
    CHECK_EQ_U(p.services[4].npins, 1);
    /* sha256("") = e3b0c442... */
    CHECK_MEM(p.services[4].pins[0], "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14", 8);
    CHECK_EQ_U(p.nissuers, 2);
    CHECK_EQ_U(p.issuers[0].kind, POL_ISSUER_CA_NAME);
    CHECK_STR(p.issuers[0].text, "Let's Encrypt");
    CHECK_EQ_U(p.issuers[1].kind, POL_ISSUER_DN);
    CHECK_EQ_U(p.nknown_dirs, 2);
    CHECK_STR(p.known_dirs[1], "/var/lib/dehydrated/certs");
    CHECK(p.system_trust);
    CHECK_EQ_U(p.nca_files, 0);
    CHECK_STR(p.ct_log_list, "/etc/mitmwatch/log_list.json");
    CHECK_EQ_U(p.sct_min_count, 2);
    CHECK_EQ_U(p.sct_min_operators, 2);
    CHECK_EQ_U(p.issuance_min_samples, 3);
    CHECK_EQ_U(p.issuance_hour_tolerance, 2);
    CHECK_EQ_U(p.issuance_lifetime_tolerance, 86400);
    CHECK_EQ_U(p.issuance_min_renewals, 3);
    CHECK_EQ_U(p.issuance_overlap_tolerance, 5 * 86400);
    CHECK_EQ_U(p.suppress_window, 3600);
    CHECK_EQ_U(p.min_version, 0x0303);
    CHECK_STR(p.ctcache, "/var/lib/mitmwatch/ctcache.msgpack");
    CHECK(p.state == NULL); /* commented out: its folder does not exist on a fresh install */
    CHECK_EQ_U(p.noutputs, 1);
    CHECK_STR(p.outputs[0], "-");
    /* the lines of the values that name files, for pol_where */
    CHECK_EQ_U(p.known_dirs_line[0], 71);
    CHECK_EQ_U(p.known_dirs_line[1], 72);
    CHECK_EQ_U(p.ct_log_list_line, 82);
    CHECK_EQ_U(p.ctcache_line, 118);
    CHECK(!p.sct_min_given || p.sct_min_count == 2);
    {
        char w[600];
        pol_where(&p, p.ctcache_line, "ctcache", "ctcache", p.ctcache, w, sizeof w);
        CHECK(strstr(w, "example-policy.yaml:118: ctcache: /var/lib/mitmwatch/ctcache.msgpack") !=
              NULL);
        pol_where(&p, 0, "ca_files", "ca-file", "/x.pem", w, sizeof w);
        CHECK_STR(w, "--ca-file /x.pem");
    }
    /* expect_paths of example.org: two for 5222, one for 22 */
    CHECK_EQ_U(p.npath_expect, 3);
    CHECK_EQ_U(p.path_expect[0].service, 0);
    CHECK_EQ_U(p.path_expect[0].port, 5222);
    CHECK_EQ_U(p.path_expect[0].path.n, 3);
    CHECK_STR(p.path_expect[0].path.hop[2], "192.0.2.10");
    CHECK_STR(p.path_expect[1].path.hop[1], "203.0.113.5");
    CHECK_EQ_U(p.path_expect[2].port, 22);
    CHECK_STR(p.path_expect[2].path.hop[0], "*");
    CHECK(p.path_expect[2].host == NULL);
    static trace_pathset set;
    CHECK(pol_expected_paths(&p, "192.0.2.10", 5222, &set)); /* by address */
    CHECK_EQ_U(set.n, 2);
    CHECK_EQ_U(set.port, 5222);
    CHECK_STR(set.paths[1].hop[1], "203.0.113.5");
    CHECK(pol_expected_paths(&p, "2001:db8::10", 5222, &set)); /* the IPv6 address */
    CHECK_EQ_U(set.n, 2);
    CHECK(pol_expected_paths(&p, "example.org", 22, &set)); /* by name */
    CHECK_EQ_U(set.n, 1);
    CHECK_STR(set.paths[0].hop[1], "203.0.113.1");
    CHECK(pol_expected_paths(&p, "192.0.2.11", 5222, &set)); /* another host */
    CHECK_EQ_U(set.n, 0);
    CHECK(pol_expected_paths(&p, "192.0.2.10", 5223, &set)); /* another port */
    CHECK_EQ_U(set.n, 0);
    CHECK(pol_expected_paths(&p, "www.example.org", 5222, &set)); /* *.example.org: no paths */
    CHECK_EQ_U(set.n, 0);
    /* --expect-hops adds to them, by the traced host as written (canonical) */
    CHECK(pol_cli_apply(&p, "expect-hops", "[2001:DB8::10]:5222=*,2001:db8::1,2001:db8::10", err,
                        sizeof err));
    CHECK(pol_cli_apply(&p, "expect-hops", "Example.ORG.:5222=192.0.2.1,192.0.2.10", err,
                        sizeof err));
    CHECK_EQ_U(p.npath_expect, 5);
    CHECK_STR(p.path_expect[3].host, "2001:db8::10");
    CHECK_EQ_U(p.path_expect[3].service, -1);
    CHECK_STR(p.path_expect[4].host, "example.org");
    CHECK(pol_expected_paths(&p, "2001:db8::10", 5222, &set));
    CHECK_EQ_U(set.n, 3);
    CHECK_STR(set.paths[2].hop[2], "2001:db8::10");
    CHECK(pol_expected_paths(&p, "example.org", 5222, &set));
    CHECK_EQ_U(set.n, 3);
    CHECK(pol_expected_paths(&p, "192.0.2.10", 5222, &set));
    CHECK_EQ_U(set.n, 2);
    /* the same path twice counts once; more than a set holds is refused */
    for (int i = 0; i < 8; i++) {
        char arg[80];
        snprintf(arg, sizeof arg, "192.0.2.10:5222=192.0.2.%d,192.0.2.10", 100 + (i % 6));
        CHECK(pol_cli_apply(&p, "expect-hops", arg, err, sizeof err));
    }
    CHECK(pol_expected_paths(&p, "192.0.2.10", 5222, &set));
    CHECK_EQ_U(set.n, 8); /* 2 + 6 distinct: full */
    CHECK(pol_cli_apply(&p, "expect-hops", "192.0.2.10:5222=192.0.2.99,192.0.2.10", err,
                        sizeof err));
    CHECK(!pol_expected_paths(&p, "192.0.2.10", 5222, &set));
    pol_policy_free(&p);

    /* watched-name patterns */
    pol_name n;
    const char *what;
    CHECK(pol_parse_name("*.Example.org.", &n, &what));
    CHECK(pol_name_match(&n, "www.example.ORG"));
    CHECK(!pol_name_match(&n, "example.org"));
    CHECK(!pol_name_match(&n, "a.b.example.org"));
    free(n.name);
    CHECK(pol_parse_name(".example.org", &n, &what));
    CHECK(pol_name_match(&n, "example.org"));
    CHECK(pol_name_match(&n, "a.b.example.org."));
    CHECK(!pol_name_match(&n, "badexample.org"));
    free(n.name);
    CHECK(!pol_parse_name("*.org", &n, &what));
    CHECK(!pol_parse_name("ex ample.org", &n, &what));

    /* errors: file, line, key, what was expected */
    expect_error("version: 1\nservicez: []\n",
                 "t.yaml:2: key 'servicez': unknown here; expected one of: version, observer, "
                 "services, expect_issuers, pins, known_certs, trust, ct, alerts, issuance, "
                 "ctcache, state, outputs");
    expect_error("version: 2\n", "t.yaml:1: key 'version': expected 1");
    expect_error("services:\n  - name: xmpp.example.org\n    ports: [5222, 70000]\n",
                 "t.yaml:3: key 'ports': expected a port number from 1 to 65535");
    expect_error("services:\n  - ports: [5222]\n",
                 "t.yaml:2: key 'name': expected in every service (xmpp.example.org, "
                 "*.example.org or .example.org)");
    expect_error("services:\n  - name: \"*.org\"\n",
                 "t.yaml:2: key 'name': expected a host name, '*.' + domain, or '.' + domain "
                 "(e.g. xmpp.example.org, *.example.org, .example.org)");
    expect_error("services:\n  - name: a.example\n    starttls: smtps\n",
                 "t.yaml:3: key 'starttls': expected one of: xmpp, xmpp-server, smtp, imap, "
                 "pop3, ftp, ldap, postgres, nntp, sieve, lmtp");
    expect_error("services:\n  - name: a.example\n    ips: [192.0.2.300]\n",
                 "t.yaml:3: key 'ips': expected an IPv4 or IPv6 address");
    expect_error("expect_issuers:\n  - spki_sha256: abcd\n",
                 "t.yaml:2: key 'spki_sha256': expected 64 hex digits (SHA-256 of the issuer's "
                 "SubjectPublicKeyInfo)");
    expect_error("expect_issuers:\n  - org: x\n",
                 "t.yaml:2: key 'expect_issuers': expected one of: ca, dn, spki_sha256");
    expect_error("pins: [\"sha256/abc\"]\n",
                 "t.yaml:1: key 'pins': expected \"sha256/\" + base64 of the SPKI SHA-256, or 64 "
                 "hex digits");
    expect_error("ct:\n  log_list: x.json\n  min_scts: many\n",
                 "t.yaml:3: key 'min_scts': expected a whole number from 0 to 16");
    expect_error("alerts:\n  suppress_window: 1w\n",
                 "t.yaml:2: key 'suppress_window': expected a duration: seconds, or a number with "
                 "s, m, h or d (e.g. 3600, 90m, 1h, 7d)");
    expect_error("alerts:\n  suppress_keys: 2000000\n",
                 "t.yaml:2: key 'suppress_keys': expected a whole number from 0 to 1048576");
    {
        pol_policy sp;
        char serr[512];
        const char *y = "alerts:\n  suppress_keys: 64\n";
        pol_policy_init(&sp);
        CHECK(pol_load_string(&sp, "t.yaml", y, strlen(y), serr, sizeof serr));
        CHECK_EQ_U(sp.suppress_keys, 64);
        pol_policy_free(&sp);
    }
    expect_error("alerts:\n  min_tls_version: 1.4\n",
                 "t.yaml:2: key 'min_tls_version': expected a TLS version: 1.0, 1.1, 1.2 or 1.3");
    expect_error("trust:\n  system: yes\n", "t.yaml:2: key 'system': expected true or false");
    expect_error("trust:\n  ca_file: x.pem\n",
                 "t.yaml:2: key 'ca_file': unknown here; expected one of: ca_files, system");
    expect_error("state: a\nstate: b\n", "t.yaml:2: key 'state': expected once, given twice");
    expect_error("outputs:\n  - syslog: local0\n",
                 "t.yaml:2: key 'syslog': expected a sink spec (as for --output) or {file: PATH}");
    expect_error("outputs:\n  - \"-\"\n  - \"bogus://x\"\n",
                 "t.yaml:3: key 'outputs': expected a sink spec as for --output: output bogus://x: "
                 "unknown scheme bogus (file, stdout, syslog, syslog+udp, syslog+tcp, syslog+unix, "
                 "relp, fluentd, hec+http(s), bulk+http(s))");
    expect_error("known_certs: {a: b}\n", "t.yaml:1: key 'known_certs': expected a list");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n"
                 "      5222: \"192.0.2.1, 198.51.100.300\"\n",
                 "t.yaml:4: key '5222': expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * "
                 "for any hop): 192.0.2.1, 198.51.100.300");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n      5222:\n"
                 "        - \"192.0.2.1, 192.0.2.2\"\n        - [192.0.2.1, 192.0.2.2]\n",
                 "t.yaml:6: key '5222': expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * "
                 "for any hop)");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n      22: \"192.0.2.1,,\"\n",
                 "t.yaml:4: key '22': expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * "
                 "for any hop): 192.0.2.1,,");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n      0: \"192.0.2.1\"\n",
                 "t.yaml:4: key 'expect_paths': expected port numbers from 1 to 65535 as keys: 0");
    expect_error("services:\n  - name: a.example\n    expect_paths: [\"192.0.2.1\"]\n",
                 "t.yaml:3: key 'expect_paths': expected a mapping of ports to paths (5222: "
                 "\"A, B, C\")");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n      22: \"192.0.2.1\"\n"
                 "      22: \"192.0.2.2\"\n",
                 "t.yaml:5: key '22': expected once, given twice");
    expect_error("services:\n  - name: a.example\n    expect_paths:\n      22: [\"*\", \"*\", "
                 "\"*\", \"*\", \"*\", \"*\", \"*\", \"*\", \"*\"]\n",
                 "t.yaml:4: key '22': expected at most 8 paths per port");
    expect_error("- just\n- a list\n",
                 "t.yaml:1: key '(top level)': expected a mapping of keys to values");
    expect_error("services: [\n", "t.yaml:2: not valid YAML: did not find expected node content "
                                  "while parsing a flow node");

    /* an empty file is all defaults */
    pol_policy_init(&p);
    CHECK(pol_load_string(&p, "e.yaml", "", 0, err, sizeof err));
    CHECK_EQ_U(p.sct_min_count, 1);
    CHECK_EQ_U(p.suppress_window, 3600);
    CHECK(!p.system_trust);
    pol_policy_free(&p);

    /* the command line fills the same struct */
    pol_policy_init(&p);
    CHECK(pol_cli_apply(&p, "watch", "xmpp.example.org", err, sizeof err));
    CHECK(pol_cli_apply(&p, "watch", ".example.net", err, sizeof err));
    CHECK(pol_cli_apply(&p, "known-certs", "/etc/letsencrypt", err, sizeof err));
    CHECK(pol_cli_apply(&p, "expect-issuer", "Let's Encrypt", err, sizeof err));
    CHECK(pol_cli_apply(&p, "expect-issuer", "CN=R3,O=Let's Encrypt,C=US", err, sizeof err));
    CHECK(pol_cli_apply(&p, "expect-issuer",
                        "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:"
                        "A4:95:99:1B:78:52:B8:55",
                        err, sizeof err));
    CHECK(pol_cli_apply(&p, "ca-file", "/tmp/anchors.pem", err, sizeof err));
    CHECK(pol_cli_apply(&p, "ct-log-list", "/tmp/log_list.json", err, sizeof err));
    CHECK(pol_cli_apply(&p, "ctcache", "/tmp/ct.msgpack", err, sizeof err));
    CHECK(!pol_cli_apply(&p, "state", "/tmp/state.msgpack", err, sizeof err));
    CHECK_STR(err, "--state /tmp/state.msgpack: expected a policy flag");
    CHECK(pol_cli_apply(&p, "min-scts", "0", err, sizeof err));
    CHECK(pol_cli_apply(&p, "suppress-window", "90m", err, sizeof err));
    CHECK_EQ_U(p.nservices, 2);
    CHECK_EQ_U(p.services[1].name.kind, POL_NAME_SUFFIX);
    CHECK_EQ_U(p.nissuers, 3);
    CHECK_EQ_U(p.issuers[0].kind, POL_ISSUER_CA_NAME);
    CHECK_EQ_U(p.issuers[1].kind, POL_ISSUER_DN);
    CHECK_EQ_U(p.issuers[2].kind, POL_ISSUER_SPKI);
    CHECK_MEM(p.issuers[2].spki, "\xe3\xb0\xc4\x42", 4);
    CHECK_STR(p.ca_files[0], "/tmp/anchors.pem");
    CHECK_STR(p.ct_log_list, "/tmp/log_list.json");
    CHECK_EQ_U(p.sct_min_count, 0);
    CHECK_EQ_U(p.suppress_window, 5400);
    pol_policy_free(&p);
    expect_cli_error("watch", "*.com", "--watch *.com: expected a host name, '*.' + domain, or "
                                       "'.' + domain (e.g. xmpp.example.org, *.example.org, "
                                       ".example.org)");
    expect_cli_error("min-scts", "-1", "--min-scts -1: expected a whole number from 0 to 16");
#define HOPS_WANT "expected HOST:PORT=ADDR,ADDR,... or [IPV6]:PORT=ADDR,... (hops: IPv4, IPv6 or *)"
    expect_cli_error("expect-hops", "2001:db8::2:22=192.0.2.1",
                     "--expect-hops 2001:db8::2:22=192.0.2.1: " HOPS_WANT);
    expect_cli_error("expect-hops", "192.0.2.2:0=192.0.2.1",
                     "--expect-hops 192.0.2.2:0=192.0.2.1: " HOPS_WANT);
    expect_cli_error("expect-hops", "192.0.2.2:22", "--expect-hops 192.0.2.2:22: " HOPS_WANT);
    expect_cli_error("expect-hops", "192.0.2.2=192.0.2.1",
                     "--expect-hops 192.0.2.2=192.0.2.1: " HOPS_WANT);
    expect_cli_error("expect-hops", "192.0.2.2:22=192.0.2.1,1.2.3",
                     "--expect-hops 192.0.2.2:22=192.0.2.1,1.2.3: " HOPS_WANT);
    expect_cli_error("expect-hops", "bad host:22=192.0.2.1",
                     "--expect-hops bad host:22=192.0.2.1: " HOPS_WANT);
    expect_cli_error("expect-hops", "[2001:db8::2]22=192.0.2.1",
                     "--expect-hops [2001:db8::2]22=192.0.2.1: " HOPS_WANT);
    expect_cli_error("suppress-window", "soon",
                     "--suppress-window soon: expected a duration: seconds, or a number with s, "
                     "m, h or d (e.g. 3600, 90m, 1h, 7d)");
    MW_TEST_END();
}
