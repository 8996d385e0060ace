#!/bin/bash
# cert.not_in_ct from the sensor: a snapshot synced from the test CT log, then a capture of
# four TLS 1.2 handshakes for watched names: www (logged), unlogged (never logged: the
# alert), mail (final certificate; its precertificate was logged: silent), fresh (issued an
# hour ago, within the merge delay: silent).
# usage: sensor_not_in_ct.sh MITMWATCH [WORKDIR]   exit 0 pass, 1 fail, 77 skip
# tls.server.hash.sha256 is uppercase hex (ECS).
set -u
MW=$1
WORK=${2:-$(mktemp -d /tmp/ct-sensor.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography"; exit 77; }
"$MW" --help 2>&1 | grep -q -- --ctcache || { echo "SKIP: mitmwatch has no --ctcache yet"; exit 77; }
rm -rf "$WORK"
mkdir -p "$WORK"
LAB=$WORK/lab
"$PY" "$HERE/ctlab.py" gen "$LAB" || exit 1
"$PY" "$HERE/ctlab.py" serve "$LAB" 2>"$WORK/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$LAB/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$LAB/port")
S=$WORK/a.ctcache
"$MW" ct sync --ctcache "$S" --watch '*.example.test' --log "$URL/a/,$LAB/log-a.pub" \
    --no-progress 2>"$WORK/err" || { echo "FAIL: ct sync"; cat "$WORK/err"; exit 1; }
"$PY" "$HERE/ctlab.py" pcap "$LAB" "$WORK/handshakes.pcap" www unlogged mail fresh
"$MW" -r "$WORK/handshakes.pcap" --watch '*.example.test' --ctcache "$S" --stats-interval 0 \
    -o "$WORK/events" || { echo "FAIL: mitmwatch -r"; exit 1; }
got=$("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["kind"] == "alert" and e["rule"]["id"] == "cert.not_in_ct":
        print(e["source"]["port"], e["tls"]["server"]["hash"]["sha256"])' "$WORK/events")
want="40001 $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["certs"]["unlogged"]["cert_sha256"].upper())' "$LAB/manifest.json")"
if [ "$got" != "$want" ]; then
    printf 'FAIL: cert.not_in_ct alerts\n  expected: %s\n  actual:   %s\n' "$want" "$got"
    exit 1
fi
echo "sensor_not_in_ct: pass"
