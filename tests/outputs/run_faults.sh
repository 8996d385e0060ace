#!/bin/bash
# Nothing lost, nothing silent: the outputs against real receivers that stall, restart
# mid-stream, refuse acks, answer 503 then 429 with Retry-After, fail single _bulk items, and an
# rsyslog (imrelp) restarted under a RELP stream; a disk spool across two runs; and the sensor's
# exit status and stderr when events are lost. Every case checks that the counters add up
# (sent + dropped + rejected == offered, spooled ones aside) and that nothing is missing beyond
# what is counted as dropped; duplicates are allowed only where the protocol is at-least-once.
#
#   run_faults.sh DRIVER MITMWATCH [full]     (exit 77: rsyslog/imrelp or python3-msgpack missing)
# Every receiver listens on a free port of 127.0.0.1 (picked below the ephemeral range), so two runs at once
# do not collide. MW_KEEP=1 keeps the work folder.
set -u
DRIVER=$(readlink -f "${1:?usage: run_faults.sh DRIVER MITMWATCH [full]}")
MW=$(readlink -f "${2:?usage: run_faults.sh DRIVER MITMWATCH [full]}")
FULL=${3:-}
HERE=$(dirname "$(readlink -f "$0")")
TOP=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || { echo "SKIP: rsyslogd not installed"; exit 77; }
ls /usr/lib/*/rsyslog/imrelp.so > /dev/null 2>&1 || { echo "SKIP: rsyslog-relp (imrelp) not installed"; exit 77; }
$PY -c 'import msgpack' 2>/dev/null || { echo "SKIP: python3-msgpack not installed"; exit 77; }

W=$(mktemp -d /tmp/mw-faults.XXXXXX)
PIDS=()
FAILS=0
PASSES=0
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "${MW_KEEP:-}" = 1 ] || [ "$FAILS" != 0 ]; then echo "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

pass() { echo "PASS $1: $2"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $1: $2"; FAILS=$((FAILS + 1)); }
check() { # NAME CHECK-ARGS...
    local name=$1 out; shift
    if out=$($PY "$HERE/check.py" "$@" 2>&1); then pass "$name" "$out"; else fail "$name" "$out"; fi
}
assert() { # NAME PYTHON-EXPR-ON-STATS STATS-FILE [DESCRIPTION]: d is the driver's JSON
    local out
    if out=$($PY -c 'import json,sys; d=json.load(open(sys.argv[2])); o=d.get("outputs",{}); r=eval(sys.argv[1]); print(sys.argv[1] if r else "false: " + sys.argv[1]); sys.exit(0 if r else 1)' "$2" "$3" 2>&1); then
        pass "$1" "${4:-$out}"
    else
        fail "$1" "$out; stats: $(head -c 600 "$3")"
    fi
}
# A free port below the kernel's ephemeral range: a receiver restarted on it must find it free
# (a client socket's local port, taken from that range, could hold it).
free_port() { $PY -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(10000, max(10001, low))
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", p)); s.close()
    except OSError:
        continue
    print(p)
    break'; }
start_py() { # VAR SCRIPT ARGS...   (pid into VAR)
    local var=$1 script=$2; shift 2
    local ready=$W/ready.$RANDOM$RANDOM
    $PY "$HERE/$script" --ready "$ready" "$@" 2>> "$W/py.stderr" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.05; done
    [ -e "$ready" ] || { echo "$script did not start"; cat "$W/py.stderr"; exit 1; }
    printf -v "$var" %s "$pid"
}
stop() { kill -9 "$@" 2>/dev/null; wait "$@" 2>/dev/null; }
# Every output's counters add up: sent + dropped + rejected + spool_pending == offered + spool
# left by an earlier run (the driver's stats are taken after out_close).
ADDS_UP='all(v["sent"]+v["dropped"]+v["rejected"]+v.get("spool_pending",0)==v["offered"]+v.get("spool_start",0) and v["queued"]==0 for v in o.values())'

# ---- 1. Fluentd forward: acks refused, then given: resent within the flush budget -------------
D=$W/refuse; mkdir -p "$D"
P=$(free_port)
start_py FR fluent_recv.py --port "$P" --out "$D/recv.jsonl" --errors "$D/err" --refuse-acks 2
"$DRIVER" --count 2000 --stats "$D/stats.json" --flush-ms 4000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "fluentd://127.0.0.1:$P?name=fl&ack=1" 2> "$D/stderr"
check fluentd.refused_acks fluentd "$D/recv.jsonl" "$D/ref.json" "$D/stats.json" fl --fault --dropped-max 0
assert fluentd.refused_acks.budget 'd["shutdown_seconds"] < 4.5 and o["fl"]["sent"] == 2000 and o["fl"]["errors"] == 2' \
    "$D/stats.json" "2 acks refused: 2 failed attempts, both batches resent, all 2000 acknowledged within the 4 s budget"
stop "$FR"

# ---- 2. HEC: 503, 503, then 429 with Retry-After: 1 --------------------------------------------
D=$W/throttle; mkdir -p "$D"
P=$(free_port)
start_py HT http_recv.py --port "$P" --out "$D/recv.jsonl" --errors "$D/err" --token T \
    --fail-first 2 --then-429 2 --retry-after 1 --log "$D/log.jsonl"
"$DRIVER" --count 1000 --stats "$D/stats.json" --flush-ms 20000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "hec+http://127.0.0.1:$P?name=hec&token=T&backoff=50" 2> "$D/stderr"
check hec.503_429 http "$D/recv.jsonl" "$D/ref.json" "$D/stats.json" hec
if out=$($PY - "$D/log.jsonl" <<'EOF'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
st = [r["status"] for r in log]
gaps = [round(b["t"] - a["t"], 3) for a, b in zip(log, log[1:])]
ok = st[:5] == [503, 503, 429, 429, 200] and gaps[0] < 0.5 and gaps[1] < 0.5 \
    and gaps[2] >= 0.95 and gaps[3] >= 0.95
print(json.dumps({"statuses": st[:6], "gaps_s": gaps[:5]}))
sys.exit(0 if ok else 1)
EOF
); then pass hec.retry_after "$out (503s: backoff 50/100 ms; 429s: Retry-After 1 s honoured)"; else fail hec.retry_after "$out"; fi
stop "$HT"

# ---- 3. HTTP batches fill from what is queued; _bulk resends only the failed items -------------
D=$W/batch; mkdir -p "$D"
P=$(free_port)
start_py HB http_recv.py --port "$P" --out "$D/recv.jsonl" --errors "$D/err" --bulk-item-fail 1 --log "$D/log.jsonl"
"$DRIVER" --count 3000 --rate 3000 --stats "$D/stats.json" --flush-ms 10000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "bulk+http://127.0.0.1:$P?name=bulk&backoff=20" 2> "$D/stderr"
check bulk.item_429 http "$D/recv.jsonl" "$D/ref.json" "$D/stats.json" bulk
if out=$($PY - "$D/log.jsonl" <<'EOF'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
n = sum(r["events"] for r in log)
mean = n / len(log)
print(json.dumps({"requests": len(log), "events_stored": n, "mean_batch": round(mean, 1)}))
sys.exit(0 if n == 3000 and mean >= 10 else 1)
EOF
); then pass bulk.batching "$out (3000 events at 3000/s: batches filled by the linger)"; else fail bulk.batching "$out"; fi
assert bulk.only_failed_resent 'o["bulk"]["errors"] == 1 and 0 < o["bulk"]["retried"] < 3000' "$D/stats.json" \
    "one _bulk answer with per-item 429s: only those items resent (retried < batch)"
stop "$HB"

# ---- 4. A collector that hangs: the flush budget holds for requests already waiting ------------
D=$W/hang; mkdir -p "$D"
P=$(free_port); P2=$(free_port)
start_py HH http_recv.py --port "$P" --out "$D/recv.jsonl" --errors "$D/err" --token T --hang
start_py FS fluent_recv.py --port "$P2" --stall --out "$D/none" --errors "$D/err2"
"$DRIVER" --count 20000 --pad 400 --stats "$D/stats.json" --flush-ms 1000 --sensor-shutdown \
    --output "file://$D/ref.json" \
    --output "hec+http://127.0.0.1:$P?name=hec&token=T&timeout=10000" \
    --output "fluentd://127.0.0.1:$P2?name=fl&ack=1&timeout=10000" 2> "$D/stderr"
assert hang.budget "d['shutdown_seconds'] < 1.6 and $ADDS_UP and o['hec']['dropped'] > 0 and o['fl']['dropped'] > 0" \
    "$D/stats.json" "requests waiting on 10 s timeouts cut at the 1 s budget; every event counted"
LOSTLINES=$(grep -c 'events not delivered' "$D/stderr")
[ "$LOSTLINES" = 2 ] && pass hang.stderr "$(grep 'events not delivered' "$D/stderr" | head -1)" \
    || fail hang.stderr "expected one loss line per output: $(cat "$D/stderr")"
stop "$HH" "$FS"

# ---- 5. Receivers killed mid-stream and restarted on the same port -----------------------------
D=$W/restart; mkdir -p "$D"
PF=$(free_port); PH=$(free_port); PB=$(free_port)
recv_up() {
    start_py FA fluent_recv.py --port "$PF" --out "$D/fluent.jsonl" --errors "$D/err"
    start_py HH http_recv.py --port "$PH" --out "$D/hec.jsonl" --errors "$D/err" --token T
    start_py HB http_recv.py --port "$PB" --out "$D/bulk.jsonl" --errors "$D/err"
}
recv_up
"$DRIVER" --count 10000 --rate 5000 --stats "$D/stats.json" --flush-ms 10000 --sensor-shutdown \
    --output "file://$D/ref.json" \
    --output "fluentd://127.0.0.1:$PF?name=fl&ack=1&timeout=2000&backoff_max=500" \
    --output "hec+http://127.0.0.1:$PH?name=hec&token=T&timeout=2000&backoff_max=500" \
    --output "bulk+http://127.0.0.1:$PB?name=bulk&timeout=2000&backoff_max=500" 2> "$D/stderr" &
DP=$!; PIDS+=("$DP")
sleep 0.8; stop "$FA" "$HH" "$HB"; sleep 0.7; recv_up
wait "$DP"
check restart.fluentd_ack fluentd "$D/fluent.jsonl" "$D/ref.json" "$D/stats.json" fl --fault --dropped-max 0
check restart.hec http "$D/hec.jsonl" "$D/ref.json" "$D/stats.json" hec --fault --dropped-max 0
check restart.bulk http "$D/bulk.jsonl" "$D/ref.json" "$D/stats.json" bulk --fault --dropped-max 0
grep -q 'output fl: cannot deliver' "$D/stderr" && grep -q 'output fl: delivering again' "$D/stderr" \
    && pass restart.said "the outage and the recovery each said once on stderr" \
    || fail restart.said "$(cat "$D/stderr")"
stop "$FA" "$HH" "$HB"

# ---- 6. RELP to rsyslog's imrelp, rsyslog restarted mid-stream: nothing lost --------------------
D=$W/relp; mkdir -p "$D"
PR=$(free_port); PT=$(free_port)
cat > "$D/rs.conf" <<EOF
global(workDirectory="$D" maxMessageSize="256k")
module(load="imrelp")
module(load="imtcp")
template(name="t" type="string" string="%pri%\t%msgid%\t%structured-data%\t%app-name%\t%msg%\n")
ruleset(name="relp") { action(type="omfile" file="$D/relp.log" template="t") }
ruleset(name="tcp") { action(type="omfile" file="$D/tcp.log" template="t") }
input(type="imrelp" address="127.0.0.1" port="$PR" ruleset="relp")
input(type="imtcp" address="127.0.0.1" port="$PT" ruleset="tcp")
EOF
RS_PID=
rs_start() {
    "$RSYSLOGD" -f "$D/rs.conf" -i "$D/pid" -n >> "$D/rs.stderr" 2>&1 &
    RS_PID=$!; PIDS+=("$RS_PID")
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PR) 2>/dev/null && return 0; sleep 0.05; done
    echo "rsyslogd did not start"; cat "$D/rs.stderr"; exit 1
}
rs_start
NR=8000
"$DRIVER" --count $NR --rate 4000 --stats "$D/stats.json" --flush-ms 10000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "relp://127.0.0.1:$PR?name=relp" \
    --output "syslog+tcp://127.0.0.1:$PT?name=tcp" 2> "$D/stderr" &
DP=$!; PIDS+=("$DP")
sleep 0.9; kill -TERM "$RS_PID"; wait "$RS_PID" 2>/dev/null; sleep 0.5; rs_start
sleep 0.8; kill -TERM "$RS_PID"; wait "$RS_PID" 2>/dev/null; sleep 0.3; rs_start
wait "$DP"
for _ in $(seq 50); do [ "$(cut -f5 "$D/relp.log" 2>/dev/null | sort -u | wc -l)" -ge $NR ] && break; sleep 0.2; done
check relp.restart syslog "$D/relp.log" "$D/ref.json" "$D/stats.json" relp --fault --dropped-max 0
# Plain syslog over TCP in the same run, for comparison: what rsyslog had not read is lost.
out=$($PY "$HERE/check.py" syslog "$D/tcp.log" "$D/ref.json" "$D/stats.json" tcp --fault --unacked-max $NR 2>&1)
echo "INFO syslog+tcp through the same two restarts (no acknowledgement): $out"
kill -TERM "$RS_PID"; wait "$RS_PID" 2>/dev/null

# ---- 7. Disk spool: a collector away for a whole run, back for the next ------------------------
D=$W/spool; mkdir -p "$D"
P=$(free_port)
SPEC="fluentd://127.0.0.1:$P?name=fl&ack=1&spool=$D/sp&backoff_max=200"
"$DRIVER" --count 1000 --stats "$D/run1.json" --flush-ms 1000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "$SPEC" 2> "$D/run1.stderr"
assert spool.run1 "o['fl']['spooled'] == 1000 and o['fl']['spool_pending'] == 1000 and o['fl']['dropped'] == 0 and d['lost'] == 0 and $ADDS_UP" \
    "$D/run1.json" "collector down: 1000 events kept in the spool, none dropped"
grep -q 'events kept in the spool' "$D/run1.stderr" && pass spool.run1_said "$(grep 'kept in the spool' "$D/run1.stderr")" \
    || fail spool.run1_said "$(cat "$D/run1.stderr")"
start_py FA fluent_recv.py --port "$P" --out "$D/recv.jsonl" --errors "$D/err"
"$DRIVER" --count 1000 --start 1000 --stats "$D/run2.json" --flush-ms 5000 --sensor-shutdown \
    --output "file://$D/ref.json" --output "$SPEC" 2> "$D/run2.stderr"
assert spool.run2 "o['fl']['replayed'] == 1000 and o['fl']['sent'] == 2000 and o['fl']['spool_pending'] == 0 and d['lost'] == 0" \
    "$D/run2.json" "next run: 1000 replayed, then the 1000 new ones"
if out=$($PY - "$D/recv.jsonl" <<'EOF'
import json, sys
ids = [int(json.loads(l)["record"]["event"]["id"]) for l in open(sys.argv[1])]
print(json.dumps({"received": len(ids), "in_order": ids == list(range(2000))}))
sys.exit(0 if ids == list(range(2000)) else 1)
EOF
); then pass spool.order "$out"; else fail spool.order "$out"; fi
stop "$FA"
# A spool with a cap: what does not fit is dropped and counted as such.
P=$(free_port)
"$DRIVER" --count 1000 --stats "$D/cap.json" --flush-ms 500 --sensor-shutdown --output "file://$D/ref2.json" \
    --output "fluentd://127.0.0.1:$P?name=fl&ack=1&spool=$D/sp2&spool_max=64K" 2> "$D/cap.stderr"
assert spool.cap "0 < o['fl']['spooled'] < 1000 and o['fl']['spool_dropped'] == 1000 - o['fl']['spooled'] and o['fl']['dropped'] == o['fl']['spool_dropped'] and $ADDS_UP" \
    "$D/cap.json" "spool_max=64K: the rest dropped and counted (spool_dropped == dropped)"

# ---- 8. The sensor: lost events are said and change the exit status ----------------------------
D=$W/sensor; mkdir -p "$D"
PCAP=$TOP/tests/data/demo.pcap
P=$(free_port)
start_t=$(date +%s.%N)
"$MW" -r "$PCAP" --flush-timeout 1 -o "$D/ev.json" -o "hec+https://127.0.0.1:$P?token=abc" 2> "$D/stderr"
rc=$?
el=$($PY -c "import sys; print(round($(date +%s.%N) - $start_t, 2))")
if [ $rc = 3 ] && grep -q "events not delivered" "$D/stderr" && grep -q "deliveries to the outputs failed (exit code 3)" "$D/stderr"; then
    pass sensor.hec_nothing_listening "exit 3 in ${el}s: $(grep "exit code 3" "$D/stderr")"
else
    fail sensor.hec_nothing_listening "rc=$rc: $(cat "$D/stderr")"
fi
if out=$($PY - "$D/ev.json" <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
st = evs[-1]["mitmwatch"]["stats"]
o = next(v for k, v in st["outputs"].items() if k.startswith("hec"))
f = next(v for k, v in st["outputs"].items() if k.startswith("file"))
ok = st["final"] and o["queued"] == 0 and o["sent"] + o["dropped"] + o["rejected"] == o["offered"] == len(evs) - 1 \
    and o["dropped"] == len(evs) - 1 and f["sent"] == f["offered"] == len(evs) - 1 and f["queued"] == 0
print(json.dumps({"events": len(evs), "hec": o, "file": f}))
sys.exit(0 if ok else 1)
EOF
); then pass sensor.final_stats_after_flush "$out"; else fail sensor.final_stats_after_flush "$out"; fi
"$MW" -r /dev/null -o "$D/fail.json" 2> /dev/null; rc=$?
[ $rc = 2 ] && [ ! -s "$D/fail.json" ] && pass sensor.failed_start "exit 2, no stats event" || fail sensor.failed_start "rc=$rc, $(head -c 300 "$D/fail.json")"
"$MW" -r "$PCAP" --state /no/such/dir/st.msgpack -o "$D/st.json" 2> "$D/st.stderr"; rc=$?
[ $rc = 2 ] && [ ! -s "$D/st.json" ] && grep -q "cannot write state file /no/such/dir/st.msgpack" "$D/st.stderr" \
    && pass sensor.state_dir_checked "$(cat "$D/st.stderr")" || fail sensor.state_dir_checked "rc=$rc $(cat "$D/st.stderr")"

echo
echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
