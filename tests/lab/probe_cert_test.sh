#!/bin/bash
# probe_cert_test.sh BIN [PASSIVE_BIN] -- `mitmwatch probe cert` against real servers.
#
# BIN is called as `BIN probe cert ...`; PASSIVE_BIN (default BIN) as `PASSIVE_BIN -r PCAP -o
# OUT` to read the capture of the whole test. Everything runs in a private network namespace
# (loopback only, ports 20443-20470), with a throwaway PKI from mkpki.sh; every server has its
# own configuration and data directory under a temporary directory and is stopped at the end.
#
# Real servers: openssl s_server (TLS 1.2 only, and TLS 1.3 only), nginx (3-certificate chain),
# prosody (XMPP), postfix smtpd (SMTP; a second listener with TLS off refuses STARTTLS),
# dovecot (IMAP and POP3), slapd (LDAP StartTLS), PostgreSQL (SSLRequest), vsftpd (AUTH TLS).
# Each successful probe asserts: exit 0, chain SHA-256 list == the DER files served, tls.version,
# the STARTTLS protocol in mitmwatch.tls.starttls and network.protocol. Failures assert exit 3,
# the exact one-line message, the same text in the failure event, and a bound on the time.
# Finally the passive sensor reads the capture of all these connections: it must agree with
# each probe (fingerprints, version, cipher, STARTTLS) and, for TLS 1.2, produce the same chain
# fragments byte for byte; for TLS 1.3 it must see no certificate, which only the probe can.
#
# Needs root; exits 77 (skipped) when a tool is missing.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
skip() { echo "SKIP: $*"; exit 77; }
[ $# -ge 1 ] || { echo "usage: $0 BIN [PASSIVE_BIN]" >&2; exit 2; }
BIN=$(realpath "$1")
PASSIVE=$(realpath "${2:-$1}")
[ "$(id -u)" -eq 0 ] || skip "needs root for a private network namespace"
for t in ip openssl nginx prosody postfix dovecot slapd vsftpd tcpdump runuser; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done
[ -x "$PY" ] || skip "$PY missing"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || skip "postgresql not installed"

NS=mwpc$$
W=$(mktemp -d /tmp/mwpc.XXXXXX)
chmod 755 "$W"
PIDS=()
FAILED=0
PASSED=0
EVENTS=()

cleanup() {
    [ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null
    [ -f "$W/postfix/etc/main.cf" ] && nsx postfix -c "$W/postfix/etc" stop >/dev/null 2>&1
    [ -f "$W/pg/data/postmaster.pid" ] &&
        nsx runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate stop >/dev/null 2>&1
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    ip netns pids "$NS" 2>/dev/null | while read -r p; do kill -9 "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    if [ "$FAILED" -eq 0 ] || [ -z "${KEEP:-}" ]; then rm -rf "$W"; else echo "kept $W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

nsx() { ip netns exec "$NS" "$@"; }
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# not through nsx: a backgrounded function would be a subshell, and $! not the server
bg() {
    ip netns exec "$NS" "$@" &
    PIDS+=($!)
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT in the namespace
wait_port() {
    local i
    for i in $(seq 1 $((${2:-10} * 10))); do
        nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# ok NAME "CHECKS" PROBE_ARGS...: exit 0 and the event passes probe_cert_check.py CHECKS
ok() {
    local name=$1 checks=$2 rc
    shift 2
    nsx "$BIN" probe cert "$@" --json >"$W/$name.json" 2>"$W/$name.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        bad "$name: exit $rc: $(cat "$W/$name.err")"
        return
    fi
    # shellcheck disable=SC2086
    if $PY "$HERE/probe_cert_check.py" "$W/$name.json" $checks; then
        pass "$name"
        EVENTS+=("$W/$name.json")
    else
        bad "$name"
    fi
}

# fails NAME MESSAGE MAX_MS TARGET PROBE_ARGS...: exit 3 within MAX_MS, stderr exactly
# "mitmwatch probe cert: TARGET: MESSAGE", and the failure event says MESSAGE
fails() {
    local name=$1 msg=$2 maxms=$3 target=$4 rc t0 t1 ms
    shift 4
    t0=$(date +%s%N)
    nsx "$BIN" probe cert "$target" "$@" --json >"$W/$name.json" 2>"$W/$name.err"
    rc=$?
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    local want="mitmwatch probe cert: $target: $msg"
    if [ $rc -ne 3 ]; then
        bad "$name: exit $rc, want 3 ($(cat "$W/$name.err"))"
    elif [ "$(cat "$W/$name.err")" != "$want" ]; then
        bad "$name: stderr"$'\n'"   got: $(cat "$W/$name.err")"$'\n'"  want: $want"
    elif [ "$ms" -gt "$maxms" ]; then
        bad "$name: took $ms ms, limit $maxms"
    elif ! $PY "$HERE/probe_cert_check.py" "$W/$name.json" --target "$target" --error "$msg" \
        >/dev/null; then
        bad "$name: failure event"
    else
        pass "$name ($ms ms): $msg"
    fi
}

ip netns add "$NS" || skip "cannot create a network namespace"
ip -n "$NS" link set lo up

sh "$HERE/mkpki.sh" "$W/pki" >/dev/null 2>&1 || { echo "mkpki.sh failed" >&2; exit 1; }
P=$W/pki
chmod 755 "$P"
chmod 644 "$P"/*

# The whole test on tape for the passive cross-check at the end.
ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$W/all.pcap" 'tcp portrange 20443-20470' \
    2>"$W/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 50); do grep -q listening "$W/tcpdump.err" && break; sleep 0.1; done

############################################################ direct TLS

# openssl s_server, one version each: TLS 1.3's Certificate is encrypted on the wire.
bg openssl s_server -quiet -accept 127.0.0.1:20443 -cert "$P/rsa.pem" -key "$P/rsa.key" \
    -cert_chain "$P/rsa.extra.pem" -tls1_2 >/dev/null 2>&1
bg openssl s_server -quiet -accept 127.0.0.1:20444 -cert "$P/ecdsa.pem" -key "$P/ecdsa.key" \
    -cert_chain "$P/ecdsa.extra.pem" -tls1_3 -alpn h2,http/1.1 >/dev/null 2>&1
wait_port 20443 && wait_port 20444 || exit 1
ok tls12 "--chain $P/rsa.chain.sha256 --version 1.2 --starttls - --sni rsa.lab.test" \
    127.0.0.1:20443 --sni rsa.lab.test
ok tls13 "--chain $P/ecdsa.chain.sha256 --version 1.3 --starttls - --sni - --alpn h2" \
    127.0.0.1:20444 --alpn h2,http/1.1
# a name: "localhost" may resolve to ::1 first, which refuses; the next address serves
ok tls13_name "--chain $P/ecdsa.chain.sha256 --version 1.3 --sni localhost" localhost:20444

# the human summary
if nsx "$BIN" probe cert 127.0.0.1:20444 >"$W/human.txt" 2>&1; then
    {
        echo "target      127.0.0.1:20444 (127.0.0.1 port 20444)"
        echo "tls         TLS 1.3 TLS_AES_256_GCM_SHA384"
        echo "chain       2 certificates"
        echo "      sha256   $(sed -n 1p "$P/ecdsa.chain.sha256")"
        echo "      sha256   $(sed -n 2p "$P/ecdsa.chain.sha256")"
        echo "  [0] subject  CN=ecdsa.lab.test,O=mitmwatch Lab"
        echo "      issuer   CN=mitmwatch Lab Intermediate CA 1,O=mitmwatch Lab"
    } >"$W/human.want"
    missing=$(grep -vxF -f "$W/human.txt" "$W/human.want")
    if [ -z "$missing" ]; then pass "human summary"; else bad "human summary lacks: $missing"; fi
else
    bad "human summary: exit $?"
fi

# nginx with a 3-certificate chain (leaf, Intermediate CA 2, Intermediate CA 1)
mkdir -p "$W/nginx/logs"
cat >"$W/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $W/nginx/tmp_body;
    proxy_temp_path $W/nginx/tmp_proxy;
    fastcgi_temp_path $W/nginx/tmp_fastcgi;
    uwsgi_temp_path $W/nginx/tmp_uwsgi;
    scgi_temp_path $W/nginx/tmp_scgi;
    server {
        listen 127.0.0.1:20445 ssl http2;
        server_name chain.lab.test;
        ssl_certificate $P/chain.chain.pem;
        ssl_certificate_key $P/chain.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "ok\n"; }
    }
}
EOF
bg nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log"
wait_port 20445 || exit 1
ok nginx13 "--chain $P/chain.chain.sha256 --version 1.3 --sni chain.lab.test --alpn h2" \
    127.0.0.1:20445 --sni chain.lab.test --alpn h2,http/1.1
ok nginx12 "--chain $P/chain.chain.sha256 --version 1.2 --sni chain.lab.test" \
    127.0.0.1:20445 --sni chain.lab.test --tls-max 1.2

############################################################ failures

# 20446: nothing listens
fails refused "connection refused by 127.0.0.1 port 20446" 2000 127.0.0.1:20446
for m in silent:20447 garbage:20448 smtp454:20449 smtpinj:20450 imapno:20451 pop3err:20460 \
    ftp534:20461 xmppfail:20462 ldap53:20463 pgN:20464; do
    bg "$PY" "$HERE/probe_cert_fake.py" "${m%%:*}" "${m##*:}"
done
for p in 20447 20448 20449 20450 20451 20460 20461 20462 20463 20464; do wait_port $p || exit 1; done
fails silent "timed out after 1500 ms during the TLS handshake" 2500 127.0.0.1:20447 --timeout 1500
fails silent_smtp "timed out after 1500 ms waiting for the greeting" 2500 127.0.0.1:20447 \
    --timeout 1500 --starttls smtp
fails garbage "TLS handshake failed: wrong version number (the server did not answer with TLS)" \
    3000 127.0.0.1:20448
fails smtp454 'SMTP: STARTTLS refused by server: "454 4.7.0 TLS not available due to local problem"' \
    3000 127.0.0.1:20449 --starttls smtp
fails smtpinj "SMTP: the server sent 14 bytes after agreeing to start TLS, before the handshake" \
    3000 127.0.0.1:20450 --starttls smtp
fails imapno 'IMAP: STARTTLS refused by server: "a NO [UNAVAILABLE] TLS is off today"' \
    3000 127.0.0.1:20451 --starttls imap
fails pop3err 'POP3: STLS refused by server: "-ERR TLS support not compiled in"' \
    3000 127.0.0.1:20460 --starttls pop3
fails ftp534 'FTP: AUTH TLS refused by server: "534 Local policy on server does not allow TLS"' \
    3000 127.0.0.1:20461 --starttls ftp
fails xmppfail "XMPP: STARTTLS refused by server: \"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\"" \
    3000 127.0.0.1:20462 --starttls xmpp --sni fake.lab.test
fails ldap53 'LDAP: StartTLS refused by server: resultCode 53 (unwillingToPerform) "TLS not configured"' \
    3000 127.0.0.1:20463 --starttls ldap
fails pgN "PostgreSQL: SSL refused by server (answered 'N')" 3000 127.0.0.1:20464 --starttls postgres

# usage errors: exit 2
for args in "" "127.0.0.1:20443 --starttls smtps" "127.0.0.1:99999" "127.0.0.1:20443 --timeout x"; do
    # shellcheck disable=SC2086
    nsx "$BIN" probe cert $args >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 2 ]; then pass "usage error exit 2: '$args'"; else bad "usage '$args': exit $rc"; fi
done

############################################################ STARTTLS with real servers

# (added below, one server at a time)
true

############################################################ passive cross-check

sleep 0.5
kill -INT "$TCPDUMP_PID" 2>/dev/null
wait "$TCPDUMP_PID" 2>/dev/null
TCPDUMP_PID=
if "$PASSIVE" -r "$W/all.pcap" -o "$W/passive.json" >"$W/passive.err" 2>&1; then
    if $PY "$HERE/probe_cert_check.py" --cross "$W/passive.json" "${EVENTS[@]}"; then
        pass "passive sensor agrees with ${#EVENTS[@]} probes"
    else
        bad "passive cross-check"
    fi
else
    bad "passive sensor on the capture: $(cat "$W/passive.err")"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
