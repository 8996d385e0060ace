#!/bin/sh
# mitmwatch check as a Nagios/Icinga plugin against real openssl s_server instances, a listener
# that never answers and a closed port; every output line and exit code asserted exactly.
#   OK        the expected private CA, in the known store, 90 days left (-H/-p/-t and the
#             old HOST:PORT form); no --require-sct: a private CA needs no SCTs
#   WARNING   the same, but 10 days left (-w 21)
#   CRITICAL  right name, right CA, not in the known store: the jabber.ru case (cert.unknown);
#             several findings: one per line after the status line; an unknown anchor ("does
#             not validate now"); SCTs required by --require-sct or ct.min_scts; a closed
#             port; a listener that never answers (-t)
#   UNKNOWN   usage errors: one "MITMWATCH UNKNOWN - reason" line on stdout, exit 3
# usage: check_test.sh MITMWATCH WORKDIR      (77 = skipped)
set -u
MW=$(readlink -f "$1") W=$2
for t in openssl ss python3; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W/store" && cd "$W" || exit 1
PIDS=""
cleanup() { for p in $PIDS; do kill $p 2>/dev/null; done; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 365 -subj "/CN=Check Test CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign 2>/dev/null
leaf() { # name days
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key -out $1.csr \
        -subj "/CN=check.lab.test" 2>/dev/null
    printf 'subjectAltName=DNS:check.lab.test\nextendedKeyUsage=serverAuth\n' > ext.cnf
    openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days $2 \
        -extfile ext.cnf -out $1.pem 2>/dev/null
}
leaf good 90; leaf soon 10; leaf rogue 90
cp good.pem soon.pem store/    # the admins' store knows these two, not the rogue one
listening() { ss -ltn "( sport = :$1 )" | grep -q LISTEN; }
wait_listen() { for i in $(seq 50); do listening $1 && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }
serve() { openssl s_server -quiet -accept 127.0.0.1:$1 -cert $2.pem -key $2.key -cert_chain ca.pem >/dev/null 2>&1 & PIDS="$PIDS $!"; wait_listen $1; }
serve 18541 good; serve 18542 soon; serve 18543 rogue
# 18544 accepts connections (the kernel completes them) and never reads or answers
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18544)); s.listen(16); time.sleep(120)' & PIDS="$PIDS $!"
wait_listen 18544
listening 18599 && { echo "port 18599 is in use: the closed-port case needs it closed"; exit 1; }

# No --require-sct: the chain ends at a private CA, so no SCT is required (the default).
POL="--sni check.lab.test --ca-file ca.pem --expect-issuer CN=Check\ Test\ CA --known-certs store"
fail=0 pass=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; }
# run NAME WANT_EXIT WANT_OUTPUT ARGS...: the whole standard output (the time in the perfdata
# written as T after its format is checked), nothing on standard error, the exit code.
run() {
    name=$1 wrc=$2 want=$3; shift 3
    eval "\"\$MW\" check $*" >out.txt 2>err.txt; rc=$?
    got=$(sed -E 's/ \| time=[0-9]+\.[0-9]{6}s;;;0 / | time=T;;;0 /' out.txt)
    if [ "$rc" = "$wrc" ] && [ "$got" = "$want" ] && [ ! -s err.txt ]; then ok "$name: $(head -1 out.txt)"
    else bad "$name: exit $rc (want $wrc)"; echo "   got:  $got"; cat err.txt; echo "   want: $want"; fi
}
PERF90="time=T;;;0 days_to_expiry=90;21:;7:;0 scts=0;;;0"
OK90="MITMWATCH OK - 127.0.0.1:18541: CN=check.lab.test from CN=Check Test CA, expires in 90 days, 0 SCTs"

# -H, -p, -t as the guidelines name them; and the older HOST:PORT form, the same answer.
run "OK with -H -p -t" 0 "$OK90 | $PERF90" -H 127.0.0.1 -p 18541 -t 5 $POL
run "OK with HOST:PORT" 0 "$OK90 | $PERF90" 127.0.0.1:18541 $POL
run "OK with --hostname --port --warning --critical --config" 0 "$OK90 | $PERF90" \
    --hostname 127.0.0.1 --port 18541 --warning 21 --critical 7 --config /dev/null $POL
# performance data, exactly: time in seconds with its unit, thresholds in range syntax
eval "\"\$MW\" check -H 127.0.0.1 -p 18541 $POL -w 30 -c @0:10" >out.txt
perf=$(sed 's/.* | //' out.txt)
case "$perf" in
time=[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9]"s;;;0 days_to_expiry=90;30:;@0:10;0 scts=0;;;0")
    ok "perfdata: $perf" ;;
*) bad "perfdata: $perf" ;;
esac

run WARNING 1 "MITMWATCH WARNING - 127.0.0.1:18542: expiry: expires in 10 days (warning below 21) | time=T;;;0 days_to_expiry=10;21:;7:;0 scts=0;;;0" \
    -H 127.0.0.1 -p 18542 $POL
run "CRITICAL by range" 2 "MITMWATCH CRITICAL - 127.0.0.1:18541: expiry: expires in 90 days (critical range @0:100) | time=T;;;0 days_to_expiry=90;5:400;@0:100;0 scts=0;;;0" \
    -H 127.0.0.1 -p 18541 -w 5:400 -c @0:100 $POL

