#!/bin/bash
# Hot reload of the CT cache in a running sensor: a live mitmwatch on lo judges real TLS
# handshakes (openssl s_server with shop.example.test's certificate from the test CT lab).
# First the snapshot does not hold it yet: cert.not_in_ct. Then the test log grows to include
# it, `mitmwatch ct sync` rewrites the snapshot (atomically) while the sensor runs, and the next
# handshake, a few seconds of capture time later, is judged against the new snapshot: silent.
# usage: sensor_ct_reload.sh MITMWATCH WORKDIR     exit 0 pass, 1 fail, 77 skip (root for -i lo)
set -u
MW=$(readlink -f "$1")
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (live capture)"; exit 77; }
"$PY" -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography"; exit 77; }
for t in openssl jq ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
LAB=$WORK/lab
"$PY" "$HERE/ctlab.py" gen "$LAB" >/dev/null || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT
"$PY" "$HERE/ctlab.py" serve "$LAB" 2>server.log & PIDS="$!"
for _ in $(seq 50); do [ -s "$LAB/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$LAB/port")
ctl() { "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1]).read()" "$URL/_ctl/$1"; }
S=$WORK/ctcache
sync() { "$MW" ct sync --ctcache "$S" --watch '*.example.test' --log "$URL/a/,$LAB/log-a.pub" \
    --no-progress >/dev/null 2>sync.err || { echo "FAIL: ct sync"; cat sync.err; exit 1; }; }
sync   # the log's first 10 entries: shop.example.test is not among them
PORT=18561
openssl s_server -quiet -accept 127.0.0.1:$PORT -cert "$LAB/certs/shop.pem" \
    -key "$LAB/certs/shop.key" -cert_chain "$LAB/ca.pem" >/dev/null 2>&1 & PIDS="$PIDS $!"
for i in $(seq 50); do ss -ltn "( sport = :$PORT )" | grep -q LISTEN && break; sleep 0.1; done
"$MW" -i lo -f "tcp port $PORT" --watch '*.example.test' --ctcache "$S" --ca-file "$LAB/ca.pem" \
    --min-scts 0 --stats-interval 0 --no-ndpi -o events.json 2>mw.err & MWP=$!
PIDS="$PIDS $MWP"
sleep 1.5
hs() { echo Q | timeout 5 openssl s_client -connect 127.0.0.1:$PORT -servername shop.example.test \
    -tls1_2 >/dev/null 2>&1; }
hs
sleep 0.5
ctl "size/a?n=14"   # the log grows: shop is in it now
sync
sleep 6             # the sensor re-checks the snapshot file every 5 s of capture time
hs
sleep 0.5
kill -TERM $MWP; wait $MWP; rc=$?
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }
SHA=$(openssl x509 -in "$LAB/certs/shop.pem" -outform der | sha256sum | cut -c1-64 | tr a-f A-F)
check "sensor exit" "$rc" 0
check "two handshakes of shop.example.test" \
    "$(jq -r 'select(.event.dataset=="mitmwatch.tls") | .tls.server.hash.sha256' events.json | tr '\n' ' ')" "$SHA $SHA "
FIRST=$(jq -r 'select(.event.dataset=="mitmwatch.tls") | .source.port' events.json | head -1)
check "cert.not_in_ct for the first handshake only (the snapshot was swapped in between)" \
    "$(jq -r 'select(.rule.id=="cert.not_in_ct") | "\(.source.port) \(.tls.server.hash.sha256)"' events.json)" "$FIRST $SHA"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
