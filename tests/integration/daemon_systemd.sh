#!/bin/sh
# espfabd as systemd runs it, on a machine without systemd as PID 1:
#  1. the installed units as systemd reads them (systemd-analyze verify, and
#     the sandboxing's exposure score);
#  2. the daemon started with socket activation, $NOTIFY_SOCKET,
#     $WATCHDOG_USEC and its stderr as the journal stream, in a private mount
#     namespace whose /run holds a stand-in journald socket
#     (fake_systemd.py): READY=1, STATUS= with counts, keep-alives at half
#     the watchdog period, STOPPING=1 and exit 0 on SIGTERM; structured
#     journal fields PORT, MAC, BATCH, RESULT; no secret in the journal.
#   daemon_systemd.sh BIN_DIR BUILT_UNIT_DIR SOURCE_UNIT_DIR
# (--threshold counts tenths: 30 is an exposure of 3.0.)
# Exit 77 (skipped) only when neither part can run here.
set -eu
mode=outer
if [ "${1:-}" = "--inner" ]; then
	mode=inner
	shift
fi
BIN=$(cd "$1" && pwd)
UNITS=$(cd "$2" && pwd)
SRC=$(cd "$3" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
EX=$(cd "$HERE/../../examples/lamp" && pwd)
. "$HERE/wait.sh"
. "$HERE/daemon_lib.sh"

ran=0

units() {
	command -v systemd-analyze >/dev/null 2>&1 || {
		echo "systemd-analyze not installed: unit check skipped"
		return 0
	}
	ef_setup
	# The unit as installed, but starting the binary under test.
	sed "s#^ExecStart=[^ ]*/espfabd #ExecStart=$BIN/espfabd #" "$UNITS/espfabd.service" >"$ef_dir/espfabd.service"
	cp "$UNITS/espfabd.socket" "$ef_dir/"
	grep -q "^ExecStart=$BIN/espfabd " "$ef_dir/espfabd.service" || ef_die "no ExecStart line to point at the build"
	systemd-analyze verify --man=no "$ef_dir/espfabd.service" "$ef_dir/espfabd.socket" ||
		ef_die "systemd-analyze verify refused the units"
	out=$(systemd-analyze security --offline=true --threshold=30 "$ef_dir/espfabd.service" 2>&1) ||
		ef_die "sandboxing weaker than an exposure of 3.0: $(echo "$out" | tail -1)"
	echo "units verified; $(echo "$out" | tail -1)"
	ef_cleanup
	ran=1
}

# Inside the private mount namespace (tmpfs on /run).
inner() {
	ef_setup
	ef_db_init "$ef_dir/db"
	mac=24:0a:c4:00:00:71
	ef_sim b1 $mac
	mkdir "$ef_dir/sd"
	python3 "$HERE/fake_systemd.py" "$ef_dir/sd" -- "$BIN/espfabd" --foreground --db "$ef_dir/db" \
		--station sd --before no_reset --port "p1=$ef_dir/b1" &
	fpid=$!
	ef_pids="$ef_pids $fpid"
	# No --socket: the control socket is the one handed over on fd 3.
	sd_up() { "$BIN/espfab" --socket "$ef_dir/sd/sock" status >/dev/null 2>&1 || ! kill -0 "$fpid" 2>/dev/null; }
	wait_for 10 sd_up
	kill -0 "$fpid" 2>/dev/null || ef_die "espfabd exited at startup: $(cat "$ef_dir/sd/stderr")"
	"$BIN/espfab" --socket "$ef_dir/sd/sock" batch add --product lamp --count 1 >/dev/null || ef_die "batch add"
	sd_done() {
		"$BIN/espfab" --socket "$ef_dir/sd/sock" batch show 1 2>/dev/null | awk 'NR == 2 { print $3 }' |
			grep -qx done
	}
	wait_for 60 sd_done || ef_die "batch 1 not done after 60 s"
	# The keep-alives the check below counts (every ~0.5 s at WATCHDOG_USEC=1 s).
	dogs() { [ "$(grep -cx WATCHDOG=1 "$ef_dir/sd/notify" 2>/dev/null)" -ge 4 ]; }
	wait_for 10 dogs || ef_die "fewer than 4 keep-alives in 10 s: $(grep -c WATCHDOG=1 "$ef_dir/sd/notify")"
	kill -TERM "$fpid"
	rc=0
	wait "$fpid" || rc=$?
	ef_forget "$fpid"
	[ "$rc" -eq 0 ] || ef_die "espfabd exited $rc on SIGTERM"
	ef_check_device b1 $mac

	python3 - "$ef_dir/sd" "$EX/values.csv" "$mac" <<'EOF' || ef_die "systemd interface checks failed"
import csv, json, os, sys
d, values, mac = sys.argv[1:]
notes = [l.rstrip('\n') for l in open(os.path.join(d, 'notify'))]
assert notes and notes[0] == 'READY=1', notes[:3]
assert any(n.startswith('STATUS=ready') for n in notes), notes
assert any(n.startswith('STATUS=') and 'verified 1' in n for n in notes), [n for n in notes if 'STATUS' in n]
dog = [n for n in notes if n == 'WATCHDOG=1']
# waited for above: keep-alives at a 0.5 s period
assert len(dog) >= 4, 'only %d keep-alives' % len(dog)
assert notes[-1] == 'STOPPING=1' or 'STOPPING=1' in notes[-3:], notes[-3:]

if not os.path.exists(os.path.join(d, 'journal')):
    print('no journal stand-in here: journal fields not checked')
    sys.exit(0)
entries = [json.loads(l) for l in open(os.path.join(d, 'journal'))]
assert entries, 'nothing logged to the journal'
assert all(e.get('SYSLOG_IDENTIFIER') == 'espfabd' for e in entries)
assert all(e.get('PRIORITY', '').isdigit() for e in entries)
arrived = [e for e in entries if e.get('PORT') == 'p1' and e.get('MAC') == mac and 'arrived' in e['MESSAGE']]
assert arrived, 'no arrival entry with PORT and MAC'
done = [e for e in entries if e.get('RESULT') == 'verified']
assert done and done[0].get('BATCH') == '1' and done[0].get('PORT') == 'p1' and done[0].get('MAC') == mac, done
# Secrets never reach the journal (nor stderr, which the journal replaces).
secrets = [r['DeviceSecret'] for r in csv.DictReader(open(values))]
blob = open(os.path.join(d, 'journal')).read() + open(os.path.join(d, 'stderr')).read()
assert not any(s in blob for s in secrets), 'a DeviceSecret reached the journal'
assert 'arrived' not in open(os.path.join(d, 'stderr')).read(), 'log lines went to stderr, not the journal'
print('journal: %d entries with PORT/MAC/BATCH/RESULT fields' % len(entries))
EOF
	echo "socket activation, READY/STATUS/WATCHDOG/STOPPING and the journal checked"
}

if [ "$mode" = inner ]; then
	mount -t tmpfs tmpfs /run
	inner
	exit 0
fi

units
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	unshare -m "$HERE/daemon_systemd.sh" --inner "$BIN" "$UNITS" "$SRC"
	ran=1
else
	echo "not root or no mount namespaces: the notify/journal part is skipped"
fi
[ "$ran" = 1 ] || exit 77
