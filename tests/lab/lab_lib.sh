# shellcheck shell=bash
# Shared pieces of the lab scripts (bash; source it after setting -eu).

# lab_tcpdump PCAP LOG FILTER...: captures on lo into PCAP, every packet written as it
# arrives (--immediate-mode + -U: without them TPACKET_V3 holds packets in a ring block and
# SIGINT drops what was not handed over yet). Returns once tcpdump is armed; sets
# tcpdump_pid. Exits with tcpdump's log when it does not start.
lab_tcpdump() {
    local pcap=$1 log=$2
    shift 2
    rm -f "$pcap"
    tcpdump -i lo --immediate-mode -U -B 16384 -s 0 -Z root -w "$pcap" "$@" 2>"$log" &
    # shellcheck disable=SC2034 # the caller stops it
    tcpdump_pid=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$log" && break
        sleep 0.05
    done
    grep -q 'listening on' "$log" || { cat "$log" >&2; exit 1; }
}

# lab_nginx_head DIR: the top of an nginx.conf for a foreground, single-process instance
# whose pid, logs and temp files all live in DIR (DIR/tmp and DIR/logs must exist); the
# caller appends its http-level lines and server blocks and closes the http block.
lab_nginx_head() {
    cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $1/logs/access.log;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}
