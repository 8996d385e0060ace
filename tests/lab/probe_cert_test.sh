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
. "$HERE/lab_lib.sh"
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
# Not under the build directory: postfix, dovecot, postgres and vsftpd drop privileges and must
# reach their files wherever the clone is (lab_srvdir: /tmp/mitmwatch-lab.XXXXXX, 0755).
W=$(lab_srvdir probe_cert_test) || exit 1
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
    disown $!
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
ip netns exec "$NS" tcpdump --immediate-mode -B 16384 -i lo -U -s 0 -w "$W/all.pcap" 'tcp portrange 20443-20470' \
    2>"$W/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 1 50); do grep -qs listening "$W/tcpdump.err" && break; sleep 0.1; done

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
        listen [::1]:20445 ssl http2;
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

# IPv6: the same nginx on [::1]
ok nginx_v6 "--chain $P/chain.chain.sha256 --version 1.3 --expect network.type=\"ipv6\"
    --expect destination.ip=\"::1\" --target [::1]:20445" [::1]:20445 --sni chain.lab.test

# A stapled OCSP response (openssl ocsp, signed by Intermediate CA 1) and an SCT in the TLS
# extension (made up: the probe records SCTs, it does not verify them), for TLS 1.2 where they
# ride in CertificateStatus and the ServerHello, and TLS 1.3 where both are inside the
# encrypted Certificate message.
mkdir -p "$W/ocsp"
serial=$(openssl x509 -in "$P/rsa.pem" -noout -serial | cut -d= -f2)
printf 'V\t361231000000Z\t\t%s\tunknown\t/O=mitmwatch Lab/CN=rsa.lab.test\n' "$serial" \
    >"$W/ocsp/index.txt"
openssl ocsp -issuer "$P/int1.pem" -cert "$P/rsa.pem" -no_nonce -reqout "$W/ocsp/req.der" \
    >/dev/null 2>&1
openssl ocsp -index "$W/ocsp/index.txt" -rsigner "$P/int1.pem" -rkey "$P/int1.key" \
    -CA "$P/int1.pem" -reqin "$W/ocsp/req.der" -respout "$W/ocsp/resp.der" -ndays 7 \
    >/dev/null 2>&1 || bad "openssl ocsp could not make a response"
SCT_LOG=$("$PY" - "$W/ocsp/sct.pem" <<'EOF'
import base64, hashlib, struct, sys
log_id = hashlib.sha256(b"mitmwatch lab log").digest()
sig = bytes(range(8))
sct = b"\x00" + log_id + struct.pack(">Q", 1700000000123) + b"\x00\x00" + b"\x04\x03" + \
    struct.pack(">H", len(sig)) + sig
lst = struct.pack(">H", len(sct)) + sct
data = struct.pack(">H", len(lst)) + lst
# SERVERINFOV2: context (ClientHello, TLS 1.2 ServerHello, TLS 1.3 Certificate), type 18
blob = struct.pack(">IHH", 0x1180, 18, len(data)) + data
with open(sys.argv[1], "w") as f:
    f.write("-----BEGIN SERVERINFOV2 FOR signed_certificate_timestamp-----\n")
    f.write(base64.encodebytes(blob).decode())
    f.write("-----END SERVERINFOV2 FOR signed_certificate_timestamp-----\n")
print(base64.b64encode(log_id).decode())
EOF
)
SCTS="[{\"log_id\":\"$SCT_LOG\",\"timestamp\":\"2023-11-14T22:13:20.123Z\",\"source\":\"tls\",\"status\":\"unverified\"}]"
for v in 2:20466 3:20467; do
    bg openssl s_server -quiet -accept "127.0.0.1:${v#*:}" -cert "$P/rsa.pem" -key "$P/rsa.key" \
        -cert_chain "$P/rsa.extra.pem" "-tls1_${v%%:*}" -status_file "$W/ocsp/resp.der" \
        -serverinfo "$W/ocsp/sct.pem" >"$W/ocsp/s_server${v%%:*}.log" 2>&1
done
wait_port 20466 && wait_port 20467 || exit 1
ok ocsp_sct12 "--chain $P/rsa.chain.sha256 --version 1.2 --expect mitmwatch.tls.ocsp_stapled=true
    --expect mitmwatch.tls.scts=$SCTS" 127.0.0.1:20466
ok ocsp_sct13 "--chain $P/rsa.chain.sha256 --version 1.3 --expect mitmwatch.tls.ocsp_stapled=true
    --expect mitmwatch.tls.scts=$SCTS" 127.0.0.1:20467
# without them: the fields say so
ok no_ocsp_sct "--expect mitmwatch.tls.ocsp_stapled=\"<absent>\" --expect mitmwatch.tls.scts=[]" \
    127.0.0.1:20443

############################################################ failures

