# Shared helpers for the daemon's end-to-end tests and the demo (sourced).
# Every process started here is remembered by PID and stopped by PID.
#
# Needs: BIN (directory with espfab, espfabd, espfab-sim), EX (examples/lamp),
# and wait.sh sourced first (wait_for: every wait here is on an event).
command -v wait_for >/dev/null || { echo "daemon_lib.sh: source wait.sh (wait_for) before it" >&2; exit 1; }

ef_pids=""
ef_dir=""
ef_db=""

ef_setup() {
	ef_dir=$(mktemp -d /tmp/espfab-e2e.XXXXXX)
	ef_db=$ef_dir/db
	trap ef_cleanup EXIT INT TERM
	"$BIN/espfab" part "$EX/partitions.csv" "$ef_dir/pt.bin" >/dev/null 2>&1 ||
		ef_die "cannot build the partition table"
}

ef_cleanup() {
	for p in $ef_pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $ef_pids; do
		# bounded: a process that ignores SIGTERM for 5 s gets SIGKILL
		wait_gone 5 "$p" || kill -9 "$p" 2>/dev/null || true
	done
	ef_pids=""
	[ "${ef_db#postgres}" = "$ef_db" ] || pgfx_stop
	if [ -n "$ef_dir" ] && [ -z "${EF_KEEP:-}" ]; then
		rm -rf "$ef_dir"
	fi
}

ef_die() {
	echo "FAIL: $*" >&2
	if [ -n "$ef_dir" ] && [ -f "$ef_dir/daemon.log" ]; then
		echo "--- daemon log (last 30 lines)" >&2
		tail -30 "$ef_dir/daemon.log" >&2
	fi
	exit 1
}

ef_forget() { # pid
	ef_pids=$(echo "$ef_pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# A flash image with the product's partition table at 0x8000, like a board
# that left the firmware line with the application already flashed.
ef_flash() { # file [table.bin]
	python3 - "$1" "${2:-$ef_dir/pt.bin}" <<'EOF'
import sys
img = bytearray(b'\xff' * (4 * 1024 * 1024))
t = open(sys.argv[2], 'rb').read()
img[0x8000:0x8000 + len(t)] = t
open(sys.argv[1], 'wb').write(img)
EOF
}

# ef_sim NAME MAC [espfab-sim options...]: a device on $ef_dir/NAME (symlink).
# Its flash file is $ef_dir/NAME.flash (created once, kept across restarts).
# Sets ef_last_pid.
ef_sim() {
	name=$1 mac=$2
	shift 2
	[ -f "$ef_dir/$name.flash" ] || ef_flash "$ef_dir/$name.flash"
	rm -f "$ef_dir/$name"
	"$BIN/espfab-sim" --chip esp32s3 --link "$ef_dir/$name" --flash "$ef_dir/$name.flash" --mac "$mac" "$@" \
		>"$ef_dir/$name.sim.log" 2>&1 &
	ef_last_pid=$!
	ef_pids="$ef_pids $ef_last_pid"
	wait_for 30 [ -L "$ef_dir/$name" ] || ef_die "espfab-sim $name did not start"
}

ef_db_init() { # db [more product add options...]
	_db=$1
	shift
	"$BIN/espfab" --db "$_db" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" --unique DeviceSecret \
		"$@" >/dev/null || ef_die "product add"
	"$BIN/espfab" --db "$_db" records import --product lamp "$EX/values.csv" >/dev/null || ef_die "records import"
}

# ef_backend sqlite|pg NAME, after ef_setup: the store the scripts use
# ($ef_db) is the file $ef_dir/db, or database NAME on a PostgreSQL server
# of the test's own (tests/pg/pg_fixture.sh; stopped by ef_cleanup), with
# espfabd's outbox journal in $ef_dir.
# ef_sql SQL and ef_dump FILE look at it behind the store's back.
ef_backend() {
	[ "$1" = pg ] || return 0
	. "$(cd "$(dirname "$0")/../pg" && pwd)/pg_fixture.sh"
	pgfx_start
	ef_db=$(pgfx_createdb "$2")
	# where systemd's StateDirectory= puts the outbox journal
	STATE_DIRECTORY=$ef_dir
	export STATE_DIRECTORY
}
ef_sql() {
	case "$ef_db" in
	postgres*) pgfx_psql -d "$ef_db" -c "$1" ;;
	*) sqlite3 "$ef_db" "$1" ;;
	esac
}
ef_dump() { # file: every row of the store, as text
	case "$ef_db" in
	postgres*) "$PGFX_BIN/pg_dump" -d "$ef_db" >"$1" ;;
	*) sqlite3 "$ef_db" .dump >"$1" ;;
	esac
}

