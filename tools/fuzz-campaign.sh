#!/bin/sh
# A fuzzing campaign (not part of the test command): runs every libFuzzer target, one process
# at a time, for SECONDS each from a copy of its committed corpus, then merges into the
# committed corpus only the new inputs that add coverage (libFuzzer -merge=1), capped so the
# corpus stays small, and prints a table: target, wall and CPU seconds, execs, execs a
# second, coverage (cov:/ft: of libFuzzer's final line), corpus entries kept, findings.
# A finding (crash, leak, UB, timeout, OOM) stops that target; its reproducer and log stay in
# BUILD/campaign/<target>/. Exit 1 when any target had a finding.
#
# usage: tools/fuzz-campaign.sh SECONDS [TARGET...]     (issue 14: tools/fuzz-campaign.sh 3600)
# environment:
#   FUZZ_BUILD=DIR       build directory (default build-fuzz, as tools/fuzz.sh)
#   FUZZ_JOBS=N          build parallelism (default 2)
#   FUZZ_SEED=N          libFuzzer seed (default: random)
#   FUZZ_MERGE=0         do not touch the committed corpora
#   FUZZ_KEEP_MAX=N      new entries kept a target (default 20, the smallest first)
#   FUZZ_KEEP_BYTES=N    largest new entry kept (default 16384)
#   FUZZ_TABLE=FILE      also write the table there (Markdown)
#   FUZZ_BUDGET=cpu      SECONDS are CPU seconds, not wall: the fuzzer runs at nice 19 (its
#                        session too, where the kernel groups by session) and is
#                        interrupted (SIGINT, libFuzzer prints its final stats) once its CPU time
#                        reaches SECONDS, so a campaign can gather its CPU-hour beside other
#                        work; the per-input timeout is then 60 s of wall time, not 10
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2; }
secs=$1
shift
build=${FUZZ_BUILD:-build-fuzz}
keep_max=${FUZZ_KEEP_MAX:-20}
keep_bytes=${FUZZ_KEEP_BYTES:-16384}
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_FUZZ=ON >/dev/null
cmake --build "$build" -j"${FUZZ_JOBS:-2}" >/dev/null

# the committed corpus of a target (fuzz-engine_ndpi shares fuzz-engine's)
corpus_of() {
    for d in tests/fuzz/corpus/$1 tests/ctcache/corpus/$1 tests/fuzz/corpus/${1%_ndpi}; do
        [ -d "$d" ] && { echo "$d"; return 0; }
    done
    return 1
}

