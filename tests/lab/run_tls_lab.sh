#!/bin/sh
# run_tls_lab.sh MITMWATCH_BINARY WORKDIR -- the passive TLS lab as one ctest test.
#
#   mkpki.sh -> tls_capture.sh (real nginx/s_server/s_client/gnutls-cli, tcpdump on lo)
#   -> tshark_ref.sh -> mitmwatch -r lab.pcap -o events.json -> check_tls_events.py
#
# Everything goes to WORKDIR/tls-lab (wiped first). Exit 77 (skip) when not root or a tool
# is missing; any other non-zero exit is a real failure. Needs ports 127.0.0.1:18443-18460
# and [::1]:18447 free (ctest: RESOURCE_LOCK tls_lab_ports).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 MITMWATCH_BINARY WORKDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab_lib.sh"
bin=$1
lab_require run_tls_lab openssl nginx gnutls-cli tcpdump tshark ss timeout /usr/bin/python3
run=$(lab_rundir run_tls_lab "$bin" "$2" tls-lab) || exit 1

start=$(date +%s)
"$here/mkpki.sh" "$run/pki" >/dev/null
"$here/tls_capture.sh" "$run"
"$here/tshark_ref.sh" "$run/lab.pcap" "$run/tshark.json"
rc=0
timeout 30 "$bin" -r "$run/lab.pcap" -o "$run/events.json" 2>"$run/mitmwatch.stderr" || rc=$?
if [ $rc -ne 0 ]; then
    echo "run_tls_lab: mitmwatch exited with $rc:" >&2
    cat "$run/mitmwatch.stderr" >&2
    exit 1
fi
/usr/bin/python3 "$here/check_tls_events.py" "$run/events.json" "$run/flows.json" \
    "$run/tshark.json"
echo "run_tls_lab: done in $(( $(date +%s) - start ))s; files in $run"