# ef_daemon [espfabd options...]: sets ef_daemon_pid; waits for the socket.
ef_daemon() {
	"$BIN/espfabd" --foreground --db "$ef_db" --socket "$ef_dir/sock" --station e2e --before no_reset "$@" \
		>>"$ef_dir/daemon.log" 2>&1 &
	ef_daemon_pid=$!
	ef_pids="$ef_pids $ef_daemon_pid"
	wait_for 10 _ef_daemon_settled
	"$BIN/espfab" --socket "$ef_dir/sock" status >/dev/null 2>&1 && return 0
	kill -0 "$ef_daemon_pid" 2>/dev/null || ef_die "espfabd exited at startup"
	ef_die "espfabd did not answer on its socket"
}
# Settled: it answers on its socket, or it is gone (no use waiting on).
_ef_daemon_settled() {
	"$BIN/espfab" --socket "$ef_dir/sock" status >/dev/null 2>&1 || ! kill -0 "$ef_daemon_pid" 2>/dev/null
}

ef_cli() {
	"$BIN/espfab" --socket "$ef_dir/sock" "$@"
}

# ef_json_get 'python expression over j' < json
ef_py() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# ef_wait_batch ID TIMEOUT: until the batch is no longer active.
ef_wait_batch() {
	wait_for "$2" _ef_batch_over "$1" && return 0
	ef_cli status >&2 || true
	ef_die "batch $1 still '${st:-?}' after $2 s"
}
_ef_batch_over() {
	# plain output, not JSON through python: this poll must stay cheap
	st=$(ef_cli batch show "$1" 2>/dev/null | awk 'NR == 2 { print $3 }' || true)
	case "$st" in done | cancelled) return 0 ;; esac
	return 1
}

# ef_wait_log PATTERN TIMEOUT: until the daemon log has a line matching it.
ef_wait_log() {
	wait_for "$2" grep -q -- "$1" "$ef_dir/daemon.log" 2>/dev/null ||
		ef_die "no '$1' in the daemon log after $2 s"
}

# ef_wait_step PORT STEP TIMEOUT: until espfab status shows PORT in STEP of
# its pipeline ("write": the device is being written, the record is sent).
# PORT "*": any port.
ef_wait_step() {
	wait_for "$3" _ef_in_step "$1" "$2" || ef_die "no port $1 in step $2 after $3 s: $(ef_cli status)"
}
_ef_in_step() {
	ef_cli status --json 2>/dev/null |
		ef_py "any(p.get('step') == '$2' and '$1' in ('*', p['name']) for p in j['ports'])" | grep -qx True
}

# The NVS partition of a simulated device's flash, decoded to JSON.
ef_dump_device() { # name
	dd if="$ef_dir/$1.flash" of="$ef_dir/$1.nvs" bs=4096 skip=9 count=6 2>/dev/null
	"$BIN/espfab" nvs dump --json "$ef_dir/$1.nvs"
}

# The record bound to a MAC: "id state" (from the store, by the CLI).
ef_record_of() { # mac
	"$BIN/espfab" --db "$ef_db" records list --json |
		python3 -c "import json,sys; r=[x for x in json.load(sys.stdin)['records'] if x['mac']=='$1']; print(' '.join((x['id']+' '+x['state']) for x in r))"
}

# The device holds exactly the record bound to its MAC: every value of that
# record's row in values.csv, and nothing else.
ef_check_device() { # name mac
	rec=$(ef_record_of "$2")
	id=${rec%% *}
	[ -n "$id" ] || ef_die "no record bound to $2"
	ef_dump_device "$1" | python3 -c "
import csv, json, sys
d = json.load(sys.stdin)
rows = {r['id']: r for r in csv.DictReader(open('$EX/values.csv'))}
want = rows['$id']
got = {v['key']: v['value'] for v in d['values']}
assert not d['problems'], d['problems']
for k, v in want.items():
    if k == 'id':
        continue
    assert str(got.get(k)) == v, (k, got.get(k), v)
assert set(got) == set(want) - {'id'}, sorted(got)
" || ef_die "device $1 ($2) does not hold exactly record $id"
}

# The store's invariant holds, no record on two MACs, no MAC with two records.
ef_check_store() {
	"$BIN/espfab" --db "$ef_db" records check >/dev/null || ef_die "records check: invariant broken"
	"$BIN/espfab" --db "$ef_db" records list --json | python3 -c "
import json, sys
r = [x for x in json.load(sys.stdin)['records'] if x['mac']]
macs = [x['mac'] for x in r]
assert len(macs) == len(set(macs)), macs" || ef_die "a MAC holds two records"
}
