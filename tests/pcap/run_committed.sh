#!/bin/sh
# The committed edge-case captures (tests/pcap/cases/) against cases.json; no root needed.
# usage: run_committed.sh MITMWATCH_BINARY OUTDIR      exit 0 ok, 1 failure, 77 no python3
set -u
MW=${1:?usage: run_committed.sh MITMWATCH_BINARY OUTDIR}
OUT=${2:?usage: run_committed.sh MITMWATCH_BINARY OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/python3 ] || { echo "run_committed: /usr/bin/python3 missing (skipped)"; exit 77; }
rm -rf "$OUT"
mkdir -p "$OUT"
exec /usr/bin/python3 "$HERE/check_edge.py" --set committed --dir "$HERE/cases" --mitmwatch "$MW" \
    --out "$OUT"
