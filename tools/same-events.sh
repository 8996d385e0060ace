#!/bin/sh
# same-events.sh OLD_MITMWATCH NEW_MITMWATCH [PCAP...] -- a refactoring check: both builds read
# each capture (default: every .pcap/.pcapng under tests/, plus $MW_SEED if set, e.g. the bench
# corpus's seed.pcap) under several policies, and their event streams must be byte-identical.
# Prints one line per (capture, policy) and exits 1 on the first difference it finds.
# MW_SAME_IGNORE=ERE: text matching it is removed from both streams first (a counter the change
# is meant to move, e.g. '"chain_cache_hits":[0-9]+').
set -u
old=${1:?usage: same-events.sh OLD_MITMWATCH NEW_MITMWATCH [PCAP...]}
new=${2:?usage: same-events.sh OLD_MITMWATCH NEW_MITMWATCH [PCAP...]}
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
    set -- $(find "$top/tests" -name '*.pcap' -o -name '*.pcapng' | sort) ${MW_SEED:-}
fi
# A build with workers runs as one (the event order of several is not the input's)
new_args=
"$new" --help 2>&1 | grep -q -- --workers && new_args="--workers 1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x509="$top/tests/data/x509"
rc=0
n=0
for pcap in "$@"; do
    for policy in default quiet watched; do
        case $policy in
        default) args="" ;;
        quiet) args="--min-scts 0 --no-ndpi" ;;
        watched) args="--watch .lab.test --watch .mitmwatch.test --known-certs $x509 --expect-issuer CN=Evil
                       --suppress-window 0 --learn-flows 2" ;;
        esac
        # shellcheck disable=SC2086
        "$old" -r "$pcap" -o "$tmp/out.json" --observer same $args 2>"$tmp/old.err"
        orc=$?
        [ -f "$tmp/out.json" ] && mv "$tmp/out.json" "$tmp/old.json"
        # shellcheck disable=SC2086
        "$new" -r "$pcap" -o "$tmp/out.json" --observer same $args $new_args 2>"$tmp/new.err"
        nrc=$?
        [ -f "$tmp/out.json" ] && mv "$tmp/out.json" "$tmp/new.json"
        n=$((n + 1))
        name=${pcap#"$top"/}
        if [ -n "${MW_SAME_IGNORE:-}" ]; then
            for f in "$tmp/old.json" "$tmp/new.json"; do
                [ -f "$f" ] && sed -E "s/${MW_SAME_IGNORE}//g" "$f" >"$f.x" && mv "$f.x" "$f"
            done
        fi
        if [ $orc -ne $nrc ] || ! cmp -s "$tmp/old.json" "$tmp/new.json" ||
            ! cmp -s "$tmp/old.err" "$tmp/new.err"; then
            echo "DIFFERENT $name [$policy]: exit $orc vs $nrc"
            diff "$tmp/old.json" "$tmp/new.json" | head -c 2000
            diff "$tmp/old.err" "$tmp/new.err" | head -c 1000
            rc=1
        else
            echo "same $name [$policy]: exit $orc, $(wc -l <"$tmp/new.json") events," \
                "$(sha256sum <"$tmp/new.json" | cut -c1-16)"
        fi
        rm -f "$tmp"/*.json "$tmp"/*.err
    done
done
echo "$n runs compared"
exit $rc
