#!/bin/sh
# Cross-check tls_cipher_name() against OpenSSL's standard (RFC/IANA) names.
#   tests/unit/tls_names_openssl.sh BUILD/tls_names_lookup
# For every suite `openssl ciphers -V -stdname ALL:COMPLEMENTOFALL:@SECLEVEL=0` lists, the
# name we return must equal OpenSSL's stdname. Exit 0 on success, 1 on any mismatch or when
# too few suites were compared (parse failure), 77 (skip) when openssl is missing.
set -eu

LOOKUP=${1:?usage: tls_names_openssl.sh PATH/TO/tls_names_lookup}
# OpenSSL 3.0 with @SECLEVEL=0 lists 158; a build without legacy ciphers lists fewer, but a
# count below this means the output format changed and nothing was really compared.
MIN_COMPARED=60

if ! command -v openssl >/dev/null 2>&1; then
    echo "SKIP: openssl not installed"
    exit 77
fi
[ -x "$LOOKUP" ] || { echo "FAIL: $LOOKUP is not executable"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

openssl ciphers -V -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' >"$tmp/openssl.txt"

# Lines look like: "   0xC0,0x2F - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 - ECDHE-RSA-... TLSv1.2 ..."
# Keep "XXXX STDNAME"; OpenSSL prints "(NONE)" for a suite without a standard name.
awk '$1 ~ /^0x[0-9A-Fa-f][0-9A-Fa-f],0x[0-9A-Fa-f][0-9A-Fa-f]$/ && $2 == "-" {
        id = substr($1, 3, 2) substr($1, 8, 2); print toupper(id), $3 }' \
    "$tmp/openssl.txt" | sort -u >"$tmp/expected.txt"

cut -d' ' -f1 "$tmp/expected.txt" | "$LOOKUP" >"$tmp/ours.raw"
sed 's/^0x//' "$tmp/ours.raw" | sort -u >"$tmp/ours.txt"

compared=0
mismatches=0
skipped=0
while read -r id stdname; do
    if [ "$stdname" = "(NONE)" ]; then
        skipped=$((skipped + 1))
        continue
    fi
    ours=$(awk -v id="$id" '$1 == id { print $2 }' "$tmp/ours.txt")
    compared=$((compared + 1))
    if [ "$ours" != "$stdname" ]; then
        echo "MISMATCH 0x$id: ours=${ours:-<none>} openssl=$stdname"
        mismatches=$((mismatches + 1))
    fi
done <"$tmp/expected.txt"

echo "$(openssl version): compared $compared suites, $mismatches mismatches," \
     "$skipped without a standard name"
if [ "$mismatches" -ne 0 ]; then
    exit 1
fi
if [ "$compared" -lt "$MIN_COMPARED" ]; then
    echo "FAIL: only $compared suites compared (expected at least $MIN_COMPARED)"
    exit 1
fi
exit 0
