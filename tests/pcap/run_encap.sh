#!/bin/sh
# The encapsulation, fragment and capture-file cases: make_encap.py wraps the committed seeds'
# handshakes (tests/pcap/cases) into OUTDIR, check_encap.py checks mitmwatch's events there,
# and tshark's view of each file where it can decode it. No root needed.
# usage: run_encap.sh MITMWATCH_BINARY OUTDIR      exit 0 ok, 1 failure, 77 no python3
set -u
MW=${1:?usage: run_encap.sh MITMWATCH_BINARY OUTDIR}
OUT=${2:?usage: run_encap.sh MITMWATCH_BINARY OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/python3 ] || { echo "run_encap: /usr/bin/python3 missing (skipped)"; exit 77; }
rm -rf "$OUT"
/usr/bin/python3 "$HERE/make_encap.py" "$HERE/cases" "$OUT" || exit 1
exec /usr/bin/python3 "$HERE/check_encap.py" "$MW" "$OUT"
