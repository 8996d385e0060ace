#!/bin/sh
# Benchmark: the bench harness of tools/bench/ timing bare libpcap (pcap-count), ndpiReader,
# tshark and mitmwatch (--workers 1) on the corpus files; medians in
# /var/tmp/tls-bench-results/results.md. Then tools/bench-workers.sh: the reader alone and 1 and
# 2 workers on big.pcap and handshake.pcap.
# usage: tools/bench.sh CORPUSDIR [FILES...]   (default files: handshake.pcap bulk.pcap big.pcap)
set -eu
cd "$(dirname "$0")/.."
CORPUS=${1:?usage: tools/bench.sh CORPUSDIR [FILES...]}
shift
BENCH=${MW_BENCH_DIR:-tools/bench}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cp build/tools/mitmwatch /tmp/mitmwatch-bench
bash "$BENCH/run-bench.sh" -n 3 -N 1 -t "pcap-count ndpi tshark sensor" \
    -s '/tmp/mitmwatch-bench -r {} -o /dev/null --workers 1' "$(readlink -f "$CORPUS")" "$@"
# how -r scales: the reader alone, 1 and 2 workers (medians of 3), peak RSS
MW=/tmp/mitmwatch-bench sh tools/bench-workers.sh "$CORPUS" big.pcap handshake.pcap
