#!/bin/bash
# TCP traceroute lab (issue 6, active half): the jabber.ru shape in network namespaces.
#
#   client 192.0.2.2 ─ r1 ─────────────── r2 ─ server 203.0.113.2 (listens on 22 and 5222)
#                       └── mitm ─────────┘
# r1 routes TCP to port 5222 (and r2 TCP from port 5222) through the extra `mitm` hop by
# policy routing (`ip rule ipproto tcp dport 5222`), every other port directly: the trace to
# 5222 must show one hop more than the trace to 22, and --expect-hops must raise
# path.hops_changed for 5222 only. Then: a router that drops its ICMP (nft) gives a star and
# the trace still finishes within its timeout; a host that drops the SYNs ends after the gap
# of stars; a closed port ends with RST; our own RSTs clean up the server's half-open
# connections; privileges are really dropped; no CAP_NET_RAW gives the documented error. All
# of it again over IPv6. Only documentation prefixes, only inside these namespaces.
#
#   trace_test.sh MITMWATCH_OR_MITMWATCH_TRACE     exit 0 pass, 1 fail, 77 skipped
set -u
BIN=$(readlink -f "${1:?usage: trace_test.sh MITMWATCH_OR_MITMWATCH_TRACE}")
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, raw sockets)"; exit 77; }
for t in ip nft setpriv ss; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }
case "$(basename "$BIN")" in
mitmwatch) TR=("$BIN" probe trace) ;;
*) TR=("$BIN") ;;
esac

