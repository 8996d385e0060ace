#!/bin/sh
# The whole test suite: installs dependencies and test peers, builds twice (release, and
# ASan+UBSan with the fuzz corpora replayed), runs ctest in both, then gives every libFuzzer
# target 5 seconds (tools/fuzz.sh: the clang fuzz build must keep working). Root runs the lab
# tests (servers, tcpdump, network namespaces); without root they are reported as skipped.
set -eu
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMW_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
rc=0
echo "== release build"
(cd build && ctest --output-on-failure -j"$jobs") || rc=1
echo "== ASan+UBSan build"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs") || rc=1
echo "== ThreadSanitizer build: the workers and the state they share"
# Only the targets the workers' tests need: the rings, the shared certificate cache and a
# sensor reading the committed captures with several workers (a few minutes at most).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target mitmwatch workers_test >/dev/null
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --output-on-failure -j"$jobs" -R '^(unit_workers|workers)$') || rc=1
echo "== libFuzzer build, 5 s a target"
FUZZ_SEED=1 sh tools/fuzz.sh 5 || rc=1
exit $rc
