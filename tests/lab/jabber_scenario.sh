#!/bin/bash
# The jabber.ru case, replayed (end to end). In 2023 a box on the hoster's network in front of
# jabber.ru obtained genuine Let's Encrypt certificates for the domain and terminated the
# clients' STARTTLS sessions on port 5222 with them; every other port went through untouched.
# Here, in network namespaces with documentation addresses only (lab_path_topology):
#
#   c 192.0.2.2 ─ r1 ─────────────────── r2 ─ s 203.0.113.2  prosody c2s :5222 (genuine cert)
#                  └── m (terminates 5222) ┘                  nginx :443 (genuine cert)
#
# PKI (jabber_pki.py): test root -> "R3" of "Let's Encrypt Test" -> the genuine certificate
# (certbot store live/ + archive/), the attacker's (same CA, same name, valid) and the
# attacker's expired one. mitmwatch captures live on c's veth with policy.yaml and --state.
#   A        clean: slixmpp logins, s_client -starttls xmpp, curl to 443, `mitmwatch check`
#            (OK, exit 0), `probe trace` (one path): baselines learned, no alert.
#   B        r1/r2 divert 5222 (only) to m, whose own prosody serves the attacker's
#            certificate for 203.0.113.2:5222; the same clients log in and, like the jabber.ru
#            users, accept it (it chains to the trusted root). Exactly: cert.unknown and
#            path.ttl_changed (learned and per port: m is one hop closer) on 5222, nothing on
#            443; check CRITICAL (exit 2) naming the attacker's certificate; then m serves the
#            expired certificate: cert.expired and cert.unknown; probe trace: 5222 ends at m.
#            Every handshake m answered lists its rules (mitmwatch.verdict.rules). check's
#            TLS 1.3 handshake (certificate hidden, path changed) triggers a certificate fetch
#            from 203.0.113.2:5222 with STARTTLS: m's certificate, linked to that handshake.
#   legacy   A's state; a legacy client (s_client -tls1_2, its own two suites) that connected
#            three times in A connects once through a box that terminates 5222 with another
#            TLS configuration (xmpp_tls_proxy.py legacy): tls.ja3s_changed.
#   anon     the box offers only anonymous suites (xmpp_tls_proxy.py anon), like the jabber.ru
#            proxy: the XMPP client that completed three logins with the server (this run: the
#            completions are not kept in --state) fails twice: tls.handshake_failures.
#   tls13    A's state; 443 diverted to m, which answers TLS 1.3 only (openssl s_server) with
#            the attacker's certificate: the certificate is invisible on the wire, the changed
#            path triggers a fetch, and the fetched certificate raises cert.unknown and
#            probe.cert_mismatch linked to the handshake; later handshakes are rate-limited.
#   control  B's steps from A's state without the divert: no alert, no fetch, check OK.
#   jabber_scenario.sh MITMWATCH WORKDIR       exit 0 pass, 1 fail, 77 skipped
set -u
MW=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab_lib.sh"
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, live capture)"; exit 77; }
for t in ip ss jq openssl nginx prosody prosodyctl curl timeout $PY; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
$PY -c 'import slixmpp, cryptography' 2>/dev/null || { echo "SKIP: python3-slixmpp/cryptography"; exit 77; }
rm -rf "$2" && mkdir -p "$2" && W=$(cd "$2" && pwd) && cd "$W" || exit 1
T0=$(date +%s)
PKI=$W/pki STORE=$W/pki/letsencrypt SRV=203.0.113.2
$PY "$HERE/jabber_pki.py" "$PKI" || exit 1
fact() { jq -r ".$1" "$PKI/facts.json"; }

PIDS="" MITM_PID="" MITM_CERT="" MITM_PORT=5222 MWP=""
# The sensor drops privileges (lab_sensor_user), then writes its state files: in a directory
# that user owns (copied here at the end).
SD=$(lab_sensor_dir jabber_scenario) || exit 1
cleanup() {
    for p in $MWP $MITM_PID $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    lab_path_teardown
    cp -a "$SD"/. "$W"/ 2>/dev/null
    rm -rf "$SD"
}
trap cleanup EXIT
lab_path_topology mwjr$$ || { echo "SKIP: cannot create network namespaces"; exit 77; }
# m answers for the server's address itself: whatever is diverted to it, it terminates.
lab_ns m ip route add local $SRV/32 dev lo

