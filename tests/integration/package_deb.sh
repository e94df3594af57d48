#!/bin/sh
# The Debian package, installed and upgraded the way a line PC gets it:
#  1. tools/package builds version N (lintian must pass) and, later, N+1;
#     package_scripts.sh runs N's maintainer scripts as on a machine where
#     systemd and udevd run (stubs in a mount namespace);
#  2. dpkg installs N into a throwaway root (dpkg --root, its own admindir
#     holding only the package's dependencies as this host has them, and
#     --force-script-chrootless: the maintainer scripts run here with
#     DPKG_ROOT set, as for an image build) and the test checks what the
#     scripts did: the espfab user (systemd-sysusers), its directories
#     (systemd-tmpfiles), the enabled units (deb-systemd-helper), the
#     conffile;
#  3. the installed espfabd is started as its unit's ExecStart says, against
#     espfab-sim, with the installed CLI; one device is provisioned;
#  4. the conffile is edited, N+1 is installed over N while that espfabd
#     runs, then espfabd is restarted from the new files (it reports N+1
#     where it reported N: the package's version is built in): the edit survives,
#     the records and the audit are unchanged, a second device is
#     provisioned by the new daemon under the edited station name;
#  5. purge removes the package but leaves the records store.
# Any missing tool is a failure, never a skip.
#   package_deb.sh SOURCE_DIR WORK_DIR
set -eu
SRC=$(cd "$1" && pwd)
mkdir -p "$2"
PKGWORK=$(cd "$2" && pwd)
EX=$SRC/examples/lamp
. "$SRC/tests/integration/wait.sh"
. "$SRC/tests/integration/daemon_lib.sh"

for t in dpkg dpkg-deb dpkg-query dpkg-buildpackage dh lintian systemd-sysusers systemd-tmpfiles \
	deb-systemd-helper sqlite3 python3; do
	command -v "$t" >/dev/null 2>&1 || ef_die "$t is not installed (tools/deps installs it): cannot test the package"
done
[ "$(id -u)" = 0 ] || ef_die "needs root: the package's files are owned by root and the espfab user"

ef_dir=$(mktemp -d /tmp/espfab-deb.XXXXXX)
trap ef_cleanup EXIT INT TERM
R=$ef_dir/root
ADMIN=$R/var/lib/dpkg
N=0.1.0+test1
N1=0.1.0+test2

say() { echo "== $*"; }

build() { # version
	ESPFAB_DEB_VERSION=$1 ESPFAB_PKG_WORKDIR=$PKGWORK ESPFAB_LINTIAN=${2:-yes} \
		"$SRC/tools/package" "$ef_dir/debs" >"$ef_dir/package-$1.log" 2>&1 || {
		tail -30 "$ef_dir/package-$1.log" >&2
		ef_die "tools/package failed for version $1"
	}
	deb=$(tail -1 "$ef_dir/package-$1.log")
	[ -f "$deb" ] || ef_die "tools/package printed no .deb for $1: $deb"
	[ "$(dpkg-deb -f "$deb" Version)" = "$1" ] || ef_die "$deb is not version $1"
}

dpkg_root() {
	dpkg --root="$R" --force-script-chrootless --log="$ef_dir/dpkg.log" "$@" >>"$ef_dir/dpkg.out" 2>&1 || {
		tail -20 "$ef_dir/dpkg.out" >&2
		ef_die "dpkg --root $*"
	}
}

field() { # field of the installed package
	dpkg-query --admindir="$ADMIN" -W -f="\${$1}" espfab
}

t0=$(date +%s)
say "tools/package, version $N (with lintian)"
build "$N"
debN=$deb
say "built in $(($(date +%s) - t0)) s: $debN"
say "maintainer scripts where systemd and udevd run (stubs, mount namespace)"
"$SRC/tests/integration/package_scripts.sh" "$debN" || ef_die "maintainer scripts"

