#!/bin/bash
# run_verdicts_lab.sh MITMWATCH WORKDIR -- the verdicts (issue 4) judged on real servers.
#
#   verdicts_pki.py: test ACME CA, rogue CA, test CT log, leaves, known store, policy, cases
#   -> nginx and openssl s_server serve each certificate on 127.0.0.1:19401-19418 in a
#      private network namespace; openssl s_client connects once per case (SNI, TLS <= 1.2 so
#      the certificate is on the wire); tcpdump captures
#   -> mitmwatch -r verdicts.pcap -c policy.yaml -> verdicts_check.py: per connection, the
#      exact set of rule.ids.
# Everything goes to WORKDIR/verdicts-lab (wiped first). Exit 77 (skip) when not root or a
# tool is missing (openssl nginx tcpdump ss timeout python3 with python3-cryptography).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 MITMWATCH WORKDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab_lib.sh"
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=/usr/bin/python3
lab_require run_verdicts_lab openssl nginx tcpdump ss timeout ip "$py"
if ! "$py" -c 'import cryptography' 2>/dev/null; then
    echo "run_verdicts_lab: SKIP: python3-cryptography not installed" >&2
    exit 77
fi
if [ ! -x "$bin" ]; then
    echo "run_verdicts_lab: mitmwatch binary $bin not found" >&2
    exit 1
fi
mkdir -p "$2"
run=$(cd "$2" && pwd)/verdicts-lab

# A namespace of our own: a private lo (no port clashes, nothing else captured), 1500 MTU
# and no segmentation offload so certificate flights are split as on a wire.
if [ -z "${MW_VLAB_IN_NETNS:-}" ]; then
    rm -rf "$run"
    mkdir -p "$run"
    ns=mwvlab$$
    ip netns add "$ns" || { echo "run_verdicts_lab: cannot create a netns" >&2; exit 1; }
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    rc=0
    ip netns exec "$ns" env MW_VLAB_IN_NETNS=1 "$here/$(basename "$0")" "$bin" "$2" || rc=$?
    exit $rc
fi
ip link set lo up mtu 1500
command -v ethtool >/dev/null 2>&1 && ethtool -K lo tso off gso off >/dev/null 2>&1 || true

start=$(date +%s)
"$py" "$here/verdicts_pki.py" "$run"
certs=$run/certs

pids=()
tcpdump_pid=
cleanup() {
    local p
    if [ -n "$tcpdump_pid" ]; then kill -INT "$tcpdump_pid" 2>/dev/null || true; fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# The plan, one line per connection: port server cert key extra sni sargs cargs
plan=$run/plan.tsv
"$py" - "$run/cases.json" >"$plan" <<'EOF'
import json, sys
for c in json.load(open(sys.argv[1])):
    print("\t".join([str(c["port"]), c["server"], c["cert"], c["key"], c["extra"] or "-",
                     c["sni"], " ".join(c["server_args"]) or "-",
                     " ".join(c["client_args"]) or "-"]))
EOF

# ---------------------------------------------------------------- nginx
ng=$run/nginx
mkdir -p "$ng/tmp" "$ng/logs"
{
    lab_nginx_head "$ng"
    while IFS=$'\t' read -r port server cert key extra sni sargs cargs; do
        [ "$server" = nginx ] || continue
        cat <<EOF
    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $certs/$cert.chain.pem;
        ssl_certificate_key $certs/$key;
        location / { return 200 "lab\n"; }
    }
EOF
    done <"$plan"
    echo "}"
} >"$ng/nginx.conf"
nginx -t -q -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log"
nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log" &
pids+=($!)

wait_listen() { # PORT
    for _ in $(seq 1 100); do
        ss -Hltn | awk '{print $4}' | grep -qxF "127.0.0.1:$1" && return 0
        sleep 0.05
    done
    echo "run_verdicts_lab: nothing listens on $1" >&2
    cat "$ng/logs/error.log" "$run"/s_server.*.log >&2 || true
    exit 1
}

declare -A sserver_pid
sserver() { # PORT CERT KEY EXTRA ARGS
    local port=$1 cert=$2 key=$3 extra=$4 args=$5
    local a=(-quiet -www -accept "127.0.0.1:$port" -cert "$certs/$cert.pem" -key "$certs/$key")
    [ "$extra" = - ] || a+=(-cert_chain "$certs/$extra")
    if [ "$args" != - ]; then
        local w
        for w in $args; do
            case $w in *.pem) a+=("$certs/$w") ;; *) a+=("$w") ;; esac
        done
    fi
    (cd "$certs" && exec openssl s_server "${a[@]}") </dev/null >"$run/s_server.$port.log" 2>&1 &
    sserver_pid[$port]=$!
    pids+=($!)
}

# ---------------------------------------------------------------- tcpdump
lab_tcpdump "$run/verdicts.pcap" "$run/tcpdump.log" 'tcp and portrange 19401-19420'

