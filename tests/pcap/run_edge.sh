#!/bin/sh
# Edge-case captures for the TCP reassembler and the TLS parser, end to end:
#   make_seed.sh (real openssl s_server/s_client captured with tcpdump, root, private netns)
#   -> mutate.py (re-segmented / damaged / re-encapsulated copies)
#   -> mitmwatch -r CASE -o OUT.json on each
#   -> check_edge.py against cases.json, the seed's own event, seed.json and tshark;
# then the committed small cases in tests/pcap/cases/ the same way.
# usage: run_edge.sh MITMWATCH_BINARY|none WORKDIR
# Prints "N passed, M failed"; exit 0 all passed, 1 a failure, 77 not root or a tool missing.
set -u
MW=${1:?usage: run_edge.sh MITMWATCH_BINARY|none WORKDIR}
WORK=${2:?usage: run_edge.sh MITMWATCH_BINARY|none WORKDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "run_edge: needs root (skipped)"; exit 77; }
for t in tcpdump tshark openssl ip ethtool "$PY"; do
    command -v "$t" >/dev/null 2>&1 || { echo "run_edge: $t missing (skipped)"; exit 77; }
done
if [ "$MW" != none ] && [ ! -x "$MW" ]; then
    echo "run_edge: $MW is not executable (skipped)"
    exit 77
fi

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
rm -rf "$WORK/seed" "$WORK/cases" "$WORK/out-generated" "$WORK/out-committed" "$WORK/committed-regen"

"$HERE/make_seed.sh" "$WORK/seed" || { rc=$?; [ $rc = 77 ] && exit 77; echo "run_edge: make_seed failed"; echo "0 passed, 1 failed"; exit 1; }
"$PY" "$HERE/mutate.py" "$WORK/seed/seed_tls12.pcap" "$WORK/cases" &&
    "$PY" "$HERE/mutate.py" "$WORK/seed/seed_tls13.pcap" "$WORK/cases" \
        --only onebyte,reorder --prefix tls13_ ||
    { echo "run_edge: mutate failed"; echo "0 passed, 1 failed"; exit 1; }

P=0
F=0
# The committed captures must be exactly what mutate.py makes from the committed seed.
"$PY" "$HERE/mutate.py" "$HERE/cases/seed_tls12.pcap" "$WORK/committed-regen" >/dev/null 2>&1
for c in onebyte reorder overlap_diff records_small garbage vlan_qinq sll2 ipv6_exthdr; do
    if cmp -s "$WORK/committed-regen/$c.pcap" "$HERE/cases/$c.pcap"; then
        P=$((P + 1))
    else
        echo "FAIL committed/$c.pcap differs from mutate.py's output for cases/seed_tls12.pcap"
        F=$((F + 1))
    fi
done
for set in generated committed; do
    if [ $set = generated ]; then dir=$WORK; else dir=$HERE/cases; fi
    "$PY" "$HERE/check_edge.py" --set $set --dir "$dir" --mitmwatch "$MW" \
        --out "$WORK/out-$set" >"$WORK/check-$set.log" 2>&1
    rc=$?
    cat "$WORK/check-$set.log"
    line=$(tail -n 1 "$WORK/check-$set.log")
    case "$line" in
    *" passed, "*" failed")
        P=$((P + ${line%% passed*}))
        f=${line#*passed, }
        F=$((F + ${f%% failed}))
        ;;
    *) F=$((F + 1)) ;;
    esac
    [ $rc = 0 ] || [ $rc = 1 ] || F=$((F + 1))
done
echo "$P passed, $F failed"
[ "$F" = 0 ]
