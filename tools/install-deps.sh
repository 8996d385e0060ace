#!/bin/sh
# Installs everything mitmwatch needs to build and to run its whole test suite on Debian 12:
# build dependencies, and the real peers the tests start (servers, clients, tshark, tcpdump).
# Idempotent; run as root. Set MW_DEPS=build to install only what the build needs.
set -eu
export DEBIAN_FRONTEND=noninteractive
BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev
 libpcap-dev libndpi-dev libssl-dev libcurl4-openssl-dev libmsgpack-dev libjansson-dev libyaml-dev"
TEST="openssl nginx-light gnutls-bin tshark tcpdump tcpreplay iproute2 ethtool jq procps util-linux
 python3 python3-msgpack rsyslog"
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
# tshark asks whether non-root users may capture; nobody needs to.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
