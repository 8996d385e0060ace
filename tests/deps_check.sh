#!/bin/sh
# deps_check.sh INSTALL_DEPS -- every program and module the tests run is installed, and the
# Debian package it comes from is one that INSTALL_DEPS (tools/install-deps.sh) installs.
#
# The lab tests exit 77 (skipped) when a tool is missing, so a missing install step would
# only show as skips: this test fails instead, naming the tool and the package. Recommends are
# not installed (install-deps.sh uses --no-install-recommends), so a package that a test needs
# only through a Recommends (libnet-ssleay-perl for swaks --tls) must be listed by name.
# Needs no root. Exit 0 all there, 1 something missing (one line each).
set -u
deps=${1:?usage: deps_check.sh INSTALL_DEPS}
[ -r "$deps" ] || { echo "deps_check: cannot read $deps" >&2; exit 1; }
py=/usr/bin/python3
# The package names of install-deps.sh's BUILD and TEST lists, one string.
listed=" $(sed -n '/^BUILD="/,/"$/p; /^TEST="/,/"$/p' "$deps" | sed 's/^[A-Z]*="//; s/"$//' |
    tr -s ' \n' '  ') "
fails=0
checked=0

# need PACKAGE WHAT CHECK...: CHECK (a command) must succeed; PACKAGE must be in the lists.
need() {
    pkg=$1 what=$2
    shift 2
    checked=$((checked + 1))
    case $listed in
    *" $pkg "*) ;;
    *)
        echo "deps_check: $what comes from Debian package $pkg, which tools/install-deps.sh" \
            "does not install: add it there"
        fails=$((fails + 1))
        ;;
    esac
    if ! "$@" >/dev/null 2>&1; then
        echo "deps_check: MISSING $what (Debian package $pkg): run tools/install-deps.sh as root"
        fails=$((fails + 1))
    fi
}
# prog NAME: NAME on PATH or in an sbin directory (root's tools, when PATH lacks them).
prog() { command -v "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
pymod() { "$py" -c "import $1"; }
pgbin() {
    for b in /usr/lib/postgresql/*/bin; do
        [ -x "$b/initdb" ] && [ -x "$b/postgres" ] && [ -x "$b/pg_ctl" ] && return 0
    done
    return 1
}

# Build and fuzz build (tools/test.sh, tools/fuzz.sh).
need cmake "cmake and ctest" prog ctest
need clang "clang (libFuzzer build)" prog clang
need libclang-rt-14-dev "libFuzzer runtime" sh -c 'ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a'
# Captures, packets, namespaces.
need openssl openssl prog openssl
need tcpdump tcpdump prog tcpdump
need tshark tshark prog tshark
need iproute2 "ip" prog ip
need iproute2 "ss" prog ss
need ethtool ethtool prog ethtool
need nftables nft prog nft
need procps sysctl prog sysctl
need util-linux runuser prog runuser
need util-linux setpriv prog setpriv
need util-linux unshare prog unshare
need util-linux flock prog flock
need libcap2-bin setcap prog setcap
need jq jq prog jq
need curl curl prog curl
# Python: the checkers, test servers and clients (always /usr/bin/python3, Debian's modules).
need python3 "$py" test -x "$py"
need python3-cryptography "Python module cryptography" pymod cryptography
need python3-msgpack "Python module msgpack" pymod msgpack
need python3-slixmpp "Python module slixmpp" pymod slixmpp
# Servers and clients of the TLS, STARTTLS, probe and jabber labs.
need nginx-light nginx prog nginx
need gnutls-bin gnutls-cli prog gnutls-cli
need gnutls-bin gnutls-serv prog gnutls-serv
need prosody prosody prog prosody
need prosody prosodyctl prog prosodyctl
need postfix postfix prog postfix
need dovecot-imapd "dovecot IMAP" test -x /usr/lib/dovecot/imap
need dovecot-pop3d "dovecot POP3" test -x /usr/lib/dovecot/pop3
need slapd slapd prog slapd
need slapd "slapd back_mdb module" sh -c 'ls /usr/lib/ldap/back_mdb*.so*'
need ldap-utils ldapwhoami prog ldapwhoami
need postgresql "PostgreSQL server (initdb, postgres, pg_ctl)" pgbin
need postgresql psql prog psql
need vsftpd vsftpd prog vsftpd
need swaks swaks prog swaks
# The proxy lab (issue 13).
need tinyproxy tinyproxy prog tinyproxy
need dante-server danted prog danted
need libnet-ssleay-perl "Perl module Net::SSLeay (swaks --tls)" perl -MNet::SSLeay -e 1
# Output tests: a real rsyslog.
need rsyslog rsyslogd prog rsyslogd
# Package test (tests/package_test.sh): cpack, the unit, man pages, logrotate.
need cmake cpack prog cpack
need systemd systemd-analyze prog systemd-analyze
need groff-base groff prog groff
need logrotate logrotate prog logrotate
need file "file (dpkg-shlibdeps in cpack)" prog file

if [ "$fails" -ne 0 ]; then
    echo "deps_check: $fails problem(s) in $checked checks"
    exit 1
fi
echo "deps_check: all $checked tools and modules present"