# 20446: nothing listens
fails refused "connection refused by 127.0.0.1 port 20446" 2000 127.0.0.1:20446
for m in silent:20447 garbage:20448 smtp454:20449 smtpinj:20450 imapno:20451 pop3err:20460 \
    ftp534:20461 xmppfail:20462 ldap53:20463 pgN:20464 close:20469; do
    bg "$PY" "$HERE/probe_cert_fake.py" "${m%%:*}" "${m##*:}"
done
for p in 20447 20448 20449 20450 20451 20460 20461 20462 20463 20464 20469; do wait_port $p || exit 1; done
fails silent "timed out after 1500 ms during the TLS handshake" 2500 127.0.0.1:20447 --timeout 1500
fails silent_smtp "SMTP: timed out after 1500 ms waiting for the greeting" 2500 127.0.0.1:20447 \
    --timeout 1500 --starttls smtp
fails silent_xmpp "XMPP: timed out after 1000 ms waiting for the stream features" 2000 \
    127.0.0.1:20447 --timeout 1000 --starttls xmpp
fails close_imap "IMAP: the server closed the connection (waiting for the greeting)" 3000 \
    127.0.0.1:20469 --starttls imap
fails close_tls "TLS handshake failed: the server closed the connection" 3000 127.0.0.1:20469
fails smtp_is_pop3 'SMTP: unexpected reply (waiting for the greeting): "+OK fake POP3 ready"' 3000 \
    127.0.0.1:20460 --starttls smtp
# a TLS server with nothing in common with us: its alert is the cause
bg openssl s_server -quiet -accept 127.0.0.1:20468 -cert "$P/rsa.pem" -key "$P/rsa.key" -tls1_3 \
    -ciphersuites TLS_AES_128_CCM_8_SHA256 >/dev/null 2>&1
wait_port 20468 || exit 1
fails alert "TLS handshake failed: the server sent alert handshake failure (40)" 3000 \
    127.0.0.1:20468
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

# prosody: XMPP c2s, STARTTLS offered; the stream goes to= the SNI (or the host)
lab_prosody_conf "$W/prosody" 127.0.0.1 20452 "" "$P/chain.chain.pem" "$P/chain.key" chain.lab.test
bg prosody -F --config "$W/prosody/prosody.cfg.lua" >"$W/prosody/fg.log" 2>&1

# postfix smtpd: its own config, queue and data directories; 20453 offers STARTTLS,
# 20465 has TLS off and refuses it
mkdir -p "$W/postfix/etc" "$W/postfix/spool" "$W/postfix/data"
chown postfix "$W/postfix/data"
cat >"$W/postfix/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $W/postfix/spool
data_directory = $W/postfix/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.lab.test
mydomain = lab.test
mydestination =
inet_interfaces = 127.0.0.1, [::1]
inet_protocols = all
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
maillog_file = $W/postfix/maillog
maillog_file_prefixes = $W
smtpd_banner = \$myhostname ESMTP mitmwatch-lab
smtpd_tls_chain_files = $P/rsa.key, $P/rsa.chain.pem
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
default_transport = discard
EOF
cat >"$W/postfix/etc/master.cf" <<EOF
127.0.0.1:20453 inet n - n - - smtpd
[::1]:20453 inet n - n - - smtpd
127.0.0.1:20465 inet n - n - - smtpd -o smtpd_tls_security_level=none
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
nsx postfix -c "$W/postfix/etc" start >"$W/postfix/start.log" 2>&1 ||
    echo "postfix start: $(cat "$W/postfix/start.log")" >&2

# dovecot: IMAP and POP3 with its own base_dir and instance name
mkdir -p "$W/dovecot/run" "$W/dovecot/state"
cat >"$W/dovecot/dovecot.conf" <<EOF
base_dir = $W/dovecot/run
state_dir = $W/dovecot/state
instance_name = $NS
protocols = imap pop3
listen = 127.0.0.1
log_path = $W/dovecot/dovecot.log
ssl = yes
ssl_cert = <$P/ecdsa.chain.pem
ssl_key = <$P/ecdsa.key
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/dovecot/home/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 20454
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 20455
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
bg dovecot -F -c "$W/dovecot/dovecot.conf" >"$W/dovecot/fg.log" 2>&1

# slapd: LDAP with StartTLS, its own slapd.conf and database directory
mkdir -p "$W/slapd/db"
cat >"$W/slapd/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
pidfile $W/slapd/slapd.pid
argsfile $W/slapd/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $P/chain.chain.pem
TLSCertificateKeyFile $P/chain.key
TLSProtocolMin 3.3
database mdb
suffix "dc=lab,dc=test"
rootdn "cn=admin,dc=lab,dc=test"
directory $W/slapd/db
maxsize 10485760
EOF
bg slapd -d 0 -f "$W/slapd/slapd.conf" -h "ldap://127.0.0.1:20456/" >"$W/slapd/fg.log" 2>&1

