#!/bin/bash
# JARM lab: real TLS servers (nginx, openssl s_server, gnutls-serv) and scripted misbehaving
# servers on loopback, each JARM from `mitmwatch probe jarm` compared exactly with the hash and
# raw string Salesforce's jarm.py gave for the same server configuration (tests/data/jarm/
# expected.txt, which says how and when it was recorded).
#
#   jarm_test.sh MITMWATCH               run the test (exit 0 pass, 1 fail, 77 skip)
#   jarm_test.sh --record JARM_PY    re-record expected values with the reference (run once per
#                                    change of configuration; writes tests/data/jarm/*)
#
# As root the whole lab runs in a new network namespace with only its own loopback, so no
# listener is reachable from outside and ports cannot clash with anything else on the host.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../data/jarm
PY=/usr/bin/python3
MODE=test
if [ "${1:-}" = --record ]; then MODE=record; REF=$(readlink -f "$2"); else MW=$(readlink -f "${1:?usage: jarm_test.sh MITMWATCH}"); fi
run_jarm() { "$MW" probe jarm "$@"; }

for t in openssl nginx gnutls-serv ss; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

if [ "$(id -u)" = 0 ] && [ -z "${JARM_LAB_NETNS:-}" ] && command -v unshare >/dev/null; then
    export JARM_LAB_NETNS=1
    exec unshare --net -- /bin/bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

T=$(mktemp -d /tmp/jarm-lab.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

wait_listen() { # port
    for _ in $(seq 100); do
        [ -n "$(ss -ltnH "( sport = :$1 )")" ] && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start"; exit 1
}
bg() { "$@" </dev/null >>"$T/servers.log" 2>&1 & PIDS+=($!); }

# Fixed key types: the key type decides which suites a server can pick, its bits do not.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.pem" -days 30 \
    -subj /CN=jarm-lab -addext subjectAltName=DNS:localhost 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ec.key" \
    -out "$T/ec.pem" -days 30 -subj /CN=jarm-lab -addext subjectAltName=DNS:localhost 2>/dev/null

mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body; proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fcgi; uwsgi_temp_path $T/nginx/uwsgi; scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:19443 ssl;
        listen [::1]:19443 ssl;
        ssl_certificate $T/ec.pem;
        ssl_certificate_key $T/ec.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        return 200 "ok\n";
    }
}
NGX
bg nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;'
S="openssl s_server -www -quiet"
bg $S -accept 127.0.0.1:19444 -cert "$T/rsa.pem" -key "$T/rsa.key"
bg $S -accept 127.0.0.1:19445 -cert "$T/rsa.pem" -key "$T/rsa.key" -tls1_2 \
    -cipher ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA
bg $S -accept 127.0.0.1:19446 -cert "$T/ec.pem" -key "$T/ec.key" -serverpref \
    -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384 \
    -ciphersuites TLS_CHACHA20_POLY1305_SHA256
bg $S -accept 127.0.0.1:19447 -cert "$T/rsa.pem" -key "$T/rsa.key" -tls1_3 \
    -ciphersuites TLS_AES_256_GCM_SHA384
bg gnutls-serv -p 19448 --echo --x509certfile "$T/rsa.pem" --x509keyfile "$T/rsa.key"
bg gnutls-serv -p 19449 --echo --x509certfile "$T/ec.pem" --x509keyfile "$T/ec.key" \
    --priority NORMAL:-VERS-TLS1.3
echo close >"$T/close.txt"
printf 'hex:%s\n' "$(head -c 200 /dev/zero | tr '\0' 'Z' | od -An -tx1 | tr -d ' \n')" \
    "00ff16030300000201" >"$T/garbage.txt"
echo silent >"$T/silent.txt"
echo read-close >"$T/read-close.txt"
L="$PY $HERE/jarm_lab.py"
bg $L scripted 127.0.0.1 19451 "$T/close.txt"
bg $L scripted 127.0.0.1 19452 "$T/garbage.txt"
bg $L scripted 127.0.0.1 19453 "$DATA/scripted_a.txt"
bg $L scripted 127.0.0.1 19454 "$DATA/scripted_b.txt"
bg $L scripted 127.0.0.1 19455 "$DATA/scripted_c.txt"
bg $L scripted 127.0.0.1 19456 "$T/silent.txt"
bg $L socks5 127.0.0.1 19457
bg $L scripted 127.0.0.1 19458 "$T/read-close.txt" "$T/hellos.txt"
for p in 19443 19444 19445 19446 19447 19448 19449 19451 19452 19453 19454 19455 19456 19457 19458; do
    wait_listen $p
done

