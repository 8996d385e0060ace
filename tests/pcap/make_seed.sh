#!/bin/sh
# Captures real TLS handshakes (openssl s_server <-> openssl s_client) into OUTDIR:
#   seed_tls12.pcap  TLS 1.2, RSA-4096 leaf with many SANs + big RSA intermediate, so the
#                    Certificate message (~12 KB) spans many TCP segments
#   seed_tls13.pcap  TLS 1.3, same certificates (invisible on the wire)
#   seed.json        what the seeds are known to contain: SNI, versions, the DER SHA-256 of
#                    each served certificate in the order served
#   certs/           the CA, intermediate and leaf generated here (never committed)
# Runs as root in a private network namespace (its own loopback only): lowering the MTU and
# turning TSO/GSO off there gives on-the-wire sized segments without touching the host's lo.
# MW_SEED_SMALL=1 makes small EC P-256 certificates and a 600-byte MTU instead (the source
# of the small committed cases in tests/pcap/cases/).
# Exit codes: 0 ok, 77 not root or a tool is missing, 1 failure.
set -eu

OUT=${1:?usage: make_seed.sh OUTDIR}
[ "$(id -u)" = 0 ] || { echo "make_seed: needs root (network namespace, tcpdump)"; exit 77; }
for t in openssl tcpdump ip ethtool; do
    command -v "$t" >/dev/null 2>&1 || { echo "make_seed: $t missing"; exit 77; }
done

SMALL=${MW_SEED_SMALL:-0}
NS=mwedge$$
PORT=8443
SNI=edge.test
mkdir -p "$OUT/certs"
OUT=$(cd "$OUT" && pwd)
C=$OUT/certs
PIDS=""

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# ---- certificates -------------------------------------------------------------------------
if [ "$SMALL" = 1 ]; then
    KEYALG="-newkey ec -pkeyopt ec_paramgen_curve:P-256"
    NSAN=3
    NNC=2
    MTU=600
else
    KEYALG="-newkey rsa:4096"
    NSAN=300   # ~6 KB of SANs in the leaf
    NNC=150    # ~4 KB of name constraints in the intermediate
    MTU=1500
fi

{
    echo "[ca]"
    echo "basicConstraints=critical,CA:TRUE"
    echo "keyUsage=critical,keyCertSign,cRLSign"
    echo "subjectKeyIdentifier=hash"
    echo "[inter]"
    echo "basicConstraints=critical,CA:TRUE,pathlen:0"
    echo "keyUsage=critical,keyCertSign,cRLSign"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    echo "nameConstraints=critical,@nc"
    echo "[nc]"
    echo "permitted;DNS.0=edge.test"
    i=1
    while [ $i -lt $NNC ]; do echo "permitted;DNS.$i=zone-$i.edge-constraint.test"; i=$((i + 1)); done
    echo "[leaf]"
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    echo "subjectAltName=@san"
    echo "[san]"
    echo "DNS.0=edge.test"
    i=1
    while [ $i -lt $NSAN ]; do echo "DNS.$i=host-$i.edge.test"; i=$((i + 1)); done
} >"$C/ext.cnf"

q() { "$@" >/dev/null 2>&1 || { echo "make_seed: failed: $*"; "$@"; exit 1; }; }
# The root CA is never served; it only signs the intermediate.
q openssl req -x509 -new -nodes $KEYALG -keyout "$C/ca.key" -out "$C/ca.pem" -days 3650 \
    -subj "/O=mitmwatch edge test/CN=Edge Test Root CA" -extensions ca -config "$C/ext.cnf"
q openssl req -new -nodes $KEYALG -keyout "$C/inter.key" -out "$C/inter.csr" \
    -subj "/O=mitmwatch edge test/CN=Edge Test Intermediate CA" -config "$C/ext.cnf"
q openssl x509 -req -in "$C/inter.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 1825 -extfile "$C/ext.cnf" -extensions inter -out "$C/inter.pem"
q openssl req -new -nodes $KEYALG -keyout "$C/leaf.key" -out "$C/leaf.csr" \
    -subj "/O=mitmwatch edge test/CN=$SNI" -config "$C/ext.cnf"
q openssl x509 -req -in "$C/leaf.csr" -CA "$C/inter.pem" -CAkey "$C/inter.key" \
    -CAcreateserial -days 365 -extfile "$C/ext.cnf" -extensions leaf -out "$C/leaf.pem"
