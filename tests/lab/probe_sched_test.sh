#!/bin/sh
# The live sensor's scheduled JARM probes (issue 7) against real openssl s_server instances on
# loopback: the first round learns, a server swapped for another configuration between rounds
# raises probe.jarm_changed (learned), a configured JARM that does not match raises it at once
# (configured), and a closed port raises probe.failed. The JARM values are jarm.py's for the same
# s_server configurations (tests/data/jarm/expected.txt: openssl_default_rsa,
# openssl_tls12_two_ciphers). Fetched certificates are judged by every certificate rule, as
# passive handshakes are: a server whose certificate comes from an "Evil CA" raises
# cert.issuer_unexpected and cert.chain_invalid. Probe alerts pass the duplicate suppression
# (default window 1 h): probe.failed and probe.cert_mismatch once, not every round.
# usage: probe_sched_test.sh MITMWATCH WORKDIR    (root: live capture on lo; 77 = skipped)
set -u
MW=$(readlink -f "$1") W=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in openssl jq ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
J1=$(awk -F'\t' '$1=="openssl_default_rsa" {print $2}' "$HERE/../data/jarm/expected.txt")
J2=$(awk -F'\t' '$1=="openssl_tls12_two_ciphers" {print $2}' "$HERE/../data/jarm/expected.txt")
PIDS=""
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }
cleanup() { for p in $PIDS; do kill $p 2>/dev/null; done; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -days 30 -subj /CN=probe.lab.test 2>/dev/null
wait_port() { for i in $(seq 50); do ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 30 -subj /CN=probe.lab.test 2>/dev/null
mkdir -p store && cp rsa.pem store/   # the known store has rsa.pem, not other.pem
ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key -out $1.pem -days 30 -subj "/O=$2/CN=$2" \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null; }
ca good "Good CA"; ca evil "Evil CA"
openssl req -newkey rsa:2048 -nodes -keyout evil-leaf.key -out evil-leaf.csr -subj /CN=probe.lab.test 2>/dev/null
printf 'subjectAltName=DNS:probe.lab.test\n' >ext.cnf
openssl x509 -req -in evil-leaf.csr -CA evil.pem -CAkey evil.key -CAcreateserial -days 30 -extfile ext.cnf \
    -out evil-leaf.pem 2>/dev/null
cat evil-leaf.pem evil.pem >evil-chain.pem
openssl s_server -www -quiet -accept 127.0.0.1:19605 -cert evil-chain.pem -key evil-leaf.key >/dev/null 2>&1 & PIDS="$PIDS $!"
openssl s_server -www -quiet -accept 127.0.0.1:19603 -cert rsa.pem -key rsa.key >/dev/null 2>&1 & PIDS="$PIDS $!"
openssl s_server -www -quiet -accept 127.0.0.1:19604 -cert other.pem -key other.key >/dev/null 2>&1 & PIDS="$PIDS $!"
openssl s_server -www -quiet -accept 127.0.0.1:19601 -cert rsa.pem -key rsa.key >/dev/null 2>&1 & S1=$!
openssl s_server -www -quiet -accept 127.0.0.1:19602 -cert rsa.pem -key rsa.key >/dev/null 2>&1 & S2=$!
PIDS="$PIDS $S1 $S2"
wait_port 19601; wait_port 19602; wait_port 19603; wait_port 19604; wait_port 19605
"$MW" -i lo -f 'tcp port 9' --stats-interval 0 --probe-interval 3 --probe-jitter 0 \
    --probe jarm:127.0.0.1:19601 --probe "jarm:127.0.0.1:19602=$J2" --probe jarm:127.0.0.1:19699 \
    --probe cert:127.0.0.1:19603 --probe cert:127.0.0.1:19604 --known-certs store \
    --probe cert:127.0.0.1:19605 --ca-file good.pem --expect-issuer "Good CA" \
    --user nobody -o events.json 2>stderr.txt & MWP=$!
PIDS="$PIDS $MWP"
sleep 1.5
check "after start-up the sensor runs as nobody with no capabilities" \
    "$(awk '/^Uid:/ {print $2} /^CapEff:/ {print $2}' /proc/$MWP/status | tr '\n' ' ')" "65534 0000000000000000 "
kill $S1; wait $S1 2>/dev/null
openssl s_server -www -quiet -accept 127.0.0.1:19601 -cert rsa.pem -key rsa.key -tls1_2 \
    -cipher ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_port 19601
sleep 3
kill -TERM $MWP; wait $MWP; rc=$?

check "exit code after SIGTERM" "$rc" 0
check "19601: JARM per round (learn, then the new server)" \
    "$(jq -r 'select(.mitmwatch.probe.target=="127.0.0.1:19601") | .mitmwatch.probe.jarm' events.json | tr '\n' ' ')" "$J1 $J2 "
check "19601: probe.jarm_changed against the learned JARM" \
    "$(jq -c 'select(.rule.id=="probe.jarm_changed" and .destination.port==19601) | [.mitmwatch.expected, .mitmwatch.observed, .event.severity]' events.json)" \
    "[{\"jarm\":\"$J1\",\"source\":\"learned\"},{\"jarm\":\"$J2\"},3]"
check "19602: a configured JARM that does not match, every round" \
    "$(jq -c 'select(.rule.id=="probe.jarm_changed" and .destination.port==19602) | .mitmwatch.expected.source + " " + .mitmwatch.observed.jarm' events.json | sort -u)" \
    "\"configured $J1\""
check "19699 (closed): probe.failed with the reason, once in the suppression window" \
    "$(jq -r 'select(.rule.id=="probe.failed") | "\(.destination.port) \(.mitmwatch.observed.error)"' events.json)" \
    "19699 nothing answered (closed port or dropped)"
check "probe events are mitmwatch.probe, outcome per probe" \
    "$(jq -r 'select(.event.dataset=="mitmwatch.probe") | "\(.mitmwatch.probe.target) \(.event.outcome // .mitmwatch.probe.outcome)"' events.json | sort | uniq -c | awk '{print $1, $2, $3}' | tr '\n' ';')" \
    "2 127.0.0.1:19601 success;2 127.0.0.1:19602 success;2 127.0.0.1:19603 success;2 127.0.0.1:19604 success;2 127.0.0.1:19605 success;2 127.0.0.1:19699 failure;"
check "cert probes fetch the served chain" \
    "$(jq -r 'select(.mitmwatch.probe.type=="cert") | .mitmwatch.probe.target + " " + .mitmwatch.tls.chain[0].sha256' events.json | sort -u | tr '\n' ';')" \
    "127.0.0.1:19603 $(openssl x509 -in rsa.pem -outform der | sha256sum | cut -c1-64);127.0.0.1:19604 $(openssl x509 -in other.pem -outform der | sha256sum | cut -c1-64);127.0.0.1:19605 $(openssl x509 -in evil-leaf.pem -outform der | sha256sum | cut -c1-64);"
check "probe.cert_mismatch (not in the known store), once in the suppression window" \
    "$(jq -c 'select(.rule.id=="probe.cert_mismatch") | [.destination.port, .mitmwatch.observed.sha256, .event.severity]' events.json | tr '\n' ' ')" \
    "[19604,\"$(openssl x509 -in other.pem -outform der | sha256sum | cut -c1-64)\",4] [19605,\"$(openssl x509 -in evil-leaf.pem -outform der | sha256sum | cut -c1-64)\",4] "
check "19605 (Evil CA): the certificate rules judge the fetch, once in the window" \
    "$(jq -r 'select(.event.kind=="alert" and .destination.port==19605 and (.rule.id|test("^cert[.](issuer_unexpected|chain_invalid)$"))) | .rule.id + " " + (.mitmwatch.observed.issuer // "")' events.json | sort | tr '\n' ';')" \
    "cert.chain_invalid ;cert.issuer_unexpected CN=Evil CA,O=Evil CA;"
check "probe alerts" "$(jq -r 'select(.event.kind=="alert" and (.rule.id|startswith("probe."))) | .rule.id' events.json | sort | uniq -c | awk '{print $1, $2}' | tr '\n' ';')" \
    "2 probe.cert_mismatch;1 probe.failed;3 probe.jarm_changed;"
check "certificate alerts per fetched target (the self-signed ones, the Evil CA's)" \
    "$(jq -r 'select(.event.kind=="alert" and (.rule.id|startswith("cert."))) | "\(.destination.port) \(.rule.id)"' events.json | sort | uniq -c | awk '{print $1, $2, $3}' | tr '\n' ';')" \
    "1 19603 cert.issuer_unexpected;1 19604 cert.issuer_unexpected;1 19604 cert.self_signed;1 19604 cert.unknown;1 19605 cert.chain_invalid;1 19605 cert.issuer_unexpected;1 19605 cert.unknown;"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
