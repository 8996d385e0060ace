#!/bin/bash
# Live-capture benchmark: replays a corpus file over a veth pair inside a private network
# namespace (no addresses, nothing routed) with tcpreplay, and captures it on the other end
# with mitmwatch -i and, for reference, the bench's pcap-count. Reports what each saw of the
# packets and handshakes corpus.txt counts, and the kernel's drops (mitmwatch.stats capture).
# usage: tools/bench-live.sh CORPUSDIR [FILE] [TCPREPLAY_RATE]   (root; default handshake.pcap
#        at --topspeed; a rate is tcpreplay's --mbps value, e.g. 1000)
#        env WORKERS: the --workers counts to run mitmwatch with (default "1 2"; with more than
#        one, its sockets share the veth in a PACKET_FANOUT group)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=$(readlink -f "${1:?usage: tools/bench-live.sh CORPUSDIR [FILE] [MBPS]}")
FILE=${2:-handshake.pcap}
RATE=${3:-}
BENCH=${MW_BENCH_DIR:-tools/bench}
for t in tcpreplay ip; do command -v $t >/dev/null || { echo "bench-live: needs $t" >&2; exit 2; }; done
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
out=/var/tmp/mitmwatch-bench-live
mkdir -p "$out"
cc -O2 -o "$out/pcap-count" "$BENCH/pcap-count.c" -lpcap
ns=mwbl$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link add mwbl0 type veth peer name mwbl1
for d in mwbl0 mwbl1; do ip netns exec "$ns" ip link set dev "$d" up mtu 1500; done
speed=(--topspeed)
[ -n "$RATE" ] && speed=(--mbps="$RATE")
cat "$CORPUS/$FILE" >/dev/null
expected=$(awk -v f="$FILE" '$1 == f { print $3, $9 }' "$CORPUS/corpus.txt")

run() { # NAME CMD... : capture with CMD on mwbl1 while tcpreplay sends the file on mwbl0
    local name=$1
    shift
    ip netns exec "$ns" "$@" >"$out/$name.out" 2>"$out/$name.err" &
    local pid=$!
    sleep 2
    ip netns exec "$ns" tcpreplay -q -i mwbl0 "${speed[@]}" "$CORPUS/$FILE" >"$out/$name.replay" 2>&1
    sleep 2
    kill -INT "$pid"
    wait "$pid" || true
}
WORKERS=${WORKERS:-1 2}
for w in $WORKERS; do
    run "mitmwatch-w$w" build/tools/mitmwatch -i mwbl1 --stats-interval 0 -o - --observer bench-live \
        --workers "$w"
done
run pcap-count "$out/pcap-count" -i mwbl1
echo "corpus $FILE: packets handshakes = $expected"
for w in $WORKERS; do
    grep -h -E 'Actual|Rated' "$out/mitmwatch-w$w.replay" | sed "s/^/tcpreplay (mitmwatch --workers $w run): /"
    /usr/bin/python3 - "$out/mitmwatch-w$w.out" "$w" <<'PYEOF'
import json, sys
stats = [json.loads(l) for l in open(sys.argv[1]) if '"mitmwatch.stats"' in l][-1]
s = stats["mitmwatch"]["stats"]
c = s["capture"]
print(f"mitmwatch --workers {sys.argv[2]}: packets {s['packets']}, server_hellos {s['server_hellos']}, "
      f"handshakes {s['handshakes']}, kernel received {c['received']}, dropped {c['dropped']}, "
      f"if_dropped {c['if_dropped']}")
for i, w in enumerate(s.get("workers", [])):
    print(f"  worker {i}: received {w['received']}, dropped {w['dropped']}, packets {w['packets']}, "
          f"handshakes {w['handshakes']}")
PYEOF
done
grep -h -E 'Actual|Rated' "$out/pcap-count.replay" | sed 's/^/tcpreplay (pcap-count run): /'
echo "pcap-count: $(tr '\n' ' ' < "$out/pcap-count.out")"
