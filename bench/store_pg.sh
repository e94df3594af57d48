#!/bin/sh
# Durable claims per second with 1, 4 and 8 station processes against one
# local PostgreSQL server (started here, tests/pg/pg_fixture.sh: fsync on,
# synchronous_commit on), next to SQLite on the same machine and disk; then
# the same stations at a production pace, to see whether 8 sustain 8 times
# one station's rate.
#   bench/store_pg.sh [BUILD_DIR] [CLAIMS_PER_STATION] [RATE_PER_STATION]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}/bin/store_pg_bench
N=${2:-300}
RATE=${3:-25}
[ -x "$B" ] || { echo "bench/store_pg.sh: build first ($B missing)" >&2; exit 1; }
. "$ROOT/tests/pg/pg_fixture.sh"
TMP=$(mktemp -d /tmp/espfab-pgbench-XXXXXX)
trap 'pgfx_stop; rm -rf "$TMP"' EXIT INT TERM
pgfx_start
# Each line ends with the 1-minute load average after it (the machine is
# shared, and a figure means little without it) and the cores the whole
# machine kept busy during the run (/proc/stat: stations, server, WAL
# writer, anything else), of $(nproc): where one station already keeps a
# core busy, 8 stations on 2 cores cannot reach 8x, whatever the store
# does; the busy cores tell the CPU ceiling from a lock.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
run() {
	t0=$(busy)
	out=$("$B" "$@")
	t1=$(busy)
	cores=$(echo "$t0 $t1" | awk '{b=$3-$1; i=$4-$2; printf "%.2f", (b+i) ? b/(b+i)*'"$(nproc)"' : 0}')
	printf '%s  load %s  busy %s/%s cores\n' "$out" "$(cut -d' ' -f1 /proc/loadavg)" "$cores" "$(nproc)"
}
echo "store_pg_bench: $N claims per station, flat out; commits/s = claim+release transactions (2 durable"
echo "commits per claim); devices/s = claim, mark_sent, mark_verified (3 commits); ms/device = store time"
echo "of one device's three calls; batch = all stations claim from one shared batch"
printf '%-10s %8s %5s %12s %13s %16s\n' backend stations batch "commits/s" "devices/s" "ms/device"
for k in 1 4 8; do
	run "$TMP/b$k.db" "$k" "$N"
done
for b in - batch; do
	for k in 1 4 8; do
		run "$(pgfx_createdb "b$k$b")" "$k" "$N" "$b"
	done
done
echo
echo "paced: every station starts a device every 1/$RATE s ($((N / 2)) devices each); sustained = devices/s"
echo "reached by all stations together; worst = the slowest device's three store calls"
printf '%-10s %8s %5s %11s %11s %13s %9s\n' backend stations batch wanted sustained "ms/device" "worst ms"
for b in - batch; do
	for k in 1 4 8; do
		run "$(pgfx_createdb "p$k$b")" "$k" "$((N / 2))" "$b" "$RATE"
	done
done
