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
# exact DESCRIPTION WANT_RC WANT_STDOUT WANT_STDERR COMMAND...: both outputs whole.
exact() {
    d=$1 wrc=$2 wout=$3 werr=$4
    shift 4
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne "$wrc" ] || [ "$(cat "$T/out")" != "$wout" ] || [ "$(cat "$T/err")" != "$werr" ]; then
        echo "FAIL $d: rc=$rc (want $wrc)"
        echo "  stdout: $(cat "$T/out")"; echo "    want: $wout"
        echo "  stderr: $(cat "$T/err")"; echo "    want: $werr"
        fail=$((fail+1))
    else
        echo "ok   $d"; pass=$((pass+1))
    fi
}
PROBE_USAGE="usage: mitmwatch probe jarm HOST[:PORT] [options]    JARM fingerprint
       mitmwatch probe trace HOST:PORT[,PORT...] [options]   TCP traceroute per port
       mitmwatch probe cert HOST[:PORT] [options]    the served certificate chain
'mitmwatch probe jarm|trace|cert --help' lists each one's options."
exact "probe alone: the probe usage" 2 "" "$PROBE_USAGE" "$MW" probe
exact "probe --help" 0 "$PROBE_USAGE" "" "$MW" probe --help
exact "unknown probe" 2 "" "mitmwatch probe: unknown probe bogus (jarm, trace or cert)
$PROBE_USAGE" "$MW" probe bogus
# A closed port has no JARM (jarm.py would print 62 zeros): say so, exit 1. The port was just
# free; nothing listens on it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
exact "probe jarm, closed port" 1 "" \
    "mitmwatch probe jarm: 127.0.0.1:$port: the port is closed (connection refused), no JARM" \
    "$MW" probe jarm --timeout 2000 127.0.0.1:$port
# --user is looked up before anything is opened: no capture, no output file.
exact "--user that does not exist" 2 "" "mitmwatch: --user nosuchuser-mw: no such user" \
    "$MW" -i lo --user nosuchuser-mw -o "$T/user.json"
[ ! -e "$T/user.json" ] && { echo "ok   --user: the output was not opened"; pass=$((pass+1)); } ||
    { echo "FAIL --user: the output was opened before the user was checked"; fail=$((fail+1)); }
exact "--user root" 2 "" "mitmwatch: --user root: is root; name the unprivileged user to run as (or --no-drop-privileges to keep root, not advised)" \
    "$MW" -i lo --user root -o "$T/user.json"
# Live capture without CAP_NET_RAW: the capability named (as root: dropped from the bounding
# set, so the process runs without it).
nocap=""
if [ "$(id -u)" != 0 ]; then nocap=" "
elif command -v setpriv >/dev/null && setpriv --bounding-set -net_raw true 2>/dev/null; then
    nocap="setpriv --bounding-set -net_raw"
fi
if [ -n "$nocap" ]; then
    exact "live capture without CAP_NET_RAW" 2 "" \
        "mitmwatch: live capture needs CAP_NET_RAW: run as root, or grant it (setcap cap_net_raw+ep on the binary, or AmbientCapabilities=CAP_NET_RAW in a systemd unit, as the packaged one does)" \
        $nocap "$MW" -i lo -o "$T/nocap.json"
else
    echo "skip live capture without CAP_NET_RAW: setpriv cannot drop it here"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