# The throwaway root's package database: the package's direct dependencies
# as this host has them installed (the maintainer scripts and the started
# binaries run on this host, chrootless), so dpkg checks Depends for real.
mkdir -p "$ADMIN/info" "$ADMIN/updates"
: >"$ADMIN/status"
for dep in $(dpkg-deb -f "$debN" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//'); do
	dpkg-query -s "$dep" >>"$ADMIN/status" 2>/dev/null || ef_die "dependency $dep is not installed here"
	echo >>"$ADMIN/status"
	: >"$ADMIN/info/$(dpkg-query -W -f='${binary:Package}' "$dep").list"
done

say "dpkg --root: install $N"
dpkg_root -i "$debN"
[ "$(field Version) $(field db:Status-Abbrev)" = "$N ii " ] ||
	ef_die "after install: '$(field Version) $(field db:Status-Abbrev)'"
for f in usr/sbin/espfabd usr/bin/espfab usr/bin/espfab-sim lib/systemd/system/espfabd.service \
	lib/systemd/system/espfabd.socket lib/udev/rules.d/60-espfab.rules usr/lib/sysusers.d/espfab.conf \
	usr/lib/tmpfiles.d/espfab.conf usr/share/man/man8/espfabd.8.gz usr/share/man/man5/espfabd.conf.5.gz \
	usr/share/man/man1/espfab.1.gz usr/share/man/man1/espfab-sim.1.gz usr/share/espfab/schemas/001_initial.sql; do
	[ -e "$R/$f" ] || ef_die "not installed: /$f"
done
field Conffiles | grep -q "^ /etc/espfab/espfabd.conf " || ef_die "/etc/espfab/espfabd.conf is not a conffile"
# What the maintainer scripts did, in the root and nowhere else.
uid=$(awk -F: '$1 == "espfab" { print $3 }' "$R/etc/passwd" 2>/dev/null || true)
[ -n "$uid" ] || ef_die "postinst made no espfab user in the root's /etc/passwd"
awk -F: '$1 == "dialout"' "$R/etc/group" | grep -q espfab || ef_die "espfab is not in group dialout"
[ "$(stat -c '%u %a' "$R/var/lib/espfab")" = "$uid 750" ] ||
	ef_die "/var/lib/espfab is $(stat -c '%u %a' "$R/var/lib/espfab"), want uid $uid mode 750"
[ -d "$R/run/espfab" ] || ef_die "postinst made no /run/espfab"
[ -L "$R/etc/systemd/system/multi-user.target.wants/espfabd.service" ] || ef_die "espfabd.service not enabled"
[ -L "$R/etc/systemd/system/sockets.target.wants/espfabd.socket" ] || ef_die "espfabd.socket not enabled"

# The service as its unit starts it, from the installed files.
exec_start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/espfabd.service")
[ "$exec_start" = "/usr/sbin/espfabd --foreground --config /etc/espfab/espfabd.conf" ] ||
	ef_die "unexpected ExecStart: $exec_start"
BIN=$R/usr/bin
DB=$R/var/lib/espfab/espfab.db
SOCK=$R/run/espfab/espfabd.sock
start_daemon() { # extra options
	# ExecStart with the root's prefix; the database and socket where the
	# unit's StateDirectory/RuntimeDirectory put them, inside the root.
	"$R/usr/sbin/espfabd" --foreground --config "$R/etc/espfab/espfabd.conf" --db "$DB" --socket "$SOCK" \
		--before no_reset "$@" >>"$ef_dir/daemon.log" 2>&1 &
	ef_daemon_pid=$!
	ef_pids="$ef_pids $ef_daemon_pid"
	for _ in $(seq 100); do
		"$BIN/espfab" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$ef_daemon_pid" 2>/dev/null || ef_die "the installed espfabd exited at startup"
		sleep 0.1
	done
	ef_die "the installed espfabd did not answer on $SOCK"
}
stop_daemon() {
	kill -TERM "$ef_daemon_pid"
	wait "$ef_daemon_pid" || ef_die "espfabd exited $? on SIGTERM"
	ef_forget "$ef_daemon_pid"
}
provision() { # count: one batch, until done
	id=$("$BIN/espfab" --socket "$SOCK" batch add --product lamp --count "$1" | awk '{ print $2 }')
	end=$(($(date +%s) + 60))
	until "$BIN/espfab" --socket "$SOCK" batch show "$id" | awk 'NR == 2 { print $3 }' | grep -qx done; do
		[ "$(date +%s)" -lt "$end" ] || ef_die "batch $id not done after 60 s"
		sleep 0.3
	done
}
verified() {
	"$BIN/espfab" --db "$DB" records list --state verified --json | ef_py 'len(j["records"])'
}

say "the installed espfabd, espfab and espfab-sim: provision one device"
"$BIN/espfab" part "$EX/partitions.csv" "$ef_dir/pt.bin" >/dev/null 2>&1 || ef_die "installed espfab part"
"$BIN/espfab" --db "$DB" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" --unique DeviceSecret \
	>/dev/null || ef_die "installed espfab product add"
"$BIN/espfab" --db "$DB" records import --product lamp "$EX/values.csv" >/dev/null || ef_die "records import"
ef_sim d1 24:0a:c4:00:0d:01
sim=$ef_last_pid
start_daemon --port slot1="$ef_dir/d1"
running_version() {
	"$BIN/espfab" --socket "$SOCK" status --json | ef_py 'j["version"]'
}
[ "$(running_version)" = "$N" ] || ef_die "the running espfabd reports version '$(running_version)', want $N"
provision 1
[ "$(verified)" = 1 ] || ef_die "$(verified) verified records after the first batch, want 1"
"$BIN/espfab" --db "$DB" audit --json >"$ef_dir/audit-N.json"

say "edit the conffile; upgrade to $N1 while espfabd runs"
printf '# edited on the line PC\nstation = line7\n' >>"$R/etc/espfab/espfabd.conf"
cp "$R/etc/espfab/espfabd.conf" "$ef_dir/conf-edited"
build "$N1" no
dpkg_root -i "$deb"
[ "$(field Version) $(field db:Status-Abbrev)" = "$N1 ii " ] ||
	ef_die "after the upgrade: '$(field Version) $(field db:Status-Abbrev)'"
cmp -s "$R/etc/espfab/espfabd.conf" "$ef_dir/conf-edited" || ef_die "the upgrade changed the edited conffile"
ls "$R/etc/espfab/" | grep -q 'dpkg-' && ef_die "the upgrade left $(ls "$R/etc/espfab/" | grep dpkg-)"
[ "$(grep -c '^espfab:' "$R/etc/passwd")" = 1 ] || ef_die "the espfab user is not there exactly once"
# What systemd does after an upgrade: restart the service on the new files.
stop_daemon
kill "$sim"
ef_forget "$sim"
wait "$sim" 2>/dev/null || true

say "after the upgrade: the store, the audit, a second device"
[ "$(verified)" = 1 ] || ef_die "$(verified) verified records after the upgrade, want 1"
"$BIN/espfab" --db "$DB" audit --json | python3 -c "
import json, sys
before = json.load(open('$ef_dir/audit-N.json'))['audit']
after = json.load(sys.stdin)['audit']
assert before and after[:len(before)] == before, 'audit rows changed or lost'
" || ef_die "the audit trail did not survive the upgrade"
migrations=$(ls "$R/usr/share/espfab/schemas/" | grep -c '^[0-9][0-9][0-9]_.*\.sql$')
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = "$migrations" ] ||
	ef_die "database at schema $(sqlite3 "$DB" 'PRAGMA user_version'), the package ships $migrations migrations"
ef_sim d2 24:0a:c4:00:0d:02
start_daemon --port slot2="$ef_dir/d2"
[ "$(running_version)" = "$N1" ] || ef_die "after the upgrade espfabd reports version '$(running_version)', want $N1"
[ "$("$R/usr/sbin/espfabd" --version)" = "espfabd $N1" ] || ef_die "espfabd --version: $("$R/usr/sbin/espfabd" --version)"
provision 1
stop_daemon
[ "$(verified)" = 2 ] || ef_die "$(verified) verified records after the second batch, want 2"
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check after the upgrade"
"$BIN/espfab" --db "$DB" audit --json | ef_py '[a["station"] for a in j["audit"] if a["event"] == "provision"]' |
	grep -q "'line7'" || ef_die "the new daemon did not read the kept conffile (no provision row of station line7)"

say "purge: the package goes, the records store stays"
dpkg_root --purge espfab
[ ! -e "$R/usr/sbin/espfabd" ] && [ ! -e "$R/etc/espfab/espfabd.conf" ] || ef_die "purge left the package's files"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/espfabd.service" ] || ef_die "purge left the unit enabled"
[ -s "$DB" ] || ef_die "purge removed the records store"
say "package_deb: ok in $(($(date +%s) - t0)) s"
