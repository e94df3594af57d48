#!/bin/bash
# Integration test of `espfab flash` against `espfab-sim` over a pty or TCP.
# usage: flash_cli.sh ESPFAB ESPFAB_SIM pty|tcp
# Every process started here is killed on exit; every step is time-bounded.
set -u
ESPFAB=$1
SIM=$2
MODE=$3
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/sim_port.sh"
sim_test_init flash-it

# start_sim [extra args...]: sets PORT
start_sim() {
	stop_sim
	local where=()
	[ "$MODE" = tcp ] && where=(--tcp 0)
	# a fresh file per start: the child truncates its output only after the
	# fork, and the old file still names the previous simulator's port
	SIM_N=$((${SIM_N:-0} + 1))
	"$SIM" --chip esp32s3 --mac 24:0a:c4:12:34:56 --flash "$T/flash.bin" "${where[@]}" "$@" >"$T/sim$SIM_N.out" 2>"$T/sim.err" &
	SIM_PID=$!
	PORT=$(sim_first_line "$T/sim$SIM_N.out")
	[ -n "$PORT" ] || { echo "espfab-sim did not start: $(cat "$T/sim.err")"; exit 1; }
}

# fl ARGS...: run espfab flash with a hard time bound; output in $T/out, $T/err, rc in RC
fl() {
	timeout 60 "$ESPFAB" flash --port "$PORT" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

flash_region() { # offset size -> file $T/region
	python3 -c "import sys; f=open('$T/flash.bin','rb'); f.seek($1); sys.stdout.buffer.write(f.read($2))" >"$T/region"
}

python3 - "$T" <<'PY'
import hashlib, struct, sys, os
t = sys.argv[1]
# an NVS-like image: mostly 0xFF, some entries per page
img = bytearray(b'\xff' * 24576)
for s in range(6):
    for k in range(320):
        img[s * 4096 + k] = (k * 13 + s) & 0xff
open(os.path.join(t, 'nvs.bin'), 'wb').write(img)
open(os.path.join(t, 'other.bin'), 'wb').write(bytes((i * 7) & 0xff for i in range(5000)))
# a partition table: nvs at 0x9000, phy_init, factory app; MD5 entry; 0xFF
def ent(label, ty, sub, off, size, flags=0):
    return b'\xaa\x50' + bytes([ty, sub]) + struct.pack('<II', off, size) + label.encode().ljust(16, b'\0') + struct.pack('<I', flags)
e = ent('nvs', 1, 2, 0x9000, 0x6000) + ent('phy_init', 1, 1, 0xf000, 0x1000) + ent('factory', 0, 0, 0x10000, 0x100000)
tbl = e + b'\xeb\xeb' + b'\xff' * 14 + hashlib.md5(e).digest()
tbl += b'\xff' * (0xc00 - len(tbl))
open(os.path.join(t, 'part.bin'), 'wb').write(tbl)
PY

start_sim

fl --after no_reset chip-id
[ $RC = 0 ] && grep -q "Chip: ESP32-S3" "$T/out" && ok "chip-id" || bad "chip-id rc=$RC $(cat "$T/err")"

fl --after no_reset --json read-mac
[ $RC = 0 ] && python3 -c "import json,sys; d=json.load(open('$T/out')); sys.exit(0 if d['ok'] and d['device']['mac']=='24:0a:c4:12:34:56' else 1)" \
	&& ok "read-mac --json" || bad "read-mac rc=$RC $(cat "$T/out" "$T/err")"

fl --after no_reset flash-id
[ $RC = 0 ] && grep -q "Flash size: 4MB (detected)" "$T/out" && ok "flash-id" || bad "flash-id rc=$RC $(cat "$T/out" "$T/err")"

fl write 0x9000 "$T/nvs.bin" --verify
flash_region 0x9000 24576
[ $RC = 0 ] && cmp -s "$T/region" "$T/nvs.bin" && ok "write compressed --verify (then hard reset)" || bad "write rc=$RC $(cat "$T/err")"

# after the hard reset the next client finds the chip in download mode again
fl --baud 921600 --no-compress write 0x20000 "$T/other.bin" 0x8000 "$T/part.bin" --verify
flash_region 0x20000 5000
[ $RC = 0 ] && cmp -s "$T/region" "$T/other.bin" && ok "write two files --no-compress at 921600" || bad "write plain rc=$RC $(cat "$T/err")"

fl --after no_reset verify 0x9000 "$T/nvs.bin"
[ $RC = 0 ] && grep -q "Verified" "$T/out" && ok "verify" || bad "verify rc=$RC $(cat "$T/err")"

fl --after no_reset verify 0x9000 "$T/other.bin"
[ $RC = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "device MD5" "$T/err" && ok "verify mismatch: one-line error" || bad "verify mismatch rc=$RC $(cat "$T/err")"

fl --after no_reset read 0x9000 0x6000 "$T/read.bin"
[ $RC = 0 ] && cmp -s "$T/read.bin" "$T/nvs.bin" && ok "read" || bad "read rc=$RC $(cat "$T/err")"

fl --after no_reset --json read-part
[ $RC = 0 ] && python3 -c "
import json,sys
d=json.load(open('$T/out'))
e={x['name']:x for x in d['entries']}
sys.exit(0 if d['md5'] and e['nvs']['offset']==0x9000 and e['nvs']['size']==0x6000 and e['factory']['type']==0 else 1)" \
	&& ok "read-part --json" || bad "read-part rc=$RC $(cat "$T/out" "$T/err")"

fl --after no_reset read-part
[ $RC = 0 ] && grep -q "^nvs" "$T/out" && ok "read-part (text)" || bad "read-part text rc=$RC $(cat "$T/out" "$T/err")"

fl --after no_reset read-part --offset 0x30000
[ $RC = 1 ] && grep -q "erased" "$T/err" && ok "read-part on erased flash: clear error" || bad "read-part erased rc=$RC $(cat "$T/err")"

fl --after no_reset erase 0x20000 0x2000
flash_region 0x20000 8192
[ $RC = 0 ] && python3 -c "import sys; sys.exit(0 if open('$T/region','rb').read()==b'\xff'*8192 else 1)" && ok "erase" || bad "erase rc=$RC $(cat "$T/err")"

fl --after no_reset write 0x9002 "$T/nvs.bin"
[ $RC = 1 ] && grep -q "4-byte aligned" "$T/err" && ok "misaligned offset refused" || bad "misaligned rc=$RC $(cat "$T/err")"

fl --after no_reset write 0x9000 "$T/missing.bin"
[ $RC = 1 ] && grep -q "missing.bin" "$T/err" && ok "missing file named" || bad "missing file rc=$RC $(cat "$T/err")"

fl --after no_reset frobnicate
[ $RC = 2 ] && ok "unknown command is a usage error" || bad "unknown command rc=$RC"

fl --after no_reset write 0x9000 "$T/nvs.bin" 0xA000 "$T/other.bin"
[ $RC = 1 ] && grep -q "overlaps" "$T/err" && ok "overlapping regions refused" || bad "overlap rc=$RC $(cat "$T/err")"

# faults: the device stops answering mid-write
start_sim --drop-after 25
start=$(date +%s)
fl --after no_reset --no-compress write 0x9000 "$T/nvs.bin" --verify
el=$(( $(date +%s) - start ))
[ $RC = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "no reply" "$T/err" && [ $el -lt 30 ] \
	&& ok "drop-after: clear error in ${el}s" || bad "drop-after rc=$RC el=$el $(cat "$T/err")"

fl --after no_reset read 0x9000 0x6000 "$T/partial.bin"
[ $RC = 1 ] && [ ! -e "$T/partial.bin" ] && ! ls "$T"/partial.bin.tmp.* >/dev/null 2>&1 \
	&& ok "failed read leaves no output file" || bad "partial output rc=$RC"

start_sim --garbage
fl --after no_reset write 0x9000 "$T/nvs.bin" --verify
[ $RC = 0 ] && ok "boot-log garbage between responses skipped" || bad "garbage rc=$RC $(cat "$T/err")"

# USB-Serial/JTAG console: the ROM's watchdogs fire after 1 s unless the
# client disables them; a 64 KiB plain write at 115200 takes ~6 s
start_sim --usb-jtag --wdt-ms 1000
head -c 65536 /dev/urandom >"$T/big.bin"
fl --after no_reset --json --no-compress write 0x100000 "$T/big.bin" --verify
flash_region 0x100000 65536
[ $RC = 0 ] && cmp -s "$T/region" "$T/big.bin" && grep -q '"usb_jtag":true' "$T/out" \
	&& ok "USB-Serial/JTAG console: watchdogs disabled, long write survives" || bad "usb-jtag rc=$RC $(cat "$T/err")"

for seed in 1 2 3; do
	start_sim --corrupt-rate 0.01 --seed $seed
	python3 -c "import os; b=bytearray(open('$T/nvs.bin','rb').read()); b[5]^=0xff; open('$T/nvs2.bin','wb').write(b)"
	fl --after no_reset write 0x9000 "$T/nvs2.bin" --verify
	flash_region 0x9000 24576
	if [ $RC = 0 ]; then
		cmp -s "$T/region" "$T/nvs2.bin" && ok "corrupt seed $seed: verified success" || bad "corrupt seed $seed: FALSE SUCCESS"
	else
		[ $RC = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && ok "corrupt seed $seed: clear error: $(cat "$T/err")" || bad "corrupt seed $seed rc=$RC"
	fi
done

echo "$MODE: $((steps - fails))/$steps passed"
[ $fails = 0 ]