# The rogue certificate: one finding, on the status line only.
RSHA=$(openssl x509 -in rogue.pem -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
RNB=$(date -u -d "$(openssl x509 -in rogue.pem -noout -startdate | sed 's/notBefore=//')" +%Y-%m-%dT%H:%M:%SZ)
UNKNOWN_MSG="cert.unknown: The certificate with SHA-256 $RSHA presented for check.lab.test (issued by CN=Check Test CA on $RNB) is none of the 2 certificates the known store holds for that name (2 in the store): someone else obtained or made it."
run CRITICAL 2 "MITMWATCH CRITICAL - 127.0.0.1:18543: $UNKNOWN_MSG | time=T;;;0 days_to_expiry=90;21:;7:;0 scts=0;;;0" \
    -H 127.0.0.1 -p 18543 $POL
# Several findings: the worst on the status line with the count of the others, then each on
# a line of its own, worst first.
run "CRITICAL, two findings, multi-line" 2 "MITMWATCH CRITICAL - 127.0.0.1:18543: $UNKNOWN_MSG (+1 more) | time=T;;;0 days_to_expiry=90;100:;7:;0 scts=0;;;0
[CRITICAL] $UNKNOWN_MSG
[WARNING] expiry: expires in 90 days (warning below 100)" \
    -H 127.0.0.1 -p 18543 -w 100 $POL
# An anchor the check does not trust: worded for a check of the chain as it is now.
run "chain invalid, worded for an active check" 2 "MITMWATCH CRITICAL - 127.0.0.1:18541: cert.chain_invalid: The certificate chain presented for check.lab.test does not validate now: self-signed certificate in certificate chain (at depth 1). | $PERF90" \
    -H 127.0.0.1 -p 18541 --sni check.lab.test --known-certs store
# SCTs: required by default only of a chain to a publicly trusted anchor (the system store;
# rules/ decides it for the sensor and the check alike), so the private CA above needs none;
# --require-sct or the policy's ct.min_scts requires them of any chain.
SCT_MSG="cert.sct_missing: The certificate for check.lab.test has 0 acceptable SCTs (of 0; 0 from logs not in the log list), fewer than the 1 required: it may never have been logged in Certificate Transparency."
run "private anchor, --require-sct 1" 2 "MITMWATCH CRITICAL - 127.0.0.1:18541: $SCT_MSG | $PERF90" \
    -H 127.0.0.1 -p 18541 --require-sct 1 $POL
printf 'ct:\n  min_scts: 1\n' >sct.yaml
run "private anchor, ct.min_scts: 1 in --config" 2 "MITMWATCH CRITICAL - 127.0.0.1:18541: $SCT_MSG | $PERF90" \
    -H 127.0.0.1 -p 18541 --config sct.yaml $POL

# The service is not there: CRITICAL, as check_tcp says it.
run "refused: CRITICAL" 2 "MITMWATCH CRITICAL - 127.0.0.1:18599: connection refused by 127.0.0.1 port 18599" \
    -H 127.0.0.1 -p 18599 $POL
start=$(date +%s%N)
run "timeout: CRITICAL" 2 "MITMWATCH CRITICAL - 127.0.0.1:18544: timed out after 1000 ms during the TLS handshake" \
    -H 127.0.0.1 -p 18544 -t 1 $POL
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 1000 ] && [ $ms -lt 3000 ] && ok "timeout: gave up after $ms ms with -t 1" || bad "timeout took $ms ms with -t 1"
run "timeout with -t 1:UNKNOWN" 3 "MITMWATCH UNKNOWN - 127.0.0.1:18544: timed out after 1000 ms during the TLS handshake" \
    -H 127.0.0.1 -p 18544 -t 1:UNKNOWN $POL

# Usage errors: the status line a monitoring system shows, exit 3 (UNKNOWN).
run "usage: -c is not the policy file" 3 "MITMWATCH UNKNOWN - -c policy.yaml: expected days to expiry (7) or a range (7:, @0:7); the policy file is --config FILE" \
    -c policy.yaml 127.0.0.1:18541
run "usage: no host" 3 "MITMWATCH UNKNOWN - no host: give -H HOST (or HOST[:PORT])" -w 21
run "usage: unknown option" 3 "MITMWATCH UNKNOWN - unknown option --bogus" -H 127.0.0.1 --bogus
run "usage: missing value" 3 "MITMWATCH UNKNOWN - -t needs a value" -H 127.0.0.1 -t
run "usage: bad port" 3 "MITMWATCH UNKNOWN - -p 70000: expected a port from 1 to 65535" -H 127.0.0.1 -p 70000
run "usage: bad -t" 3 "MITMWATCH UNKNOWN - -t 0: expected seconds from 1 to 600, optionally with the state of a timeout (10:UNKNOWN)" \
    -H 127.0.0.1 -t 0
run "usage: two ports" 3 "MITMWATCH UNKNOWN - two ports: 127.0.0.1:18541 and -p 443" 127.0.0.1:18541 -p 443
run "usage: two hosts" 3 "MITMWATCH UNKNOWN - unexpected argument: b.example" -H a.example b.example
run "version" 0 "mitmwatch check $("$MW" --version | sed -n '1s/^mitmwatch //p')" -V
echo "$pass passed, $fail failed"
[ $fail = 0 ]