P=mwtr$$
NS=(c r1 m r2 s)
T=$(mktemp -d /tmp/trace-lab.XXXXXX)
SRV=
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    wait 2>/dev/null
    for n in "${NS[@]}"; do
        for p in $(ip netns pids $P$n 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del $P$n 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
ns() { local n=$1; shift; ip netns exec $P$n "$@"; }

for n in "${NS[@]}"; do
    ip netns add $P$n || { echo "SKIP: cannot create network namespaces"; exit 77; }
    ns $n ip link set lo up
    ns $n sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
link() { # nsA ifA nsB ifB
    ip link add name $2 netns $P$1 type veth peer name $4 netns $P$3 || exit 1
    ns $1 ip link set dev $2 up
    ns $3 ip link set dev $4 up
}
addr() { ns $1 ip addr add $3 dev $2; ns $1 ip -6 addr add $4 dev $2 nodad; }
link c eth0 r1 c;  addr c eth0 192.0.2.2/24 2001:db8:1::2/64;    addr r1 c 192.0.2.1/24 2001:db8:1::1/64
link r1 r2 r2 r1;  addr r1 r2 198.51.100.1/26 2001:db8:2::1/64;  addr r2 r1 198.51.100.2/26 2001:db8:2::2/64
link r1 m m r1;    addr r1 m 198.51.100.65/26 2001:db8:3::1/64;  addr m r1 198.51.100.66/26 2001:db8:3::2/64
link m r2 r2 m;    addr m r2 198.51.100.130/26 2001:db8:4::2/64; addr r2 m 198.51.100.129/26 2001:db8:4::1/64
link r2 s s eth0;  addr r2 s 203.0.113.1/24 2001:db8:5::1/64;    addr s eth0 203.0.113.2/24 2001:db8:5::2/64

for n in r1 m r2; do
    # Forwarding; no ICMP rate limit (repeated traces would otherwise see the routers' token
    # buckets run dry); time-exceeded from the address the probe came in on, as most routers.
    ns $n sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
        net.ipv4.icmp_errors_use_inbound_ifaddr=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
ns c ip route add default via 192.0.2.1
ns c ip -6 route add default via 2001:db8:1::1
ns s ip route add default via 203.0.113.1
ns s ip -6 route add default via 2001:db8:5::1
ns r1 ip route add 203.0.113.0/24 via 198.51.100.2
ns r1 ip -6 route add 2001:db8:5::/64 via 2001:db8:2::2
ns r2 ip route add 192.0.2.0/24 via 198.51.100.1
ns r2 ip -6 route add 2001:db8:1::/64 via 2001:db8:2::1
ns m ip route add 203.0.113.0/24 via 198.51.100.129
ns m ip route add 192.0.2.0/24 via 198.51.100.65
ns m ip -6 route add 2001:db8:5::/64 via 2001:db8:4::1
ns m ip -6 route add 2001:db8:1::/64 via 2001:db8:3::1
# The interception: port 5222 only, both directions, through m.
ns r1 ip route add 203.0.113.0/24 via 198.51.100.66 table 100
ns r1 ip -6 route add 2001:db8:5::/64 via 2001:db8:3::2 table 100
ns r1 ip rule add ipproto tcp dport 5222 table 100
ns r1 ip -6 rule add ipproto tcp dport 5222 table 100
ns r2 ip route add 192.0.2.0/24 via 198.51.100.130 table 100
ns r2 ip -6 route add 2001:db8:1::/64 via 2001:db8:4::2 table 100
ns r2 ip rule add ipproto tcp sport 5222 table 100
ns r2 ip -6 rule add ipproto tcp sport 5222 table 100

# Real listeners on 22 and 5222 (dual stack); 23 stays closed; 24 is dropped by a firewall.
cat >"$T/srv.py" <<'PYEOF'
import select, socket, sys
ls = []
for port in (22, 5222):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    ls.append(s)
open(sys.argv[1], "w").close()
while True:
    r, _, _ = select.select(ls, [], [])
    for s in r:
        c, _ = s.accept()
        c.close()
PYEOF
# not through ns(): a function in the background is a subshell, and $! would be its pid,
# leaving the server behind (holding the lab lock's descriptor) after the kill
ip netns exec ${P}s $PY "$T/srv.py" "$T/ready" >"$T/srv.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
[ -e "$T/ready" ] || { echo "FAIL: server did not start"; cat "$T/srv.log"; exit 1; }
ns s nft -f - <<'NFT' || exit 1
table inet lab {
    chain input_lab {
        type filter hook input priority 0;
        tcp dport 24 drop
    }
}
NFT

# Connectivity first, so that a routing mistake is not reported as a tracer bug.
ns c $PY -c "import socket; socket.create_connection(('203.0.113.2', 5222), 2).close(); socket.create_connection(('2001:db8:5::2', 22), 2).close()" \
    || { echo "FAIL: lab has no connectivity"; exit 1; }

# check.py EVENTS PORT=PATH:FINAL:PROBES:RESETS ... : the path event must hold exactly these.
cat >"$T/check.py" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ev = lines[0]
assert ev["event"]["dataset"] == "mitmwatch.path", ev["event"]
ports = {p["port"]: p for p in ev["mitmwatch"]["path"]["ports"]}
bad = 0
for spec in sys.argv[2:]:
    port, rest = spec.split("=", 1)
    path, final, probes, resets = rest.split(":") if rest.count(":") == 3 else (rest.rsplit(":", 3))
    p = ports[int(port)]
    want = path.split(",")
    got = (p["path"], p["final"], p["hop_count"], p["reached"])
    exp = (want, final, len(want), final in ("syn-ack", "rst"))
    if got != exp:
        print("port %s: got %s, want %s" % (port, got, exp)); bad += 1
    if probes != "-" and p["probes"] != int(probes):
        print("port %s: %d probes, want %s" % (port, p["probes"], probes)); bad += 1
    if resets != "-" and p["resets"] != int(resets):
        print("port %s: %d resets, want %s" % (port, p["resets"], resets)); bad += 1
    hops = [h.get("ip", "*") for h in p["hops"]]
    if hops != want:
        print("port %s: hops %s" % (port, hops)); bad += 1
sys.exit(1 if bad else 0)
PYEOF
# alerts.py EVENTS N PORT OBSERVED [EXPECTED...]: exactly N path.hops_changed alerts (N 0 or 1)
cat >"$T/alerts.py" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
al = [l for l in lines[1:] if l.get("rule", {}).get("id") == "path.hops_changed"]
n = int(sys.argv[2])
if len(al) != n or len(lines) != 1 + n:
    print("%d alerts, %d lines" % (len(al), len(lines))); sys.exit(1)
if n:
    a = al[0]
    want = (int(sys.argv[3]), sys.argv[4].split(","), [e.split(",") for e in sys.argv[5:]],
            "alert", 3, "mitmwatch.alert")
    got = (a["destination"]["port"], a["mitmwatch"]["observed"], a["mitmwatch"]["expected"],
           a["event"]["kind"], a["event"]["severity"], a["event"]["dataset"])
    if got != want:
        print("got %s\nwant %s" % (got, want)); sys.exit(1)
PYEOF

run() { # name expected-exit args... ; output in $T/name.out, seconds in $T/name.secs
    local name=$1 want=$2; shift 2
    local t0=$(date +%s.%N)
    ns c "${TR[@]}" "$@" >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    echo "$(date +%s.%N) $t0" | awk '{printf "%.3f", $1 - $2}' >"$T/$name.secs"
    if [ $rc != "$want" ]; then
        fail "$name: exit $rc, want $want"; cat "$T/$name.err" "$T/$name.out"; return 1
    fi
    return 0
}
secs() { cat "$T/$1.secs"; }
within() { awk -v s="$(secs $1)" -v lo="$2" -v hi="$3" 'BEGIN { exit !(s >= lo && s <= hi) }'; }
synrecv() { ns s ss -Htn state syn-recv | wc -l; }

for fam in 4 6; do
    if [ $fam = 4 ]; then
        TGT=203.0.113.2; BR=203.0.113.2
        R1=192.0.2.1; R2=198.51.100.2; M=198.51.100.66; R2M=198.51.100.129
    else
        TGT=2001:db8:5::2; BR="[2001:db8:5::2]"
        R1=2001:db8:1::1; R2=2001:db8:2::2; M=2001:db8:3::2; R2M=2001:db8:4::1
    fi
    DIRECT=$R1,$R2,$TGT
    VIAM=$R1,$M,$R2M,$TGT

    # 1. per-port paths: 5222 through the extra hop, 22 and the closed 23 direct.
    if run v$fam-ports 0 "$BR:22,5222,23" --json; then
        if $PY "$T/check.py" "$T/v$fam-ports.out" "22=$DIRECT:syn-ack:3:1" \
            "5222=$VIAM:syn-ack:4:1" "23=$DIRECT:rst:3:0"; then
            ok "IPv$fam 22: $DIRECT; 5222: $VIAM; 23 (closed): $DIRECT rst ($(secs v$fam-ports) s)"
        else
            fail "IPv$fam per-port paths"; cat "$T/v$fam-ports.out"
        fi
        $PY - "$T/v$fam-ports.out" <<'PYEOF' || fail "IPv$fam ports_differ"
import json, sys
p = json.loads(open(sys.argv[1]).readline())["mitmwatch"]["path"]
d = [x["ports"] for x in p["differences"]]
sys.exit(0 if p["ports_differ"] is True and d == [[22, 5222], [5222, 23]] else 1)
PYEOF
        within v$fam-ports 0 2 || fail "IPv$fam trace took $(secs v$fam-ports) s"
    fi
    # Our RSTs (TTL 255) cleaned up: not one half-open connection left on the server.
    [ "$(synrecv)" = 0 ] || fail "IPv$fam: $(synrecv) half-open connections left on the server"

    # 2. expectation of the direct path: 5222 alone raises path.hops_changed (exit 1).
    if run v$fam-expect 1 "$BR:22,5222" --json --expect-hops "$DIRECT"; then
        $PY "$T/alerts.py" "$T/v$fam-expect.out" 1 5222 "$VIAM" "$DIRECT" &&
            ok "IPv$fam path.hops_changed for 5222 only" || fail "IPv$fam hops_changed alert"
    fi
    # several acceptable paths, and per-port expectations: no alert
    run v$fam-expect2 0 "$BR:22,5222" --json --expect-hops "$DIRECT" --expect-hops "$VIAM" &&
        { $PY "$T/alerts.py" "$T/v$fam-expect2.out" 0 && ok "IPv$fam two acceptable paths"; } ||
        fail "IPv$fam two acceptable paths"
    run v$fam-expect3 0 "$BR:22,5222" --json --expect-hops "22=$DIRECT" --expect-hops "5222=$VIAM" &&
        { $PY "$T/alerts.py" "$T/v$fam-expect3.out" 0 && ok "IPv$fam per-port expectations"; } ||
        fail "IPv$fam per-port expectations"
    # text mode says the same
    if run v$fam-text 1 "$BR:22,5222" --expect-hops "$DIRECT"; then
        grep -qx "path.hops_changed: port 5222: observed $VIAM" "$T/v$fam-text.out" &&
            grep -q "^ports 22 and 5222 take different paths (last 3 hops compared): 22 via " "$T/v$fam-text.out" &&
            grep -q "^  only port 5222 passes " "$T/v$fam-text.out" &&
            ok "IPv$fam text output" || { fail "IPv$fam text output"; cat "$T/v$fam-text.out"; }
    fi

    # 3. r2 drops its time-exceeded: a star at TTL 2, the target still reached, and the
    #    star costs one timeout (0.5 s), not more.
    ns r2 nft -f - <<'NFT'
table inet quiet {
    chain output_quiet {
        type filter hook output priority 0;
        icmp type time-exceeded drop
        icmpv6 type time-exceeded drop
    }
}
NFT
    if run v$fam-quiet 0 "$BR:22" --json --timeout 500 --attempts 1; then
        $PY "$T/check.py" "$T/v$fam-quiet.out" "22=$R1,*,$TGT:syn-ack:-:-" &&
            within v$fam-quiet 0.5 1.5 &&
            ok "IPv$fam ICMP-dropping router: $R1,*,$TGT in $(secs v$fam-quiet) s" ||
            { fail "IPv$fam ICMP-dropping router ($(secs v$fam-quiet) s)"; cat "$T/v$fam-quiet.out"; }
    fi
    ns r2 nft delete table inet quiet

    # 4. r2 rejects port 25 with ICMP administratively prohibited: the trace ends at r2 with
    #    "unreachable" (code 13 for ICMP, 1 for ICMPv6) at TTL 3 (TTL 2 expires there first, as
#    TTL is checked before the forward hook), not reached.
    ns r2 nft -f - <<'NFT'
table inet reject25 {
    chain forward_reject25 {
        type filter hook forward priority 0;
        meta nfproto ipv4 tcp dport 25 reject with icmp type admin-prohibited
        meta nfproto ipv6 tcp dport 25 reject with icmpv6 type admin-prohibited
    }
}
NFT
    if run v$fam-unreach 0 "$BR:25" --json; then
        code=$([ $fam = 4 ] && echo 13 || echo 1)
        $PY "$T/check.py" "$T/v$fam-unreach.out" "25=$R1,$R2,$R2:unreachable:-:0" &&
            $PY -c 'import json,sys; h=json.loads(open(sys.argv[1]).readline())["mitmwatch"]["path"]["ports"][0]["hops"][-1]; sys.exit(h["icmp_code"] != int(sys.argv[2]))' "$T/v$fam-unreach.out" $code &&
            ok "IPv$fam router rejects 25: $R1,$R2,$R2 (unreachable, code $code)" ||
            { fail "IPv$fam unreachable"; cat "$T/v$fam-unreach.out"; }
    fi
    ns r2 nft delete table inet reject25

    # 5. the rate limit: 7 probes (3 to 22, 4 to 5222) at 10/s take at least 0.6 s.
    if run v$fam-rate 0 "$BR:22,5222" --json --rate 10; then
        $PY "$T/check.py" "$T/v$fam-rate.out" "22=$DIRECT:syn-ack:3:1" "5222=$VIAM:syn-ack:4:1" &&
            within v$fam-rate 0.6 1.5 && ok "IPv$fam --rate 10: 7 probes in $(secs v$fam-rate) s" ||
            fail "IPv$fam --rate 10 ($(secs v$fam-rate) s)"
    fi

    # 6. a host that drops the SYNs: not reached; the gap of 5 stars ends it, in bounded time
    #    (window 4, timeout 0.3 s: two rounds of stars).
    if run v$fam-drop 0 "$BR:24" --json --timeout 300 --attempts 1; then
        $PY "$T/check.py" "$T/v$fam-drop.out" "24=$R1,$R2,*,*,*,*,*:star:-:0" &&
            within v$fam-drop 0.3 2 &&
            ok "IPv$fam SYNs dropped: $R1,$R2 + 5 stars, not reached, $(secs v$fam-drop) s" ||
            { fail "IPv$fam dropped SYNs ($(secs v$fam-drop) s)"; cat "$T/v$fam-drop.out"; }
    fi
done

# 7. privileges are dropped while the trace runs: nobody, no capabilities, no_new_privs.
ip netns exec ${P}c "${TR[@]}" 203.0.113.2:24 --timeout 2000 --attempts 1 >/dev/null 2>&1 &
TP=$!
sleep 0.7
ST=$(grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs):' /proc/$TP/status 2>/dev/null | tr -s '\t' ' ')
wait $TP
WANT="Uid: 65534 65534 65534 65534
Gid: 65534 65534 65534 65534
CapPrm: 0000000000000000
CapEff: 0000000000000000
NoNewPrivs: 1"
[ "$ST" = "$WANT" ] && ok "privileges dropped during the trace" ||
    { fail "privileges during the trace:"; echo "$ST"; }

# 8. without CAP_NET_RAW: the documented message, exit 3 (UNKNOWN).
ns c setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "${TR[@]}" 203.0.113.2:22 >"$T/nocap.out" 2>"$T/nocap.err"
rc=$?
[ $rc = 3 ] && [ "$(cat "$T/nocap.err")" = \
    "mitmwatch: probe trace needs CAP_NET_RAW (run as root or setcap cap_net_raw+ep)" ] &&
    [ ! -s "$T/nocap.out" ] && ok "no CAP_NET_RAW: exit 3 and the message" ||
    { fail "no CAP_NET_RAW: exit $rc"; cat "$T/nocap.err"; }

# 9. a file capability instead of root: cap_net_raw+ep on a copy, run as nobody; it traces,
#    and holds no capability while it does.
if command -v setcap >/dev/null; then
    chmod 755 "$T"
    cp "${TR[0]}" "$T/captrace"
    if setcap cap_net_raw+ep "$T/captrace" 2>/dev/null; then
        CT=("$T/captrace" "${TR[@]:1}")
        ns c setpriv --reuid=65534 --regid=65534 --clear-groups "${CT[@]}" 203.0.113.2:22 --json \
            >"$T/cap.out" 2>"$T/cap.err"
        rc=$?
        [ $rc = 0 ] && $PY "$T/check.py" "$T/cap.out" "22=192.0.2.1,198.51.100.2,203.0.113.2:syn-ack:3:1" &&
            ok "setcap cap_net_raw+ep as nobody: traced" ||
            { fail "setcap cap_net_raw+ep as nobody: exit $rc"; cat "$T/cap.err"; }
        ip netns exec ${P}c setpriv --reuid=65534 --regid=65534 --clear-groups "${CT[@]}" \
            203.0.113.2:24 --timeout 2000 --attempts 1 >/dev/null 2>&1 &
        TP=$!
        sleep 0.7
        ST=$(grep -E '^(Uid|CapPrm|CapEff|NoNewPrivs):' /proc/$TP/status 2>/dev/null | tr -s '\t' ' ')
        wait $TP
        [ "$ST" = "Uid: 65534 65534 65534 65534
CapPrm: 0000000000000000
CapEff: 0000000000000000
NoNewPrivs: 1" ] && ok "setcap: capability cleared during the trace" ||
            { fail "setcap: during the trace:"; echo "$ST"; }
    else
        echo "note: this filesystem keeps no file capabilities; setcap case not run"
    fi
fi

# 10. usage errors: exit 2
for bad in "203.0.113.2" "203.0.113.2:22,22" "203.0.113.2:0" "2001:db8:5::2:22"; do
    ns c "${TR[@]}" "$bad" >/dev/null 2>&1
    rc=$?
    [ $rc = 2 ] || fail "usage error for '$bad': exit $rc"
done
ns c "${TR[@]}" 203.0.113.2:22 --expect-hops 1.2.3 >/dev/null 2>&1
[ $? = 2 ] || fail "bad --expect-hops accepted"

# 11. our own RSTs alone clean up: the client's kernel resets (TTL / hop limit 64) are dropped,
#    ours (255) pass, and still no half-open connection stays on the server.
ns c nft -f - <<'NFT'
table inet kernrst {
    chain output_kernrst {
        type filter hook output priority 0;
        meta nfproto ipv4 ip ttl != 255 tcp flags & rst == rst drop
        meta nfproto ipv6 ip6 hoplimit != 255 tcp flags & rst == rst drop
    }
}
NFT
for t in 203.0.113.2:22 "[2001:db8:5::2]:5222"; do
    if run ownrst 0 "$t" --json; then
        r=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["mitmwatch"]["path"]["ports"][0]["resets"])' "$T/ownrst.out")
        n=$(synrecv)
        [ "$r" = 1 ] && [ "$n" = 0 ] && ok "$t: our RST alone (kernel's dropped) left no half-open connection" ||
            fail "$t: with only our RSTs: resets $r, $n half-open connection(s)"
    fi
done
ns c nft delete table inet kernrst

# 12. negative control for the half-open checks above: with every RST from the client dropped
#    (ours and the kernel's), the server does keep half-open connections, so the check can fail.
ns c nft -f - <<'NFT'
table inet norst {
    chain output_norst {
        type filter hook output priority 0;
        tcp flags & rst == rst drop
    }
}
NFT
run noreset 0 203.0.113.2:22 --json >/dev/null
n=$(synrecv)
[ "$n" -ge 1 ] && ok "control: without RSTs the server keeps $n half-open connection(s)" ||
    fail "control: no half-open connection without RSTs"

[ $FAILS = 0 ] && { echo "PASS"; exit 0; }
echo "$FAILS failure(s)"
exit 1
