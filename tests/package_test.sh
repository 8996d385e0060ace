#!/bin/bash
# The Debian package and what it installs (tools/dist/).
#
#   package_test.sh build   SRC BUILD WORK   (any user)
#     cpack -G DEB from the build tree into WORK/pkg; the package's file list exactly, modes,
#     conffiles, maintainer scripts, Depends; the installed files byte for byte against
#     tools/dist; every ExecStart option in `mitmwatch --help`; `systemd-analyze verify` of the
#     unit offline (no running systemd needed) and that it does catch a bad unit; the man pages
#     (groff warnings, every option of every --help text documented); bash completion
#     (subcommands, every option of every --help text, files for -r/-c/-o); the logrotate
#     snippet's syntax.
#   package_test.sh install SRC BUILD WORK   (root; exit 77 otherwise)
#     dpkg -i of WORK/pkg's package; mitmwatch --version from /usr/bin, the user and its
#     directories, `systemd-analyze verify` of the installed unit; then the sensor started
#     the way the unit starts it (its ExecStart, EnvironmentFile, User, capabilities, UMask;
#     live on lo) to see it drop every capability, write events, rotate with the installed
#     logrotate snippet and reopen on the unit's ExecReload, and write its state on SIGTERM;
#     then dpkg --purge, and nothing may be left: package, user, group, directories, unit
#     symlinks, deb-systemd-helper state.
set -u
mode=$1 src=$2 build=$3 work=$4
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
ok() { echo "ok: $*"; }