fail=0 pass=0
check() { if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); printf 'FAIL %s\n  got:  %s\n  want: %s\n' "$1" "$2" "$3"; fi; }
die() { echo "FAIL: $*"; exit 1; }
listening() { # NS PORT: wait until something listens on SRV:PORT in namespace NS
    for _ in $(seq 100); do lab_ns "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0; sleep 0.05; done
    die "nothing listens on $1 $SRV:$2"
}
prosody_run() { # NS DIR CERT: prosody for xmpp.lab.test on SRV:5222 with CERT, user alice
    lab_prosody_conf "$2" $SRV 5222 "" "$PKI/$3.chain.pem" "$PKI/$3.key" xmpp.lab.test
    prosodyctl --config "$2/prosody.cfg.lua" register alice xmpp.lab.test s3cret >/dev/null 2>&1 ||
        die "prosodyctl register in $2"
    ip netns exec "$LAB_NS$1" prosody -F --config "$2/prosody.cfg.lua" </dev/null >"$2/stdout.log" 2>&1 &
    last_pid=$!
    listening "$1" 5222
}
mitm_stop() {
    if [ -n "$MITM_PID" ]; then
        kill "$MITM_PID"; wait "$MITM_PID" 2>/dev/null
        for _ in $(seq 100); do lab_ns m ss -Hltn "sport = :$MITM_PORT" | grep -q LISTEN || break; sleep 0.05; done
    fi
    MITM_PID="" MITM_CERT=""
}
mitm_serve() { # CERT: (re)start m's prosody with CERT
    [ "$MITM_CERT" = "$1" ] && return 0
    mitm_stop
    prosody_run m "$W/mitm-$1" "$1"
    MITM_PID=$last_pid MITM_CERT=$1 MITM_PORT=5222
}
mitm_proxy() { # legacy|anon: m terminates 5222 with xmpp_tls_proxy.py instead of prosody
    mitm_stop
    ip netns exec "${LAB_NS}m" $PY "$HERE/xmpp_tls_proxy.py" $SRV 5222 "$1" \
        "$PKI/attacker.chain.pem" "$PKI/attacker.key" >"proxy-$1.log" 2>&1 &
    MITM_PID=$! MITM_CERT=proxy-$1 MITM_PORT=5222
    listening m 5222
}
mitm_tls13() { # m answers 443 with TLS 1.3 only and the attacker's certificate
    mitm_stop
    ip netns exec "${LAB_NS}m" openssl s_server -accept $SRV:443 -tls1_3 -www -quiet \
        -cert "$PKI/attacker.pem" -cert_chain "$PKI/attacker.chain.pem" -key "$PKI/attacker.key" \
        >"tls13-server.log" 2>&1 </dev/null &
    MITM_PID=$! MITM_CERT=tls13 MITM_PORT=443
    listening m 443
}

# ---------------------------------------------------------------- servers
# (background commands run as `ip netns exec NS CMD &`, not through lab_ns, so that $! is the
# command itself: ip execs it, a shell function would not)
prosody_run s "$W/prosody" genuine
PIDS="$PIDS $last_pid"
ng=$W/nginx
mkdir -p "$ng/tmp" "$ng/logs"
{
    lab_nginx_head "$ng"
    cat <<EOF
    server {
        listen $SRV:443 ssl;
        server_name xmpp.lab.test;
        ssl_certificate $PKI/genuine.chain.pem;
        ssl_certificate_key $PKI/genuine.key;
        location / { return 200 "jabber lab\n"; }
    }
}
EOF
} >"$ng/nginx.conf"
ip netns exec "${LAB_NS}s" nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log" &
PIDS="$PIDS $!"
listening s 443

cat >policy.yaml <<EOF
# The admins' policy for their XMPP host (jabber_scenario.sh)
version: 1
observer: jabber-lab
services:
  - name: xmpp.lab.test
    ports: [5222]
    ips: [$SRV]      # clients that send no SNI (slixmpp dialling an address) match by address
    starttls: xmpp
  - name: xmpp.lab.test
    ports: [443]
expect_issuers:
  - ca: "Let's Encrypt Test"
known_certs: [$STORE]
trust:
  ca_files: [$PKI/root.pem]
  system: false
ct:
  min_scts: 0
EOF

