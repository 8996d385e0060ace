#!/bin/bash
# starttls_capture.sh OUTDIR -- capture real STARTTLS sessions between real servers and clients.
#
# Needs root. Like tls_capture.sh it re-runs itself in a private network namespace whose lo
# has MTU 1500 and no segmentation offload, so everything here uses the standard ports.
# Servers (each with its own configuration, never the system's, in the foreground where the
# software allows it). Their files (configurations, a copy of the PKI, spools, databases,
# sockets, logs) live in a per-run /tmp/mitmwatch-lab.XXXXXX (lab_srvdir): postfix, dovecot,
# postgres and vsftpd drop privileges and must reach them wherever the clone is (CI clones
# into a folder only root can enter). At exit their logs are copied to OUTDIR/servers and
# the directory is removed.
#   prosody   127.0.0.1:5222 c2s STARTTLS, :5223 direct TLS, VirtualHost xmpp.lab.test
#   postfix   127.0.0.1:25 (TLS may), :587 (TLS encrypt), :2525 (non-standard port),
#             127.0.0.5:25 (TLS off: refuses STARTTLS) -- an instance with its own
#             config/queue/data directories
#   dovecot   127.0.0.1:143 IMAP STARTTLS (and :1143, non-standard), :110 POP3 STLS,
#             passwd-file user bob
#   slapd     127.0.0.1:389 LDAP StartTLS
#   postgres  127.0.0.1:5432 SSLRequest (a fresh initdb cluster)
#   vsftpd    127.0.0.1:21 AUTH TLS (anonymous)
#   starttls_edge.py  127.0.0.1:3306 MySQL greeting + SSLRequest (no MySQL server: heavy),
#             and the edge cases on 127.0.0.2-4 (split replies, endless greeting,
#             plaintext after "220 Ready")
# Clients: openssl s_client -starttls xmpp|smtp|imap|pop3|ftp|ldap|postgres|mysql, slixmpp
# (real XMPP login), swaks, Python imaplib/poplib/smtplib, ldapwhoami (GnuTLS), psql (libpq),
# curl (FTP), and starttls_edge.py's raw clients. Every connection is checked from the
# client's side (verified chain, version, login) before the capture is trusted.
#
# Writes OUTDIR/starttls.pcap, OUTDIR/plan.tsv and OUTDIR/flows.json (starttls_flows.py).
# Expects the PKI from mkpki.sh in OUTDIR/pki (made here if absent).
# Exit codes: 0 ok, 77 not root / tool missing, 1 anything else.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab_lib.sh"
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
py=/usr/bin/python3
# Debian installs the PostgreSQL server programs in a versioned directory; take the newest.
pgbin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
pgbin=${pgbin:-/usr/lib/postgresql/missing/bin}

if [ "$(id -u)" -ne 0 ]; then
    echo "starttls_capture: SKIP: needs root (namespaces, tcpdump, servers)" >&2
    exit 77
fi
for tool in openssl tcpdump tshark ss ip runuser prosody prosodyctl postfix dovecot slapd \
    vsftpd swaks curl psql ldapwhoami "$pgbin/initdb" "$pgbin/postgres" "$py"; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
        echo "starttls_capture: SKIP: $tool not installed" >&2
        exit 77
    fi
done
if ! "$py" -c 'import slixmpp' 2>/dev/null; then
    echo "starttls_capture: SKIP: python3-slixmpp not installed" >&2
    exit 77
fi

# Private namespace (see tls_capture.sh): standard ports are free there, nothing else is
# in the capture, and lo gets a real MTU. Unlike tls_capture.sh there is no fallback to the
# host's lo: the servers bind standard ports that the host may use.
if [ -z "${MW_LAB_IN_NETNS:-}" ]; then
    ns=mwstls$$
    ip netns add "$ns" || { echo "starttls_capture: cannot create a network namespace" >&2; exit 1; }
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    rc=0
    ip netns exec "$ns" env MW_LAB_IN_NETNS=1 "$here/$(basename "$0")" "$out" || rc=$?
    exit $rc
fi
ip link set lo up mtu 1500
# postfix binds 127.0.0.5 (the STARTTLS-refusing instance) only if it is an interface address.
ip addr add 127.0.0.5/32 dev lo
if command -v ethtool >/dev/null 2>&1; then
    ethtool -K lo tso off gso off
else
    echo "starttls_capture: note: no ethtool; lo keeps segmentation offload" >&2
fi

