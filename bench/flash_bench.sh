#!/bin/bash
# Benchmark (prints figures; not a test): whole-process time of
#   espfab flash --port PTY --baud B write 0x9000 nvs.bin --verify
# for a 24 KiB NVS image against espfab-sim with its default timing model,
# next to the floor that model implies (bytes on the wire at their baud rate,
# SLIP framing included, as counted by the client, + 6 sectors x 45 ms erase
# + 96 pages x 0.4 ms program); then 8 and 16 devices from one process.
# usage: bench/flash_bench.sh [BUILD_DIR] [RUNS]
set -u
B=${1:-build}
RUNS=${2:-5}
ESPFAB=$B/bin/espfab
SIM=$B/bin/espfab-sim
PAR=$B/bench/bench_flash_parallel
. "$(dirname "$0")/../tests/integration/wait.sh"
. "$(dirname "$0")/../tests/integration/sim_port.sh"
T=$(mktemp -d /tmp/espfab-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start_sim() { # name -> sets PORT (not in a subshell: PIDS must reach cleanup)
	"$SIM" --chip esp32s3 --flash "$T/$1.flash" >"$T/$1.out" 2>"$T/$1.err" &
	PIDS+=($!)
	PORT=$(sim_first_line "$T/$1.out")
	[ -n "$PORT" ] && return
	echo "espfab-sim did not start" >&2
	exit 1
}

python3 - "$T/nvs.bin" <<'PY'
import sys
img = bytearray(b'\xff' * 24576)
for s in range(6):
    for k in range(320):
        img[s * 4096 + k] = (k * 13 + s) & 0xff
open(sys.argv[1], 'wb').write(img)
PY

echo "== espfab flash write 0x9000 nvs.bin (24 KiB) --verify, espfab-sim default timing, $RUNS runs, median"
for baud in 115200 921600; do
	start_sim single$baud
	port=$PORT
	for r in $(seq 1 "$RUNS"); do
		t0=$(date +%s.%N)
		"$ESPFAB" flash --port "$port" --baud "$baud" --json write 0x9000 "$T/nvs.bin" --verify >"$T/run.json" || exit 1
		t1=$(date +%s.%N)
		python3 -c "
import json
d=json.load(open('$T/run.json'))
print($t1-$t0, d['stats']['wire_seconds'], d['stats']['tx_bytes']+d['stats']['rx_bytes'])" >>"$T/times.$baud"
	done
	python3 - "$T/times.$baud" "$baud" <<'PY'
import sys, statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
wall = statistics.median(r[0] for r in rows)
best = min(r[0] for r in rows)
wire = statistics.median(r[1] for r in rows)
nbytes = statistics.median(r[2] for r in rows)
flashfloor = 6 * 0.045 + 96 * 0.0004
floor = wire + flashfloor
print(f"baud {int(sys.argv[2]):>7}: wall {wall:.3f} s (best {best:.3f}) | floor {floor:.3f} s "
      f"(wire {wire*1000:.1f} ms for {int(nbytes)} bytes + erase/program {flashfloor*1000:.1f} ms) | "
      f"{(wall/floor-1)*100:+.1f}% over the floor")
PY
done

for n in 8 16; do
	ports=()
	for i in $(seq 1 $n); do start_sim par$n-$i; ports+=("$PORT"); done
	"$PAR" --baud 921600 "$T/nvs.bin" "${ports[@]}" || exit 1
done
