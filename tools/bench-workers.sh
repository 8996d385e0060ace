#!/bin/sh
# How -r scales with workers: for each corpus file, the reader alone (--workers N
# --debug-reader-only: read, hash and hand over, the ceiling of -r), then mitmwatch with each
# worker count (default 1 2), each run REPS times interleaved (the machine is shared: medians),
# output to /dev/null, all rules on. Prints a table: median wall seconds, Mpkt/s, Gbit/s,
# k handshakes/s (the corpus's counts, corpus.txt), CPU seconds, peak RSS, and each count's
# speed-up over one worker.
# usage: tools/bench-workers.sh CORPUSDIR [FILE...]   (default big.pcap handshake.pcap)
#        env: MW=path/to/mitmwatch (default build/tools/mitmwatch, built here), REPS (3),
#             WORKERS ("1 2"), EXTRA_ARGS (e.g. --debug-unordered)
set -eu
cd "$(dirname "$0")/.."
CORPUS=$(readlink -f "${1:?usage: tools/bench-workers.sh CORPUSDIR [FILE...]}")
shift
[ $# -eq 0 ] && set -- big.pcap handshake.pcap
REPS=${REPS:-3}
WORKERS=${WORKERS:-1 2}
if [ -z "${MW:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)" --target mitmwatch >/dev/null
    MW=build/tools/mitmwatch
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
maxw=1
for w in $WORKERS; do [ "$w" -gt "$maxw" ] && maxw=$w; done
[ "$maxw" -lt 2 ] && maxw=2
for f in "$@"; do
    cat "$CORPUS/$f" >/dev/null # page cache
    for r in $(seq "$REPS"); do
        # shellcheck disable=SC2086
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/$f.reader.$r" \
            "$MW" -r "$CORPUS/$f" -o /dev/null --no-summary --workers "$maxw" --debug-reader-only
        for w in $WORKERS; do
            # shellcheck disable=SC2086
            /usr/bin/time -f "%e %U %S %M" -o "$tmp/$f.w$w.$r" \
                "$MW" -r "$CORPUS/$f" -o /dev/null --no-summary --workers "$w" ${EXTRA_ARGS:-}
        done
    done
done
echo "median of $REPS runs each on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %-22s %8s %8s %8s %9s %8s %8s %8s\n' file run wall_s Mpkt/s Gbit/s k_hs/s cpu_s rss_MB speedup
for f in "$@"; do
    set -- $(awk -v f="$f" '$1 == f { print $3, $4, $9 }' "$CORPUS/corpus.txt")
    pkts=${1:-0} bytes=${2:-0} hs=${3:-0}
    base=
    for run in reader $(for w in $WORKERS; do echo "w$w"; done); do
        med() { # column: median over the reps
            for r in $(seq "$REPS"); do cut -d' ' -f"$1" "$tmp/$f.$run.$r"; done | sort -g |
                awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
        }
        wall=$(med 1)
        cpu=$(for r in $(seq "$REPS"); do awk '{ print $2 + $3 }' "$tmp/$f.$run.$r"; done | sort -g |
            awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        rss=$(for r in $(seq "$REPS"); do cut -d' ' -f4 "$tmp/$f.$run.$r"; done | sort -g | tail -n 1)
        label=$run
        [ "$run" = reader ] && label="reader alone (w$maxw)"
        [ "$run" = w1 ] && base=$wall
        speed=-
        [ -n "$base" ] && [ "$run" != reader ] && speed=$(awk -v b="$base" -v w="$wall" 'BEGIN { printf "%.2fx", b / w }')
        awk -v f="$f" -v l="$label" -v w="$wall" -v p="$pkts" -v b="$bytes" -v h="$hs" -v c="$cpu" \
            -v m="$rss" -v s="$speed" 'BEGIN {
            printf "%-16s %-22s %8.2f %8.3f %8.3f %9.2f %8.2f %8.0f %8s\n", f, l, w, p / w / 1e6,
                b * 8 / w / 1e9, h / w / 1e3, c, m / 1024, s }'
    done
done
