#!/bin/sh
# run_starttls_lab.sh MITMWATCH_BINARY WORKDIR -- the STARTTLS lab (issue 3) as one ctest test.
#
#   mkpki.sh -> starttls_capture.sh (prosody, postfix, dovecot, slapd, postgres, vsftpd and
#   starttls_edge.py in a private network namespace; s_client -starttls, slixmpp, swaks,
#   imaplib, poplib, ldapwhoami, psql, curl) -> starttls_tshark_ref.sh -> mitmwatch -r
#   -> check_starttls_events.py
#
# Everything goes to WORKDIR/starttls-lab (wiped first). Exit 77 (skip) when not root or a
# tool is missing; any other non-zero exit is a real failure. The servers listen on the
# standard ports, but only inside the lab's own namespace.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 MITMWATCH_BINARY WORKDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lab_lib.sh"
bin=$1
lab_require run_starttls_lab openssl tcpdump tshark ss ip timeout runuser prosody prosodyctl \
    postfix dovecot slapd vsftpd swaks curl psql ldapwhoami /usr/bin/python3
if ! /usr/bin/python3 -c 'import slixmpp' 2>/dev/null; then
    echo "run_starttls_lab: SKIP: python3-slixmpp not installed" >&2
    exit 77
fi
run=$(lab_rundir run_starttls_lab "$bin" "$2" starttls-lab) || exit 1

start=$(date +%s)
"$here/mkpki.sh" "$run/pki" >/dev/null
"$here/starttls_capture.sh" "$run"
"$here/starttls_tshark_ref.sh" "$run/starttls.pcap" "$run/tshark.json" "$run/flows.json"
# mitmwatch under a 30 s limit; its peak RSS is printed for the record (the 1 MiB
# greeting must not be buffered whole; the checker asserts the line-cap counter).
rc=0
/usr/bin/python3 - "$bin" -r "$run/starttls.pcap" -o "$run/events.json" \
    2>"$run/mitmwatch.stderr" <<'PYEOF' || rc=$?
import resource, subprocess, sys
try:
    rc = subprocess.run(sys.argv[1:], timeout=30).returncode
except subprocess.TimeoutExpired:
    sys.exit(124)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"run_starttls_lab: mitmwatch exit {rc}, peak RSS {rss} KiB", file=sys.stdout)
sys.exit(rc if rc >= 0 else 128 - rc)
PYEOF
if [ $rc -ne 0 ]; then
    echo "run_starttls_lab: mitmwatch exited with $rc:" >&2
    cat "$run/mitmwatch.stderr" >&2
    exit 1
fi
/usr/bin/python3 "$here/check_starttls_events.py" "$run/events.json" "$run/flows.json" \
    "$run/tshark.json"
echo "run_starttls_lab: done in $(( $(date +%s) - start ))s; files in $run"
