#!/bin/sh
# The package's maintainer scripts on a machine where systemd and udevd run,
# which the test machines are not: in a private mount namespace whose /run
# has /run/systemd/system and a /run/udev/control socket, with systemctl,
# deb-systemd-invoke, deb-systemd-helper, systemd-sysusers, systemd-tmpfiles
# and udevadm replaced by stubs that only log their arguments. Checks that an
# install starts the units, an upgrade stops them before unpacking and starts
# them after, a removal stops them, udev rules are re-triggered, and that
# with DPKG_ROOT set (installing into another root) none of that touches
# this machine.
#   package_scripts.sh DEB
set -eu
if [ "${1:-}" != --inner ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: package_scripts needs root (a mount namespace)" >&2; exit 1; }
	unshare -m true 2>/dev/null || { echo "FAIL: unshare -m does not work here" >&2; exit 1; }
	exec unshare -m "$0" --inner "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
fi
DEB=$2
dir=$(mktemp -d /tmp/espfab-mscripts.XXXXXX)
trap 'kill "$udev" 2>/dev/null || true; rm -rf "$dir"' EXIT
die() { echo "FAIL: $*" >&2; [ -f "$dir/log" ] && sed 's/^/  log: /' "$dir/log" >&2; exit 1; }

mount --make-rprivate / 2>/dev/null || true
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system /run/udev
python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind('/run/udev/control'); s.listen(1)
print('ready', flush=True); time.sleep(120)" >"$dir/udev.out" &
udev=$!
for _ in $(seq 50); do [ -S /run/udev/control ] && break; sleep 0.1; done
[ -S /run/udev/control ] || die "no stand-in udev control socket"

mkdir "$dir/stubs" "$dir/ctl"
for t in systemctl deb-systemd-invoke deb-systemd-helper systemd-sysusers systemd-tmpfiles udevadm; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/log"\n' "$t" "$dir" >"$dir/stubs/$t"
	chmod +x "$dir/stubs/$t"
done
dpkg-deb -e "$DEB" "$dir/ctl"
run() { # script args...: with the stubs first in PATH
	s=$1
	shift
	: >"$dir/log"
	PATH="$dir/stubs:$PATH" sh -e "$dir/ctl/$s" "$@" || die "$s $* exited $?"
}
has() { grep -qx -- "$1" "$dir/log" || die "$2: no '$1'"; }
hasnt() { ! grep -q -- "$1" "$dir/log" || die "$2: unexpected '$1'"; }

run postinst configure
has "systemd-sysusers espfab.conf" "install"
has "systemd-tmpfiles --create espfab.conf" "install"
has "deb-systemd-helper enable espfabd.service" "install"
has "systemctl --system daemon-reload" "install"
has "deb-systemd-invoke start espfabd.socket espfabd.service" "install"
has "udevadm control --reload-rules" "install"
has "udevadm trigger --subsystem-match=tty --action=add" "install"
# sysusers before tmpfiles: the directories are owned by the user
[ "$(grep -n sysusers "$dir/log" | cut -d: -f1)" -lt "$(grep -n tmpfiles "$dir/log" | cut -d: -f1)" ] ||
	die "systemd-tmpfiles runs before systemd-sysusers"

run preinst upgrade 0.1.0
has "deb-systemd-invoke stop espfabd.service espfabd.socket" "upgrade (preinst)"
run postinst configure 0.1.0
has "deb-systemd-invoke restart espfabd.socket espfabd.service" "upgrade (postinst)"

run prerm remove
has "deb-systemd-invoke stop espfabd.service espfabd.socket" "remove"
run prerm upgrade 0.1.1
hasnt "deb-systemd-invoke" "prerm upgrade"

# Into another root: users, directories and enablement go there; nothing
# is started, stopped or re-triggered here.
export DPKG_ROOT="$dir/otherroot"
run postinst configure
has "systemd-sysusers --root=$DPKG_ROOT espfab.conf" "DPKG_ROOT install"
hasnt "systemctl" "DPKG_ROOT install"
hasnt "deb-systemd-invoke" "DPKG_ROOT install"
hasnt "udevadm" "DPKG_ROOT install"
run preinst upgrade 0.1.0
hasnt "deb-systemd-invoke" "DPKG_ROOT upgrade"
run prerm remove
hasnt "deb-systemd-invoke" "DPKG_ROOT remove"
unset DPKG_ROOT

# Without systemd as PID 1: enablement only.
rmdir /run/systemd/system
run postinst configure
has "deb-systemd-helper enable espfabd.service" "no systemd"
hasnt "systemctl" "no systemd"
hasnt "deb-systemd-invoke" "no systemd"
echo "package_scripts: ok"
