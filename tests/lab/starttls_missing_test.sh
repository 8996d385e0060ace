#!/bin/bash
# starttls_missing_test.sh MITMWATCH WORKDIR -- tls.starttls_missing against a real server.
#
# prosody offers (and requires) STARTTLS on 127.0.0.1:5222 in a private network namespace;
# a second prosody on 127.0.0.2:5222 offers no STARTTLS (what a client sees when an
# interception box strips the offer). tcpdump captures lo while four clients connect:
#   plain    python: stream header, features, SASL PLAIN <auth/> without STARTTLS, goodbye
#   check    python: stream header, features, goodbye (a monitoring check: nothing to protect)
#   upgraded openssl s_client -starttls xmpp -tls1_2 (TLS, certificate judged)
#   stripped python to 127.0.0.2: no offer, SASL PLAIN in plaintext
# mitmwatch -c policy.yaml (the service with starttls: xmpp) -r the capture must raise exactly
# two alerts, tls.starttls_missing for the plain and stripped flows with their exact messages
# and evidence, and nothing for the other two; the upgraded one is a mitmwatch.tls event. Then
# `mitmwatch check` of the service and a scheduled `--probe cert:NAME` without /STARTTLS
# must speak its STARTTLS (the key) on its port.
# Exit 77 (skip) when not root or a tool is missing.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 MITMWATCH WORKDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab_lib.sh"
mw=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=/usr/bin/python3
lab_require starttls_missing_test ip ss tcpdump openssl prosody timeout "$py"

if [ -z "${MW_LAB_IN_NETNS:-}" ]; then
    mkdir -p "$2"
    out=$(cd "$2" && pwd)/starttls-missing
    rm -rf "$out"
    mkdir -p "$out"
    ns=mwstm$$
    ip netns add "$ns" || { echo "starttls_missing_test: cannot create a namespace" >&2; exit 1; }
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    rc=0
    ip netns exec "$ns" env MW_LAB_IN_NETNS=1 "$here/$(basename "$0")" "$mw" "$out" || rc=$?
    exit $rc
fi
out=$2
ip link set lo up

