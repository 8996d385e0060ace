#!/bin/bash
# The live sensor's scheduled traceroute (--probe trace:) across restarts and with configured
# paths (issue 6): namespaces in the jabber.ru shape,
#
#   client 192.0.2.2 ─ r1 ─────────────── r2 ─ server 203.0.113.2 (listens on 22 and 5222)
#                       └── mitm ─────────┘
# where `mitm on` makes r1/r2 policy-route TCP port 5222 (only) through the extra hop.
#  (a) run 1 learns the paths of 22 and 5222 into --state and stops; run 2 with that state and
#      the mitm on raises exactly one path.hops_changed, for 5222, against the path learned
#      before the restart; run 2 with that state and no mitm raises none (and a run with the
#      mitm but no state only learns: the state is what makes the difference).
#  (b) configured paths (--expect-hops and the policy's expect_paths): the right one is clean,
#      several acceptable paths are all clean, a wrong one raises the alert with the exact
#      configured and observed hop lists, and a configured path wins over a learned one.
#  (c) bad input: a bad hop (file:line), an untraced --expect-hops, truncated, foreign and
#      future state files: one line on stderr, exit 2, the state file left as it was.
#  (d) SIGHUP reloads the configured paths (a bad policy keeps the running one).
# Each sensor run does one round of probes (the first round is at start) and is stopped once
# its mitmwatch.path event is out. Documentation prefixes only, inside these namespaces.
#
#   trace_state_test.sh MITMWATCH WORKDIR      exit 0 pass, 1 fail, 77 skipped
set -u
MW=$(readlink -f "${1:?usage: trace_state_test.sh MITMWATCH WORKDIR}") KEEP=${2:?WORKDIR}
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, raw sockets)"; exit 77; }
for t in ip jq; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
[ -x $PY ] && $PY -c 'import msgpack' 2>/dev/null || { echo "SKIP: $PY with msgpack missing"; exit 77; }
rm -rf "$KEEP" && mkdir -p "$KEEP" || exit 1

. "$(dirname "$(readlink -f "$0")")/lab_lib.sh"
# The sensor drops privileges (lab_sensor_user), then writes its state and reopens its output
# on SIGHUP: it works in a directory that user owns, copied to WORKDIR at the end.
W=$(lab_sensor_dir trace_state_test) && cd "$W" || exit 1
P=mwts$$
SRV=
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    wait 2>/dev/null
    lab_path_teardown
    cp -a "$W"/. "$KEEP"/ 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); printf 'FAIL %s:\n got: %s\nwant: %s\n' "$1" "$2" "$3"; fi; }
ns() { lab_ns "$@"; }
lab_path_topology $P || { echo "SKIP: cannot create network namespaces"; exit 77; }
mitm() { lab_path_divert 5222 "$1"; } # on|off: port 5222, both directions, through m

# not through ns(): a function in the background is a subshell, and $! would be its pid,
# leaving the server behind (holding the lab lock's descriptor) after the kill
ip netns exec ${P}s $PY -c '
import select, socket, sys
ls = []
for port in (22, 5222):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64); ls.append(s)
open(sys.argv[1], "w").close()
while True:
    for s in select.select(ls, [], [])[0]:
        s.accept()[0].close()
' "$W/ready" >"$W/srv.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do [ -e "$W/ready" ] && break; sleep 0.05; done
[ -e "$W/ready" ] || { echo "FAIL: server did not start"; cat "$W/srv.log"; exit 1; }
ns c $PY -c "import socket; socket.create_connection(('203.0.113.2', 5222), 2).close()" ||
    { echo "FAIL: lab has no connectivity"; exit 1; }

DIRECT='["192.0.2.1","198.51.100.2","203.0.113.2"]'
VIAM='["192.0.2.1","198.51.100.66","198.51.100.129","203.0.113.2"]'

