#!/bin/sh
# make_demo.sh DATADIR -- (re)make the bundled demo capture from a fresh lab run.
#
# Writes DATADIR/demo.pcap (a few handshakes cut out of the lab capture),
# DATADIR/demo.flows.json (what each of them is, as tls_capture.sh recorded it) and
# DATADIR/demo.tshark.json (tshark's reference values for them), so the demo can be checked
# with check_tls_events.py without root and without tshark. Needs root (runs the lab).
# The throwaway PKI and all lab logs stay in a temporary folder that is deleted.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 DATADIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
data=$(mkdir -p "$1" && cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Which lab connections go into the demo (ids from tls_capture.sh):
#   c01 nginx TLS 1.2 RSA leaf + intermediate, no ALPN, session ticket issued
#   c02 the TLS 1.2 ticket resumption of c01 (no certificates on the wire)
#   c03 nginx TLS 1.3 ECDSA, SNI, ALPN offered h2,http/1.1
#   c04 nginx TLS 1.2 RSA with the 3-certificate chain, SNI chain.lab.test, ALPN h2
#   g05 gnutls-cli -> nginx TLS 1.2 ECDSA, SNI, ALPN http/1.1
#   c15 s_server TLS 1.3 with a HelloRetryRequest (two ClientHellos, one handshake)
ids="c01 c02 c03 c04 g05 c15"

"$here/mkpki.sh" "$work/pki" >/dev/null
"$here/tls_capture.sh" "$work" >/dev/null

# shellcheck disable=SC2086 # $ids is a word list on purpose
/usr/bin/python3 - "$work/flows.json" "$data/demo.flows.json" "$work/streams" $ids <<'EOF'
import json, sys
src, dst, streams_out, *ids = sys.argv[1:]
flows = [f for f in json.load(open(src))["flows"] if f["id"] in ids]
if sorted(f["id"] for f in flows) != sorted(ids):
    sys.exit("make_demo: lab run lacks some demo connections")
flows.sort(key=lambda f: f["tcp_stream"])
with open(streams_out, "w") as f:
    f.write(",".join(str(x["tcp_stream"]) for x in flows))
for n, f in enumerate(flows):  # stream numbers as they will be in demo.pcap
    f["tcp_stream"] = n
with open(dst, "w") as f:
    json.dump({"pcap": "demo.pcap", "flows": flows}, f, indent=1)
    f.write("\n")
EOF
tshark -n -r "$work/lab.pcap" -Y "tcp.stream in {$(cat "$work/streams")}" \
    -F pcap -w "$data/demo.pcap" 2>/dev/null
"$here/tshark_ref.sh" "$data/demo.pcap" "$data/demo.tshark.json" >/dev/null
echo "make_demo: $(wc -c < "$data/demo.pcap") bytes -> $data/demo.pcap"
