#!/bin/bash
# The passive half of issue 6 in the jabber.ru shape, live: namespaces
#
#   client 192.0.2.2 ─ r1 ─────────────── r2 ─ server 203.0.113.2 (TLS on 22 and 5222)
#                       └── mitm ─────────┘
# mitmwatch captures on the server's veth. Phase A: every port takes r1-r2 (the baselines are
# learned). Phase B: r1/r2 policy-route port 5222 only through `mitm`, one hop more. The server
# side sees the client-to-server TTL of 5222 drop by one while 22 keeps its old one:
# path.ttl_changed must fire for 5222 (against its learned hops, and against port 22 of the
# same host), and nothing in a control run where phase B has no mitm. Real openssl s_server and
# s_client; documentation prefixes only inside these namespaces.
#   path_passive_test.sh MITMWATCH WORKDIR       exit 0 pass, 1 fail, 77 skipped
set -u
MW=$(readlink -f "$1") W=$2
. "$(dirname "$(readlink -f "$0")")/lab_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip openssl jq ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
    -out cert.pem -days 30 -subj "/CN=xmpp.lab.test" 2>/dev/null
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }

lab() { # run MITM(yes|no) -> events in $W/events-$1.json
    local mitm=$1
    lab_path_topology mwpp$$ || { lab_path_teardown; echo "SKIP: no netns"; exit 77; }
    ns() { lab_ns "$@"; }
    local pids=""
    for port in 22 5222; do
        ip netns exec "${LAB_NS}s" openssl s_server -quiet -accept $port -cert cert.pem -key key.pem \
            >/dev/null 2>&1 &
        pids="$pids $!"
    done
    for i in $(seq 50); do [ "$(ns s ss -Hltn | wc -l)" -ge 2 ] && break; sleep 0.1; done
    ip netns exec "${LAB_NS}s" "$MW" -i seth -f 'tcp port 22 or tcp port 5222' --learn-flows 3 \
        --stats-interval 0 --no-ndpi -o "events-$mitm.json" 2>"mw-$mitm.err" &
    local mwp=$!
    sleep 1.5
    hs() { echo Q | ns c timeout 5 openssl s_client -connect 203.0.113.2:$1 -servername xmpp.lab.test >/dev/null 2>&1; }
    for i in 1 2 3; do hs 22; hs 5222; done            # phase A: learning
    if [ $mitm = yes ]; then                           # phase B: 5222 through the mitm hop
        lab_path_divert 5222 on
    fi
    for i in 1 2; do hs 22; hs 5222; done
    sleep 0.5
    kill -TERM $mwp; wait $mwp
    kill $pids 2>/dev/null; wait 2>/dev/null
    lab_path_teardown
}
lab yes
lab no
alerts() { jq -c 'select(.event.kind=="alert") | [.rule.id, .destination.port, .mitmwatch.expected, .mitmwatch.observed]' "$1" | sort; }
check "handshakes seen (10 per run)" \
    "$(jq -s '[.[] | select(.event.dataset=="mitmwatch.tls")] | length' events-yes.json) $(jq -s '[.[] | select(.event.dataset=="mitmwatch.tls")] | length' events-no.json)" "10 10"
check "with the mitm: path.ttl_changed for 5222 only, learned and per-port" "$(alerts events-yes.json)" \
"$(printf '%s\n' \
'["path.ttl_changed",5222,{"direction":"client to server","hops":2,"ports":[22]},{"direction":"client to server","hops":3,"port":5222}]' \
'["path.ttl_changed",5222,{"direction":"client to server","hops":[2]},{"direction":"client to server","hops":3}]' | sort)"
check "control run without the mitm: no alert" "$(alerts events-no.json | wc -l)" 0
check "the alert explains itself" \
    "$(jq -r 'select(.event.kind=="alert" and (.mitmwatch.expected.ports|type)=="array") | .message' events-yes.json)" \
    "Port 5222 of 203.0.113.2 is 3 hops away (client to server) while ports 22 of the same host are 2: a box on the path handles this port only"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
