#!/bin/sh
# workers_test.sh MITMWATCH [PCAP...] -- with -r, N workers emit the same events as one: every
# committed capture (default: each .pcap/.pcapng under tests/) under the policies of
# tools/same-events.sh, read with --workers 1 and with 2 and 3 (and $MW_WORKERS_EXTRA, e.g. 8).
# The events are compared as sorted lines (the order of two workers' flows is not the input's);
# the stats events are left out of that and their totals compared instead (packets, flows,
# handshakes, certificates, verdicts, events), with the workers array checked to add up.
# Exits 1 on the first difference. Not root; no network.
set -u
mw=${1:?usage: workers_test.sh MITMWATCH [PCAP...]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
if [ $# -eq 0 ]; then
    set -- $(find "$top/tests" -name '*.pcap' -o -name '*.pcapng' | sort)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x509="$top/tests/data/x509"
# the totals that do not depend on how the flows were shared out
totals='select(.event.dataset=="mitmwatch.stats" and .mitmwatch.stats.final) | .mitmwatch.stats |
  [.packets, .bytes, .tcp_packets, .non_tcp_packets, .flows_created, .flows_closed,
   .flows_timed_out, .flows_bypassed, .tls_flows, .non_tls_flows, .starttls_flows,
   .client_hellos, .server_hellos, .handshakes, .certificates, .cert_cache_misses, .events,
   (.verdicts // {} | .judged, .alerts, .suppressed)] | map(tostring) | join(" ")'
# the workers' shares add up to the totals (their CPU time too); the threads' CPU time is
# there: the main thread's always, the judge thread's and the workers' with several workers
shares='select(.event.dataset=="mitmwatch.stats" and .mitmwatch.stats.final) | .mitmwatch.stats |
  if .workers then
    ([.workers[].packets] | add) == .packets and ([.workers[].handshakes] | add) == .handshakes
    and ([.workers[].flows_created] | add) == .flows_created
    and ([.workers[].cpu_ms] | add) == .cpu_ms.workers
    and (.cpu_ms.main | type) == "number" and (.cpu_ms.judge | type) == "number"
  else (.cpu_ms | keys) == ["main"] end'
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
        rm -f "$tmp"/*.json
        # shellcheck disable=SC2086
        "$mw" -r "$pcap" -o "$tmp/w1.json" --observer same --no-summary --workers 1 $args \
            2>"$tmp/w1.err"
        rc1=$?
        for w in 2 3 ${MW_WORKERS_EXTRA:-}; do
            rm -f "$tmp/wn.json"
            # shellcheck disable=SC2086
            "$mw" -r "$pcap" -o "$tmp/wn.json" --observer same --no-summary --workers $w $args \
                2>"$tmp/wn.err"
            rcn=$?
            n=$((n + 1))
            name=${pcap#"$top"/}
            grep -v '"dataset":"mitmwatch.stats"' "$tmp/w1.json" 2>/dev/null | sort >"$tmp/s1"
            grep -v '"dataset":"mitmwatch.stats"' "$tmp/wn.json" 2>/dev/null | sort >"$tmp/sn"
            t1=$(jq -r "$totals" "$tmp/w1.json" 2>/dev/null)
            tn=$(jq -r "$totals" "$tmp/wn.json" 2>/dev/null)
            sh=$({ jq -r "$shares" "$tmp/w1.json" && jq -r "$shares" "$tmp/wn.json"; } 2>/dev/null |
                sort -u | tr '\n' ' ')
            if [ $rc1 -ne $rcn ] || ! cmp -s "$tmp/s1" "$tmp/sn" || [ "$t1" != "$tn" ] ||
                { [ -n "$sh" ] && [ "$sh" != "true " ]; }; then
                echo "DIFFERENT $name [$policy] --workers $w: exit $rc1 vs $rcn"
                diff "$tmp/s1" "$tmp/sn" | cut -c1-400 | head -n 8
                [ "$t1" != "$tn" ] && echo "totals: $t1" && echo "    vs: $tn"
                [ "$sh" != "true " ] && echo "workers' shares do not add up: $sh"
                rc=1
            else
                echo "same $name [$policy] --workers $w: $(wc -l <"$tmp/s1") events"
            fi
        done
    done
done
echo "$n runs compared"
exit $rc
