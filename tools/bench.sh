#!/bin/sh
# Benchmark: the bench harness of tools/bench/ timing bare libpcap (pcap-count), ndpiReader,
# tshark and mitmwatch on the corpus files; medians in /var/tmp/tls-bench-results/results.md.
# usage: tools/bench.sh CORPUSDIR [FILES...]   (default files: handshake.pcap bulk.pcap big.pcap)
set -eu
cd "$(dirname "$0")/.."
CORPUS=${1:?usage: tools/bench.sh CORPUSDIR [FILES...]}
shift
BENCH=${MW_BENCH_DIR:-tools/bench}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cp build/tools/mitmwatch /tmp/mitmwatch-bench
exec bash "$BENCH/run-bench.sh" -n 3 -N 1 -t "pcap-count ndpi tshark sensor" \
    -s '/tmp/mitmwatch-bench -r {} -o /dev/null' "$(readlink -f "$CORPUS")" "$@"
