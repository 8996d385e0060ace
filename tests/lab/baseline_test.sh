#!/bin/sh
# Baselines across one timeline of captures (issue 6, passive half), with real servers:
#  A: openssl s_client against openssl s_server on P1 and gnutls-serv on P2 (learning),
#  B: the same client against gnutls-serv now answering on P1 (another TLS stack: JA3S change),
#  C: A with P2's packets rewritten to TTL 61 (three routers more on that port's path only).
# Asserts the exact alerts for -r A -r B, -r A -r C, and across runs with --state.
# usage: baseline_test.sh MITMWATCH WORKDIR     (root for tcpdump; 77 = skipped)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MW=$(readlink -f "$1") W=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in openssl gnutls-serv tcpdump jq; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
P1=18501 P2=18502
PIDS=""
cleanup() { for p in $PIDS; do kill $p 2>/dev/null; done; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 30 \
    -subj "/CN=svc.lab.test" -addext "subjectAltName=DNS:svc.lab.test" 2>/dev/null
wait_port() { for i in $(seq 50); do ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }
serve_openssl() { openssl s_server -accept $1 -cert cert.pem -key key.pem -quiet -tls1_2 >/dev/null 2>&1 & PIDS="$PIDS $!"; wait_port $1; }
serve_gnutls() { gnutls-serv -p $1 --x509certfile cert.pem --x509keyfile key.pem --priority 'NORMAL:-VERS-TLS1.3' >/dev/null 2>&1 & PIDS="$PIDS $!"; wait_port $1; }
client() { echo Q | timeout 5 openssl s_client -connect 127.0.0.1:$1 -servername svc.lab.test -tls1_2 -no_ticket >/dev/null 2>&1; }
capture() { # file, then the client runs
    tcpdump -i lo --immediate-mode -U -w "$1" "tcp port $P1 or tcp port $P2" 2>tcpdump.err & TD=$!
    for i in $(seq 50); do grep -q listening tcpdump.err 2>/dev/null && break; sleep 0.1; done
}
stop_capture() { sleep 0.3; kill -INT $TD; wait $TD 2>/dev/null; }

capture A.pcap
serve_openssl $P1; serve_gnutls $P2
client $P1; client $P1; client $P2; client $P2
stop_capture
cleanup; PIDS=""; sleep 0.3
capture B.pcap
serve_gnutls $P1; serve_gnutls $P2
client $P1; client $P2
stop_capture
/usr/bin/python3 "$HERE/../pcap/set_ttl.py" A.pcap C.pcap $P2 61 >/dev/null

fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }
# The baseline alerts only: the lab's self-signed certificate also raises the policy-free
# verdicts (cert.self_signed, rules/ALERTS.md), which tests/lab/run_verdicts_lab.sh judges.
bl_alert='select(.event.kind=="alert" and (.rule.id|test("^(tls[.]ja3s_changed|path[.])")))'
alerts() { jq -c "$bl_alert"' | [.rule.id, .destination.port, .mitmwatch.expected, .mitmwatch.observed]' "$1"; }

ja3s_A1=$("$MW" -r A.pcap | jq -r "select(.destination.port==$P1 and .event.dataset==\"mitmwatch.tls\") | .tls.server.ja3s" | sort -u)
ja3s_B1=$("$MW" -r B.pcap | jq -r "select(.destination.port==$P1 and .event.dataset==\"mitmwatch.tls\") | .tls.server.ja3s" | sort -u)
ja3=$("$MW" -r A.pcap | jq -r "select(.destination.port==$P1 and .event.dataset==\"mitmwatch.tls\") | .tls.client.ja3" | sort -u)
check "one JA3S per server stack" "$(echo "$ja3s_A1" | wc -l) $(echo "$ja3s_B1" | wc -l)" "1 1"
[ "$ja3s_A1" != "$ja3s_B1" ] && check "the stacks differ" yes yes || check "the stacks differ" no yes

"$MW" -r A.pcap -r B.pcap --learn-flows 2 -o AB.json
check "A then B: exactly one alert, tls.ja3s_changed on $P1" "$(alerts AB.json)" \
    "[\"tls.ja3s_changed\",$P1,{\"ja3\":\"$ja3\",\"resumed\":false,\"ja3s\":[\"$ja3s_A1\"]},{\"ja3\":\"$ja3\",\"ja3s\":\"$ja3s_B1\"}]"
check "the alert's severity and name" "$(jq -r "$bl_alert"' | "\(.event.severity) \(.rule.name)"' AB.json)" \
    "2 Server TLS fingerprint changed"

rm -f state.mp
"$MW" -r A.pcap --learn-flows 2 --state state.mp -o A.json
check "learning run: no alerts" "$(alerts A.json | wc -l)" 0
"$MW" -r B.pcap --learn-flows 2 --state state.mp -o B.json
check "B after a restart with --state: the same alert" "$(alerts B.json)" "$(alerts AB.json)"

"$MW" -r A.pcap -r C.pcap --learn-flows 2 -o AC.json
check "A then C: path.ttl_changed, learned baseline and port comparison" "$(alerts AC.json | sort)" \
"$(printf '%s\n' \
"[\"path.ttl_changed\",$P2,{\"direction\":\"server to client\",\"hops\":0,\"ports\":[$P1]},{\"direction\":\"server to client\",\"hops\":3,\"port\":$P2}]" \
"[\"path.ttl_changed\",$P2,{\"direction\":\"server to client\",\"hops\":[0]},{\"direction\":\"server to client\",\"hops\":3}]" | sort)"
check "network.ttl in the handshake event" "$(jq -r "select(.tls and .destination.port==$P2) | .network.ttl" C.pcap.json 2>/dev/null || "$MW" -r C.pcap | jq -r "select(.tls and .destination.port==$P2) | .network.ttl" | sort -u)" 61
"$MW" -r C.pcap --state nonexistent/x -o /dev/null 2>err.txt
check "an unwritable state file is one clear line" "$(cat err.txt)" "mitmwatch: cannot write state file nonexistent/x: No such file or directory"
printf 'garbage' > bad.mp
"$MW" -r C.pcap --state bad.mp -o /dev/null 2>err.txt; rc=$?
check "a corrupt state file is refused (exit 2)" "$rc $(cat err.txt)" "2 mitmwatch: state file bad.mp: not a mitmwatch state file (not a msgpack map)"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
