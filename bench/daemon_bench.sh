#!/bin/sh
# Station throughput: devices per hour for 1, 8 and 32 simulated ESP32-S3
# boards at 921600 baud with espfab-sim's default timing model (10 bits per
# byte at the current baud, 45 ms per 4 KiB sector erased, 0.4 ms per page),
# whole pipeline through espfabd, with per-step timings; next to the bare
# `espfab flash write 0x9000 nvs.bin --verify` time for the same 24 KiB image.
#   bench/daemon_bench.sh BIN_DIR [N ...]      (default N: 1 8 32)
# STORE=postgresql: the store on a local PostgreSQL server started here
# (tests/pg/pg_fixture.sh, fsync on), a fresh database per run, to compare
# the per-device store steps (claim, audit) with SQLite's.
# Each figure is the median of REPEAT runs (default 3; one device per board
# per run, all boards identified and waiting when the batch is queued), so
# one run disturbed by another process does not decide it. Ends with the
# scaling against N times the one-board rate (target: 90% for 32).
# Prints figures; never a test. Stops every process it started.
set -eu
BIN=$(cd "$1" && pwd)
shift
COUNTS=${*:-1 8 32}
REPEAT=${REPEAT:-3}
EX=$(cd "$(dirname "$0")/../examples/lamp" && pwd)
. "$(dirname "$0")/../tests/integration/wait.sh"
. "$(dirname "$0")/../tests/integration/daemon_lib.sh"

ef_setup
STORE=${STORE:-sqlite}
if [ "$STORE" = postgresql ]; then
	. "$(dirname "$0")/../tests/pg/pg_fixture.sh"
	trap 'ef_cleanup; pgfx_stop' EXIT INT TERM
	pgfx_start
	# the outbox journal, where systemd's StateDirectory= would put it
	STATE_DIRECTORY=$ef_dir
	export STATE_DIRECTORY
fi
nrun=0
# Enough records for the biggest run: the lamp layout with generated values.
python3 - "$ef_dir/values.csv" <<'EOF'
import hashlib, sys
with open(sys.argv[1], 'w') as f:
    f.write('id,ProductID,DeviceSecret,DeviceName,HwRev\n')
    for i in range(1, 1001):
        s = hashlib.sha256(b'bench-%d' % i).hexdigest()[:32]
        f.write('b%05d,LAMP-2000,%s,lamp-%06d,3\n' % (i, s, i))
EOF