openssl verify -CAfile "$C/ca.pem" -untrusted "$C/inter.pem" "$C/leaf.pem" >/dev/null

der_sha256() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
LEAF_SHA=$(der_sha256 "$C/leaf.pem")
INTER_SHA=$(der_sha256 "$C/inter.pem")
LEAF_LEN=$(openssl x509 -in "$C/leaf.pem" -outform DER | wc -c)
INTER_LEN=$(openssl x509 -in "$C/inter.pem" -outform DER | wc -c)

# ---- namespace with its own loopback ----------------------------------------------------------
ip netns add "$NS"
ip netns exec "$NS" ip link set lo mtu "$MTU" up
ip netns exec "$NS" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
nsx() { ip netns exec "$NS" "$@"; }

wait_listen() {
    i=0
    while [ $i -lt 100 ]; do
        nsx ss -ltn 2>/dev/null | grep -q ":$PORT " && return 0
        sleep 0.05
        i=$((i + 1))
    done
    echo "make_seed: s_server did not listen"
    exit 1
}

# capture NAME SERVER_VERSION_FLAG CLIENT_VERSION_FLAG
capture() {
    name=$1
    # Not through nsx: $! must be tcpdump itself so that SIGINT reaches it.
    ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -Z root -w "$OUT/$name.pcap" "tcp port $PORT" \
        2>"$OUT/$name.tcpdump.log" &
    tpid=$!
    PIDS="$PIDS $tpid"
    # tcpdump prints "listening on" once the capture is armed.
    i=0
    while [ $i -lt 100 ] && ! grep -q listening "$OUT/$name.tcpdump.log"; do sleep 0.05; i=$((i + 1)); done
    ip netns exec "$NS" openssl s_server -quiet -naccept 1 -accept "$PORT" "$2" -cert "$C/leaf.pem" \
        -key "$C/leaf.key" -cert_chain "$C/inter.pem" >"$OUT/$name.server.log" 2>&1 &
    spid=$!
    PIDS="$PIDS $spid"
    wait_listen
    nsx openssl s_client "$3" -servername "$SNI" -connect "127.0.0.1:$PORT" \
        -CAfile "$C/ca.pem" -verify_return_error </dev/null >"$OUT/$name.client.log" 2>&1 ||
        { echo "make_seed: s_client failed:"; cat "$OUT/$name.client.log"; exit 1; }
    wait "$spid" 2>/dev/null || true
    sleep 0.3
    kill -INT "$tpid" 2>/dev/null || true
    wait "$tpid" 2>/dev/null || true
}

capture seed_tls12 -tls1_2 -tls1_2
capture seed_tls13 -tls1_3 -tls1_3

grep -q "Verify return code: 0" "$OUT/seed_tls12.client.log" || { echo "make_seed: verify failed"; exit 1; }
CIPHER12=$(sed -n "s/.*, Cipher is //p" "$OUT/seed_tls12.client.log" | head -n1)
CIPHER13=$(sed -n "s/.*, Cipher is //p" "$OUT/seed_tls13.client.log" | head -n1)

# IANA names, as the event's tls.cipher carries them (TLS 1.3 names already are).
iana() { openssl ciphers -stdname ALL 2>/dev/null | awk -v c="$1" '$3 == c { print $1; exit }'; }
IANA12=$(iana "$CIPHER12")
IANA13=$CIPHER13
[ -n "$IANA12" ] || { echo "make_seed: no IANA name for $CIPHER12"; exit 1; }

cat >"$OUT/seed.json" <<JSON
{
  "sni": "$SNI",
  "server_port": $PORT,
  "small": $([ "$SMALL" = 1 ] && echo true || echo false),
  "mtu": $MTU,
  "tls12": {"file": "seed_tls12.pcap", "version": "1.2", "openssl_cipher": "$CIPHER12", "cipher": "$IANA12",
            "chain_sha256": ["$LEAF_SHA", "$INTER_SHA"], "chain_der_len": [$LEAF_LEN, $INTER_LEN]},
  "tls13": {"file": "seed_tls13.pcap", "version": "1.3", "openssl_cipher": "$CIPHER13", "cipher": "$IANA13",
            "chain_sha256": []}
}
JSON
echo "make_seed: $OUT/seed_tls12.pcap $OUT/seed_tls13.pcap (chain $LEAF_LEN + $INTER_LEN bytes DER)"