pki=$out/pki
[ -f "$pki/mail.pem" ] || "$here/mkpki.sh" "$pki" >/dev/null
# The servers' own directory, searchable by the users they drop to; they read the PKI from a
# copy in it (spki), the clients and the checkers from OUTDIR/pki (same files).
srv=
pids=()
tcpdump_pid=
# others: the live processes of our namespace other than this shell and the subshell that
# asks (all started by this script).
myns=$(ip netns identify $$ 2>/dev/null || true)
others() {
    local p
    [ -n "$myns" ] || return 0
    for p in $(ip netns pids "$myns" 2>/dev/null); do
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || ! kill -0 "$p" 2>/dev/null || echo "$p"
    done
}
cleanup() {
    set +e
    local p
    if [ -n "$tcpdump_pid" ]; then kill -INT "$tcpdump_pid" 2>/dev/null || true; fi
    if [ -f "$srv/postfix/etc/main.cf" ]; then
        postfix -c "$srv/postfix/etc" stop >/dev/null 2>&1 || true
    fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    # Whatever is left in our namespace was started by this script (its children).
    for p in $(others); do kill "$p" 2>/dev/null || true; done
    # They must be gone before their directory goes (postgres writes on its way out).
    for _ in $(seq 1 50); do
        [ -z "$(others)" ] && break
        sleep 0.1
    done
    for p in $(others); do kill -9 "$p" 2>/dev/null || true; done
    [ -z "$srv" ] || lab_srvdir_done "$srv" "$out/servers"
}
trap cleanup EXIT
srv=$(lab_srvdir starttls_capture) || exit 1
spki=$srv/pki
cp -a "$pki" "$spki"

# ---------------------------------------------------------------- prosody
pr=$srv/prosody
lab_prosody_conf "$pr" 127.0.0.1 5222 5223 "$spki/xmpp.chain.pem" "$spki/xmpp.key" xmpp.lab.test
# `check config` also prints advice (DNS, lua-unbound) and exits non-zero for it; keep the
# report, fail only on a syntax error.
prosodyctl --config "$pr/prosody.cfg.lua" check config >"$pr/check.log" 2>&1 || true
if grep -qiE 'syntax error|error loading' "$pr/check.log"; then
    cat "$pr/check.log" >&2; exit 1
