#!/bin/sh
# Installed paths agree everywhere (issue 17): the unit's --config, the
# programs' compiled-in default, tmpfiles.d and where `cmake --install` puts
# the sample configuration, for this build's prefix and for /usr (which
# GNUInstallDirs maps to /etc, not /usr/etc). Also: espfab-sim.1 and the bash
# completion are installed, the completion knows every command of
# `espfab --help`, and both programs print the project's version.
#   install_paths.sh SOURCE_DIR BUILD_DIR
set -eu
SRC=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
tmp=$(mktemp -d /tmp/espfab-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
die() {
	echo "FAIL: $*" >&2
	exit 1
}

# 1. This build: one config path in the unit, espfab and espfabd.
unit_cfg=$(sed -n 's/^ExecStart=.* --config \([^ ]*\).*/\1/p' "$B/systemd/espfabd.service")
[ -n "$unit_cfg" ] || die "no --config in the built unit's ExecStart"
"$B/bin/espfab" --help | grep -q -- "--config $unit_cfg," || die "espfab's default config is not the unit's $unit_cfg:
$("$B/bin/espfab" --help | grep defaults)"
"$B/bin/espfabd" --help | grep -q -- "--config $unit_cfg," || die "espfabd's default config is not the unit's $unit_cfg"
sock=$(sed -n 's/^ListenStream=//p' "$B/systemd/espfabd.socket")
"$B/bin/espfab" --help | grep -q "$sock" || die "espfab's default socket is not the socket unit's $sock"
grep -q "^ReadWritePaths=.*$(dirname "$sock")" "$B/systemd/espfabd.service" || die "the unit cannot write $(dirname "$sock")"
grep -q "^d $(dirname "$unit_cfg") " "$B/systemd/espfab.tmpfiles.conf" || die "tmpfiles.d does not create $(dirname "$unit_cfg")"
DESTDIR=$tmp/root cmake --install "$B" >/dev/null || die "cmake --install"
[ -f "$tmp/root$unit_cfg" ] || die "the sample configuration is not installed where the unit reads it ($unit_cfg)"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
man1=$(find "$tmp/root$prefix" -path '*/man1/espfab-sim.1' | head -1)
[ -n "$man1" ] || die "espfab-sim.1 not installed"
comp=$(find "$tmp/root$prefix" -path '*/bash-completion/completions/espfab' | head -1)
[ -n "$comp" ] || die "bash completion not installed"

# 2. The completion offers every command and the sub-commands of a family.
words=$("$B/bin/espfab" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ -n "$words" ] || die "no commands in espfab --help"
for w in $words; do
	got=$(bash -c ". '$comp'; COMP_WORDS=(espfab ''); COMP_CWORD=1; _espfab; printf '%s\n' \"\${COMPREPLY[@]}\"")
	echo "$got" | grep -qx "$w" || die "completion does not offer '$w'"
done
got=$(bash -c ". '$comp'; COMP_WORDS=(espfab --db x.db rec); COMP_CWORD=3; _espfab; echo \"\${COMPREPLY[*]}\"")
[ "$got" = records ] || die "completion of 'espfab --db x.db rec': '$got'"
got=$(bash -c ". '$comp'; COMP_WORDS=(espfab batch ''); COMP_CWORD=2; _espfab; echo \"\${COMPREPLY[*]}\"")
[ "$got" = "add list show pause resume cancel" ] || die "completion of 'espfab batch': '$got'"
got=$(bash -c ". '$comp'; COMP_WORDS=(espfab records list --state v); COMP_CWORD=4; _espfab; echo \"\${COMPREPLY[*]}\"")
[ "$got" = verified ] || die "completion of --state: '$got'"

# 3. One version: the CMake project's.
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$B/CMakeCache.txt")
[ -n "$ver" ] || ver=$(sed -n 's/^project(espfab VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ "$("$B/bin/espfab" --version)" = "espfab $ver" ] || die "espfab --version: $("$B/bin/espfab" --version 2>&1)"
[ "$("$B/bin/espfabd" --version)" = "espfabd $ver" ] || die "espfabd --version: $("$B/bin/espfabd" --version 2>&1)"

# 4. A /usr tree (configured, not built): the config goes to /etc/espfab.
cmake -S "$SRC" -B "$tmp/usr" -DCMAKE_INSTALL_PREFIX=/usr -DESPFAB_TESTS=OFF >"$tmp/cmake.log" 2>&1 ||
	die "configure with /usr: $(tail -5 "$tmp/cmake.log")"
grep -q '"/etc/espfab/espfabd.conf"' "$tmp/usr/generated/espfab/paths.h" || die "/usr build: programs' default config is not /etc/espfab/espfabd.conf"
grep -q '^ExecStart=/usr/sbin/espfabd --foreground --config /etc/espfab/espfabd.conf$' "$tmp/usr/systemd/espfabd.service" ||
	die "/usr build: unit $(grep ExecStart "$tmp/usr/systemd/espfabd.service")"
DESTDIR=$tmp/usrroot cmake --install "$tmp/usr" --component espfab-system >/dev/null || die "install of the system files"
[ -f "$tmp/usrroot/etc/espfab/espfabd.conf" ] || die "/usr build: sample configuration not in /etc/espfab"
[ ! -e "$tmp/usrroot/usr/etc" ] || die "/usr build: something was installed in /usr/etc"
[ -f "$tmp/usrroot/usr/lib/systemd/system/espfabd.service" ] || die "/usr build: unit not in /usr/lib/systemd/system"
echo "ok: config $unit_cfg (and /etc/espfab for /usr) in unit, programs and install; man page, completion, version"
