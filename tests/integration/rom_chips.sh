#!/bin/bash
# `espfab flash` against every chip family espfab-sim models, each answering
# as its ROM does (docs/rom-behaviour.md): chip-id, read-mac, write --verify
# and read on ESP32, S2, S3, C2, C3, C6 and H2; secure download mode on an S3;
# flash encryption on an ESP32 (read from its eFuses) and on a C3 (from its
# security info). Prints each chip's identification time (chip-id, wall
# clock) for the record; asserts behaviour, never speed.
# usage: rom_chips.sh ESPFAB ESPFAB_SIM
set -u
ESPFAB=$1
SIM=$2
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/sim_port.sh"
sim_test_init rom-chips

start_sim() { # chip [extra args...]: sets PORT
	stop_sim
	SIM_N=$((${SIM_N:-0} + 1))
	rm -f "$T/flash.bin"
	"$SIM" --chip "$@" --tcp 0 --mac 7c:df:a1:00:11:22 --flash "$T/flash.bin" >"$T/sim$SIM_N.out" 2>"$T/sim.err" &
	SIM_PID=$!
	PORT=$(sim_first_line "$T/sim$SIM_N.out")
	[ -n "$PORT" ] || { echo "espfab-sim did not start: $(cat "$T/sim.err")"; exit 1; }
}

fl() {
	timeout 60 "$ESPFAB" flash --port "$PORT" --after no_reset "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

python3 -c "
import sys
img = bytearray(b'\xff' * 24576)
for s in range(6):
    for k in range(320):
        img[s * 4096 + k] = (k * 13 + s) & 0xff
open('$T/nvs.bin', 'wb').write(img)"

for spec in esp32:ESP32 esp32s2:ESP32-S2 esp32s3:ESP32-S3 esp32c2:ESP32-C2 esp32c3:ESP32-C3 \
	esp32c6:ESP32-C6 esp32h2:ESP32-H2; do
	chip=${spec%%:*}
	name=${spec#*:}
	start_sim "$chip"
	t0=$(date +%s%N)
	fl chip-id
	t1=$(date +%s%N)
	if [ $RC = 0 ] && grep -q "Chip: $name\$\|Chip: $name " "$T/out"; then
		ok "$chip chip-id ($(((t1 - t0) / 1000000)) ms)"
	else
		bad "$chip chip-id rc=$RC $(cat "$T/out" "$T/err")"
	fi
	fl --json read-mac
	[ $RC = 0 ] && grep -q '"mac": *"7c:df:a1:00:11:22"' "$T/out" && ok "$chip read-mac" ||
		bad "$chip read-mac rc=$RC $(cat "$T/out" "$T/err")"
	fl --baud 460800 write 0x9000 "$T/nvs.bin" --verify
	[ $RC = 0 ] && ok "$chip write --verify at 460800" || bad "$chip write rc=$RC $(cat "$T/err")"
	fl read 0x9000 0x6000 "$T/read.bin"
	[ $RC = 0 ] && cmp -s "$T/read.bin" "$T/nvs.bin" && ok "$chip read" || bad "$chip read rc=$RC $(cat "$T/err")"
done

# Secure download mode (S3): identified by its security info, MAC and reads
# refused with a clear one-line message, writes still possible.
start_sim esp32s3 --secure-download
fl chip-id
[ $RC = 0 ] && grep -q "Chip: ESP32-S3" "$T/out" && grep -qi "secure download: *on\|secure download mode" "$T/out" &&
	ok "S3 in secure download mode identified" || bad "S3 SDM chip-id rc=$RC $(cat "$T/out" "$T/err")"
fl read 0x9000 0x40 "$T/sdm.bin"
[ $RC != 0 ] && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -e "$T/sdm.bin" ] &&
	ok "S3 in secure download mode: read refused in one line ($(cat "$T/err"))" ||
	bad "S3 SDM read rc=$RC $(cat "$T/err")"
fl --flash-size 4MB write 0x9000 "$T/nvs.bin"
[ $RC = 0 ] && ok "S3 in secure download mode: write with --flash-size" || bad "S3 SDM write rc=$RC $(cat "$T/err")"

# Flash encryption on: a plaintext write is refused before anything is
# erased, unless --plaintext.
for chip in esp32 esp32c3; do
	start_sim "$chip" --flash-crypt-cnt 1
	fl chip-id
	grep -qi "flash encryption: *on" "$T/out" && ok "$chip: flash encryption seen" ||
		bad "$chip: flash encryption not reported: $(cat "$T/out" "$T/err")"
	fl write 0x9000 "$T/nvs.bin"
	if [ $RC != 0 ] && grep -q "flash encryption is on" "$T/err" &&
		python3 -c "import sys; d=open('$T/flash.bin','rb').read(); sys.exit(0 if d[0x9000:0xf000] == b'\xff'*0x6000 else 1)"; then
		ok "$chip: plaintext write refused, flash untouched"
	else
		bad "$chip: plaintext write rc=$RC $(cat "$T/err")"
	fi
	fl write 0x9000 "$T/nvs.bin" --plaintext
	[ $RC = 0 ] && ok "$chip: --plaintext writes" || bad "$chip: --plaintext rc=$RC $(cat "$T/err")"
done

echo "$steps steps, $fails failed"
[ $fails = 0 ]
