#!/bin/bash
# proxy_lab.sh MITMWATCH WORKDIR -- TLS through real forward proxies (issue 13).
#
# In a private network namespace: openssl s_server on 127.0.0.1:443 (target.lab.test, a
# throwaway CA), tinyproxy (HTTP CONNECT, port 3128, CONNECT allowed to 443 only) and dante
# (SOCKS4/4a/5, port 1080, no authentication). curl and openssl s_client connect through them
# one at a time; tcpdump captures the proxy legs (ports 3128 and 1080) on lo. Then
# mitmwatch -r on the capture, and proxy_check.py compares each mitmwatch.tls event with the
# plan (proxy type, target, SNI) and with tshark on the same file (JA3, JA3S, chain SHA-256).
# Needs root, tinyproxy, danted, curl, openssl, tcpdump, tshark, ethtool; exit 77 without.
# ~15 s. Run under the lab lock: flock /tmp/mw-lab.lock ctest -R lab_proxy
set -eu
MW=${1:?usage: proxy_lab.sh MITMWATCH WORKDIR}
WORK=${2:?usage: proxy_lab.sh MITMWATCH WORKDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NS=mwproxylab

[ "$(id -u)" = 0 ] || { echo "proxy_lab: needs root (skipped)"; exit 77; }
for t in tinyproxy danted curl openssl tcpdump tshark ethtool ip python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "proxy_lab: $t missing (skipped)"; exit 77; }
done
MW=$(cd "$(dirname "$MW")" && pwd)/$(basename "$MW")
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# Everything the lab starts runs inside its namespace: the cleanup ends exactly those
# processes (ip netns pids), servers' children included, then removes the namespace.
cleanup() {
    local p
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "/etc/netns/$NS"
}
trap cleanup EXIT
trap "exit 1" INT TERM
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
# MTU 1500 and no segmentation offload on lo: flights go out as real segments.
in_ns ip link set lo mtu 1500 up
in_ns ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
# Names the proxies and clients resolve inside the namespace (ip netns exec bind-mounts it).
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost target.lab.test\n::1 localhost\n' >"/etc/netns/$NS/hosts"

# ---- PKI: a CA and target.lab.test -------------------------------------------------------
P=$WORK/pki
mkdir -p "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=Proxy Lab CA" -keyout "$P/ca.key" -out "$P/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=target.lab.test" \
    -keyout "$P/target.key" -out "$P/target.csr" 2>/dev/null
printf 'subjectAltName=DNS:target.lab.test\n' >"$P/ext"
openssl x509 -req -in "$P/target.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
    -days 30 -extfile "$P/ext" -out "$P/target.pem" 2>/dev/null

# ---- servers -----------------------------------------------------------------------------
ip netns exec "$NS" openssl s_server -quiet -accept 127.0.0.1:443 -cert "$P/target.pem" \
    -key "$P/target.key" -www >"$WORK/s_server.log" 2>&1 &
cat >"$WORK/tinyproxy.conf" <<EOF
Port 3128
Listen 127.0.0.1
Timeout 30
MaxClients 20
LogFile "$WORK/tinyproxy.log"
LogLevel Info
Allow 127.0.0.1
ConnectPort 443
DisableViaHeader Yes
EOF
ip netns exec "$NS" tinyproxy -d -c "$WORK/tinyproxy.conf" >"$WORK/tinyproxy.out" 2>&1 &
cat >"$WORK/danted.conf" <<EOF
logoutput: $WORK/danted.log
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 127.0.0.1/32 port = 443 }
socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }
EOF
ip netns exec "$NS" danted -f "$WORK/danted.conf" -p "$WORK/danted.pid" >"$WORK/danted.out" 2>&1 &
for _ in $(seq 1 100); do
    n=$(in_ns ss -Hltn 2>/dev/null | grep -cE '127.0.0.1:(443|3128|1080) ' || true)
    [ "$n" -ge 3 ] && break
    sleep 0.1
done
[ "$n" -ge 3 ] || { echo "proxy_lab: servers did not start"; tail "$WORK"/*.out "$WORK"/*.log; exit 1; }

# ---- clients, one at a time, captured --------------------------------------------------
tcpdump_log=$WORK/tcpdump.log
ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -B 16384 -s 0 -Z root -w "$WORK/proxy.pcap" \
    'tcp port 3128 or tcp port 1080' 2>"$tcpdump_log" &
tcpdump_pid=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$tcpdump_log" && break
    sleep 0.05
done
grep -q 'listening on' "$tcpdump_log" || { cat "$tcpdump_log"; exit 1; }
U=https://target.lab.test/
CURL="curl -sS -o /dev/null --max-time 10 --cacert $P/ca.pem"
SCLI="openssl s_client -CAfile $P/ca.pem -verify_return_error"
plan=$WORK/plan.txt
: >"$plan"
# run TYPE TARGET_HOST TARGET_PORT SNI EVENT(yes|no) COMMAND...
run() {
    local t=$1 h=$2 port=$3 sni=$4 ev=$5
    shift 5
    local t0=$SECONDS
    if in_ns "$@" </dev/null >>"$WORK/client.log" 2>&1; then st=ok; else st=failed; fi
    echo "$t $h $port $sni $ev $st" >>"$plan"
    echo "proxy_lab: $t $h:$port sni=$sni: $st in $((SECONDS - t0)) s"
    sleep 0.2
}
# TLS 1.2 (the certificates are visible) except one TLS 1.3 run (JA3 and JA3S only)
run http-connect target.lab.test 443 target.lab.test yes $CURL --tls-max 1.2 -x http://127.0.0.1:3128 "$U"
run http-connect target.lab.test 443 target.lab.test yes \
    sh -c "echo Q | $SCLI -tls1_2 -proxy 127.0.0.1:3128 -connect target.lab.test:443 -servername target.lab.test"
run http-connect target.lab.test 443 other.lab.test yes \
    sh -c "echo Q | $SCLI -tls1_2 -proxy 127.0.0.1:3128 -connect target.lab.test:443 -servername other.lab.test -verify_hostname target.lab.test"
run http-connect target.lab.test 443 target.lab.test yes $CURL -x http://127.0.0.1:3128 "$U"
run socks5 target.lab.test 443 target.lab.test yes $CURL --tls-max 1.2 --socks5-hostname 127.0.0.1:1080 "$U"
run socks5 127.0.0.1 443 target.lab.test yes $CURL --tls-max 1.2 --socks5 127.0.0.1:1080 "$U"
run socks4 127.0.0.1 443 target.lab.test yes $CURL --tls-max 1.2 --socks4 127.0.0.1:1080 "$U"
# refusals: tinyproxy allows CONNECT to 443 only; dante passes 127.0.0.1:443 only, and
# answers SOCKS4a (which it does not implement) with 91
run http-connect target.lab.test 8444 - no $CURL -x http://127.0.0.1:3128 https://target.lab.test:8444/
run socks5 target.lab.test 8444 - no $CURL --socks5-hostname 127.0.0.1:1080 https://target.lab.test:8444/
run socks4a target.lab.test 443 - no $CURL --socks4a 127.0.0.1:1080 "$U"
sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
cat "$tcpdump_log"
grep -q '^0 packets dropped by kernel' "$tcpdump_log" || { echo "proxy_lab: tcpdump dropped packets"; exit 1; }

"$MW" -r "$WORK/proxy.pcap" -o "$WORK/events.json" --observer lab --no-ndpi 2>"$WORK/mw.err"
python3 "$HERE/proxy_check.py" "$WORK/proxy.pcap" "$WORK/events.json" "$plan"
