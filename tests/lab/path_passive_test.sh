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
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip openssl jq ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
    -out cert.pem -days 30 -subj "/CN=xmpp.lab.test" 2>/dev/null
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }

lab() { # run MITM(yes|no) -> events in $W/events-$1.json
    local mitm=$1 P=mwpp$$ ns
    ns() { local n=$1; shift; ip netns exec $P$n "$@"; }
    for n in c r1 m r2 s; do ip netns add $P$n || { echo "SKIP: no netns"; exit 77; }; ns $n ip link set lo up; done
    link() { ip link add name $2 netns $P$1 type veth peer name $4 netns $P$3; ns $1 ip link set dev $2 up; ns $3 ip link set dev $4 up; }
    link c ceth r1 c; ns c ip addr add 192.0.2.2/24 dev ceth; ns r1 ip addr add 192.0.2.1/24 dev c
    link r1 r2 r2 r1; ns r1 ip addr add 198.51.100.1/26 dev r2; ns r2 ip addr add 198.51.100.2/26 dev r1
    link r1 m m r1; ns r1 ip addr add 198.51.100.65/26 dev m; ns m ip addr add 198.51.100.66/26 dev r1
    link m r2 r2 m; ns m ip addr add 198.51.100.130/26 dev r2; ns r2 ip addr add 198.51.100.129/26 dev m
    link r2 s s seth; ns r2 ip addr add 203.0.113.1/24 dev s; ns s ip addr add 203.0.113.2/24 dev seth
    for n in r1 m r2; do ns $n sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0; done
    ns c ip route add default via 192.0.2.1; ns s ip route add default via 203.0.113.1
    ns r1 ip route add 203.0.113.0/24 via 198.51.100.2; ns r2 ip route add 192.0.2.0/24 via 198.51.100.1
    ns m ip route add 203.0.113.0/24 via 198.51.100.129; ns m ip route add 192.0.2.0/24 via 198.51.100.65
    ns r1 ip route add 203.0.113.0/24 via 198.51.100.66 table 100
    ns r2 ip route add 192.0.2.0/24 via 198.51.100.130 table 100
    local pids=""
    for port in 22 5222; do
        ip netns exec ${P}s openssl s_server -quiet -accept $port -cert cert.pem -key key.pem \
            >/dev/null 2>&1 &
        pids="$pids $!"
    done
    for i in $(seq 50); do [ "$(ns s ss -Hltn | wc -l)" -ge 2 ] && break; sleep 0.1; done
    ip netns exec ${P}s "$MW" -i seth -f 'tcp port 22 or tcp port 5222' --learn-flows 3 \
        --stats-interval 0 --no-ndpi -o "events-$mitm.json" 2>"mw-$mitm.err" &
    local mwp=$!
    sleep 1.5
    hs() { echo Q | ns c timeout 5 openssl s_client -connect 203.0.113.2:$1 -servername xmpp.lab.test >/dev/null 2>&1; }
    for i in 1 2 3; do hs 22; hs 5222; done            # phase A: learning
    if [ $mitm = yes ]; then                           # phase B: 5222 through the mitm hop
        ns r1 ip rule add ipproto tcp dport 5222 table 100
        ns r2 ip rule add ipproto tcp sport 5222 table 100
    fi
    for i in 1 2; do hs 22; hs 5222; done
    sleep 0.5
    kill -TERM $mwp; wait $mwp
    kill $pids 2>/dev/null; wait 2>/dev/null
    for n in c r1 m r2 s; do ip netns del $P$n; done
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
