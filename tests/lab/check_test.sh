#!/bin/sh
# mitmwatch check as a Nagios/Icinga plugin against real openssl s_server instances: one
# scenario for each state, the status line and exit code asserted exactly.
#   OK        the expected CA, in the known store, 90 days left
#   WARNING   the same, but 10 days left (-w 21)
#   CRITICAL  right name, right CA, not in the known store: the jabber.ru case (cert.unknown)
#   UNKNOWN   a closed port
# usage: check_test.sh MITMWATCH WORKDIR      (77 = skipped)
set -u
MW=$(readlink -f "$1") W=$2
for t in openssl ss; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
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
serve() { openssl s_server -quiet -accept 127.0.0.1:$1 -cert $2.pem -key $2.key -cert_chain ca.pem >/dev/null 2>&1 & PIDS="$PIDS $!"
    for i in $(seq 50); do ss -ltn "( sport = :$1 )" | grep -q LISTEN && return 0; sleep 0.1; done; echo "no server on $1"; exit 1; }
serve 18541 good; serve 18542 soon; serve 18543 rogue
POL="--sni check.lab.test --ca-file ca.pem --expect-issuer CN=Check\ Test\ CA --known-certs store --require-sct 0"
fail=0 pass=0
run() { # name, want-exit, want-status (before the |), port
    out=$(eval "\"$MW\" check 127.0.0.1:$4 $POL" 2>&1); rc=$?
    line=${out%% |*}
    if [ "$rc" = "$2" ] && [ "$line" = "$3" ]; then pass=$((pass+1)); echo "ok   $1: $out"
    else fail=$((fail+1)); echo "FAIL $1: exit $rc (want $2)"; echo "   got:  $out"; echo "   want: $3"; fi
}
run OK 0 "MITMWATCH OK - 127.0.0.1:18541: CN=check.lab.test from CN=Check Test CA, expires in 90 days, 0 SCTs" 18541
run WARNING 1 "MITMWATCH WARNING - 127.0.0.1:18542: expiry: expires in 10 days (warning below 21)" 18542
out=$(eval "\"$MW\" check 127.0.0.1:18543 $POL"); rc=$?
case "$out" in
"MITMWATCH CRITICAL - 127.0.0.1:18543: cert.unknown: "*) [ $rc = 2 ] && { pass=$((pass+1)); echo "ok   CRITICAL: $out"; } || { fail=$((fail+1)); echo "FAIL CRITICAL exit $rc"; } ;;
*) fail=$((fail+1)); echo "FAIL CRITICAL: $out" ;;
esac
run UNKNOWN 3 "MITMWATCH UNKNOWN - 127.0.0.1:18599: connection refused by 127.0.0.1 port 18599" 18599
# perfdata: the monitoring-plugins format, label=value[UOM];warn;crit;min
perf=$(eval "\"$MW\" check 127.0.0.1:18541 $POL" | sed 's/.* | //')
case "$perf" in
"handshake_time="[0-9]*.[0-9][0-9][0-9]"s;;;0 days_to_expiry=90;21;7;0 scts=0;;;0") pass=$((pass+1)); echo "ok   perfdata: $perf" ;;
*) fail=$((fail+1)); echo "FAIL perfdata: $perf" ;;
esac
echo "$pass passed, $fail failed"
[ $fail = 0 ]
