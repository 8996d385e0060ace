#!/bin/sh
# verdicts_cli_test.sh MITMWATCH DEMO_PCAP -- the policy's command-line contract (no root):
# a bad policy file or flag stops mitmwatch before reading anything, exit 2, with FILE:LINE
# (or the flag) and what was expected; with no policy at all, the demo capture raises exactly
# the policy-free alerts.
set -u
bin=$1
pcap=$2
[ -x /usr/bin/python3 ] || { echo "verdicts_cli_test: SKIP: no /usr/bin/python3" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

expect_fail() { # WANT_STDERR ARGS...
    want=$1
    shift
    "$bin" -r "$pcap" -o "$tmp/out.json" "$@" 2>"$tmp/err"
    rc=$?
    got=$(head -n 1 "$tmp/err")
    if [ $rc -ne 2 ] || [ "$got" != "$want" ]; then
        echo "FAIL: mitmwatch $*: exit $rc, stderr '$got'; expected exit 2, '$want'" >&2
        fails=$((fails + 1))
    fi
}

printf 'version: 1\nservices:\n  - name: xmpp.example.org\n    ports: [5222, 0]\n' >"$tmp/bad.yaml"
expect_fail "mitmwatch: $tmp/bad.yaml:4: key 'ports': expected a port number from 1 to 65535" \
    -c "$tmp/bad.yaml"
printf 'version: 1\nalerts:\n  suppress_windw: 1h\n' >"$tmp/typo.yaml"
expect_fail "mitmwatch: $tmp/typo.yaml:3: key 'suppress_windw': unknown here; expected one of: suppress_window, suppress_keys, min_tls_version" \
    -c "$tmp/typo.yaml"
expect_fail "mitmwatch: $tmp/absent.yaml: No such file or directory" -c "$tmp/absent.yaml"
expect_fail "mitmwatch: --watch *.com: expected a host name, '*.' + domain, or '.' + domain (e.g. xmpp.example.org, *.example.org, .example.org)" \
    --watch '*.com'
expect_fail "mitmwatch: --expect-issuer : expected a CA name such as \"Let's Encrypt\"" \
    --expect-issuer ''
echo 'not a certificate' >"$tmp/junk.pem"
expect_fail "mitmwatch: --ca-file $tmp/junk.pem: cannot load: no certificate or crl found" \
    --ca-file "$tmp/junk.pem"
expect_fail "mitmwatch: --ct-log-list $tmp/junk.pem: OpenSSL cannot load it: log conf invalid" \
    --ct-log-list "$tmp/junk.pem"
# every problem with the files the policy names at once, with FILE:LINE and key
printf 'version: 1\ntrust:\n  ca_files:\n    - /nonexistent/ca.pem\n    - %s\nct:\n  log_list: %s\n' \
    "$tmp/junk.pem" "$tmp/junk.pem" >"$tmp/files.yaml"
"$bin" -T -c "$tmp/files.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat >"$tmp/want" <<WANT
mitmwatch: $tmp/files.yaml:4: ca_files: /nonexistent/ca.pem: No such file or directory
mitmwatch: $tmp/files.yaml:5: ca_files: $tmp/junk.pem: cannot load: no certificate or crl found
mitmwatch: $tmp/files.yaml:7: log_list: $tmp/junk.pem: OpenSSL cannot load it: log conf invalid
mitmwatch: 3 problems in the configuration
WANT
if [ $rc -ne 2 ] || ! diff "$tmp/want" "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL: -T with bad files: exit $rc (want 2)" >&2
    fails=$((fails + 1))
fi
# what the sensor runs without is a warning at start, once: a missing ctcache, log list or
# known store folder, an empty store
mkdir "$tmp/empty"
"$bin" -T --ctcache "$tmp/none.msgpack" --ct-log-list "$tmp/none.json" \
    --known-certs "$tmp/none" --known-certs "$tmp/empty" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat >"$tmp/want" <<WANT
mitmwatch: warning: --known-certs $tmp/none: No such file or directory (read as empty until it exists; SIGHUP reads it again)
mitmwatch: warning: the known store (2 folders) holds no certificates: cert.unknown fires for every certificate of a watched service
mitmwatch: warning: --ct-log-list $tmp/none.json: No such file or directory: SCTs are not verified (status unverified) and carry no log names, ct.min_operators is not judged
mitmwatch: warning: --ctcache $tmp/none.msgpack: No such file or directory: cert.not_in_ct is not judged until \`mitmwatch ct sync\` writes it
WANT
if [ $rc -ne 0 ] || ! diff "$tmp/want" "$tmp/err" || [ "$(cat "$tmp/out")" != "configuration OK" ]; then
    echo "FAIL: -T with missing files: exit $rc (want 0)" >&2
    fails=$((fails + 1))
fi
"$bin" -r "$pcap" -o /dev/null --ctcache "$tmp/none.msgpack" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ "$(grep -c warning "$tmp/err")" != 1 ]; then
    echo "FAIL: a missing ctcache stops the sensor or is not said once: exit $rc" >&2
    fails=$((fails + 1))
fi

# The example policy runs as shipped on a fresh install: exact warnings, exit 0
ex=$(dirname "$pcap")/../../rules/example-policy.yaml
"$bin" -T -c "$ex" >"$tmp/out" 2>"$tmp/err"
rc=$?
sed "s|$ex|POLICY|" "$tmp/err" >"$tmp/got"
cat >"$tmp/want" <<'WANT'
mitmwatch: warning: POLICY:71: known_certs: /etc/letsencrypt: No such file or directory (read as empty until it exists; SIGHUP reads it again)
mitmwatch: warning: POLICY:72: known_certs: /var/lib/dehydrated/certs: No such file or directory (read as empty until it exists; SIGHUP reads it again)
mitmwatch: warning: the known store (2 folders) holds no certificates: cert.unknown fires for every certificate of a watched service
mitmwatch: warning: POLICY:82: log_list: /etc/mitmwatch/log_list.json: No such file or directory: SCTs are not verified (status unverified) and carry no log names, ct.min_operators is not judged
mitmwatch: warning: POLICY:118: ctcache: /var/lib/mitmwatch/ctcache.msgpack: No such file or directory: cert.not_in_ct is not judged until `mitmwatch ct sync` writes it
WANT
if [ $rc -ne 0 ] || ! diff "$tmp/want" "$tmp/got" || [ "$(cat "$tmp/out")" != "configuration OK" ]; then
    echo "FAIL: -T -c example-policy.yaml: exit $rc (want 0)" >&2
    fails=$((fails + 1))
fi
if ! "$bin" -r "$pcap" -c "$ex" >/dev/null 2>&1; then
    echo "FAIL: -r demo.pcap -c example-policy.yaml does not run" >&2
    fails=$((fails + 1))
fi
# No policy: the demo capture's three visible certificates come from a test CA nobody trusts
# and carry no SCTs; with no public anchor, none are required unless --min-scts says so.
count() { # ARGS... -> "rule.id sni" lines, sorted
    "$bin" -r "$pcap" -o - "$@" | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["event"]["dataset"] == "mitmwatch.alert":
        print(e["rule"]["id"], e["tls"]["client"]["server_name"])' | sort
}
got=$(count)
want='cert.chain_invalid chain.lab.test
cert.chain_invalid ecdsa.lab.test
cert.chain_invalid rsa.lab.test'
if [ "$got" != "$want" ]; then
    printf 'FAIL: policy-free alerts on demo.pcap:\n%s\nexpected:\n%s\n' "$got" "$want" >&2
    fails=$((fails + 1))
fi
got=$(count --min-scts 1)
want='cert.chain_invalid chain.lab.test
cert.chain_invalid ecdsa.lab.test
cert.chain_invalid rsa.lab.test
cert.sct_missing chain.lab.test
cert.sct_missing ecdsa.lab.test
cert.sct_missing rsa.lab.test'
if [ "$got" != "$want" ]; then
    printf 'FAIL: policy-free alerts on demo.pcap:\n%s\nexpected:\n%s\n' "$got" "$want" >&2
    fails=$((fails + 1))
fi
got=$(count --min-scts 0 --watch other.example.org --known-certs "$tmp")
want='cert.chain_invalid chain.lab.test
cert.chain_invalid ecdsa.lab.test
cert.chain_invalid rsa.lab.test'
if [ "$got" != "$want" ]; then
    printf 'FAIL: --min-scts 0, unwatched names:\n%s\nexpected:\n%s\n' "$got" "$want" >&2
    fails=$((fails + 1))
fi
[ $fails -eq 0 ] && echo "verdicts_cli_test: ok"
exit $((fails > 0))