# ---------------------------------------------------------------- connections
n=0
while IFS=$'\t' read -r port server cert key extra sni sargs cargs; do
    n=$((n + 1))
    if [ "$server" = s_server ]; then
        # a port seen before is restarted with this case's settings (the learned downgrade)
        if [ -n "${sserver_pid[$port]:-}" ]; then
            kill "${sserver_pid[$port]}" 2>/dev/null || true
            wait "${sserver_pid[$port]}" 2>/dev/null || true
            for _ in $(seq 1 100); do
                ss -Hltn | awk '{print $4}' | grep -qxF "127.0.0.1:$port" || break
                sleep 0.05
            done
        fi
        sserver "$port" "$cert" "$key" "$extra" "$sargs"
    fi
    wait_listen "$port"
    a=(-connect "127.0.0.1:$port" -servername "$sni" -no_tls1_3 -CAfile "$run/root.pem")
    # shellcheck disable=SC2206
    [ "$cargs" = - ] || a+=($cargs)
    log=$run/client.$n.log
    (sleep 0.2) | timeout 10 openssl s_client "${a[@]}" >"$log" 2>&1 || true
    if ! grep -q '^New, TLSv1' "$log"; then
        echo "run_verdicts_lab: connection $n to $port ($cert) failed:" >&2
        cat "$log" "$run/s_server.$port.log" >&2 2>/dev/null || true
        exit 1
    fi
done <"$plan"

lab_tcpdump_stop run_verdicts_lab "$run/verdicts.pcap" "$run/tcpdump.log"

rc=0
timeout 60 "$bin" -r "$run/verdicts.pcap" -c "$run/policy.yaml" -o "$run/events.json" \
    2>"$run/mitmwatch.stderr" || rc=$?
if [ $rc -ne 0 ]; then
    echo "run_verdicts_lab: mitmwatch exited with $rc:" >&2
    cat "$run/mitmwatch.stderr" >&2
    exit 1
fi
"$py" "$here/verdicts_check.py" "$run/events.json" "$run/cases.json"

# The same capture with the policy on the command line only (the analyst with one pcap);
# --min-scts 1 as the policy file says (a private CA needs no SCTs by default).
rc=0
timeout 60 "$bin" -r "$run/verdicts.pcap" -o "$run/events-cli.json" --watch www.example.test \
    --known-certs "$run/known" --expect-issuer "Test ACME" --ca-file "$run/root.pem" \
    --ct-log-list "$run/log_list.json" --min-scts 1 --suppress-window 0 \
    2>"$run/mitmwatch-cli.stderr" || rc=$?
if [ $rc -ne 0 ]; then
    echo "run_verdicts_lab: mitmwatch (flags) exited with $rc:" >&2
    cat "$run/mitmwatch-cli.stderr" >&2
    exit 1
fi
"$py" "$here/verdicts_check.py" "$run/events-cli.json" "$run/cases.json" --cli

# SIGHUP re-reads the known store: live on lo, the clean certificate is unknown to an empty
# store, then known after it is copied in and the sensor is sent SIGHUP.
# The live sensor drops its privileges (lab_sensor_user) and then reads these files again:
# they live in a folder that user owns (the build tree may be in a 0700 home).
sd=$(lab_sensor_dir run_verdicts_lab)
live=$sd/known-live
mkdir -p "$live"
cp "$run/root.pem" "$run/log_list.json" "$sd/"
chown -R "$(lab_sensor_user)" "$sd"
"$bin" -i lo -f 'tcp port 19401' -o "$sd/events-live.json" --stats-interval 0 \
    --watch www.example.test --known-certs "$live" --ca-file "$sd/root.pem" \
    --ct-log-list "$sd/log_list.json" --suppress-window 0 2>"$run/mitmwatch-live.stderr" &
mw_pid=$!
pids+=("$mw_pid")
sleep 1
connect_good() {
    (sleep 0.2) | timeout 10 openssl s_client -connect 127.0.0.1:19401 \
        -servername www.example.test -no_tls1_3 >"$run/client.live$1.log" 2>&1 || true
    grep -q '^New, TLSv1' "$run/client.live$1.log" || { cat "$run/client.live$1.log" >&2; exit 1; }
}
connect_good 1
sleep 0.5
cp "$certs/good.chain.pem" "$live/fullchain.pem"
kill -HUP "$mw_pid"
sleep 0.5
connect_good 2
sleep 0.5
kill -TERM "$mw_pid"
wait "$mw_pid" || { echo "run_verdicts_lab: live mitmwatch failed:" >&2;
                    cat "$run/mitmwatch-live.stderr" >&2; exit 1; }
cp "$sd/events-live.json" "$run/events-live.json"
rm -rf "$sd"
"$py" - "$run/events-live.json" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
flows = [e for e in ev if e["event"]["dataset"] == "mitmwatch.tls"]
alerts = [(e["source"]["port"], e["rule"]["id"]) for e in ev
          if e["event"]["dataset"] == "mitmwatch.alert"]
ports = [e["source"]["port"] for e in flows]
want = [(ports[0], "cert.unknown")] if len(ports) == 2 else None
if len(flows) != 2 or alerts != want:
    print("run_verdicts_lab: SIGHUP reload: %d handshakes, alerts %s, expected 2 and %s"
          % (len(flows), alerts, want), file=sys.stderr)
    sys.exit(1)
print("run_verdicts_lab: SIGHUP reload: cert.unknown before, silent after")
EOF
echo "run_verdicts_lab: done in $(( $(date +%s) - start ))s; files in $run"