table=$(mktemp)
trap 'rm -f "$table"' EXIT
printf '| target | wall s | CPU s | execs | exec/s | exec/CPU-s | cov | ft | kept | findings |\n' >"$table"
printf '|---|---|---|---|---|---|---|---|---|---|\n' >>"$table"
rc=0
# every target, or the ones named, in the order given
all=$(find "$build/tests" -name 'fuzz-*' -type f -perm -u+x | sed 's,.*/fuzz-,,' | sort)
for t in ${*:-$all}; do
    bin=$(find "$build/tests" -name "fuzz-$t" -type f -perm -u+x | head -1)
    [ -n "$bin" ] || { echo "campaign: no target $t" >&2; rc=1; continue; }
    bin=$(cd "$(dirname "$bin")" && pwd)/${bin##*/}
    corpus=$(corpus_of "$t") || { echo "campaign: no corpus for $t" >&2; rc=1; continue; }
    work=$build/campaign/$t
    rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
    cp "$corpus"/* "$work/corpus/"
    echo "campaign: $t for ${secs}s ($(date -u +%H:%M:%S))" >&2
    found=none
    if [ "${FUZZ_BUDGET:-wall}" = cpu ]; then
        # wall bound: 50 times the CPU budget; the watcher below stops it first. In a session of
        # its own (setsid): with the kernel's autogroups, nice orders processes only within one
        # session, so the watcher also gives the fuzzer's session the nice of 19
        (cd "$work" && exec setsid env ASAN_OPTIONS=detect_leaks=1 nice -n 19 /usr/bin/time \
            -f '%e %U %S' -o time "$bin" -max_total_time=$((secs * 50)) \
            ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -timeout=60 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix=artifacts/ corpus >log 2>&1) &
        tpid=$!
        hz=$(getconf CLK_TCK)
        interrupted=0
        while kill -0 "$tpid" 2>/dev/null; do
            sleep 5
            # the fuzzer is the child of time, itself the child of the subshell
            fpid=$(pgrep -P "$tpid" -f "fuzz-$t" 2>/dev/null | head -1 || true)
            if [ -z "$fpid" ]; then
                tp=$(pgrep -P "$tpid" 2>/dev/null | head -1 || true)
                [ -n "$tp" ] && fpid=$(pgrep -P "$tp" 2>/dev/null | head -1 || true)
            fi
            [ -n "$fpid" ] && [ -r "/proc/$fpid/stat" ] || continue
            if [ "${reniced:-}" != "$fpid" ]; then
                echo 19 2>/dev/null >"/proc/$fpid/autogroup" || true
                reniced=$fpid
            fi
            # utime and stime: fields 14 and 15 (the command name has no spaces here)
            ticks=$(awk '{print $14 + $15}' "/proc/$fpid/stat" 2>/dev/null || echo 0)
            if [ "${ticks:-0}" -ge $((secs * hz)) ]; then
                kill -INT "$fpid" 2>/dev/null && interrupted=1
            fi
        done
        frc=0
        wait "$tpid" || frc=$?
        # libFuzzer exits 72 when interrupted; anything else non-zero is a finding
        if [ "$frc" != 0 ] && ! { [ "$interrupted" = 1 ] && [ "$frc" = 72 ]; }; then
            found=$(ls "$work/artifacts" | tr '\n' ' ')
            found=${found:-"failed (see log)"}
            rc=1
        fi
    elif ! (cd "$work" && ASAN_OPTIONS=detect_leaks=1 /usr/bin/time -f '%e %U %S' -o time \
            "$bin" -max_total_time="$secs" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=artifacts/ \
            corpus >log 2>&1); then
        found=$(ls "$work/artifacts" | tr '\n' ' ')
        found=${found:-"failed (see log)"}
        rc=1
    fi
    # the final status line: "#N DONE cov: C ft: F corp: ..." (or the last one before a crash)
    last=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' ||
            echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    # the last line: /usr/bin/time writes "Command exited with non-zero status N" before it
    # when the fuzzer stops on a finding
    read -r wall usr sys <<EOF || { wall=0 usr=0 sys=0; }
$(tail -n 1 "$work/time" 2>/dev/null)
EOF
    cpu=$(echo "$usr $sys" | awk '{printf "%.0f", $1 + $2}')
    eps=$(echo "${execs:-0} $wall" | awk '{printf "%.0f", ($2 > 0 ? $1 / $2 : 0)}')
    epc=$(echo "${execs:-0} $usr $sys" | awk '{printf "%.0f", ($2 + $3 > 0 ? $1 / ($2 + $3) : 0)}')
    kept=0
    if [ "${FUZZ_MERGE:-1}" != 0 ] && [ "$found" = none ]; then
        # -merge=1 into a copy of the committed corpus: what it adds is what adds coverage
        m=$work/merged
        rm -rf "$m" && mkdir -p "$m" && cp "$corpus"/* "$m/"
        if (cd "$work" && "$bin" -merge=1 merged corpus >merge.log 2>&1); then
            for f in $(cd "$m" && ls -S -r); do
                [ -e "$corpus/$f" ] && continue
                [ "$kept" -lt "$keep_max" ] || break
                [ "$(wc -c <"$m/$f")" -le "$keep_bytes" ] || continue
                cp "$m/$f" "$corpus/$f"
                kept=$((kept + 1))
            done
        else
            echo "campaign: merge of $t failed ($work/merge.log)" >&2
        fi
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${wall%.*}" "$cpu" \
        "${execs:-?}" "$eps" "$epc" "${cov:-?}" "${ft:-?}" "$kept" "$found" >>"$table"
done
cat "$table"
[ -z "${FUZZ_TABLE:-}" ] || cp "$table" "$FUZZ_TABLE"
exit $rc