# sensor NAME ARGS...: one round of the trace probe of 22 and 5222, stopped once the path event
# is out; events in NAME.json, stderr in NAME.err, exit status in NAME.rc.
sensor() {
    local name=$1; shift
    rm -f "$name.json"
    # not through ns(): a function in the background is a subshell, and $! would be its pid
    ip netns exec ${P}c "$MW" -i ceth -f 'tcp port 9' --no-ndpi --stats-interval 0 \
        --probe-interval 3600 --probe trace:203.0.113.2:22,5222 -o "$name.json" "$@" \
        2>"$name.err" &
    local pid=$! i
    for i in $(seq 150); do
        [ "$(cat "$name.json" 2>/dev/null | grep -c '"mitmwatch.path"')" -ge "${NPATHS:-1}" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM $pid 2>/dev/null
    wait $pid
    echo $? >"$name.rc"
}
paths() { jq -c 'select(.event.dataset=="mitmwatch.path") | [.mitmwatch.path.ports[] | [.port, .path]]' "$1.json"; }
alerts() { jq -c 'select(.event.kind=="alert") | [.rule.id, .destination.port, .mitmwatch.path.source, .mitmwatch.expected, .mitmwatch.observed]' "$1.json"; }
traces() { $PY -c '
import msgpack, sys, json
d = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
print(json.dumps([d["format"], d["v"], d["traces"]], separators=(",", ":")))' "$1"; }

# (a) learning survives a restart
sensor run1 --state st.msgpack
check "run 1: exit 0, traced 22 and 5222 directly" "$(cat run1.rc) $(paths run1)" "0 [[22,$DIRECT],[5222,$DIRECT]]"
check "run 1: learns, no alert" "$(alerts run1)" ""
check "run 1: the learned paths in the state file" "$(traces st.msgpack)" \
    "[\"mitmwatch-state\",2,[[\"203.0.113.2\",22,[$DIRECT]],[\"203.0.113.2\",5222,[$DIRECT]]]]"
cp st.msgpack st-direct.msgpack
cp st.msgpack st-control.msgpack

mitm on
sensor run2 --state st.msgpack
check "run 2 (mitm): exit 0, 5222 one hop longer" "$(cat run2.rc) $(paths run2)" "0 [[22,$DIRECT],[5222,$VIAM]]"
check "run 2 (mitm): one path.hops_changed for 5222 against the path learned before the restart" \
    "$(alerts run2)" "[\"path.hops_changed\",5222,\"learned\",[$DIRECT],$VIAM]"
check "run 2 (mitm): the alert explains itself" \
    "$(jq -r 'select(.event.kind=="alert") | [.message, .event.severity, .destination.ip, .destination.address] | @tsv' run2.json)" \
    "$(printf 'The last 3 hops to 203.0.113.2 port 5222 (4 hops in all) do not match the learned path.\t3\t203.0.113.2\t203.0.113.2')"
check "run 2 (mitm): the mitm path was not learned" "$(traces st.msgpack)" "$(traces st-direct.msgpack)"
sensor nostate                  # the same mitm without the state: its first path is learned
check "mitm without the state: learned, no alert" "$(cat nostate.rc) $(alerts nostate | wc -l)" "0 0"
mitm off
sensor run2c --state st-control.msgpack
check "run 2 (control, no mitm): exit 0, no alert" "$(cat run2c.rc) $(paths run2c) $(alerts run2c | wc -l)" \
    "0 [[22,$DIRECT],[5222,$DIRECT]] 0"

# a trace that does not reach its target (no host at 203.0.113.9: r2's ARP fails) is not
# learned, so a host that was down at the first round does not leave stars as its baseline
NPATHS=2 sensor unreached --state st-unreached.msgpack --probe trace:203.0.113.9:22
check "an unreached trace is not learned (only 203.0.113.2's ports are)" \
    "$(cat unreached.rc) $(jq -c 'select(.event.dataset=="mitmwatch.path") | [.destination.ip, .mitmwatch.path.ports[0].reached]' unreached.json | sort | tr '\n' ' ')$(traces st-unreached.msgpack)" \
    "0 [\"203.0.113.2\",true] [\"203.0.113.9\",false] [\"mitmwatch-state\",2,[[\"203.0.113.2\",22,[$DIRECT]],[\"203.0.113.2\",5222,[$DIRECT]]]]"

# (b) configured paths
mitm on
D=192.0.2.1,198.51.100.2,203.0.113.2
M=192.0.2.1,198.51.100.66,198.51.100.129,203.0.113.2
sensor cli-wrong --expect-hops "203.0.113.2:5222=$D" --expect-hops "203.0.113.2:5222=192.0.2.1,*,198.51.100.3,203.0.113.2"
check "--expect-hops, two paths, neither taken: one alert with both and the observed path" \
    "$(cat cli-wrong.rc) $(alerts cli-wrong)" \
    "0 [\"path.hops_changed\",5222,\"configured\",[$DIRECT,[\"192.0.2.1\",\"*\",\"198.51.100.3\",\"203.0.113.2\"]],$VIAM]"
check "--expect-hops: the message counts the configured paths" \
    "$(jq -r 'select(.event.kind=="alert") | .message' cli-wrong.json)" \
    "The last 3 hops to 203.0.113.2 port 5222 (4 hops in all) match none of the 2 configured paths."
sensor cli-right --expect-hops "203.0.113.2:5222=$D" --expect-hops "203.0.113.2:5222=*,198.51.100.66,198.51.100.129,203.0.113.2" \
    --expect-hops "203.0.113.2:22=$D"
check "--expect-hops: a trace matching any acceptable path is clean" "$(cat cli-right.rc) $(alerts cli-right | wc -l)" "0 0"
# configured wins over learned: the state learned the mitm's path for 5222
sensor learn-mitm --state st-mitm.msgpack
sensor cfg-wins --state st-mitm.msgpack --expect-hops "203.0.113.2:5222=$D"
check "a configured path wins over the learned one" "$(cat cfg-wins.rc) $(alerts cfg-wins)" \
    "0 [\"path.hops_changed\",5222,\"configured\",[$DIRECT],$VIAM]"

cat >good.yaml <<'EOF'
version: 1
services:
  - name: xmpp.lab.test
    ips: [203.0.113.2]
    ports: [5222]
    expect_paths:
      5222:
        - "192.0.2.1, 198.51.100.2, 203.0.113.2"
        - "192.0.2.1, 198.51.100.66, 198.51.100.129, 203.0.113.2"
      22: "192.0.2.1, 198.51.100.2, 203.0.113.2"
EOF
sensor yaml-right -c good.yaml
check "policy expect_paths, two acceptable paths for 5222: clean" "$(cat yaml-right.rc) $(alerts yaml-right | wc -l)" "0 0"
sed '/198.51.100.66/d' good.yaml >direct.yaml
sensor yaml-wrong -c direct.yaml --state st-mitm.msgpack
check "policy expect_paths, the direct path only: the alert, configured over learned" \
    "$(cat yaml-wrong.rc) $(alerts yaml-wrong)" "0 [\"path.hops_changed\",5222,\"configured\",[$DIRECT],$VIAM]"

# (d) SIGHUP reloads the configured paths: a bad policy keeps the running one (two clean rounds),
#     then a policy with the direct path only makes the next rounds alert. One round a second.
cp good.yaml live.yaml
ip netns exec ${P}c "$MW" -i ceth -f 'tcp port 9' --no-ndpi --stats-interval 0 --probe-interval 1 \
    --probe-jitter 0 --probe trace:203.0.113.2:22,5222 -c live.yaml -o hup.json 2>hup.err &
HUPPID=$!
rounds() { # wait until N path events are out
    for _ in $(seq 100); do
        [ "$(cat hup.json 2>/dev/null | grep -c '"mitmwatch.path"')" -ge $1 ] && return 0
        sleep 0.1
    done
    return 1
}
rounds 1
printf 'version: 1\nservices:\n  - name: xmpp.lab.test\n    ips: [203.0.113.2]\n    expect_paths:\n      5222:\n        - "192.0.2.1, 198.51.100.300"\n' >live.yaml
kill -HUP $HUPPID
rounds 3
check "SIGHUP with a bad policy: the old one stays, its rounds clean" "$(alerts hup | wc -l)" 0
cp direct.yaml live.yaml
kill -HUP $HUPPID
rounds 5
kill -TERM $HUPPID; wait $HUPPID
# How many rounds fall after the reload and before SIGTERM depends on the machine's load, so
# the check is: the rounds after it alert (at least one), and with exactly this alert.
check "SIGHUP to the direct path only: the rounds after it alert, only with this" \
    "$(alerts hup | sort -u) $([ "$(alerts hup | wc -l)" -ge 1 ] && echo at-least-one)" \
    "[\"path.hops_changed\",5222,\"configured\",[$DIRECT],$VIAM] at-least-one"
check "the refused reload says so, then each problem on its own line" "$(cat hup.err)" \
    "$(printf '%s\n%s' "mitmwatch: reload failed, keeping the old policy:" \
        "mitmwatch: live.yaml:7: key '5222': expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * for any hop): 192.0.2.1, 198.51.100.300")"
mitm off

# (c) bad input: one line, exit 2
bad() { # NAME WANT-STDERR ARGS...
    local name=$1 want=$2; shift 2
    ns c timeout 10 "$MW" -i ceth -f 'tcp port 9' --stats-interval 0 --probe-interval 3600 \
        --probe trace:203.0.113.2:22,5222 -o "$name.json" "$@" >/dev/null 2>"$name.err"
    check "$name: exit 2 and the one-line reason" "$? $(cat "$name.err")" "2 $want"
}
printf 'version: 1\nservices:\n  - name: xmpp.lab.test\n    ips: [203.0.113.2]\n    expect_paths:\n      5222:\n        - "192.0.2.1, 198.51.100.300"\n' >badhop.yaml
bad yaml-badhop "mitmwatch: badhop.yaml:7: key '5222': expected a path \"ADDR, ADDR, ...\" (IPv4, IPv6 or * for any hop): 192.0.2.1, 198.51.100.300" -c badhop.yaml
printf 'version: 1\nservices:\n  - name: xmpp.lab.test\n    expect_paths:\n      70000: "192.0.2.1"\n' >badport.yaml
bad yaml-badport "mitmwatch: badport.yaml:5: key 'expect_paths': expected port numbers from 1 to 65535 as keys: 70000" -c badport.yaml
bad cli-badhop "mitmwatch: --expect-hops 203.0.113.2:5222=192.0.2.1,1.2.3: expected HOST:PORT=ADDR,ADDR,... or [IPV6]:PORT=ADDR,... (hops: IPv4, IPv6 or *)" \
    --expect-hops 203.0.113.2:5222=192.0.2.1,1.2.3
bad cli-untraced "mitmwatch: --expect-hops 203.0.113.2:443: no --probe trace:203.0.113.2:... traces port 443" \
    --expect-hops 203.0.113.2:443=$D
"$MW" -i lo --expect-hops "203.0.113.2:22=$D" >/dev/null 2>noprobe.err
check "--expect-hops without a trace probe: usage error" "$? $(head -1 noprobe.err)" \
    "2 mitmwatch: --expect-hops is for --probe trace:HOST:PORTS"
head -c 40 st-direct.msgpack >trunc.msgpack
bad state-truncated "mitmwatch: state file trunc.msgpack: truncated (40 bytes)" --state trunc.msgpack
echo '{"format": "mitmwatch-state"}' >json.msgpack
bad state-json "mitmwatch: state file json.msgpack: not a mitmwatch state file (not a msgpack map)" --state json.msgpack
$PY -c 'import msgpack,sys; open(sys.argv[1],"wb").write(msgpack.packb({"v": 1, "entries": []}))' foreign.msgpack
bad state-foreign "mitmwatch: state file foreign.msgpack: malformed (services is not a list)" --state foreign.msgpack
$PY -c 'import msgpack,sys; open(sys.argv[1],"wb").write(msgpack.packb({"format": "mitmwatch-state", "v": 3, "services": [], "traces": []}))' v3.msgpack
bad state-v3 "mitmwatch: state file v3.msgpack: version 3; this mitmwatch reads versions 1 to 2" --state v3.msgpack
check "a refused state file is left as it was" "$(cmp trunc.msgpack <(head -c 40 st-direct.msgpack) && echo same)" "same"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