fi
prosodyctl --config "$pr/prosody.cfg.lua" register alice xmpp.lab.test s3cret >/dev/null 2>&1
prosody -F --config "$pr/prosody.cfg.lua" </dev/null >"$pr/stdout.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- postfix
pf=$srv/postfix
mkdir -p "$pf/etc" "$pf/spool" "$pf/data"
chown postfix "$pf/data"
cat > "$pf/etc/main.cf" <<EOF
# Generated by starttls_capture.sh: an isolated instance (own queue/data directories).
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.lab.test
mydomain = lab.test
myorigin = lab.test
mydestination = lab.test, mail.lab.test
inet_interfaces = 127.0.0.1, 127.0.0.5
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
smtpd_banner = \$myhostname ESMTP lab
smtpd_tls_cert_file = $spki/mail.chain.pem
smtpd_tls_key_file = $spki/mail.key
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
disable_dns_lookups = yes
smtp_dns_support_level = disabled
default_transport = discard
local_transport = discard
EOF
cat > "$pf/etc/master.cf" <<'EOF'
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:25 inet n - n - - smtpd
127.0.0.1:587 inet n - n - - smtpd -o smtpd_tls_security_level=encrypt
127.0.0.5:25 inet n - n - - smtpd -o smtpd_tls_security_level=none
127.0.0.1:2525 inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
tlsmgr unix - - n 1000? 1 tlsmgr
postlog unix-dgram n - n - 1 postlogd
EOF
postfix -c "$pf/etc" start-fg </dev/null >"$pf/stdout.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- dovecot
dv=$srv/dovecot
mkdir -p "$dv/run" "$dv/state" "$dv/mail"
chown nobody:nogroup "$dv/mail"
printf 'bob:{PLAIN}s3cret::::::\n' > "$dv/passwd"
cat > "$dv/dovecot.conf" <<EOF
# Generated by starttls_capture.sh; no include of the system configuration.
base_dir = $dv/run
state_dir = $dv/state
instance_name = mwlab
protocols = imap pop3
listen = 127.0.0.1
log_path = $dv/dovecot.log
ssl = yes
ssl_cert = <$spki/mail.chain.pem
ssl_key = <$spki/mail.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dv/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dv/mail/%u
}
mail_location = maildir:$dv/mail/%u/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imap_alt {
    port = 1143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
dovecot -c "$dv/dovecot.conf" -F </dev/null >"$dv/stdout.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- slapd
sl=$srv/slapd
mkdir -p "$sl/db"
cat > "$sl/slapd.conf" <<EOF
# Generated by starttls_capture.sh
include /etc/ldap/schema/core.schema
pidfile $sl/slapd.pid
argsfile $sl/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $spki/mail.chain.pem
TLSCertificateKeyFile $spki/mail.key
TLSCACertificateFile $spki/root.pem
TLSProtocolMin 3.3
database mdb
suffix "dc=lab,dc=test"
rootdn "cn=admin,dc=lab,dc=test"
rootpw s3cret
directory $sl/db
maxsize 10485760
EOF
# -d 0: stay in the foreground, log nothing.
slapd -d 0 -h ldap://127.0.0.1:389/ -f "$sl/slapd.conf" </dev/null >"$sl/stdout.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- postgresql
pg=$srv/postgres
mkdir -p "$pg/sock"
chown postgres "$pg" "$pg/sock"
runuser -u postgres -- "$pgbin/initdb" -D "$pg/data" -A trust -U postgres --no-sync -N \
    >"$pg/initdb.log" 2>&1 || { cat "$pg/initdb.log" >&2; exit 1; }
# The server insists on owning its key (0600); TLS 1.2 only, so the chain is visible.
install -o postgres -m 600 "$spki/mail.key" "$pg/server.key"
install -o postgres -m 644 "$spki/mail.chain.pem" "$pg/server.crt"
runuser -u postgres -- "$pgbin/postgres" -D "$pg/data" -c listen_addresses=127.0.0.1 \
    -c port=5432 -c unix_socket_directories="$pg/sock" -c ssl=on \
    -c ssl_cert_file="$pg/server.crt" -c ssl_key_file="$pg/server.key" \
    -c ssl_min_protocol_version=TLSv1.2 -c ssl_max_protocol_version=TLSv1.2 \
    -c fsync=off -c logging_collector=off </dev/null >"$pg/postgres.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- vsftpd
ft=$srv/vsftpd
mkdir -p "$ft/empty" "$ft/anon"
echo lab > "$ft/anon/readme.txt"
chmod 755 "$ft/empty"
chmod 555 "$ft/anon"
cat > "$ft/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=21
background=NO
anonymous_enable=YES
anon_root=$ft/anon
no_anon_password=YES
local_enable=NO
write_enable=NO
secure_chroot_dir=$ft/empty
ftp_username=ftp
nopriv_user=nobody
pasv_enable=YES
pasv_address=127.0.0.1
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=NO
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
ssl_ciphers=HIGH
require_ssl_reuse=NO
rsa_cert_file=$spki/mail.chain.pem
rsa_private_key_file=$spki/mail.key
vsftpd_log_file=$ft/vsftpd.log
xferlog_enable=YES
seccomp_sandbox=NO
EOF
# vsftpd writes its fatal "500 OOPS" to fd 0.
vsftpd "$ft/vsftpd.conf" 0<>"$ft/oops.log" >"$ft/stdout.log" 2>&1 &
pids+=($!)

# ---------------------------------------------------------------- our own plaintext phases
rm -f "$out/edge.ready"
"$py" "$here/starttls_edge.py" serve "$pki" "$out/edge.ready" </dev/null >"$out/edge.log" 2>&1 &
pids+=($!)

want=(127.0.0.1:5222 127.0.0.1:5223 127.0.0.1:25 127.0.0.1:587 127.0.0.5:25 127.0.0.1:143
      127.0.0.1:110 127.0.0.1:389 127.0.0.1:5432 127.0.0.1:21 127.0.0.1:3306 127.0.0.2:25
      127.0.0.2:5222 127.0.0.3:25 127.0.0.4:25 127.0.0.1:2525 127.0.0.1:1143)
for _ in $(seq 1 200); do
    listening=$(ss -Hltn | awk '{print $4}')
    missing=
    for w in "${want[@]}"; do
        grep -qxF "$w" <<<"$listening" || missing="$missing $w"
    done
    [ -z "$missing" ] && break
    sleep 0.05
done
if [ -n "$missing" ]; then
    echo "starttls_capture: servers did not come up:$missing" >&2
    for f in "$pr/prosody.log" "$pf/maillog" "$pf/stdout.log" "$dv/dovecot.log" \
        "$dv/stdout.log" "$sl/stdout.log" "$pg/postgres.log" "$ft/oops.log" "$out/edge.log"; do
        [ -f "$f" ] && { echo "== $f" >&2; tail -n 5 "$f" >&2; }
    done
    exit 1
fi

# ---------------------------------------------------------------- tcpdump
lab_tcpdump "$out/starttls.pcap" "$out/tcpdump.log" tcp

# ---------------------------------------------------------------- clients
# plan.tsv, one line per connection in the order made:
# id tool server_ip server_port starttls network_protocol cert version handshake edge
# starttls "-" = direct TLS or none; network_protocol "-" = not asserted; cert/version "-"
# when no handshake is expected (handshake=no).
plan=$out/plan.tsv
: > "$plan"
note() { printf '%s\n' "$*" | tr ' ' '\t' >> "$plan"; }
fail() { echo "starttls_capture: connection $1: $2" >&2; cat "$out/client.$1.log" >&2; exit 1; }
ca=$pki/root.pem

# sclient ID IP PORT STARTTLS|- NETPROTO CERT VERSION EDGE ARGS...: openssl s_client,
# checked for a verified chain and the planned version.
sclient() {
    local id=$1 ip=$2 port=$3 st=$4 np=$5 cert=$6 ver=$7 edge=$8
    shift 8
    local args=(-connect "$ip:$port" -CAfile "$ca" -verify_return_error "-tls${ver/./_}")
    [ "$st" = - ] || args+=(-starttls "$st")
    local log=$out/client.$id.log
    (sleep 0.3) | timeout 10 openssl s_client "${args[@]}" "$@" >"$log" 2>&1 ||
        fail "$id" "s_client failed"
    grep -q "^New, TLSv$ver," "$log" || fail "$id" "expected 'New, TLSv$ver'"
    grep -q 'Verify return code: 0 (ok)' "$log" || fail "$id" "not verified"
    note "$id s_client $ip $port $st $np $cert $ver yes $edge"
}
# other ID TOOL IP PORT STARTTLS NETPROTO CERT VERSION HANDSHAKE EDGE -- COMMAND...: any
# client; must exit 0 (it checks its own outcome) and its log must match GREP if set.
other() {
    local id=$1 tool=$2 ip=$3 port=$4 st=$5 np=$6 cert=$7 ver=$8 hs=$9 edge=${10}
    shift 11
    local log=$out/client.$id.log
    timeout 20 "$@" </dev/null >"$log" 2>&1 || fail "$id" "$tool failed"
    if [ -n "${GREP:-}" ]; then grep -qE "$GREP" "$log" || fail "$id" "no /$GREP/ in output"; fi
    note "$id $tool $ip $port $st $np $cert $ver $hs $edge"
}
edgecli=("$py" "$here/starttls_edge.py" client)
lo=127.0.0.1

# XMPP (prosody): s_client STARTTLS, real logins with slixmpp over STARTTLS and direct TLS,
# direct TLS 1.3 from s_client (certificates encrypted).
sclient x01 $lo 5222 xmpp xmpp xmpp 1.2 - -xmpphost xmpp.lab.test -servername xmpp.lab.test
GREP='session ok' other x02 slixmpp $lo 5222 xmpp xmpp xmpp 1.2 yes - -- \
    "$py" "$here/xmpp_login.py" alice@xmpp.lab.test s3cret $lo 5222 "$ca"
GREP='session ok' other x03 slixmpp $lo 5223 - - xmpp 1.2 yes direct_tls -- \
    "$py" "$here/xmpp_login.py" alice@xmpp.lab.test s3cret $lo 5223 "$ca" --direct-tls
sclient x04 $lo 5223 - - xmpp 1.3 direct_tls -servername xmpp.lab.test
# SMTP (postfix): s_client on 25, swaks on the submission port, TLS 1.3 on 587.
sclient s01 $lo 25 smtp smtp mail 1.2 - -name client.lab.test
GREP='^=== TLS started with cipher TLSv1.2:' other s02 swaks $lo 587 smtp smtp mail 1.2 yes - -- \
    swaks --server $lo --port 587 --ehlo client.lab.test --from bob@lab.test \
    --to alice@lab.test --tls --tls-verify --tls-ca-path "$ca" --tls-protocol tlsv1_2
sclient s03 $lo 587 smtp smtp mail 1.3 - -name client.lab.test
# IMAP and POP3 (dovecot): s_client and real logins (Python imaplib/poplib).
sclient i01 $lo 143 imap imap mail 1.2 -
GREP='^imap ok' other i02 imaplib $lo 143 imap imap mail 1.2 yes - -- "$py" -c "
import imaplib, ssl
ctx = ssl.create_default_context(cafile='$ca'); ctx.maximum_version = ssl.TLSVersion.TLSv1_2
m = imaplib.IMAP4('$lo', 143); m.starttls(ssl_context=ctx); m.login('bob', 's3cret')
assert m.select('INBOX')[0] == 'OK'; m.logout(); print('imap ok')"
sclient p01 $lo 110 pop3 pop3 mail 1.2 -
GREP='^pop3 ok' other p02 poplib $lo 110 pop3 pop3 mail 1.2 yes - -- "$py" -c "
import poplib, ssl
ctx = ssl.create_default_context(cafile='$ca'); ctx.maximum_version = ssl.TLSVersion.TLSv1_2
p = poplib.POP3('$lo', 110); p.stls(context=ctx); p.user('bob'); p.pass_('s3cret')
p.stat(); p.quit(); print('pop3 ok')"
# LDAP (slapd): s_client, and ldapwhoami (OpenLDAP client on GnuTLS) with its default TLS 1.3.
sclient l01 $lo 389 ldap ldap mail 1.2 -
GREP='^dn:cn=admin,dc=lab,dc=test' other l02 ldapwhoami $lo 389 ldap ldap mail 1.3 yes - -- \
    env LDAPTLS_CACERT="$ca" LDAPTLS_REQCERT=demand ldapwhoami -x -ZZ -H ldap://$lo:389 \
    -D cn=admin,dc=lab,dc=test -w s3cret
# PostgreSQL: s_client, and psql (libpq) with full verification.
sclient g01 $lo 5432 postgres postgresql mail 1.2 -
GREP='^TLSv1.2$' other g02 psql $lo 5432 postgres postgresql mail 1.2 yes - -- \
    psql "host=$lo port=5432 user=postgres dbname=postgres sslmode=verify-full sslrootcert=$ca" \
    -Atc 'select version from pg_stat_ssl where pid = pg_backend_pid()'
# FTP (vsftpd): s_client AUTH TLS, and curl with an anonymous login (no data connection).
sclient f01 $lo 21 ftp ftp mail 1.2 -
GREP='^Content-Length: 4' other f02 curl $lo 21 ftp ftp mail 1.2 yes - -- \
    curl -sS --ssl-reqd --cacert "$ca" --tls-max 1.2 -I ftp://$lo/readme.txt
# MySQL: our greeting, s_client's SSLRequest, OpenSSL's TLS.
sclient m01 $lo 3306 mysql mysql mail 1.2 -
# Non-standard ports: only the content can tell SMTP on 2525 and IMAP on 1143.
sclient n01 $lo 2525 smtp smtp mail 1.2 nonstandard_port -name client.lab.test
sclient n02 $lo 1143 imap imap mail 1.2 nonstandard_port
# Edge cases.
# Pipelining: EHLO+STARTTLS (postfix) and CAPABILITY+STARTTLS (dovecot) in one segment.
other e01 edge $lo 25 smtp smtp mail 1.2 yes pipelined -- "${edgecli[@]}" smtp-pipelined $lo 25 "$ca"
other e02 edge $lo 143 imap imap mail 1.2 yes pipelined -- "${edgecli[@]}" imap-pipelined $lo 143 "$ca"
# Refused: postfix without TLS answers STARTTLS with 502; no handshake, no event.
GREP='refused with 502' other e03 edge 127.0.0.5 25 - smtp - - no refused -- \
    "${edgecli[@]}" smtp-refused 127.0.0.5 25
# The 220 / <proceed/> reply split over two segments; smtplib and our XMPP client wait for
# the whole reply.
other e04 smtplib 127.0.0.2 25 smtp smtp mail 1.2 yes split_reply -- \
    "${edgecli[@]}" smtp-split 127.0.0.2 25 "$ca"
other e05 edge 127.0.0.2 5222 xmpp xmpp xmpp 1.2 yes split_reply -- \
    "${edgecli[@]}" xmpp-split 127.0.0.2 5222 "$ca"
# A greeting that never ends (1 MiB, no newline): the line cap, counted.
other e06 edge 127.0.0.3 25 - smtp - - no line_too_long -- "${edgecli[@]}" smtp-endless 127.0.0.3 25
# "220 Ready to start TLS" and then plaintext anyway.
other e07 edge 127.0.0.4 25 - smtp - - no no_tls_after_upgrade -- \
    "${edgecli[@]}" smtp-plain-after 127.0.0.4 25

lab_tcpdump_stop starttls_capture "$out/starttls.pcap" "$out/tcpdump.log"

"$py" "$here/starttls_flows.py" "$plan" "$out/starttls.pcap" "$pki" "$out/flows.json"
