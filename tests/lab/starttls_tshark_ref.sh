#!/bin/sh
# starttls_tshark_ref.sh PCAP OUT.json -- tshark's answer for the STARTTLS lab capture.
#
# As tshark_ref.sh (same fields, same tshark_merge.py), but with the decode-as settings the
# STARTTLS capture needs. tshark 4.0 follows the STARTTLS upgrade itself on the standard
# ports: SMTP 25/587 (smtp), IMAP 143 (imap), POP3 110 (pop), XMPP 5222 (xmpp), LDAP 389
# (ldap), PostgreSQL 5432 (pgsql), FTP 21 (ftp, AUTH TLS) and MySQL 3306 (mysql). The only
# ports it needs told: 5223, XMPP over direct TLS (XEP-0368), and the lab's non-standard
# STARTTLS ports 2525 (SMTP) and 1143 (IMAP).
#
# With FLOWS.json (starttls_flows.py) it also makes sure tshark saw every handshake the lab
# made: tshark 4.0 does not follow two real-software cases, EHLO+STARTTLS pipelined in one
# segment (its SMTP dissector then misses the upgrade) and curl's "AUTH SSL" (its FTP
# dissector knows only "AUTH TLS"). For such flows the TLS dissector is forced on the
# client's port (`-d tcp.port==PORT,tls`) in a second pass; the ports are listed in
# OUT.json as "forced_tls_ports" so the report says which references needed the help.
set -eu
if [ $# -ne 2 ] && [ $# -ne 3 ]; then
    echo "usage: $0 PCAP OUT.json [FLOWS.json]" >&2
    exit 2
fi
command -v tshark >/dev/null 2>&1 || { echo "starttls_tshark_ref: SKIP: tshark missing" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pcap=$1
forced=""

ts() { # FILTER OUTFILE FIELDS...
    filter=$1
    outf=$2
    shift 2
    fields=""
    for f in "$@"; do fields="$fields -e $f"; done
    # shellcheck disable=SC2086 # $fields is a list of words on purpose
    # shellcheck disable=SC2086 # $forced is a list of options on purpose
    tshark -n -r "$pcap" -d tcp.port==5223,tls -d tcp.port==2525,smtp \
        -d tcp.port==1143,imap $forced \
        -o tcp.reassemble_out_of_order:TRUE \
        -o 'gui.column.format:"cs","%Cus:tls.handshake.ciphersuite"' \
        -Y "$filter" -T json $fields > "$outf" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
}
common="frame.number tcp.stream ip.src ipv6.src tcp.srcport ip.dst ipv6.dst tcp.dstport"
run_all() {
    # shellcheck disable=SC2086
    ts 'tls.handshake.type == 1' "$tmp/ch.json" $common tls.handshake.ja3 \
        tls.handshake.ja3_full tls.handshake.version tls.handshake.extensions_server_name \
        tls.handshake.extensions_alpn_str tls.handshake.session_id
    # shellcheck disable=SC2086
    ts 'tls.handshake.type == 2' "$tmp/sh.json" $common tls.handshake.ja3s \
        tls.handshake.ja3s_full tls.handshake.version tls.handshake.ciphersuite _ws.col.cs \
        tls.handshake.extensions.supported_version tls.handshake.extensions_alpn_str \
        tls.handshake.random tls.handshake.session_id
    # shellcheck disable=SC2086
    ts 'tls.handshake.type == 11' "$tmp/cert.json" $common tls.handshake.certificate
    /usr/bin/python3 "$here/tshark_merge.py" "$tmp" "$2" \
        "$(tshark --version 2>/dev/null | head -n1)" >/dev/null
}
run_all "$1" "$2"
if [ $# -eq 3 ]; then
    missing=$(/usr/bin/python3 - "$2" "$3" <<'PYEOF'
import json, sys
key = lambda f: (f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])
seen = {key(s) for s in json.load(open(sys.argv[1]))["streams"] if s["ja3s"]}
flows = json.load(open(sys.argv[2]))["flows"]
print(" ".join(sorted({str(f["client_port"]) for f in flows
                       if f["handshake"] and key(f) not in seen})))
PYEOF
)
    if [ -n "$missing" ]; then
        for p in $missing; do forced="$forced -d tcp.port==$p,tls"; done
        run_all "$1" "$2"
    fi
    /usr/bin/python3 - "$2" "$missing" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f:
    ref = json.load(f)
ref["forced_tls_ports"] = [int(p) for p in sys.argv[2].split()]
with open(sys.argv[1], "w") as f:
    json.dump(ref, f, indent=1)
    f.write("\n")
PYEOF
fi
echo "starttls_tshark_ref: $(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["streams"]))' "$2") streams -> $2${forced:+ (TLS forced on:$forced)}"
