#!/bin/sh
# A sensor slower than its link admits it: live capture with 2 workers (fanout sockets) on a
# veth between two namespaces the test creates, each socket with a small kernel buffer and each
# worker slowed down (--debug-delay-us), while the client floods the server with UDP datagrams
# to many ports (many flows: the fanout hash spreads them over both sockets). The
# kernel drops what the sockets cannot hold; the events must say so: sensor.drops alerts whose
# counts add up to the final stats' capture.dropped + if_dropped (> 0), and the workers array
# with each worker's share of the received packets.
# usage: live_drops.sh MITMWATCH WORKDIR        (root; exit 77 when it cannot run)
set -u
MW=$1
W=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip python3 jq; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W"
C=mwdc$$ S=mwds$$
cleanup() {
    ip netns del $C 2>/dev/null
    ip netns del $S 2>/dev/null
}
trap cleanup EXIT
ip netns add $C && ip netns add $S || { echo "SKIP: cannot create namespaces"; exit 77; }
ip link add mwdc0 netns $C type veth peer name mwds0 netns $S
ip -n $C addr add 192.0.2.1/24 dev mwdc0 && ip -n $C link set mwdc0 up && ip -n $C link set lo up
ip -n $S addr add 192.0.2.2/24 dev mwds0 && ip -n $S link set mwds0 up && ip -n $S link set lo up

ip netns exec $S "$MW" -i mwds0 --workers 2 --capture-buffer 65536 --debug-delay-us 2000 \
    -o "$W/events.json" --stats-interval 1 --observer drops 2>"$W/stderr" &
MWP=$!
sleep 1.5
# 20000 datagrams in well under a second: far more than two workers at 2 ms a packet take
ip netns exec $C python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000):
    s.sendto(b"x" * 600, ("192.0.2.2", 20000 + i % 4000))
' >"$W/flood.out" 2>&1
sleep 1
kill -TERM $MWP
wait $MWP
rc=$?
fail=0
check() { # name got want
    if [ "$2" = "$3" ]; then echo "ok   $1 = $2"; else echo "FAIL $1: got '$2', want '$3'"; fail=$((fail+1)); fi
}
final='select(.event.dataset=="mitmwatch.stats" and .mitmwatch.stats.final) | .mitmwatch.stats'
dropped=$(jq -r "$final | .capture.dropped + .capture.if_dropped" "$W/events.json")
alerted=$(jq -s '[.[] | select(.rule.id=="sensor.drops") | .mitmwatch.observed | tonumber] | add // 0' \
    "$W/events.json")
nalerts=$(jq -s '[.[] | select(.rule.id=="sensor.drops")] | length' "$W/events.json")
check "exit code after SIGTERM" "$rc" 0
check "kernel drops counted (final stats)" "$([ "${dropped:-0}" -gt 0 ] && echo yes)" yes
check "sensor.drops raised" "$([ "$nalerts" -gt 0 ] && echo yes)" yes
check "sensor.drops counts add up to the final stats" "$alerted" "$dropped"
check "two workers in the stats" "$(jq -r "$final | .workers | length" "$W/events.json")" 2
check "the workers' received add up" \
    "$(jq -r "$final | ([.workers[].received] | add) == .capture.received" "$W/events.json")" true
check "both workers got packets (fanout)" \
    "$(jq -r "$final | [.workers[] | select(.received > 0)] | length" "$W/events.json")" 2
jq -c "$final | {packets, capture, workers: [.workers[] | {received, dropped, packets}]}" \
    "$W/events.json"
echo "$((7 - fail)) passed, $fail failed"
[ $fail = 0 ]