# Bare ROM client, same image, same simulated board: the floor the daemon adds to.
bare() {
	ef_sim bare 24:0a:c4:ff:00:01
	sim=$ef_last_pid
	printf 'key,type,encoding,value\nmass_prod,namespace,,\nProductID,data,string,LAMP-2000\nDeviceSecret,data,string,0123456789abcdef0123456789abcdef\nDeviceName,data,string,lamp-000001\nHwRev,data,u8,3\n' >"$ef_dir/one.csv"
	"$BIN/espfab" nvs generate "$ef_dir/one.csv" "$ef_dir/one.bin" 0x6000 >/dev/null
	best=""
	for _ in 1 2 3; do
		kill -USR1 "$sim" # back into download mode, as a fresh board would be
		sleep 0.2
		t0=$(date +%s%N)
		"$BIN/espfab" flash --port "$ef_dir/bare" --baud 921600 --before no_reset write 0x9000 "$ef_dir/one.bin" --verify \
			>/dev/null 2>&1 || { echo "bare espfab flash failed" >&2; break; }
		t=$((($(date +%s%N) - t0) / 1000000))
		[ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
	done
	kill "$sim"
	ef_forget "$sim"
	echo "${best:-0}"
}

run() { # N verify
	n=$1 verify=$2
	rm -f "$ef_dir/db" "$ef_dir/db-wal" "$ef_dir/db-shm" "$ef_dir/daemon.log" "$ef_dir/sock"
	db=$ef_dir/db
	nrun=$((nrun + 1))
	[ "$STORE" = postgresql ] && db=$(pgfx_createdb "bench$nrun")
	"$BIN/espfab" --db "$db" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" >/dev/null
	"$BIN/espfab" --db "$db" records import --product lamp "$ef_dir/values.csv" >/dev/null
	ports=""
	sims=""
	for i in $(seq "$n"); do
		rm -f "$ef_dir/r$i.flash"
		ef_sim r$i "$(printf '24:0a:c4:%02x:%02x:01' $((i / 256)) $((i % 256)))"
		sims="$sims $ef_last_pid"
		ports="$ports --port p$i=$ef_dir/r$i"
	done
	# shellcheck disable=SC2086
	ef_daemon --db "$db" --baud 921600 --verify "$verify" $ports
	# Every board is identified and waiting before the clock starts.
	for _ in $(seq 200); do
		w=$(ef_cli status | grep -c ' waiting ' || true)
		[ "$w" = "$n" ] && break
		sleep 0.1
	done
	# A fresh database: this run's batch is number 1. The watcher exits on
	# the batch's "done" event, so the clock stops at the event, not at a poll.
	ef_cli watch --json --batch 1 --timeout 600 >"$ef_dir/events.json" 2>/dev/null &
	watch=$!
	ef_pids="$ef_pids $watch"
	sleep 0.5
	t0=$(date +%s%N)
	ef_cli batch add --product lamp --count "$n" >/dev/null
	wait "$watch" || true
	wall=$((($(date +%s%N) - t0) / 1000000))
	ef_forget "$watch"
	kill -TERM "$ef_daemon_pid"
	wait "$ef_daemon_pid" 2>/dev/null || true
	ef_forget "$ef_daemon_pid"
	for p in $sims; do
		kill "$p"
		ef_forget "$p"
	done
	python3 - "$ef_dir/events.json" "$n" "$wall" "$verify" "$ef_dir/runs.tsv" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = [e for e in ev if e.get('event') == 'result']
n, wall, verify = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ok = sum(1 for r in res if r['result'] == 'verified')
with open(sys.argv[5], 'a') as f:
    f.write('%d\t%s\t%d\t%d\n' % (n, verify, ok, wall))
steps = {}
for r in res:
    for k, v in r['steps'].items():
        steps.setdefault(k, []).append(v)
order = ['connect', 'table', 'claim', 'generate', 'write', 'verify', 'reset', 'audit']
avg = lambda xs: sum(xs) / len(xs) if xs else 0
dur = avg([r['duration_ms'] + r['steps'].get('connect', 0) for r in res])
print('%3d devices, verify=%-8s %3d verified in %6.2f s -> %7.0f devices/hour; per device %5.0f ms: %s' % (
    n, verify, ok, wall / 1000, ok / (wall / 1000) * 3600 if wall else 0, dur,
    ' '.join('%s %.0f' % (k, avg(steps[k])) for k in order if k in steps)))
EOF
}

echo "espfabd throughput, espfab-sim ESP32-S3 boards on ptys, 921600 baud, default timing model, store: $STORE"
b=$(bare)
echo "bare 'espfab flash write 0x9000 nvs.bin --verify' (24 KiB, same board model): ${b} ms (best of 3, whole process)"
for n in $COUNTS; do
	for _ in $(seq "$REPEAT"); do
		run "$n" md5
		run "$n" readback
	done
done
python3 - "$ef_dir/runs.tsv" "$REPEAT" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    n, verify, ok, wall = line.split('\t')
    if int(ok) == int(n):  # a run that lost a device has no rate
        runs.setdefault((int(n), verify), []).append(int(wall))
print('median of %s runs per line (devices/hour; scaling = rate / (N x the one-board rate)):' % sys.argv[2])
for verify in ('md5', 'readback'):
    one = runs.get((1, verify))
    base = 3600 * 1000 / statistics.median(one) if one else None
    for (n, v), walls in sorted(runs.items()):
        if v != verify:
            continue
        rate = n * 3600 * 1000 / statistics.median(walls)
        scale = ' scaling %5.1f%%' % (100 * rate / (n * base)) if base and n > 1 else ''
        print('  %3d boards, verify=%-8s median %6.2f s -> %7.0f devices/hour%s' % (
            n, v, statistics.median(walls) / 1000, rate, scale))
EOF
