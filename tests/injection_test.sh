#!/bin/sh
# tls.injection end to end on the committed injection captures (tests/pcap/make_evasion.py):
# a second copy of the server's handshake bytes with other content and another TTL, seen before
# the handshake was judged (inject_ttl: the alert follows the handshake event, which lists the
# rule) and after it (inject_alert: a forged fatal alert ended the handshake first; the alert
# comes from the engine's conflict callback). Exact evidence. No root needed.
# usage: injection_test.sh MITMWATCH CASESDIR
set -u
mw=${1:?usage: injection_test.sh MITMWATCH CASESDIR}
dir=${2:?usage: injection_test.sh MITMWATCH CASESDIR}
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
fail=0
check() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL $1: got $2, want $3"; fail=1; fi
}
first=476e16ec48a859d771045abd9a71bbd5e0077672a706d6e87cd898fd7b51ae38
later=61e7fcdf9d8fa890d44dce328cbf99fc10b16639ae55d19e6c989815a501ec25
evidence="{\"expected\":{\"sha256\":\"$first\",\"ttl\":60},\"observed\":{\"sha256\":\"$later\",\"ttl\":64,\"direction\":\"server\",\"offset\":512,\"length\":512,\"copies_differing\":1,\"first_copy_parsed\":true}}"
msg="Two different copies of the same server bytes of the connection to 127.0.0.1:8443 were seen (stream offset 512, 512 bytes; TTL 60, then 64): something on the path injected data; the first copy is the one judged."
for case in inject_ttl inject_alert; do
    out=$("$mw" -r "$dir/$case.pcap" -o - --min-scts 0 --observer t) || { echo "FAIL $case: exit $?"; fail=1; continue; }
    a=$(printf '%s\n' "$out" | jq -c 'select(.rule.id=="tls.injection")')
    check "$case: one tls.injection alert" "$(printf '%s\n' "$a" | grep -c .)" 1
    check "$case: severity" "$(printf '%s' "$a" | jq -r '.event.severity')" 4
    check "$case: rule.name" "$(printf '%s' "$a" | jq -r '.rule.name')" "Injected handshake bytes"
    check "$case: message" "$(printf '%s' "$a" | jq -r '.message')" "$msg"
    check "$case: evidence" "$(printf '%s' "$a" | jq -c '{expected: .mitmwatch.expected, observed: .mitmwatch.observed}')" "$evidence"
    hs=$(printf '%s\n' "$out" | jq -c 'select(.event.dataset=="mitmwatch.tls")')
    case $case in
    inject_ttl)
        check "$case: the handshake lists the rule" "$(printf '%s' "$hs" | jq -c '.mitmwatch.verdict.rules')" '["cert.chain_invalid","tls.injection"]'
        check "$case: the alert names its handshake" "$(printf '%s' "$a" | jq -r '.mitmwatch.handshake_id')" "$(printf '%s' "$hs" | jq -r '.event.id')" ;;
    inject_alert)
        check "$case: found after the handshake event" "$(printf '%s' "$a" | jq -r '.mitmwatch.handshake_id')" null ;;
    esac
done
[ $fail -eq 0 ] && echo "injection: all passed"
exit $fail