# ---------------------------------------------------------------- clients (in c)
n=0
login() { # a real XMPP login (SASL, bind, message to self) over STARTTLS, verified
    n=$((n + 1))
    lab_ns c timeout 20 $PY "$HERE/xmpp_login.py" alice@xmpp.lab.test s3cret $SRV 5222 \
        "$PKI/root.pem" >"client-$n.log" 2>&1 || { cat "client-$n.log"; die "XMPP login $n"; }
}
xmpp_sclient() { # s_client -starttls xmpp (TLS 1.2); prints the client's verify result
    n=$((n + 1))
    (sleep 0.5) | lab_ns c timeout 10 openssl s_client -connect $SRV:5222 -starttls xmpp \
        -xmpphost xmpp.lab.test -servername xmpp.lab.test -no_tls1_3 \
        -CAfile "$PKI/root.pem" >"client-$n.log" 2>&1
    grep -q '^New, TLSv1.2' "client-$n.log" || { cat "client-$n.log"; die "s_client $n"; }
    sed -n 's/^ *Verify return code: //p' "client-$n.log" | tail -n 1
}
legacy() { # a legacy client kind: s_client -starttls xmpp, TLS 1.2, its own two suites
    n=$((n + 1))
    (sleep 0.3) | lab_ns c timeout 10 openssl s_client -connect $SRV:5222 -starttls xmpp \
        -xmpphost xmpp.lab.test -servername xmpp.lab.test -tls1_2 \
        -cipher ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA >"client-$n.log" 2>&1
    grep -q '^New, TLS' "client-$n.log" || { cat "client-$n.log"; die "legacy s_client $n"; }
}
login_fails() { # an XMPP login that must fail (its TLS handshake is refused)
    n=$((n + 1))
    lab_ns c timeout 8 $PY "$HERE/xmpp_login.py" alice@xmpp.lab.test s3cret $SRV 5222 \
        "$PKI/root.pem" >"client-$n.log" 2>&1 && { cat "client-$n.log"; die "XMPP login $n succeeded"; }
    return 0
}
web13() { # curl, TLS 1.3 only (the certificate travels encrypted)
    n=$((n + 1))
    lab_ns c timeout 10 curl -sS -o /dev/null -w '%{http_code}' --tlsv1.3 --cacert "$PKI/root.pem" \
        --resolve xmpp.lab.test:443:$SRV https://xmpp.lab.test/ >"client-$n.log" 2>&1
    [ "$(cat "client-$n.log")" = 200 ] || { cat "client-$n.log"; die "curl TLS 1.3 $n"; }
}
web() {
    n=$((n + 1))
    lab_ns c timeout 10 curl -sS --tls-max 1.2 --cacert "$PKI/root.pem" \
        --resolve xmpp.lab.test:443:$SRV https://xmpp.lab.test/ >"client-$n.log" 2>&1
    [ "$(cat "client-$n.log")" = "jabber lab" ] || { cat "client-$n.log"; die "curl $n"; }
}
nagios() { # mitmwatch check from c: the status line, then the exit code
    lab_ns c "$MW" check $SRV:5222 --starttls xmpp --sni xmpp.lab.test --known-certs "$STORE" \
        --ca-file "$PKI/root.pem" --expect-issuer "Let's Encrypt Test"
    echo "exit $?"
}
trace() {
    lab_ns c "$MW" probe trace $SRV:443,5222 --json >"trace-$1.json" 2>"trace-$1.err" ||
        { cat "trace-$1.err"; die "probe trace ($1)"; }
    jq -c '.mitmwatch.path | [.ports_differ, [.ports[] | [.port, .final, .path]]]' "trace-$1.json"
}
wait_probe() { # PHASE: until the phase's triggered fetch is out (its mitmwatch.probe event)
    for _ in $(seq 100); do
        grep -q '"dataset":"mitmwatch.probe"' "events-$1.json" 2>/dev/null && return 0
        sleep 0.05
    done
    die "no triggered certificate fetch in phase $1"
}
sensor() { # start|stop PHASE: mitmwatch live on c's veth, the policy, a state file per run
    if [ "$1" = start ]; then
        ip netns exec "${LAB_NS}c" "$MW" -i ceth -c policy.yaml --state "$SD/state-$2.msgpack" --learn-flows 4 \
            --stats-interval 0 -o "events-$2.json" 2>"mw-$2.err" &
        MWP=$!
        for _ in $(seq 100); do lab_ns c ss -0 -Hp | grep -q "pid=$MWP," && break; sleep 0.05; done
        sleep 0.3
    else
        sleep 0.5
        kill -TERM "$MWP"
        wait "$MWP" || { cat "mw-$2.err"; die "mitmwatch ($2) failed"; }
        MWP=""
    fi
}
mitm_serve attacker

# ---------------------------------------------------------------- phase A: clean
echo "== phase A: clean path, genuine certificate"
sensor start A
web; web
login; login; login
check "A: s_client verifies the genuine certificate" "$(xmpp_sclient)" "0 (ok)"
A_CHECK=$(nagios)
legacy; legacy; legacy
web; web
sensor stop A
A_TRACE=$(trace A)