# name | what the probe is given | reference target (host port) | real server (port) or -
CONFIGS="
nginx_v4|127.0.0.1:19443|127.0.0.1 19443|19443
nginx_v6|[::1]:19443|::1 19443|-
nginx_name|localhost:19443|localhost 19443|-
openssl_default_rsa|127.0.0.1:19444|127.0.0.1 19444|19444
openssl_tls12_two_ciphers|127.0.0.1:19445|127.0.0.1 19445|19445
openssl_ecdsa_chacha_serverpref|127.0.0.1:19446|127.0.0.1 19446|19446
openssl_tls13_aes256_only|127.0.0.1:19447|127.0.0.1 19447|19447
gnutls_default_rsa|127.0.0.1:19448|127.0.0.1 19448|19448
gnutls_no13_ecdsa|127.0.0.1:19449|127.0.0.1 19449|19449
closed_port|127.0.0.1:19450|127.0.0.1 19450|-
close_at_once|127.0.0.1:19451|127.0.0.1 19451|-
garbage|127.0.0.1:19452|127.0.0.1 19452|-
scripted_a|127.0.0.1:19453|127.0.0.1 19453|-
scripted_b|127.0.0.1:19454|127.0.0.1 19454|-
scripted_c|127.0.0.1:19455|127.0.0.1 19455|-
silent|127.0.0.1:19456 --timeout 400|127.0.0.1 19456|-
"

if [ $MODE = record ]; then
    REFCOMMIT=$(cd "$(dirname "$REF")" && git rev-parse HEAD 2>/dev/null || echo unknown)
    OUT=$DATA/expected.txt
    {
        echo "# Expected JARM values, recorded by running Salesforce's reference jarm.py once per"
        echo "# server configuration of tests/lab/jarm_test.sh (--record mode), inside its network"
        echo "# namespace, on $(date -u +%Y-%m-%dT%H:%MZ), jarm.py commit ${JARM_REF_COMMIT:-$REFCOMMIT},"
        echo "# $(openssl version), $(nginx -v 2>&1), $(gnutls-serv --version 2>&1 | head -1), Debian $(cat /etc/debian_version)."
        echo "# Command: /usr/bin/python3 jarm.py -v -p PORT HOST; real servers were reached through"
        echo "# jarm_lab.py record-proxy, which also saved the answers jarm.py parsed (answers/NAME.txt)."
        echo "# Columns (tab-separated): name, hash, raw (jarm.py's 'Scan' lines joined with ',')."
        echo "# A hash of CRASH means jarm.py raised (its last traceback line follows)."
    } >"$OUT"
    echo "$CONFIGS" | while IFS='|' read -r name _ reft real; do
        [ -z "$name" ] && continue
        set -- $reft
        host=$1 port=$2
        if [ "$real" != - ]; then
            rm -f "$DATA/answers/$name.txt"
            $L record-proxy 127.0.0.1 19459 "$real" "$DATA/answers/$name.txt" </dev/null >/dev/null 2>&1 &
            pp=$!
            wait_listen 19459
            port=19459
        fi
        out=$($PY "$REF" -v -p "$port" "$host" 2>"$T/err")
        rc=$?
        if [ "${pp:-}" ]; then kill $pp; wait $pp 2>/dev/null; pp=; fi
        if [ $rc != 0 ]; then
            printf '%s\tCRASH\t%s\n' "$name" "$(tail -1 "$T/err")" >>"$OUT"
            continue
        fi
        hash=$(echo "$out" | sed -n 's/^JARM: //p')
        raw=$(echo "$out" | sed -n 's/^Scan [0-9]*: //p' | tr -d '\n')
        printf '%s\t%s\t%s\n' "$name" "$hash" "$raw" >>"$OUT"
    done
    # ClientHello bytes from the reference with a scripted random source (the same stream
    # tests/unit/jarm_test.c feeds jarm_build_hello), SNI "localhost".
    rm -f "$T/hellos.txt"
    JARM_REF=$REF $PY -c '
import os, random, runpy, sys
k = [0]
def urandom(n):
    out = bytes(((k[0] + i) * 29 + 7) & 0xff for i in range(n))
    k[0] += n
    return out
os.urandom = urandom
random.choice = lambda seq: seq[os.urandom(1)[0] & 15]
sys.argv = ["jarm.py", "-p", "19458", "localhost"]
runpy.run_path(os.environ["JARM_REF"], run_name="__main__")' >/dev/null 2>&1
    {
        echo "# ClientHellos of Salesforce's jarm.py (commit ${JARM_REF_COMMIT:-$REFCOMMIT}), probes 1..10,"
        echo "# as received by jarm_lab.py scripted (read-close) on $(date -u +%Y-%m-%d) from"
        echo "# 'jarm.py -p 19458 localhost' run by tests/lab/jarm_test.sh --record with os.urandom(n) returning"
        echo "# the next n bytes of the stream b[k] = (29*k + 7) & 0xff (k counting from 0 over the whole run)"
        echo "# and random.choice(seq) = seq[os.urandom(1)[0] & 15]; tests/unit/jarm_test.c feeds the same stream."
        cat "$T/hellos.txt"
    } >"$DATA/hellos_localhost.txt"
    exit 0
fi

