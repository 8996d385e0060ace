# Install-time part of tools/dist (install(SCRIPT)): the system policy, the service settings,
# logrotate and the systemd unit, placed by the prefix this install really uses (cpack installs
# with prefix /usr into DESTDIR; `cmake --install` with CMAKE_INSTALL_PREFIX or --prefix).
# GNUInstallDirs' rule for the configuration directory: prefix /usr or / -> /etc, /opt/X ->
# /etc/opt/X, otherwise PREFIX/etc; an absolute CMAKE_INSTALL_SYSCONFDIR wins. The unit goes to
# /lib/systemd/system for /usr (Debian 12) and to PREFIX/lib/systemd/system otherwise (systemd
# reads /usr/local/lib/systemd/system too).
#
# The sources in tools/dist name the Debian paths (/usr/bin/mitmwatch, /etc/...); for another
# prefix the copies installed name that prefix's. For /usr they are installed byte for byte.
# Set before this script by install(CODE): MW_DIST_SRC, MW_DIST_POLICY, MW_DIST_STAGE,
# MW_DIST_BINDIR, MW_DIST_SYSCONFDIR.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "(.)/+$" "\\1" prefix "${prefix}")
if(IS_ABSOLUTE "${MW_DIST_SYSCONFDIR}")
  set(etc "${MW_DIST_SYSCONFDIR}")
elseif(prefix STREQUAL "/usr" OR prefix STREQUAL "/")
  set(etc "/etc")
elseif(prefix MATCHES "^/opt/")
  set(etc "/etc${prefix}")
else()
  set(etc "${prefix}/${MW_DIST_SYSCONFDIR}")
endif()
if(prefix STREQUAL "/usr" OR prefix STREQUAL "/")
  set(unitdir "/lib/systemd/system")
else()
  set(unitdir "${prefix}/lib/systemd/system")
endif()
if(IS_ABSOLUTE "${MW_DIST_BINDIR}")
  set(bindir "${MW_DIST_BINDIR}")
elseif(prefix STREQUAL "/")
  set(bindir "/${MW_DIST_BINDIR}")
else()
  set(bindir "${prefix}/${MW_DIST_BINDIR}")
endif()

# Copies with this install's paths, in a staging folder of the build tree.
file(MAKE_DIRECTORY "${MW_DIST_STAGE}")
foreach(f mitmwatch.service mitmwatch.default mitmwatch.logrotate)
  file(READ "${MW_DIST_SRC}/${f}" text)
  string(REPLACE "/usr/bin/mitmwatch" "${bindir}/mitmwatch" text "${text}")
  string(REPLACE "/etc/default/mitmwatch" "${etc}/default/mitmwatch" text "${text}")
  string(REPLACE "/etc/mitmwatch/" "${etc}/mitmwatch/" text "${text}")
  file(WRITE "${MW_DIST_STAGE}/${f}" "${text}")
endforeach()

file(INSTALL DESTINATION "${etc}/mitmwatch" TYPE FILE RENAME policy.yaml
     FILES "${MW_DIST_POLICY}")
file(INSTALL DESTINATION "${etc}/default" TYPE FILE RENAME mitmwatch
     FILES "${MW_DIST_STAGE}/mitmwatch.default")
file(INSTALL DESTINATION "${etc}/logrotate.d" TYPE FILE RENAME mitmwatch
     FILES "${MW_DIST_STAGE}/mitmwatch.logrotate")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${MW_DIST_STAGE}/mitmwatch.service")
