#!/bin/sh
# kill -9 of the live sensor loses at most one --state-interval of learned state. A veth pair
# between two namespaces the test creates, client (198.51.100.1) -- server (198.51.100.2), a
# real openssl s_server, real s_client handshakes, mitmwatch capturing live on the server side
# with --state-interval 1: after the handshakes and two intervals, kill -9; the state file must
# hold the learned baseline (the service, its handshake count and its JA3S). Then SIGUSR1 with
# --state-interval 0: saved at once. And --state in a folder --user cannot write: refused at
# start, before any capture.
# usage: state_kill_test.sh MITMWATCH WORKDIR        (root; exit 77 when it cannot run)
# Run under the lab lock (flock /tmp/mw-lab.lock).
set -u
MW=$(readlink -f "$1")
W=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip openssl; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
/usr/bin/python3 -c "import msgpack" 2>/dev/null || { echo "SKIP: no python3-msgpack"; exit 77; }
rm -rf "$W" && mkdir -p "$W"
# The sensor drops privileges (to mitmwatch if that account exists, else nobody), then writes
# its state: in a folder that user owns, under /tmp (searchable by everyone, wherever the clone is).
if id -u mitmwatch >/dev/null 2>&1; then DU=mitmwatch; else DU=nobody; fi
SD=$(mktemp -d /tmp/mitmwatch-lab.XXXXXX) && chmod 755 "$SD" && chown "$DU" "$SD" || exit 1
C=mwkc$$ S=mwks$$
cleanup() {
    rm -rf "$SD"
    [ -n "${SRV:-}" ] && kill $SRV 2>/dev/null
    [ -n "${MWP:-}" ] && kill -9 $MWP 2>/dev/null
    ip netns del $C 2>/dev/null
    ip netns del $S 2>/dev/null
}
trap cleanup EXIT
ip netns add $C && ip netns add $S || { echo "SKIP: cannot create namespaces"; exit 77; }
ip link add mwkc0 netns $C type veth peer name mwks0 netns $S
ip -n $C addr add 198.51.100.1/24 dev mwkc0 && ip -n $C link set mwkc0 up && ip -n $C link set lo up
ip -n $S addr add 198.51.100.2/24 dev mwks0 && ip -n $S link set mwks0 up && ip -n $S link set lo up
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" \
    -out "$W/cert.pem" -days 30 -subj "/CN=state.lab.test" 2>/dev/null
ip netns exec $S openssl s_server -accept 4433 -cert "$W/cert.pem" -key "$W/key.pem" -quiet -tls1_2 >/dev/null 2>&1 &
SRV=$!
handshakes() { # N
    for _ in $(seq "$1"); do
        echo Q | ip netns exec $C timeout 5 openssl s_client -connect 198.51.100.2:4433 -tls1_2 -no_ticket >/dev/null 2>&1
    done
}
# services on port 4433: [port, flows, number of JA3S pairs]
state_of() {
    /usr/bin/python3 - "$1" <<'EOF'
import msgpack, sys
try:
    d = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False, strict_map_key=False)
except FileNotFoundError:
    print("no state file"); sys.exit(0)
print(" ".join("%d:%d:%d" % (s[2], s[3], len(s[7])) for s in d["services"] if s[2] == 4433) or "none")
EOF
}
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1 = $2"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }

ip netns exec $S "$MW" -i mwks0 -f 'tcp port 4433' --learn-flows 2 --state "$SD/st.mp" --state-interval 1 \
    --stats-interval 0 -o "$W/ev.json" 2> "$W/stderr" &
MWP=$!
sleep 1.5
handshakes 3
sleep 2.5
kill -9 $MWP; wait $MWP 2>/dev/null; MWP=
check "kill -9 after 3 handshakes and 2 save intervals: the learned baseline is on disk (port:flows:ja3s pairs)" \
    "$(state_of "$SD/st.mp")" "4433:3:1"
ls "$SD"/st.mp.tmp.* >/dev/null 2>&1 && check "no temporary file left" yes no || check "no temporary file left" no no

ip netns exec $S "$MW" -i mwks0 -f 'tcp port 4433' --learn-flows 2 --state "$SD/st2.mp" --state-interval 0 \
    --stats-interval 0 -o "$W/ev2.json" 2> "$W/stderr2" &
MWP=$!
sleep 1.5
handshakes 2
sleep 0.5
check "--state-interval 0: nothing written before a signal" "$(state_of "$SD/st2.mp")" "no state file"
kill -USR1 $MWP
sleep 0.5
kill -9 $MWP; wait $MWP 2>/dev/null; MWP=
check "SIGUSR1 saves at once" "$(state_of "$SD/st2.mp")" "4433:2:1"

if id nobody >/dev/null 2>&1; then
    mkdir -p "$W/rootonly" && chmod 755 "$W/rootonly"
    ip netns exec $S "$MW" -i mwks0 --user nobody --state "$W/rootonly/st.mp" -o "$W/ev3.json" 2> "$W/stderr3"
    rc=$?
    check "--state in a folder --user cannot write: exit 2 at start, no events" "$rc $(wc -c < "$W/ev3.json" 2>/dev/null || echo 0)" "2 0"
    check "... and says why" "$(cat "$W/stderr3")" \
        "mitmwatch: cannot write state file $W/rootonly/st.mp: its folder $W/rootonly is not writable by --user nobody"
    ip netns exec $S "$MW" -i mwks0 --state "$W/rootonly/st.mp" -o "$W/ev4.json" 2> "$W/stderr4"
    check "... the same for the default user ($DU)" "$? $(cat "$W/stderr4")" \
        "2 mitmwatch: cannot write state file $W/rootonly/st.mp: its folder $W/rootonly is not writable by $DU, the user live capture drops to by default (--user NAME names another)"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
