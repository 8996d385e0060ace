#!/bin/sh
# libFuzzer runs of every fuzz target: builds build-fuzz with clang (MW_FUZZ=ON: ASan+UBSan
# and libFuzzer) and runs each target for SECONDS (default 600) from a copy of its corpus,
# so the committed corpora only change by hand. Exit 1 when a target crashed, leaked or
# timed out; its reproducer is left in build-fuzz/findings/<target>/.
# usage: tools/fuzz.sh [SECONDS] [TARGET...]      (the test command runs it with 5 seconds)
# FUZZ_BUILD=DIR builds there instead of build-fuzz. fuzz-engine_ndpi reads fuzz-engine's corpus.
# Longer runs that also grow the committed corpora: tools/fuzz-campaign.sh.
# FUZZ_SEED=N fixes libFuzzer's seed: the test command uses 1, so a CI run repeats (a prefix of)
# the mutations already run here instead of failing at random on a finding nobody chose.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rc=0
for bin in $(find "$build/tests" -name 'fuzz-*' -type f -perm -u+x | sort); do
    t=${bin##*/fuzz-}
    if [ $# -gt 0 ]; then
        case " $* " in *" $t "*) ;; *) continue ;; esac
    fi
    corpus=tests/fuzz/corpus/$t
    [ -d "$corpus" ] || corpus=tests/ctcache/corpus/$t
    [ -d "$corpus" ] || corpus=tests/fuzz/corpus/${t%_ndpi}
    [ -d "$corpus" ] || { echo "fuzz: no corpus for $t" >&2; rc=1; continue; }
    work=$build/findings/$t
    rm -rf "$work" && mkdir -p "$work/corpus"
    cp "$corpus"/* "$work/corpus/"
    bin=$(cd "$(dirname "$bin")" && pwd)/${bin##*/}
    if (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" \
            ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 corpus >log 2>&1); then
        echo "fuzz $t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$work/log")"
    else
        echo "fuzz $t: FAILED ($work/log):" >&2
        grep -E 'ERROR|SUMMARY|Test unit written' "$work/log" | head -5 >&2
        rc=1
    fi
done
exit $rc
