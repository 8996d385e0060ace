#!/bin/sh
# Real tunnels (issue 13): two network namespaces joined by a veth pair (outer 192.0.2.1/2,
# 2001:db8::1/2), and over it every tunnel kind the kernel can make: vxlan (IPv4 and IPv6
# outer), geneve, gre (with a key), gretap, erspan (type II), ip6erspan (type III), ipip, sit
# (6in4), ip6tnl (4in6, 6in6). One openssl s_server per tunnel on its inner address, one
# TLS 1.2 s_client handshake through it (certificates visible), tcpdump on the outer veth; then
# mitmwatch -r on that capture must report each handshake with its mitmwatch.encapsulation, and JA3, JA3S and certificate
# hashes equal to tshark's for the same stream (encap_check.py). A tunnel kind the kernel
# lacks ("Unknown device type") is listed as skipped; at least one must run.
# usage: encap_lab.sh MITMWATCH WORKDIR        (root; exit 77 when it cannot run)
set -u
MW=$1
W=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip openssl tcpdump tshark python3; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
rm -rf "$W" && mkdir -p "$W"
C=mwenc$$ S=mwens$$
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for ns in $C $S; do
        for p in $(ip netns pids $ns 2>/dev/null); do kill "$p" 2>/dev/null; done
        ip netns del $ns 2>/dev/null
    done
}
trap cleanup EXIT
ip netns add $C && ip netns add $S || { echo "SKIP: cannot create namespaces"; exit 77; }
ip link add mwenc0 netns $C type veth peer name mwens0 netns $S
for ns in $C $S; do ip -n $ns link set lo up; done
ip -n $C addr add 192.0.2.1/24 dev mwenc0 && ip -n $C addr add 2001:db8::1/64 dev mwenc0 nodad
ip -n $S addr add 192.0.2.2/24 dev mwens0 && ip -n $S addr add 2001:db8::2/64 dev mwens0 nodad
ip -n $C link set mwenc0 up && ip -n $S link set mwens0 up

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" \
    -out "$W/cert.pem" -days 30 -subj "/CN=encap.lab.test" \
    -addext "subjectAltName=DNS:encap.lab.test" 2>/dev/null

# tunnel NAME N KIND-ARGS(C side) KIND-ARGS(S side) INNER(4|6) EXPECTED-JSON
# inner addresses 10.77.N.1/2 or fd77:N::1/2, server port 18600+N
echo "{" >"$W/expect.json"
ran=0 sep=""
tunnel() {
    name=$1 n=$2 cargs=$3 sargs=$4 inner=$5 enc=$6
    dev=t$n
    # shellcheck disable=SC2086
    if ! ip -n $C link add $dev $cargs 2>"$W/$name.err"; then
        echo "skip $name: $(head -n 1 "$W/$name.err")"
        return
    fi
    # shellcheck disable=SC2086
    ip -n $S link add $dev $sargs
    if [ "$inner" = 4 ]; then
        ip -n $C addr add 10.77.$n.1/24 dev $dev && ip -n $S addr add 10.77.$n.2/24 dev $dev
        srv=10.77.$n.2
    else
        ip -n $C addr add fd77:$n::1/64 dev $dev nodad && ip -n $S addr add fd77:$n::2/64 dev $dev nodad
        srv="[fd77:$n::2]"
    fi
    ip -n $C link set $dev up && ip -n $S link set $dev up
    port=$((18600 + n))
    ip netns exec $S openssl s_server -accept $port -cert "$W/cert.pem" -key "$W/key.pem" -quiet \
        -naccept 1 >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    printf '%s "%s": {"port": %d, "encapsulation": %s}' "$sep" "$name" $port "$enc" >>"$W/expect.json"
    sep=","
    ran=$((ran + 1))
    eval "client_$n=\$srv:\$port"
    CLIENTS="${CLIENTS:-} $n"
}
O4="local 192.0.2.1 remote 192.0.2.2"
R4="local 192.0.2.2 remote 192.0.2.1"
O6="local 2001:db8::1 remote 2001:db8::2"
R6="local 2001:db8::2 remote 2001:db8::1"
tunnel vxlan4 1 "type vxlan id 42 $O4 dstport 4789" "type vxlan id 42 $R4 dstport 4789" 4 '["vxlan:vni=42"]'
tunnel vxlan6 2 "type vxlan id 43 $O6 dstport 4789" "type vxlan id 43 $R6 dstport 4789" 6 '["vxlan:vni=43"]'
tunnel geneve 3 "type geneve id 77 remote 192.0.2.2" "type geneve id 77 remote 192.0.2.1" 4 '["geneve:vni=77"]'
tunnel gre 4 "type gre $O4 key 5" "type gre $R4 key 5" 4 '["gre:key=5"]'
tunnel gretap 5 "type gretap $O4" "type gretap $R4" 4 '["gre"]'
tunnel erspan 6 "type erspan $O4 seq key 7 erspan_ver 1 erspan 7" \
    "type erspan $R4 seq key 7 erspan_ver 1 erspan 7" 4 '["erspan2:session=7"]'
tunnel ip6erspan 7 "type ip6erspan $O6 seq key 3 erspan_ver 2 erspan_dir egress erspan_hwid 5" \
    "type ip6erspan $R6 seq key 3 erspan_ver 2 erspan_dir egress erspan_hwid 5" 4 '["erspan3:session=3"]'
tunnel ipip 8 "type ipip $O4" "type ipip $R4" 4 '["ipip:4in4"]'
tunnel sit 9 "type sit $O4" "type sit $R4" 6 '["ipip:6in4"]'
tunnel ip6tnl4 10 "type ip6tnl $O6 mode ipip6" "type ip6tnl $R6 mode ipip6" 4 '["ipip:4in6"]'
tunnel ip6tnl6 11 "type ip6tnl $O6 mode ip6ip6" "type ip6tnl $R6 mode ip6ip6" 6 '["ipip:6in6"]'
echo "}" >>"$W/expect.json"
[ $ran -gt 0 ] || { echo "SKIP: the kernel makes none of the tunnels"; exit 77; }

ip netns exec $C tcpdump -i mwenc0 -s 0 -U -w "$W/outer.pcap" >/dev/null 2>&1 &
TD=$!
PIDS="$PIDS $TD"
sleep 1.5
for n in $CLIENTS; do
    eval "to=\$client_$n"
    echo Q | ip netns exec $C timeout 5 openssl s_client -tls1_2 -connect "$to" -servername encap.lab.test \
        >/dev/null 2>&1
done
sleep 0.5
kill -INT $TD
wait $TD 2>/dev/null
"$MW" -r "$W/outer.pcap" -o "$W/events.json" --stats-interval 0 2>"$W/mitmwatch.err"
rc=$?
[ $rc = 0 ] || { echo "FAIL: mitmwatch exit $rc: $(cat "$W/mitmwatch.err")"; exit 1; }
python3 "$HERE/encap_check.py" "$W/events.json" "$W/outer.pcap" "$W/expect.json"
