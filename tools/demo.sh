#!/bin/sh
# Quick start: install build dependencies, build, and run the sensor over the bundled demo
# capture (real TLS 1.2 and 1.3 handshakes from nginx and openssl s_server; see tests/data/).
set -eu
cd "$(dirname "$0")/.."
MW_DEPS=build bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/tools/mitmwatch -r tests/data/demo.pcap -o -