pids=()
tcpdump_pid=
cleanup() {
    set +e
    [ -n "$tcpdump_pid" ] && kill -INT "$tcpdump_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# A throwaway CA and the server's certificate (EC: fast to make).
pki=$out/pki
mkdir -p "$pki"
(
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
        -out root.pem -days 30 -subj "/O=mitmwatch lab/CN=STARTTLS Lab Root" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout xmpp.key \
        -out xmpp.csr -subj "/CN=xmpp.lab.test" 2>/dev/null
    printf 'subjectAltName=DNS:xmpp.lab.test\nbasicConstraints=critical,CA:FALSE\n' > leaf.ext
    printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >> leaf.ext
    openssl x509 -req -in xmpp.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
        -extfile leaf.ext -out xmpp.pem 2>/dev/null
    chmod 644 xmpp.key
)

pr=$out/prosody
mkdir -p "$pr/data" "$pr/certs"
cat > "$pr/prosody.cfg.lua" <<EOF
run_as_root = true -- root in the test's own namespace; files stay under WORKDIR
pidfile = "$pr/prosody.pid"
data_path = "$pr/data"
certificates = "$pr/certs"
plugin_paths = {}
modules_enabled = { "saslauth"; "tls"; "disco"; "posix" }
modules_disabled = { "s2s" }
log = { { levels = { min = "info" }, to = "file", filename = "$pr/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = true
authentication = "internal_plain"
storage = "internal"
ssl = { certificate = "$pki/xmpp.pem"; key = "$pki/xmpp.key"; protocol = "tlsv1_2+" }
VirtualHost "xmpp.lab.test"
VirtualHost "localhost" -- for the scheduled probe of the service named localhost
EOF
prosody -F --config "$pr/prosody.cfg.lua" </dev/null >"$pr/stdout.log" 2>&1 &
pids+=($!)
# The same server as an interception box would show it to the client: no STARTTLS offer (no
# mod_tls), plaintext logins allowed.
pr2=$out/prosody-stripped
mkdir -p "$pr2/data"
sed -e "s|$pr/|$pr2/|g" -e 's/"tls"; //' -e 's/127\.0\.0\.1/127.0.0.2/g' \
    -e 's/^c2s_require_encryption = true/c2s_require_encryption = false\
allow_unencrypted_plain_auth = true/' -e '/^ssl = /d' "$pr/prosody.cfg.lua" >"$pr2/prosody.cfg.lua"
prosody -F --config "$pr2/prosody.cfg.lua" </dev/null >"$pr2/stdout.log" 2>&1 &
pids+=($!)
for addr in 127.0.0.1:5222 127.0.0.2:5222; do
    for _ in $(seq 1 200); do
        ss -Hltn | awk '{print $4}' | grep -qxF $addr && break
        sleep 0.05
    done
    if ! ss -Hltn | awk '{print $4}' | grep -qxF $addr; then
        echo "starttls_missing_test: prosody did not come up on $addr" >&2
        tail -n 20 "$pr"*/prosody.log "$pr"*/stdout.log >&2 || true
        exit 1
    fi
done

lab_tcpdump "$out/cap.pcap" "$out/tcpdump.log" tcp port 5222

# The plaintext clients print their source port (the flow the alert must name).
client() {
    timeout 10 "$py" - "$1" "$2" <<'PYEOF'
import socket, sys
mode = sys.argv[1]
s = socket.create_connection((sys.argv[2], 5222), timeout=5)
def until(marker):
    data = b""
    while marker not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"server closed before {marker!r}: {data!r}")
        data += chunk
    return data
s.sendall(b"<?xml version='1.0'?><stream:stream to='xmpp.lab.test' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
features = until(b"</stream:features>")
if (b"<starttls" in features) != (mode != "stripped"):
    sys.exit(f"STARTTLS offer not as expected for {mode}: {features!r}")
if mode in ("plain", "stripped"):
    # SASL PLAIN alice/s3cret: what STARTTLS should have protected
    s.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
              b"AGFsaWNlAHMzY3JldA==</auth>")
    until(b">")  # prosody answers (a failure or a stream error): the exchange happened
s.sendall(b"</stream:stream>")
s.shutdown(socket.SHUT_WR)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print(s.getsockname()[1])
s.close()
PYEOF
}
plain_port=$(client plain 127.0.0.1)
check_port=$(client check 127.0.0.1)
stripped_port=$(client stripped 127.0.0.2)
(sleep 0.5) | timeout 10 openssl s_client -connect 127.0.0.1:5222 -starttls xmpp \
    -xmpphost xmpp.lab.test -servername xmpp.lab.test -tls1_2 -CAfile "$pki/root.pem" \
    -verify_return_error >"$out/s_client.log" 2>&1 || { cat "$out/s_client.log" >&2; exit 1; }
grep -q 'Verify return code: 0 (ok)' "$out/s_client.log" || { cat "$out/s_client.log" >&2; exit 1; }
lab_tcpdump_stop starttls_missing_test "$out/cap.pcap" "$out/tcpdump.log"

cat > "$out/policy.yaml" <<EOF
services:
  - name: xmpp.lab.test
    ips: [127.0.0.1, 127.0.0.2]
    ports: [5222]
    starttls: xmpp
expect_issuers:
  - ca: STARTTLS Lab Root
trust:
  ca_files: [$pki/root.pem]
ct:
  min_scts: 0
alerts:
  suppress_window: 0
EOF
"$mw" -c "$out/policy.yaml" -r "$out/cap.pcap" -o "$out/events.json" 2>"$out/mitmwatch.log"

# `check` of the watched service without --starttls or a port: the policy's starttls (xmpp) on
# the service's port (5222). Without the key, the same command tries direct TLS on 443.
check_line() {
    local rc=0
    "$mw" check 127.0.0.1 --sni xmpp.lab.test --timeout 3000 --config "$1" >"$out/check.txt" \
        2>&1 || rc=$?
    echo "$rc $(sed 's/ time=[0-9]*\.[0-9]\{6\}s;/ time=Ts;/' "$out/check.txt")"
}
got=$(check_line "$out/policy.yaml")
want="0 MITMWATCH OK - 127.0.0.1:5222 xmpp: CN=xmpp.lab.test from CN=STARTTLS Lab Root,O=mitmwatch lab, expires in 30 days, 0 SCTs | time=Ts;;;0 days_to_expiry=30;21:;7:;0 scts=0;;;0"
if [ "$got" != "$want" ]; then
    printf 'FAIL check with the policy starttls\n   got: %s\n  want: %s\n' "$got" "$want"
    exit 1
fi
echo "ok   check speaks the service's STARTTLS on its port"
grep -v 'starttls: xmpp' "$out/policy.yaml" >"$out/policy-direct.yaml"
got=$(check_line "$out/policy-direct.yaml")
want="2 MITMWATCH CRITICAL - 127.0.0.1:443: connection refused by 127.0.0.1 port 443"
if [ "$got" != "$want" ]; then
    printf 'FAIL check without starttls\n   got: %s\n  want: %s\n' "$got" "$want"
    exit 1
fi
echo "ok   without the key: direct TLS on 443"

# A scheduled certificate probe of a watched service without /STARTTLS speaks its starttls
# (xmpp) on its first port (5222): the live sensor probes once at start.
cat > "$out/policy-probe.yaml" <<EOF
services:
  - name: localhost
    ports: [5222]
    starttls: xmpp
EOF
"$mw" -i lo -f 'tcp port 9' --stats-interval 0 -c "$out/policy-probe.yaml" \
    --probe cert:localhost -o "$out/probe.json" 2>"$out/probe.log" &
probe_pid=$!
pids+=($probe_pid)
for _ in $(seq 1 60); do
    grep -q '"mitmwatch.probe"' "$out/probe.json" 2>/dev/null && break
    sleep 0.1
done
kill -INT "$probe_pid" 2>/dev/null || true
wait "$probe_pid" 2>/dev/null || true
got=$("$py" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["dataset"] == "mitmwatch.probe":
        p = e["mitmwatch"]["probe"]
        print(e["event"]["outcome"], p["type"], p["target"], p["starttls"],
              e["tls"]["server"]["subject"])
' "$out/probe.json")
want="success cert localhost:5222 xmpp CN=xmpp.lab.test"
if [ "$got" != "$want" ]; then
    printf 'FAIL probe of the service\n   got: %s\n  want: %s\n' "$got" "$want"
    exit 1
fi
echo "ok   cert probe speaks the service's STARTTLS on its port"

"$py" - "$out/events.json" "$plain_port" "$check_port" "$stripped_port" <<'PYEOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
plain_port, check_port, stripped_port = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fails = 0
def check(what, got, want):
    global fails
    if got != want:
        fails += 1
        print(f"FAIL {what}:\n   got: {got!r}\n  want: {want!r}")
    else:
        print(f"ok   {what}")
alerts = [e for e in events if e["event"]["kind"] == "alert"]
check("alerts raised", [(a["rule"]["id"], a["source"]["port"]) for a in alerts],
      [("tls.starttls_missing", plain_port), ("tls.starttls_missing", stripped_port)])
if len(alerts) == 2:
    a = alerts[0]
    check("message", a["message"],
          "The XMPP session to xmpp.lab.test (127.0.0.1:5222) ended without TLS: the client "
          "never sent STARTTLS although the server offered it; 1 client command went out in "
          "plaintext.")
    check("expected", a["mitmwatch"]["expected"], {"starttls": "xmpp", "tls": True})
    check("observed", a["mitmwatch"]["observed"],
          {"protocol": "xmpp", "tls": False, "server_offered": True,
           "client_requested": False, "server_refused": False, "plaintext_commands": 1})
    check("service, destination, protocol, severity",
          (a["mitmwatch"]["service"], a["destination"]["ip"], a["destination"]["port"],
           a["network"]["protocol"], a["event"]["severity"], a["rule"]["name"]),
          ("xmpp.lab.test", "127.0.0.1", 5222, "xmpp", 3, "Session without STARTTLS"))
    a = alerts[1]
    check("stripped offer: message", a["message"],
          "The XMPP session to xmpp.lab.test (127.0.0.2:5222) ended without TLS: the server "
          "never offered STARTTLS (an interception box may have removed the offer); 1 client "
          "command went out in plaintext.")
    check("stripped offer: observed", a["mitmwatch"]["observed"],
          {"protocol": "xmpp", "tls": False, "server_offered": False,
           "client_requested": False, "server_refused": False, "plaintext_commands": 1})
tls = [e for e in events if e["event"]["dataset"] == "mitmwatch.tls"]
check("the upgraded session: one handshake, STARTTLS xmpp, TLS 1.2, certificate seen",
      [(t["mitmwatch"]["tls"]["starttls"], t["tls"]["version"],
        t["tls"]["server"]["x509"]["subject"]["common_name"]) for t in tls],
      [("xmpp", "1.2", ["xmpp.lab.test"])])
check("no event for the health check's flow",
      [e for e in events if e.get("source", {}).get("port") == check_port], [])
st = [e for e in events if e["event"]["dataset"] == "mitmwatch.stats"][-1]["mitmwatch"]["stats"]
check("STARTTLS flows, upgrades, refusals; handshakes judged; alerts",
      (st["starttls_flows"], st["starttls_upgrades"], st["starttls_refused"],
       st["verdicts"]["judged"], st["verdicts"]["alerts"]), (4, 1, 0, 1, 2))
print(f"{'FAILED' if fails else 'passed'}: {fails} failure(s)")
sys.exit(1 if fails else 0)
PYEOF