# The options a --help text names, in its syntax, not in its descriptions: usage lines whole,
# option lines up to the two spaces before their description. With "nousage", option lines
# only (the sensor's --help also shows the usage of the probe and check commands).
help_opts() {
    awk -v usage="${1:-usage}" '
        usage == "usage" && (/^(usage|options):/ || /^ +(mitmwatch|\[)/) { print; next }
        /^ +-/ { sub(/^ +/, ""); sub(/  .*/, ""); print }' |
        grep -oE '(^|[][ ,|(])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[][ ,|(]//' | sort -u
}
has_stats() { grep -q '"mitmwatch.stats"' "$1" 2>/dev/null; }

# ------------------------------------------------------------------------------------ build
build_mode() {
    for t in cpack dpkg-deb systemd-analyze groff logrotate file; do
        command -v "$t" >/dev/null || {
            echo "FAIL: $t is missing (tools/install-deps.sh installs it)"
            exit 1
        }
    done
    rm -rf "$work"
    mkdir -p "$work"
    if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1; then
        cat "$work/cpack.log"
        fail "cpack -G DEB"
        return
    fi
    local debs=("$work"/pkg/*.deb)
    if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
        fail "cpack made ${#debs[@]} packages: ${debs[*]}"
        return
    fi
    local deb=${debs[0]}
    ok "cpack: $(basename "$deb")"

    # The file list, exactly: mode, owner and path of everything that is not a directory.
    cat >"$work/want.list" <<'EOF'
-rw-r--r-- root/root ./etc/default/mitmwatch
-rw-r--r-- root/root ./etc/logrotate.d/mitmwatch
-rw-r--r-- root/root ./etc/mitmwatch/policy.yaml
-rw-r--r-- root/root ./lib/systemd/system/mitmwatch.service
-rw-r--r-- root/root ./usr/share/bash-completion/completions/mitmwatch
-rw-r--r-- root/root ./usr/share/doc/mitmwatch/ALERTS.md
-rw-r--r-- root/root ./usr/share/doc/mitmwatch/copyright
-rw-r--r-- root/root ./usr/share/doc/mitmwatch/outputs.md
-rw-r--r-- root/root ./usr/share/man/man5/mitmwatch-policy.5.gz
-rw-r--r-- root/root ./usr/share/man/man8/mitmwatch.8.gz
-rwxr-xr-x root/root ./usr/bin/mitmwatch
EOF
    dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort >"$work/got.list"
    if diff <(sort "$work/want.list") "$work/got.list" >"$work/list.diff"; then
        ok "contents: the 11 files at their paths, modes and owners"
    else
        fail "contents differ (< wanted, > in the package):"
        cat "$work/list.diff"
    fi
    if dpkg-deb -c "$deb" | awk '$1 ~ /^d/ && $2 != "root/root"' | grep -q .; then
        fail "directories not owned by root"
    fi

    # Control: conffiles, maintainer scripts, dependencies.
    rm -rf "$work/ctl"
    dpkg-deb -e "$deb" "$work/ctl"
    if [ "$(sort "$work/ctl/conffiles" 2>/dev/null)" = "$(printf '%s\n' /etc/default/mitmwatch \
        /etc/logrotate.d/mitmwatch /etc/mitmwatch/policy.yaml)" ]; then
        ok "conffiles: /etc/mitmwatch/policy.yaml, /etc/default/mitmwatch, /etc/logrotate.d/mitmwatch"
    else
        fail "conffiles: $(tr '\n' ' ' <"$work/ctl/conffiles" 2>/dev/null)"
    fi
    for s in postinst prerm postrm; do
        if [ -x "$work/ctl/$s" ] && cmp -s "$work/ctl/$s" "$src/tools/dist/$s"; then
            ok "maintainer script $s"
        else
            fail "maintainer script $s missing, not executable or not tools/dist/$s"
        fi
    done
    local deps
    deps=$(dpkg-deb -f "$deb" Depends)
    for d in passwd libc6 libpcap0.8 'libndpi[0-9.]+' libssl3 libcurl4 libmsgpackc2 libjansson4 \
        libyaml-0-2; do
        echo "$deps" | grep -qE "(^|, )$d( |,|$)" || fail "Depends lacks $d: $deps"
    done
    ok "Depends: $deps"

    # The files themselves, as in tools/dist and the sources.
    rm -rf "$work/root"
    dpkg-deb -x "$deb" "$work/root"
    local r=$work/root
    for pair in "tools/dist/mitmwatch.service lib/systemd/system/mitmwatch.service" \
        "tools/dist/mitmwatch.default etc/default/mitmwatch" \
        "tools/dist/mitmwatch.logrotate etc/logrotate.d/mitmwatch" \
        "tools/dist/mitmwatch.bash-completion usr/share/bash-completion/completions/mitmwatch" \
        "rules/example-policy.yaml etc/mitmwatch/policy.yaml" \
        "rules/ALERTS.md usr/share/doc/mitmwatch/ALERTS.md"; do
        set -- $pair
        cmp -s "$src/$1" "$r/$2" || fail "/$2 is not $1"
    done
    local bin=$r/usr/bin/mitmwatch
    if "$bin" --version | head -1 | grep -qx "mitmwatch $(dpkg-deb -f "$deb" Version)"; then
        ok "the packaged binary runs: $("$bin" --version | head -1)"
    else
        fail "the packaged binary's --version"
    fi

    # Every option the unit gives is one mitmwatch has.
    local unit=$r/lib/systemd/system/mitmwatch.service
    "$bin" --help | help_opts nousage >"$work/sensor.opts"
    local exec_opts
    exec_opts=$(sed -n 's/^ExecStart=//p' "$unit" | tr ' ' '\n' | grep -E '^-' | sort -u)
    for o in $exec_opts; do
        grep -qx -- "$o" "$work/sensor.opts" || fail "ExecStart option $o is not in mitmwatch --help"
    done
    ok "ExecStart options all in --help: $(echo $exec_opts)"

    # systemd-analyze verify, offline: the unit with ExecStart pointing into the extracted
    # package, the man pages of its Documentation= found through MANPATH.
    mkdir -p "$work/verify"
    sed "s#^ExecStart=/usr/bin/mitmwatch #ExecStart=$bin #" "$unit" >"$work/verify/mitmwatch.service"
    local man_opt=()
    command -v man >/dev/null || man_opt=(--man=no)
    local out
    out=$(cd "$work/verify" && MANPATH=$r/usr/share/man SYSTEMD_LOG_LEVEL=notice \
        systemd-analyze verify "${man_opt[@]}" "$work/verify/mitmwatch.service" 2>&1)
    local rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify ${man_opt[*]}: clean"
    else
        fail "systemd-analyze verify (rc $rc): $out"
    fi
    # ... and it is not vacuous: a misspelt key and a bad value are reported.
    sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/; s/^ProtectSystem=strict/ProtectSystem=sometimes/' \
        "$work/verify/mitmwatch.service" >"$work/verify/broken.service"
    out=$(cd "$work/verify" && MANPATH=$r/usr/share/man systemd-analyze verify "${man_opt[@]}" \
        "$work/verify/broken.service" 2>&1)
    if echo "$out" | grep -q NoNewPrivilege && echo "$out" | grep -q sometimes; then
        ok "systemd-analyze verify reports a broken copy"
    else
        fail "systemd-analyze verify did not report a broken unit: $out"
    fi
    # The settings the issue asks of the unit.
    for want in 'User=mitmwatch' 'AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN' \
        'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN' 'NoNewPrivileges=yes' \
        'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'StateDirectory=mitmwatch' \
        'LogsDirectory=mitmwatch' 'ExecReload=/bin/kill -HUP $MAINPID' \
        'EnvironmentFile=/etc/default/mitmwatch'; do
        grep -qxF -- "$want" "$unit" || fail "the unit lacks $want"
    done

    # The other --help texts, for the man page and the completion.
    "$bin" check --help | help_opts >"$work/check.opts"
    for p in jarm trace cert; do "$bin" probe "$p" --help | help_opts >"$work/probe_$p.opts"; done
    "$bin" ct --help | help_opts >"$work/ct.opts"

    # Man pages: no groff warnings; every option of every --help text is in mitmwatch(8).
    for page in man8/mitmwatch.8.gz man5/mitmwatch-policy.5.gz; do
        out=$(zcat "$r/usr/share/man/$page" | groff -man -ww -z 2>&1)
        [ -z "$out" ] || fail "groff warnings in $page: $out"
        zcat "$r/usr/share/man/$page" | grep -q '@PROJECT_VERSION@' && fail "$page: version not filled in"
    done
    zcat "$r/usr/share/man/man8/mitmwatch.8.gz" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' >"$work/man8.txt"
    local missing=""
    for o in $(cat "$work"/*.opts | sort -u); do
        grep -qE -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|\$)" "$work/man8.txt" || missing="$missing $o"
    done
    if [ -z "$missing" ]; then
        ok "mitmwatch(8) documents all $(cat "$work"/*.opts | sort -u | wc -l) options of the --help texts"
    else
        fail "mitmwatch(8) lacks:$missing"
    fi

    # Bash completion: subcommands, every option per command, files for -r/-c/-o.
    mkdir -p "$work/files"
    touch "$work/files/cap.pcap" "$work/files/pol.yaml" "$work/files/ev.json"
    cat >"$work/complete.sh" <<'EOF'
. "$1"
c() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _mitmwatch
    printf '%s\n' "${COMPREPLY[@]}"
}
EOF
    local comp="$r/usr/share/bash-completion/completions/mitmwatch"
    complete_words() { bash --norc -c ". '$work/complete.sh' '$comp'; c $*" 2>&1 | sort -u; }
    [ "$(complete_words mitmwatch "''" | tr '\n' ' ')" = "check ct probe " ] ||
        fail "completion of subcommands: $(complete_words mitmwatch "''" | tr '\n' ' ')"
    [ "$(complete_words mitmwatch probe "''" | tr '\n' ' ')" = "cert jarm trace " ] ||
        fail "completion of probe types"
    [ "$(complete_words mitmwatch ct "''" | tr '\n' ' ')" = "audit check show sync " ] ||
        fail "completion of ct subcommands"
    for o in -r -c -o --read --config --output; do
        local f
        case $o in -r | --read) f=cap.pcap ;; -c | --config) f=pol.yaml ;; *) f=ev.json ;; esac
        [ "$(complete_words mitmwatch "$o" "$work/files/${f%%.*}")" = "$work/files/$f" ] ||
            fail "completion of a file after $o"
    done
    [ -z "$(complete_words mitmwatch check host -c "''")" ] ||
        fail "completion after check -c (days) offered something"
    check_comp() { # $1: opts file, then the words before the option being completed
        local file=$1 got missing=""
        shift
        got=$(complete_words "$@" -)
        for o in $(cat "$file"); do
            echo "$got" | grep -qx -- "$o" || missing="$missing $o"
        done
        [ -z "$missing" ] || fail "completion of '$*' lacks:$missing"
    }
    check_comp "$work/sensor.opts" mitmwatch -r x
    check_comp "$work/check.opts" mitmwatch check host
    for p in jarm trace cert; do check_comp "$work/probe_$p.opts" mitmwatch probe $p host; done
    for s in sync audit show check; do
        # ct's usage is one text for all four; each subcommand completes its own part of it
        case $s in
        sync) grep -vxE -- '--known-certs|--ack|--mmd' "$work/ct.opts" >"$work/ct_$s.opts" ;;
        audit) grep -xE -- '--ctcache|--watch|--known-certs|--ack' "$work/ct.opts" >"$work/ct_$s.opts" ;;
        show) grep -xE -- '--ctcache' "$work/ct.opts" >"$work/ct_$s.opts" ;;
        check) grep -xE -- '--ctcache|--mmd' "$work/ct.opts" >"$work/ct_$s.opts" ;;
        esac
        check_comp "$work/ct_$s.opts" mitmwatch ct $s
    done
    ok "bash completion: subcommands, files, every --help option"

    # logrotate: the snippet parses (a copy pointed at WORK and at this user).
    mkdir -p "$work/log"
    echo '{}' >"$work/log/events.json"
    sed -e "s#/var/log/mitmwatch/#$work/log/#" -e "s/su mitmwatch mitmwatch/su $(id -un) $(id -gn)/" \
        -e "s/create 0640 mitmwatch mitmwatch/create 0640 $(id -un) $(id -gn)/" \
        "$r/etc/logrotate.d/mitmwatch" >"$work/logrotate.conf"
    out=$(logrotate -d -s "$work/logrotate.state" "$work/logrotate.conf" 2>&1)
    if [ $? -eq 0 ] && ! echo "$out" | grep -qi error; then
        ok "logrotate -d: the snippet parses"
    else
        fail "logrotate -d: $out"
    fi
}

# ---------------------------------------------------------------------------------- install
sensor_pid=""
installed_by_us=0
cleanup() {
    if [ -n "$sensor_pid" ] && kill -0 "$sensor_pid" 2>/dev/null; then
        kill -TERM "$sensor_pid" 2>/dev/null
        wait "$sensor_pid" 2>/dev/null
    fi
    if [ $installed_by_us = 1 ] && dpkg-query -W mitmwatch >/dev/null 2>&1; then
        dpkg --purge mitmwatch >/dev/null 2>&1
    fi
}

# The words of a unit's command line as systemd makes them: ${VAR} is one argument, $VAR is
# split at whitespace (systemd.service(5), "Command lines").
unit_argv() { # $1: the command line; sets argv
    argv=()
    local w v
    for w in $1; do
        if [[ $w =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
            argv+=("${!BASH_REMATCH[1]-}")
        elif [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
            v=${!BASH_REMATCH[1]-}
            # shellcheck disable=SC2206
            argv+=($v)
        else
            argv+=("$w")
        fi
    done
}

unit_key() { sed -n "s/^$1=//p" /lib/systemd/system/mitmwatch.service | tail -1; }

wait_for() { # $1: seconds, then a command
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

install_mode() {
    local debs=("$work"/pkg/*.deb)
    [ -f "${debs[0]}" ] || {
        echo "FAIL: no package in $work/pkg (the package test makes it)"
        exit 1
    }
    local deb=${debs[0]}
    for t in setpriv logrotate systemd-analyze; do
        command -v "$t" >/dev/null || {
            echo "FAIL: $t is missing (tools/install-deps.sh installs it)"
            exit 1
        }
    done
    # Someone's real installation is not ours to replace or purge.
    if dpkg-query -W -f='${Status}' mitmwatch 2>/dev/null | grep -qv not-installed ||
        getent passwd mitmwatch >/dev/null || getent group mitmwatch >/dev/null ||
        [ -e /etc/mitmwatch ] || [ -e /var/lib/mitmwatch ] || [ -e /var/log/mitmwatch ]; then
        echo "skipped: a mitmwatch package, user or directory already exists on this machine"
        exit 77
    fi
    trap cleanup EXIT
    installed_by_us=1
    if ! dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1; then
        cat "$work/dpkg-i.log"
        fail "dpkg -i $(basename "$deb")"
        return
    fi
    ok "dpkg -i $(basename "$deb")"
    local v
    v=$(/usr/bin/mitmwatch --version | head -1)
    [ "$v" = "mitmwatch $(dpkg-deb -f "$deb" Version)" ] && ok "/usr/bin/mitmwatch --version: $v" ||
        fail "/usr/bin/mitmwatch --version: $v"
    local pw
    pw=$(getent passwd mitmwatch)
    IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
    if [ -n "$pw" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/mitmwatch ] &&
        [ "$shell" = /usr/sbin/nologin ] && [ "$(getent group mitmwatch | cut -d: -f3)" = "$gid" ]; then
        ok "system user: $pw"
    else
        fail "system user: '$pw'"
    fi
    for d in /var/lib/mitmwatch /var/log/mitmwatch; do
        [ "$(stat -c '%U:%G %a' "$d" 2>/dev/null)" = "mitmwatch:mitmwatch 750" ] ||
            fail "$d: $(stat -c '%U:%G %a' "$d" 2>&1)"
    done
    [ "$(dpkg-query -W -f='${Conffiles}' mitmwatch | awk 'NF {print $1}' | sort | tr '\n' ' ')" = \
        "/etc/default/mitmwatch /etc/logrotate.d/mitmwatch /etc/mitmwatch/policy.yaml " ] ||
        fail "dpkg does not hold the three conffiles"
    if command -v man >/dev/null; then
        man -w mitmwatch >/dev/null 2>&1 && man -w 5 mitmwatch-policy >/dev/null 2>&1 ||
            fail "man does not find mitmwatch(8) and mitmwatch-policy(5)"
    fi
    local out
    out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify /lib/systemd/system/mitmwatch.service 2>&1)
    [ $? -eq 0 ] && [ -z "$out" ] && ok "systemd-analyze verify of the installed unit: clean" ||
        fail "systemd-analyze verify of the installed unit: $out"
    ls /etc/systemd/system/*.wants/mitmwatch.service >/dev/null 2>&1 &&
        fail "the package enabled the unit (it has no interface yet)"

    # The service as systemd would start it: the administrator sets the interface; a policy
    # that needs nothing on this machine stands in for the example (its /etc/letsencrypt, log
    # list and CT cache are the site's to provide).
    sed -i -e 's/^MITMWATCH_IFACE=.*/MITMWATCH_IFACE=lo/' \
        -e 's/^MITMWATCH_OPTS=.*/MITMWATCH_OPTS="--stats-interval 1 --observer package-test"/' \
        /etc/default/mitmwatch
    printf 'version: 1\nservices:\n  - name: package-test.example\n' >/etc/mitmwatch/policy.yaml
    local envfile user group amb bnd umask_ exec reload
    envfile=$(unit_key EnvironmentFile)
    user=$(unit_key User) group=$(unit_key Group)
    amb=$(unit_key AmbientCapabilities) bnd=$(unit_key CapabilityBoundingSet)
    umask_=$(unit_key UMask) exec=$(unit_key ExecStart) reload=$(unit_key ExecReload)
    caps() { echo "$1" | tr 'A-Z' 'a-z' | sed -e 's/cap_//g' -e 's/ /,+/g' -e 's/^/-all,+/'; }
    set -a
    # shellcheck disable=SC1090
    . "$envfile"
    set +a
    unit_argv "$exec"
    echo "ExecStart as argv: ${argv[*]@Q}"
    (
        umask "${umask_:-0022}"
        exec setpriv --reuid="$user" --regid="$group" --init-groups --inh-caps="$(caps "$amb")" \
            --ambient-caps="$(caps "$amb")" --bounding-set="$(caps "$bnd")" --no-new-privs \
            -- "${argv[@]}"
    ) 2>"$work/sensor.err" &
    sensor_pid=$!
    local ev=/var/log/mitmwatch/events.json
    if wait_for 10 has_stats "$ev"; then
        ok "the sensor runs as the unit starts it and writes $ev"
    else
        fail "no stats event in $ev: $(cat "$work/sensor.err")"
        return
    fi
    local st
    st=$(grep -E '^(Uid|Gid|CapPrm|CapEff|CapAmb|NoNewPrivs):' /proc/$sensor_pid/status | tr -s '\t' ' ')
    if echo "$st" | grep -qx "Uid: $uid $uid $uid $uid" && echo "$st" | grep -qx 'CapPrm: 0000000000000000' &&
        echo "$st" | grep -qx 'CapEff: 0000000000000000' && echo "$st" | grep -qx 'CapAmb: 0000000000000000' &&
        echo "$st" | grep -qx 'NoNewPrivs: 1'; then
        ok "running: user mitmwatch, no capabilities left, no_new_privs"
    else
        fail "the running sensor's credentials: $st"
    fi
    # logrotate with the installed snippet, then the unit's ExecReload (SIGHUP): a new file.
    if logrotate -f -s "$work/logrotate.state" /etc/logrotate.d/mitmwatch >"$work/logrotate.log" 2>&1 &&
        [ -s "$ev.1" ]; then
        ok "logrotate rotated $ev"
    else
        fail "logrotate: $(cat "$work/logrotate.log")"
    fi
    # shellcheck disable=SC2034 # read by unit_argv through ${!name}
    MAINPID=$sensor_pid
    unit_argv "$reload"
    "${argv[@]}" || fail "ExecReload: ${argv[*]}"
    if wait_for 10 has_stats "$ev"; then
        ok "after ExecReload the sensor writes to the new $ev"
    else
        fail "nothing in the new $ev after ExecReload: $(cat "$work/sensor.err")"
    fi
    kill -TERM $sensor_pid
    wait $sensor_pid
    local rc=$?
    sensor_pid=""
    [ $rc -eq 0 ] || fail "the sensor exited $rc on SIGTERM: $(cat "$work/sensor.err")"
    tail -1 "$ev" | grep -q '"final":true' || fail "no final stats event at the end of $ev"
    [ "$(stat -c %U /var/lib/mitmwatch/state.msgpack 2>/dev/null)" = mitmwatch ] &&
        ok "state written by mitmwatch on SIGTERM" || fail "no state file in /var/lib/mitmwatch"
    [ -s "$work/sensor.err" ] && echo "sensor stderr: $(cat "$work/sensor.err")"

    # An administrator's enable must be undone by the purge too.
    systemctl enable mitmwatch.service >/dev/null 2>&1 || fail "systemctl enable (offline)"
    if dpkg --purge mitmwatch >"$work/dpkg-purge.log" 2>&1; then
        ok "dpkg --purge mitmwatch"
    else
        cat "$work/dpkg-purge.log"
        fail "dpkg --purge mitmwatch"
    fi
    local left=""
    dpkg-query -W mitmwatch >/dev/null 2>&1 && left="$left package"
    [ -n "$(dpkg -l mitmwatch 2>/dev/null | grep mitmwatch)" ] && left="$left dpkg-l-entry"
    getent passwd mitmwatch >/dev/null && left="$left user"
    getent group mitmwatch >/dev/null && left="$left group"
    for p in /usr/bin/mitmwatch /etc/mitmwatch /etc/default/mitmwatch /etc/logrotate.d/mitmwatch \
        /var/lib/mitmwatch /var/log/mitmwatch /lib/systemd/system/mitmwatch.service \
        /usr/share/bash-completion/completions/mitmwatch /usr/share/doc/mitmwatch; do
        [ -e "$p" ] && left="$left $p"
    done
    left="$left $(find /etc/systemd /var/lib/systemd -name '*mitmwatch*' 2>/dev/null | tr '\n' ' ')"
    if [ -z "${left// /}" ]; then
        ok "nothing left after the purge"
    else
        fail "left after the purge:$left"
    fi
}

case $mode in
build) build_mode ;;
install)
    [ "$(id -u)" = 0 ] || {
        echo "skipped: dpkg -i needs root"
        exit 77
    }
    # one install test at a time on this machine (the package, the user and /usr/bin are shared)
    exec 9>/tmp/mw-package.lock
    flock 9
    install_mode
    ;;
*)
    echo "usage: package_test.sh build|install SRC BUILD WORK" >&2
    exit 2
    ;;
esac
if [ $fails -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
