#!/bin/sh
# run_demo_pcap.sh MITMWATCH_BINARY WORKDIR -- mitmwatch on the bundled tests/data/demo.pcap,
# judged by check_tls_events.py against the committed demo.flows.json / demo.tshark.json.
# Needs neither root nor tshark: the reference values were recorded by make_demo.sh.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 MITMWATCH_BINARY WORKDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data
bin=$1
[ -x /usr/bin/python3 ] || { echo "run_demo_pcap: SKIP: no /usr/bin/python3" >&2; exit 77; }
if [ ! -x "$bin" ]; then
    echo "run_demo_pcap: mitmwatch binary $bin not found" >&2
    exit 1
fi
mkdir -p "$2"
out=$(cd "$2" && pwd)/demo-events.json
rm -f "$out"
rc=0
timeout 30 "$bin" -r "$data/demo.pcap" -o "$out" || rc=$?
if [ $rc -ne 0 ]; then
    echo "run_demo_pcap: mitmwatch exited with $rc" >&2
    exit 1
fi
exec /usr/bin/python3 "$here/check_tls_events.py" "$out" "$data/demo.flows.json" \
    "$data/demo.tshark.json"
