#!/bin/bash
# Installs everything mitmwatch needs to build and to run its whole test suite on Debian 12:
# build dependencies, and the real peers the tests start (servers, clients, tshark, tcpdump);
# for the package test: systemd (systemd-analyze verify), logrotate, groff-base (man page
# lint) and file (cpack's dpkg-shlibdeps step).
# Idempotent; run as root. Set MW_DEPS=build to install only what the build needs.
set -eu
export DEBIAN_FRONTEND=noninteractive
BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev
 libpcap-dev libndpi-dev libssl-dev libcurl4-openssl-dev libmsgpack-dev libjansson-dev libyaml-dev zlib1g-dev
 librelp-dev"
# Installed with --no-install-recommends, so whatever a test needs that a package only
# recommends is listed by name: libnet-ssleay-perl (swaks --tls; swaks merely recommends it).
# tests/deps_check.sh (ctest deps_check) fails, naming the package, when a tool is missing.
TEST="openssl nginx-light gnutls-bin tshark tcpdump tcpreplay iproute2 ethtool jq procps util-linux
 python3 python3-msgpack python3-cryptography rsyslog rsyslog-relp curl nftables libcap2-bin
 prosody postfix dovecot-imapd dovecot-pop3d slapd ldap-utils postgresql vsftpd
 swaks libnet-ssleay-perl python3-slixmpp tinyproxy dante-server
 systemd logrotate groff-base file"
want="$BUILD"
[ "${MW_DEPS:-all}" = build ] || want="$want $TEST"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
# Answer the packages' questions up front; the tests run their own server instances with their
# own configs, never the system services.
debconf-set-selections <<'EOF'
wireshark-common wireshark-common/install-setuid boolean false
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string mitmwatch.test
slapd slapd/no_configuration boolean true
EOF
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
