#!/bin/sh
# SCTs delivered in the TLS extension and a stapled OCSP response, from a real openssl s_server
# (-serverinfo, -status_file) to a real openssl s_client -ct: the handshake event must list the
# TLS-extension SCTs with their exact log ids and timestamps and mark the stapled response.
# The OCSP response is made by openssl ocsp from a test CA. (SCTs embedded in certificates are
# covered by the unit tests and the verdict tests.)
# usage: sct_staple_test.sh MITMWATCH WORKDIR   (root for tcpdump; 77 = skipped)
set -u
MW=$(readlink -f "$1") W=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in openssl tcpdump jq ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
PORT=18531
PIDS=""
cleanup() { for p in $PIDS; do kill $p 2>/dev/null; done; }
trap cleanup EXIT
# test CA, leaf, and an OCSP response for the leaf signed by the CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 30 -subj "/CN=SCT Test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
    -subj "/CN=sct.lab.test" 2>/dev/null
printf 'subjectAltName=DNS:sct.lab.test\n' > ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x5c7 -days 30 \
    -extfile ext.cnf -out leaf.pem 2>/dev/null
printf 'V\t301231235959Z\t\t05C7\tunknown\t/CN=sct.lab.test\n' > index.txt
openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -issuer ca.pem \
    -cert leaf.pem -respout ocsp.der -ndays 7 >/dev/null 2>&1 || { echo "FAIL: openssl ocsp"; exit 1; }
# serverinfo: extension 18 (signed_certificate_timestamp) carrying two SCTs with known fields
/usr/bin/python3 - <<'PY'
import base64, struct
def sct(logid_byte, ts):
    sig = b'\x30\x06\x02\x01\x01\x02\x01\x01'
    body = b'\x00' + bytes([logid_byte]) * 32 + struct.pack('>Q', ts) + b'\x00\x00' + b'\x04\x03' + struct.pack('>H', len(sig)) + sig
    return struct.pack('>H', len(body)) + body
lst = sct(0xaa, 1700000000123) + sct(0xbb, 1700000004567)
data = struct.pack('>H', len(lst)) + lst
ext = struct.pack('>HH', 18, len(data)) + data
open('serverinfo.pem', 'w').write('-----BEGIN SERVERINFO FOR signed_certificate_timestamp-----\n' +
    base64.encodebytes(ext).decode() + '-----END SERVERINFO FOR signed_certificate_timestamp-----\n')
PY
openssl s_server -quiet -accept 127.0.0.1:$PORT -cert leaf.pem -key leaf.key -cert_chain ca.pem \
    -serverinfo serverinfo.pem -status_file ocsp.der -tls1_2 >/dev/null 2>&1 & PIDS="$!"
for i in $(seq 50); do ss -ltn "( sport = :$PORT )" | grep -q LISTEN && break; sleep 0.1; done
tcpdump -i lo --immediate-mode -U -w sct.pcap "tcp port $PORT" 2>tcpdump.err & TD=$!
PIDS="$PIDS $TD"
for i in $(seq 50); do grep -q listening tcpdump.err 2>/dev/null && break; sleep 0.1; done
# s_client -ct wants a CT log list: one unrelated test log (the SCTs here are from unknown logs)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out log.key 2>/dev/null
printf 'enabled_logs = testlog\n[testlog]\ndescription = test log\nkey = %s\n' \
    "$(openssl pkey -in log.key -pubout -outform der | base64 -w0)" > ctlogs.cnf
echo Q | timeout 5 openssl s_client -connect 127.0.0.1:$PORT -servername sct.lab.test -ct -status \
    -ctlogfile ctlogs.cnf -CAfile ca.pem > client.txt 2>&1
sleep 0.3; kill -INT $TD; wait $TD 2>/dev/null
"$MW" -r sct.pcap -o events.json
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1: got '$2', want '$3'"; fi; }
AA=$(printf '\252%.0s' $(seq 32) | base64 -w0)
BB=$(printf '\273%.0s' $(seq 32) | base64 -w0)
check "the client saw the stapled response" "$(grep -c 'OCSP Response Status: successful' client.txt)" 1
check "SCTs from the TLS extension, in order, exact" \
    "$(jq -c 'select(.event.dataset=="mitmwatch.tls") | [.mitmwatch.tls.scts[] | [.source, .log_id, .timestamp, .status]]' events.json)" \
    "[[\"tls\",\"$AA\",\"2023-11-14T22:13:20.123Z\",\"unverified\"],[\"tls\",\"$BB\",\"2023-11-14T22:13:24.567Z\",\"unverified\"]]"
check "the stapled OCSP response is marked" "$(jq -r 'select(.event.dataset=="mitmwatch.tls") | .mitmwatch.tls.ocsp_stapled' events.json)" true
check "chain: leaf then CA, as served" "$(jq -r 'select(.event.dataset=="mitmwatch.tls") | [.mitmwatch.tls.chain[].sha256] | join(" ")' events.json)" \
    "$(openssl x509 -in leaf.pem -outform der | sha256sum | cut -c1-64) $(openssl x509 -in ca.pem -outform der | sha256sum | cut -c1-64)"
check "no SCT or OCSP anomalies" "$(tail -n 1 events.json | jq -c '[.mitmwatch.stats.anomalies.sct_list_malformed, .mitmwatch.stats.anomalies.ocsp_malformed]')" "[0,0]"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
