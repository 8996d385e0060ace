#!/bin/sh
# tshark_ref.sh PCAP OUT.json -- the reference answer for each TCP stream, from tshark.
#
# An independent implementation (Wireshark's TLS dissector and its JA3/JA3S code) tells us
# what mitmwatch should say: JA3/JA3S hashes and strings, version, cipher, SNI, ALPN, and the
# SHA-256 of every certificate presented. Field names checked on tshark 4.0
# (`tshark -G fields | grep ja3`): tls.handshake.ja3, tls.handshake.ja3_full,
# tls.handshake.ja3s, tls.handshake.ja3s_full.
#
# Port range 18443-18460 (the lab) and 443 are decoded as TLS; for other ports tshark's
# own heuristics apply.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 PCAP OUT.json" >&2
    exit 2
fi
command -v tshark >/dev/null 2>&1 || { echo "tshark_ref: SKIP: tshark missing" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ts() { # FILTER OUTFILE FIELDS...
    filter=$1
    outf=$2
    shift 2
    fields=""
    for f in "$@"; do fields="$fields -e $f"; done
    # shellcheck disable=SC2086 # $fields is a list of words on purpose
    tshark -n -r "$pcap" -d tcp.port==18443-18460,tls \
        -o tcp.reassemble_out_of_order:TRUE \
        -o 'gui.column.format:"cs","%Cus:tls.handshake.ciphersuite"' \
        -Y "$filter" -T json $fields > "$outf" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
}
pcap=$1
common="frame.number tcp.stream ip.src ipv6.src tcp.srcport ip.dst ipv6.dst tcp.dstport"
# shellcheck disable=SC2086
ts 'tls.handshake.type == 1' "$tmp/ch.json" $common tls.handshake.ja3 tls.handshake.ja3_full \
    tls.handshake.version tls.handshake.extensions_server_name \
    tls.handshake.extensions_alpn_str tls.handshake.session_id
# shellcheck disable=SC2086
ts 'tls.handshake.type == 2' "$tmp/sh.json" $common tls.handshake.ja3s \
    tls.handshake.ja3s_full tls.handshake.version tls.handshake.ciphersuite _ws.col.cs \
    tls.handshake.extensions.supported_version tls.handshake.extensions_alpn_str \
    tls.handshake.random tls.handshake.session_id
# shellcheck disable=SC2086
ts 'tls.handshake.type == 11' "$tmp/cert.json" $common tls.handshake.certificate

/usr/bin/python3 "$here/tshark_merge.py" "$tmp" "$2" "$(tshark --version 2>/dev/null | head -n1)"
