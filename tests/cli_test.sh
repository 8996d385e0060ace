#!/bin/sh
# Command-line contract: usage, version, and one clear line with exit code 2 for bad input.
# usage: cli_test.sh MITMWATCH DEMO_PCAP
set -u
MW=$1
DEMO=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0 pass=0
expect() { # description, want-rc, want-stderr-substring, command...
    d=$1 wrc=$2 wmsg=$3
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne "$wrc" ] || ! grep -qF -- "$wmsg" "$T/err" "$T/out"; then
        echo "FAIL $d: rc=$rc (want $wrc), output:"; cat "$T/err" "$T/out" | head -5
        fail=$((fail+1))
    else
        echo "ok   $d"; pass=$((pass+1))
    fi
}
expect "help" 0 "usage: mitmwatch -r FILE" "$MW" -h
expect "version names libpcap" 0 "libpcap version" "$MW" --version
expect "version names OpenSSL" 0 "OpenSSL 3" "$MW" --version
expect "version names nDPI" 0 "nDPI" "$MW" --version
expect "unknown option" 2 "mitmwatch: unknown option: --bogus" "$MW" --bogus
expect "missing value" 2 "mitmwatch: option needs a value: -r" "$MW" -r
expect "nothing to read" 2 "nothing to read" "$MW"
expect "missing file" 2 "cannot read $T/nope.pcap" "$MW" -r "$T/nope.pcap"
printf 'not a pcap at all' > "$T/bad.pcap"
expect "not a capture file" 2 "cannot read $T/bad.pcap" "$MW" -r "$T/bad.pcap"
expect "bad filter" 2 "bad filter 'tcp port'" "$MW" -r "$DEMO" -f 'tcp port'
expect "unwritable output" 2 "cannot open /nonexistent/x.json for writing" "$MW" -r "$DEMO" -o /nonexistent/x.json
expect "bad number" 2 "--max-flows wants a number" "$MW" -r "$DEMO" --max-flows 0
# A file cut in the middle of a packet: the good packets count, one line says what happened.
head -c 1000 "$DEMO" > "$T/cut.pcap"
expect "truncated file" 0 "truncated dump file" "$MW" -r "$T/cut.pcap" -o "$T/cut.json"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
