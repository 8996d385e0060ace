#!/bin/sh
# STYLE.md, checked (run by ctest as `banned`; fast, no build needed):
#  1. Banned functions, in every C file of the repository (tests included; there is no
#     third-party code in it): sprintf, vsprintf, strcpy, strcat, atoi, atol, sscanf, gets,
#     strtok. Use snprintf, memcpy with a checked length, strtol/strtoul, the cursor.
#  2. No raw indexing of packet bytes in the parser files (analyzers/*.c, capture/cap_decode*.c):
#     untrusted bytes are read through base/mw_cursor.h. Precisely, outside comments and string
#     literals, a subscript is refused when it is applied to
#       - a `data` member (`c.data[i]`, `st->buf.data[0]`: a cursor's or a buffer's bytes), or
#       - a name the same file declares as `const uint8_t *NAME` (a parameter or a local that
#         points into a packet).
#     A justified exception carries the marker `mw-raw-ok` in a comment on the same line,
#     saying why (e.g. a bounded local copy the code itself filled).
# usage: tests/banned_test.sh [REPO_TOP]. Exit 0 clean, 1 with one line per finding.
set -eu
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

# Prints "FILE:LINE:TEXT" for each line of each file, with comments and the contents of string
# and character literals blanked (so that a comment or a message may name a banned function),
# and the marker kept as a word when the line carries it.
code_of() {
    awk '
    FNR == 1 { incom = 0 }
    {
        line = $0; out = ""; ok = (index(line, "mw-raw-ok") > 0)
        i = 1; n = length(line)
        while (i <= n) {
            c = substr(line, i, 1); c2 = substr(line, i, 2)
            if (incom) {
                if (c2 == "*/") { incom = 0; i += 2 } else i++
                continue
            }
            if (c2 == "/*") { incom = 1; i += 2; continue }
            if (c2 == "//") break
            if (c == "\"" || c == "\047") {
                q = c; out = out c; i++
                while (i <= n && substr(line, i, 1) != q) {
                    if (substr(line, i, 1) == "\\") i++
                    i++
                }
                out = out q; i++
                continue
            }
            out = out c; i++
        }
        print FILENAME ":" FNR ":" out (ok ? " mw-raw-ok" : "")
    }' "$@"
}

fail=0
all=$(git ls-files '*.c' '*.h' 2>/dev/null ||
    find . -name '*.[ch]' ! -path './build*' ! -path './.git/*' | sed 's|^\./||')
# shellcheck disable=SC2086
banned=$(code_of $all | grep -E '(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|atoi|atol|sscanf|gets|strtok)[[:space:]]*\(' || true)
for at in $(echo "$banned" | cut -d: -f1,2); do
    [ -n "$at" ] || continue
    echo "banned function: $at: $(sed -n "${at#*:}p" "${at%%:*}")"
    fail=1
done

parsers=$(ls analyzers/*.c capture/cap_decode*.c 2>/dev/null)
for f in $parsers; do
    names=$(code_of "$f" | grep -oE 'const uint8_t \*[[:space:]]*[A-Za-z_][A-Za-z0-9_]*' |
        sed 's/.*\*[[:space:]]*//' | sort -u | tr '\n' '|' | sed 's/|$//')
    pat='(\.|->)data[[:space:]]*\['
    [ -n "$names" ] && pat="$pat|(^|[^A-Za-z0-9_.>])($names)[[:space:]]*\\["
    # code_of keeps one line per line: grep -n numbers them as in the file
    for n in $(code_of "$f" | cut -d: -f3- | grep -nE "$pat" | grep -v ' mw-raw-ok$' | cut -d: -f1); do
        echo "raw packet indexing (use base/mw_cursor.h): $f:$n: $(sed -n "${n}p" "$f")"
        fail=1
    done
done
exit $fail