phase_b() { # PHASE divert(on|off)
    cp "$SD/state-A.msgpack" "$SD/state-$1.msgpack"
    mitm_serve attacker
    sensor start "$1"
    web; web
    [ "$2" = on ] && lab_path_divert 5222 on
    login; login
    B_VERIFY1=$(xmpp_sclient)
    B_CHECK=$(nagios)
    [ "$2" = on ] && wait_probe "$1" # the fetch check's handshake triggered, before m changes
    mitm_serve expired
    B_VERIFY2=$(xmpp_sclient)
    web
    sensor stop "$1"
    B_TRACE=$(trace "$1")
    [ "$2" = on ] && lab_path_divert 5222 off
    return 0
}
echo "== phase B: 5222 diverted to m, which terminates it with the attacker's certificates"
phase_b B on
B=("$B_VERIFY1" "$B_CHECK" "$B_VERIFY2" "$B_TRACE")
echo "== control: the same steps without the divert"
phase_b C off
C=("$B_VERIFY1" "$B_CHECK" "$B_VERIFY2" "$B_TRACE")

echo "== legacy: a box with another TLS configuration answers the legacy client"
cp "$SD/state-A.msgpack" "$SD/state-L.msgpack"
mitm_proxy legacy
sensor start L
lab_path_divert 5222 on
legacy
lab_path_divert 5222 off
sensor stop L

echo "== anon: the box offers only anonymous suites"
cp "$SD/state-A.msgpack" "$SD/state-N.msgpack"
mitm_proxy anon
sensor start N
login; login; login # the client kind completes three handshakes with the server
lab_path_divert 5222 on
login_fails; login_fails
lab_path_divert 5222 off
sensor stop N

echo "== tls13: 443 answered by m with TLS 1.3 only"
cp "$SD/state-A.msgpack" "$SD/state-T.msgpack"
mitm_tls13
sensor start T
lab_path_divert 443 on
web13
wait_probe T
web13
lab_path_divert 443 off
sensor stop T

# ---------------------------------------------------------------- verdicts
$PY "$HERE/jabber_check.py" "$PKI/facts.json" events-A.json events-B.json events-C.json \
    events-L.json events-N.json events-T.json
c=$?; [ $c = 0 ] && pass=$((pass+1)) || fail=$((fail+1))
G=$(fact genuine.sha256) A=$(fact attacker.sha256)
check "B: the client accepts the attacker's certificate (chains to the root)" "${B[0]}" "0 (ok)"
check "B: and the expired one too (s_client goes on)" "${B[2]}" "10 (certificate has expired)"
check "control: genuine certificate" "${C[0]} / ${C[2]}" "0 (ok) / 0 (ok)"
echo "$A_CHECK"; echo "${B[1]}"
OK_LINE="MITMWATCH OK - $SRV:5222 xmpp: CN=xmpp.lab.test from CN=R3,O=Let's Encrypt Test, expires in 80 days, 0 SCTs"
check "A: mitmwatch check OK, exit 0" "${A_CHECK%% | *} ${A_CHECK##*exit }" "$OK_LINE 0"
check "A: perfdata" "$(echo "${A_CHECK#* | }" | head -n 1 | sed 's/^time=[0-9]*\.[0-9]\{6\}s;;;0 //')" \
    "days_to_expiry=80;21:;7:;0 scts=0;;;0"
check "B: mitmwatch check CRITICAL naming the attacker's certificate" "${B[1]%% | *}" \
    "MITMWATCH CRITICAL - $SRV:5222 xmpp: cert.unknown: The certificate with SHA-256 $A presented for xmpp.lab.test (issued by CN=R3,O=Let's Encrypt Test on $(fact attacker.not_before)) is none of the 2 certificates the known store holds for that name (3 in the store): someone else obtained or made it."
check "B: exit 2" "${B[1]##*exit }" 2
check "control: check OK, exit 0" "${C[1]%% | *} ${C[1]##*exit }" "$OK_LINE 0"
echo "trace A: $A_TRACE"; echo "trace B: ${B[3]}"
DIRECT='"syn-ack",["192.0.2.1","198.51.100.2","203.0.113.2"]'
check "A: probe trace, one path for both ports" "$A_TRACE" "[false,[[443,$DIRECT],[5222,$DIRECT]]]"
check "B: probe trace, 5222 ends at m (one hop short)" "${B[3]}" \
    "[true,[[443,$DIRECT],[5222,\"syn-ack\",[\"192.0.2.1\",\"203.0.113.2\"]]]]"
check "control: probe trace, one path" "${C[3]}" "$A_TRACE"
echo "genuine $G attacker $A expired $(fact expired.sha256)"
echo "$pass passed, $fail failed in $(( $(date +%s) - T0 )) s"
[ $fail = 0 ]