# PostgreSQL: a fresh cluster owned by postgres, SSL on
mkdir -p "$W/pg"
cp "$P/rsa.chain.pem" "$W/pg/server.crt"
cp "$P/rsa.key" "$W/pg/server.key"
chown -R postgres "$W/pg"
chmod 600 "$W/pg/server.key"
if runuser -u postgres -- "$PGBIN/initdb" -D "$W/pg/data" -A trust -U postgres --no-sync \
    >"$W/pg/initdb.log" 2>&1; then
    nsx runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/pg.log" -w -t 30 \
        -o "-p 20457 -k $W/pg -c listen_addresses=127.0.0.1 -c ssl=on \
            -c ssl_cert_file=$W/pg/server.crt -c ssl_key_file=$W/pg/server.key" \
        start >"$W/pg/start.log" 2>&1 || echo "pg_ctl start: $(cat "$W/pg/start.log")" >&2
else
    echo "initdb: $(cat "$W/pg/initdb.log")" >&2
fi

# vsftpd: standalone, explicit FTPS (AUTH TLS)
mkdir -p "$W/vsftpd/empty" "$W/vsftpd/anon"
cat >"$W/vsftpd/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=20458
background=NO
anonymous_enable=YES
anon_root=$W/vsftpd/anon
no_anon_password=YES
local_enable=NO
write_enable=NO
secure_chroot_dir=$W/vsftpd/empty
nopriv_user=nobody
ssl_enable=YES
allow_anon_ssl=YES
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=NO
rsa_cert_file=$P/ecdsa.chain.pem
rsa_private_key_file=$P/ecdsa.key
ssl_ciphers=HIGH
seccomp_sandbox=NO
vsftpd_log_file=$W/vsftpd/vsftpd.log
EOF
bg vsftpd "$W/vsftpd/vsftpd.conf" >"$W/vsftpd/fg.log" 2>&1

for p in 20452 20453 20454 20455 20456 20457 20458 20465; do wait_port $p 20 || bad "port $p"; done

ok xmpp "--chain $P/chain.chain.sha256 --version 1.3 --starttls xmpp --sni chain.lab.test" \
    127.0.0.1:20452 --starttls xmpp --sni chain.lab.test
ok smtp "--chain $P/rsa.chain.sha256 --version 1.3 --starttls smtp --sni -" \
    127.0.0.1:20453 --starttls smtp
ok smtp12 "--chain $P/rsa.chain.sha256 --version 1.2 --starttls smtp --sni mail.lab.test" \
    127.0.0.1:20453 --starttls smtp --sni mail.lab.test --tls-max 1.2
# over IPv6 the EHLO carries "[IPv6:::1]" (RFC 5321 4.1.3)
ok smtp_v6 "--chain $P/rsa.chain.sha256 --version 1.3 --starttls smtp --expect network.type=\"ipv6\"" \
    [::1]:20453 --starttls smtp
ok imap "--chain $P/ecdsa.chain.sha256 --version 1.3 --starttls imap" 127.0.0.1:20454 --starttls imap
ok pop3 "--chain $P/ecdsa.chain.sha256 --version 1.2 --starttls pop3" 127.0.0.1:20455 \
    --starttls pop3 --tls-max 1.2
ok ldap "--chain $P/chain.chain.sha256 --version 1.3 --starttls ldap" 127.0.0.1:20456 --starttls ldap
ok postgres "--chain $P/rsa.chain.sha256 --version 1.3 --starttls postgres" 127.0.0.1:20457 \
    --starttls postgres
ok ftp "--chain $P/ecdsa.chain.sha256 --version 1.3 --starttls ftp" 127.0.0.1:20458 --starttls ftp
# real servers refusing
fails smtp_notls 'SMTP: STARTTLS refused by server: "502 5.5.1 Error: command not implemented"' \
    3000 127.0.0.1:20465 --starttls smtp
fails xmpp_unknown_host "XMPP: stream error from server: host-unknown" 3000 127.0.0.1:20452 \
    --starttls xmpp --sni unknown.lab.test

############################################################ passive cross-check

# tcpdump does not drain its ring buffer on SIGINT: give it time to write every packet
sleep 1
kill -INT "$TCPDUMP_PID" 2>/dev/null
wait "$TCPDUMP_PID" 2>/dev/null
TCPDUMP_PID=
if "$PASSIVE" -r "$W/all.pcap" -o "$W/passive.json" >"$W/passive.err" 2>&1; then
    if $PY "$HERE/probe_cert_check.py" --cross "$W/passive.json" "${EVENTS[@]}"; then
        pass "passive sensor agrees with ${#EVENTS[@]} probes"
    else
        bad "passive cross-check ($(tr '\n' ' ' <"$W/tcpdump.err"))"
    fi
else
    bad "passive sensor on the capture: $(cat "$W/passive.err")"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
