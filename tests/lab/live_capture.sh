#!/bin/sh
# Live capture (-i, -f) on a veth pair between two network namespaces the test creates:
# client (192.0.2.1) -- server (192.0.2.2). A real openssl s_server in the server namespace,
# real openssl s_client handshakes from the client namespace, mitmwatch capturing on the server
# side's veth with a BPF filter. Then SIGTERM: every event and the final stats must be written.
# Privileges: once the capture is open the process runs as the default user (mitmwatch if that
# account exists, else nobody; /proc/PID/status), says so in its mitmwatch.sensor start event,
# and a run with --no-drop-privileges stays root and warns on stderr and in that event.
# usage: live_capture.sh MITMWATCH WORKDIR        (root; exit 77 when it cannot run)
set -u
MW=$1
W=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip openssl jq; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W"
C=mwlc$$ S=mwls$$
cleanup() {
    [ -n "${SRV:-}" ] && kill $SRV $SRV2 2>/dev/null
    ip netns del $C 2>/dev/null
    ip netns del $S 2>/dev/null
}
trap cleanup EXIT
ip netns add $C && ip netns add $S || { echo "SKIP: cannot create namespaces"; exit 77; }
ip link add mwc0 netns $C type veth peer name mws0 netns $S
ip -n $C addr add 192.0.2.1/24 dev mwc0 && ip -n $C link set mwc0 up && ip -n $C link set lo up
ip -n $S addr add 192.0.2.2/24 dev mws0 && ip -n $S link set mws0 up && ip -n $S link set lo up

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" \
    -out "$W/cert.pem" -days 30 -subj "/CN=live.lab.test" -addext "subjectAltName=DNS:live.lab.test" 2>/dev/null
want=$(openssl x509 -in "$W/cert.pem" -outform der | sha256sum | cut -d' ' -f1)
ip netns exec $S openssl s_server -accept 443 -cert "$W/cert.pem" -key "$W/key.pem" -quiet -naccept 2 >/dev/null 2>&1 &
SRV=$!
ip netns exec $S openssl s_server -accept 8443 -cert "$W/cert.pem" -key "$W/key.pem" -quiet -naccept 1 >/dev/null 2>&1 &
SRV2=$!
ip netns exec $S "$MW" -i mws0 -f 'tcp port 443' -o "$W/events.json" --stats-interval 0 2>"$W/stderr" &
MWP=$!
# the capture is open once the process has dropped its privileges (a loaded machine may take
# longer than a fixed sleep)
i=0
while [ $i -lt 100 ] && [ "$(awk '/^Uid:/ {print $3}' /proc/$MWP/status 2>/dev/null)" = 0 ]; do
    sleep 0.1; i=$((i+1))
done
sleep 0.3
if id -u mitmwatch >/dev/null 2>&1; then DU=mitmwatch; else DU=nobody; fi
ids=$(awk '/^Uid:/ {u = $2 " " $3 " " $4 " " $5} /^Gid:/ {g = $2 " " $3 " " $4 " " $5}
           /^Groups:/ {n = NF - 1} /^CapEff:/ {c = $2} END {print u " / " g " / " n " / " c}' \
    /proc/$MWP/status)
for v in -tls1_2 -tls1_3; do
    echo Q | ip netns exec $C timeout 5 openssl s_client -connect 192.0.2.2:443 -servername live.lab.test $v >/dev/null 2>&1
done
echo Q | ip netns exec $C timeout 5 openssl s_client -connect 192.0.2.2:8443 -servername live.lab.test >/dev/null 2>&1
sleep 0.5
kill -TERM $MWP
wait $MWP
rc=$?
fail=0
check() { # name got want
    if [ "$2" = "$3" ]; then echo "ok   $1 = $2"; else echo "FAIL $1: got '$2', want '$3'"; fail=$((fail+1)); fi
}
check "exit code after SIGTERM" "$rc" 0
check "tls events (port 443 only: the BPF filter drops 8443)" \
    "$(jq -s '[.[] | select(.event.dataset=="mitmwatch.tls")] | length' "$W/events.json")" 2
check "versions" "$(jq -r 'select(.event.dataset=="mitmwatch.tls") | .tls.version' "$W/events.json" | sort | tr '\n' ' ')" "1.2 1.3 "
check "leaf sha256 of the TLS 1.2 handshake" \
    "$(jq -r 'select(.event.dataset=="mitmwatch.tls" and .tls.version=="1.2") | .mitmwatch.tls.chain[0].sha256' "$W/events.json")" "$want"
check "server address" "$(jq -r 'select(.event.dataset=="mitmwatch.tls" and .tls.version=="1.2") | .destination.ip + ":" + (.destination.port|tostring)' "$W/events.json")" "192.0.2.2:443"
check "last line is the final stats" "$(tail -n 1 "$W/events.json" | jq -r '.event.dataset + " " + (.mitmwatch.stats.final|tostring)')" "mitmwatch.stats true"
check "handshakes counted" "$(tail -n 1 "$W/events.json" | jq -r '.mitmwatch.stats.handshakes')" 2
u=$(id -u $DU) g=$(id -g $DU)
check "running as $DU: real, effective, saved, fs uid / gid; supplementary groups; CapEff" \
    "$ids" "$u $u $u $u / $g $g $g $g / 0 / 0000000000000000"
check "start event" "$(jq -c 'select(.event.dataset=="mitmwatch.sensor") | .mitmwatch.sensor' "$W/events.json")" \
    "{\"action\":\"start\",\"user\":\"$DU\",\"uid\":$u,\"gid\":$g,\"privileges_dropped\":true}"
check "no warning" "$(cat "$W/stderr")" ""

# The opt-out: root stays, and says so.
ip netns exec $S "$MW" -i mws0 -f 'tcp port 443' -o "$W/root.json" --stats-interval 0 \
    --no-drop-privileges 2>"$W/root.stderr" &
MWP=$!
sleep 1
rid=$(awk '/^Uid:/ {print $2 " " $3}' /proc/$MWP/status)
kill -TERM $MWP
wait $MWP
W_ROOT="--no-drop-privileges: the capture keeps running as uid 0 with its capabilities; packets from the network are parsed with them"
check "--no-drop-privileges: still root" "$rid" "0 0"
check "--no-drop-privileges: warning on stderr" "$(cat "$W/root.stderr")" "mitmwatch: warning: $W_ROOT"
check "--no-drop-privileges: warning in the start event" \
    "$(jq -r 'select(.event.dataset=="mitmwatch.sensor") | "\(.mitmwatch.sensor.privileges_dropped) \(.mitmwatch.sensor.warning)"' "$W/root.json")" \
    "false $W_ROOT"
echo "$((13 - fail)) passed, $fail failed"
[ $fail = 0 ]