fail=0
check() { # name args... ; compares with expected.txt
    local name=$1; shift
    local want_hash want_raw got rc
    want_hash=$(awk -F'\t' -v n="$name" '$1==n {print $2}' "$DATA/expected.txt")
    want_raw=$(awk -F'\t' -v n="$name" '$1==n {print $3}' "$DATA/expected.txt")
    [ -z "$want_hash" ] && { echo "FAIL $name: no expected value"; fail=1; return; }
    got=$(run_jarm --raw "$@" 2>"$T/stderr")
    rc=$?
    if [ "$want_hash" = CRASH ]; then
        if [ $rc = 1 ] && [ "$(head -1 <<<"$got")" = "" ]; then echo "ok   $name: refused like the reference ($want_raw)"
        else echo "FAIL $name: expected exit 1 (reference raises), got rc=$rc: $got"; fail=1; fi
        return
    fi
    if [ $rc = 0 ] && [ "$(head -1 <<<"$got")" = "$want_hash" ] && [ "$(sed -n 2p <<<"$got")" = "$want_raw" ]; then
        echo "ok   $name $want_hash"
    else
        echo "FAIL $name: rc=$rc"; echo "  want $want_hash"; echo "       $want_raw"
        echo "  got  $(head -1 <<<"$got")"; echo "       $(sed -n 2p <<<"$got")"; cat "$T/stderr"
        fail=1
    fi
}
# Nothing took a connection: jarm.py prints 62 zeros, which read like a fingerprint; mitmwatch
# says why on stderr, prints no hash and exits 1 (--raw: an empty line, then the reference's
# raw string, as for answers it cannot hash).
check_unreached() { # name, the whole stderr, args...
    local name=$1 want_err=$2; shift 2
    local want_raw got rc
    want_raw=$(awk -F'\t' -v n="$name" '$1==n {print $3}' "$DATA/expected.txt")
    got=$(run_jarm --raw "$@" 2>"$T/stderr")
    rc=$?
    if [ $rc = 1 ] && [ "$(head -1 <<<"$got")" = "" ] && [ "$(sed -n 2p <<<"$got")" = "$want_raw" ] &&
        [ "$(cat "$T/stderr")" = "$want_err" ]; then
        echo "ok   $name ($*): exit 1, $want_err"
    else
        echo "FAIL $name ($*): rc=$rc"; echo "  want: $want_err"; echo "  got:  $(cat "$T/stderr")"
        echo "  stdout: $got"
        fail=1
    fi
}
echo "$CONFIGS" | { while IFS='|' read -r name target _ _; do
    [ -z "$name" ] || [ "$name" = closed_port ] && continue
    check "$name" $target
done; exit $fail; } || fail=1
check_unreached closed_port \
    "mitmwatch probe jarm: 127.0.0.1:19450: the port is closed (connection refused), no JARM" \
    127.0.0.1:19450
# Through a SOCKS5 proxy the server sees the same ClientHellos: same JARM as direct.
check nginx_v4 --socks5 127.0.0.1:19457 127.0.0.1:19443
check nginx_name --socks5 127.0.0.1:19457 localhost:19443
check nginx_v6 --socks5 127.0.0.1:19457 [::1]:19443
# A proxy that refuses the target (RFC 1928 reply 02) or is not there: every probe fails.
check_unreached closed_port \
    "mitmwatch probe jarm: 192.0.2.1:443: the SOCKS5 proxy 127.0.0.1:19457 could not connect to the target, no JARM" \
    --socks5 127.0.0.1:19457 192.0.2.1:443
check_unreached closed_port \
    "mitmwatch probe jarm: 127.0.0.1:19443: the SOCKS5 proxy 127.0.0.1:19450 cannot be reached (Connection refused), no JARM" \
    --socks5 127.0.0.1:19450 127.0.0.1:19443
# --sni replaces the host name in all ten ClientHellos (RFC 6066 server_name, host_name entry).
: >"$T/hellos.txt"
run_jarm --sni sni.example.test 127.0.0.1:19458 >/dev/null
if $PY - "$T/hellos.txt" <<'PYEOF'; then echo "ok   --sni sent in all ten ClientHellos"; else fail=1; fi
import sys
name = b"sni.example.test"
want = b"\x00\x00" + (len(name) + 5).to_bytes(2, "big") + (len(name) + 3).to_bytes(2, "big") \
    + b"\x00" + len(name).to_bytes(2, "big") + name
hellos = [bytes.fromhex(l) for l in open(sys.argv[1]).read().split()]
ok = len(hellos) == 10 and all(h.count(want) == 1 and h.count(b"127.0.0.1") == 0 for h in hellos)
if not ok:
    print("FAIL --sni: %d hellos, server_name not as expected" % len(hellos))
sys.exit(0 if ok else 1)
PYEOF
# The silent server: the probe must give up after about --timeout, not the reference's 20 s.
start=$(date +%s%N)
run_jarm --timeout 300 127.0.0.1:19456 >/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $ms -lt 250 ] || [ $ms -gt 3000 ]; then echo "FAIL silent: took $ms ms with --timeout 300"; fail=1
else echo "ok   silent server gave up after $ms ms"; fi
[ $fail = 0 ] && echo PASS || echo FAIL
exit $fail
